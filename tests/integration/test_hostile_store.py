# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile input to the certificate store through ansible-playbook (issue 12):
names and domains with a newline, links below the store root, damaged or
hostile order.json / proofs.json, and the empty pending/ of a renewal. Each
refusal fails with a message naming the file and the problem, changed false,
and nothing is written (a link's target keeps its content and mode)."""

import json
import os
import stat

import pytest

from tests.integration.test_bad_input import assert_fails_clearly
from tests.lib.playbook import run_playbook
from tests.lib.store_files import archives

PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks', 'single_task.yml')
AREA = 'Hostile input'
ZONE = 'certflow.test'
REFUSED = 'fails with a clear msg naming the problem, changed: false, nothing written'


@pytest.fixture
def local(store_dir, tmp_path):
    return {'provider': 'local', 'store_dir': store_dir, 'timeout': 60,
            'local_ca': {'path': str(tmp_path / 'local-ca'), 'validity_days': 90}}


@pytest.fixture
def acme(acme_vars):
    return dict(acme_vars['certflow_defaults'], timeout=30)


def run(defaults, module, args):
    return run_playbook(PLAYBOOK, {'certflow_defaults': defaults, 'module': module, 'module_args': args})


def record(reliability, case_id, tried, result, expected=REFUSED):
    failed = result.failed_tasks()
    outcome = failed[0]['result'] if failed else {}
    reliability.record(AREA, case_id, tried, expected,
                       'failed, changed: %s' % outcome.get('changed') if failed else 'NOT REFUSED (rc %d)' % result.rc,
                       message=outcome.get('msg'))


def store_entries(store_dir):
    return sorted(entry for entry in os.listdir(store_dir) if entry != '.locks')


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def outside_secret(tmp_path, text='-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n'):
    folder = tmp_path / 'outside'
    folder.mkdir(exist_ok=True)
    path = folder / 'secret.pem'
    path.write_text(text)
    os.chmod(str(path), 0o600)
    return str(path)


def issue(defaults, name, renew_before_days=30):
    run(defaults, 'cert_request', {'name': name, 'domains': ['%s.%s' % (name, ZONE)], 'validation': 'none',
                                   'renew_before_days': renew_before_days}).assert_ok()
    return run(defaults, 'cert_validate', {'name': name, 'method': 'none'}).assert_ok()


# ------------------------------------------------------------ item 5: newline in a name or a domain

NEWLINE_CASES = [
    ('name-trailing-newline', {'name': 'x\n', 'domains': ['nl.' + ZONE]}, ['invalid certificate name', "'x\\n'"]),
    ('domain-newline-in-label', {'domains': ['a\n.' + ZONE]}, ['control character', "'\\n'"]),
    ('domain-trailing-newline', {'domains': [ZONE + '\n']}, ['control character', "'\\n'"]),
]


@pytest.mark.parametrize('provider', ['local', 'acme'])
@pytest.mark.parametrize('case_id,args,words', NEWLINE_CASES, ids=[case[0] for case in NEWLINE_CASES])
def test_newline_in_name_or_domain_is_refused(request, store_dir, reliability, provider, case_id, args, words):
    defaults = request.getfixturevalue(provider)
    args = dict(args, validation='none' if provider == 'local' else 'dns')
    result = run(defaults, 'cert_request', args)
    record(reliability, '%s (%s)' % (case_id, provider), 'cert_request provider: %s, %s' % (
        provider, ', '.join('%s: %r' % item for item in sorted(args.items()))), result)
    assert_fails_clearly(result, words)
    assert store_entries(store_dir) == [], 'nothing may be written for a refused name'
    if provider == 'local':
        certs = os.path.join(defaults['local_ca']['path'], 'certs')
        assert not os.path.isdir(certs) or os.listdir(certs) == [], 'the local CA issued a certificate'


# ------------------------------------------------------------ item 8: links below the store root

@pytest.mark.parametrize('module,args', [
    ('cert_request', {'name': 'www', 'domains': ['www.' + ZONE], 'validation': 'none'}),
    ('cert_validate', {'name': 'www', 'method': 'none'}),
    ('cert_info', {'name': 'www'}),
    ('cert_revoke', {'name': 'www', 'confirm': True}),
], ids=['cert_request', 'cert_validate', 'cert_info', 'cert_revoke'])
def test_linked_certificate_folder_is_refused(local, store_dir, tmp_path, reliability, module, args):
    target = tmp_path / 'elsewhere'
    target.mkdir()
    (target / 'cert.pem').write_text('NOT OURS\n')
    (target / 'order.json').write_text('{"status": "issued"}\n')
    os.symlink(str(target), os.path.join(store_dir, 'www'))
    result = run(local, module, args)
    record(reliability, 'linked certificate folder (%s)' % module,
           '%s name: www, where <store>/www is a symbolic link to another folder' % module, result)
    message = assert_fails_clearly(result, ['symbolic link', os.path.join(store_dir, 'www')])
    assert 'unexpected' not in message
    assert sorted(os.listdir(str(target))) == ['cert.pem', 'order.json']
    assert (target / 'cert.pem').read_text() == 'NOT OURS\n'
    assert os.path.islink(os.path.join(store_dir, 'www'))


@pytest.mark.parametrize('victim', ['missing', 'existing'])
def test_linked_lock_file_is_refused(local, store_dir, tmp_path, reliability, victim):
    target = outside_secret(tmp_path) if victim == 'existing' else str(tmp_path / 'outside-created-by-lock')
    os.makedirs(os.path.join(store_dir, '.locks'), mode=0o700)
    os.symlink(target, os.path.join(store_dir, '.locks', 'www.lock'))
    result = run(local, 'cert_request', {'name': 'www', 'domains': ['www.' + ZONE], 'validation': 'none'})
    record(reliability, 'linked lock file (%s target)' % victim,
           'cert_request name: www, where <store>/.locks/www.lock is a symbolic link to a %s file' % victim, result)
    assert_fails_clearly(result, ['symbolic link', 'www.lock'])
    if victim == 'existing':
        with open(target) as handle:
            assert 'not really' in handle.read()
        assert mode(target) == 0o600
    else:
        assert not os.path.lexists(target), 'the lock created the target of its link'
    assert store_entries(store_dir) == []


def test_linked_chain_is_not_copied_into_the_archive_by_a_renewal(local, store_dir, tmp_path, reliability):
    issue(local, 'linked')
    folder = os.path.join(store_dir, 'linked')
    with open(os.path.join(folder, 'cert.pem')) as handle:
        current_cert = handle.read()
    secret = outside_secret(tmp_path)
    os.unlink(os.path.join(folder, 'chain.pem'))
    os.symlink(secret, os.path.join(folder, 'chain.pem'))

    result = run(local, 'cert_request', {'name': 'linked', 'domains': ['linked.' + ZONE], 'validation': 'none',
                                         'renew_before_days': 120})
    if result.rc == 0:      # the renewal's order is made; installing it is where the chain is copied
        result = run(local, 'cert_validate', {'name': 'linked', 'method': 'none'})
    record(reliability, 'linked chain.pem at renewal',
           'renewal of a certificate whose chain.pem is a symbolic link to a 0600 key outside the store', result,
           expected='fails naming chain.pem; the link target is not copied (0600 stays 0600), current files untouched')
    assert_fails_clearly(result, ['symbolic link', os.path.join(folder, 'chain.pem')])
    with open(secret) as handle:
        assert 'not really' in handle.read()
    assert mode(secret) == 0o600
    for archived in archives(store_dir, 'linked'):
        for entry in os.listdir(archived):
            with open(os.path.join(archived, entry)) as handle:
                assert 'not really' not in handle.read(), 'the link target was copied into the archive'
    with open(os.path.join(folder, 'cert.pem')) as handle:
        assert handle.read() == current_cert
    assert os.path.islink(os.path.join(folder, 'chain.pem'))


# ------------------------------------------------------------ item 11: damaged or hostile order.json

GOOD_ORDER = {'provider': 'local', 'order_id': '0123456789abcdef01234567', 'status': 'pending_validation',
              'identifiers': [{'type': 'dns', 'value': 'www.' + ZONE}], 'validation': 'none', 'challenges': []}
ORDER_CASES = [
    ('order-not-json', '{"status": "pending_valid', ['not JSON']),
    ('order-a-list', json.dumps([GOOD_ORDER]), ['expected a JSON object, found a list']),
    ('order-wrong-types', json.dumps(dict(GOOD_ORDER, identifiers='www.' + ZONE, challenges={'x': 1})),
     ["'identifiers' must be a list, found a string"]),
    ('order-id-newline', json.dumps(dict(GOOD_ORDER, order_id=GOOD_ORDER['order_id'] + '\n')), ["'order_id'"]),
    ('order-id-path', json.dumps(dict(GOOD_ORDER, order_id='../../../etc/passwd')), ["'order_id'", 'etc/passwd']),
    ('order-domain-newline', json.dumps(dict(GOOD_ORDER, identifiers=[{'type': 'dns', 'value': 'a\n.' + ZONE}])),
     ['not a normalised domain name']),
]


def _hostile_order(store_dir, content):
    folder = os.path.join(store_dir, 'www')
    os.makedirs(folder, mode=0o700)
    path = os.path.join(folder, 'order.json')
    with open(path, 'w') as handle:
        handle.write(content)
    return path


@pytest.mark.parametrize('case_id,content,words', ORDER_CASES, ids=[case[0] for case in ORDER_CASES])
def test_hostile_order_file_is_named(local, store_dir, reliability, case_id, content, words):
    path = _hostile_order(store_dir, content)
    result = run(local, 'cert_validate', {'name': 'www', 'method': 'none'})
    record(reliability, case_id, 'cert_validate name: www with order.json = %s' % (content if len(content) < 80 else content[:77] + '...'),
           result)
    message = assert_fails_clearly(result, [path] + words)
    assert 'unexpected' not in message and 'Traceback' not in message
    with open(path) as handle:
        assert handle.read() == content
    assert os.listdir(os.path.dirname(path)) == ['order.json']


MODULE_CASES = [
    ('cert_request', 'cert_request', {'name': 'www', 'domains': ['www.' + ZONE], 'validation': 'none'}),
    ('cert_info name', 'cert_info', {'name': 'www'}),
    ('cert_revoke', 'cert_revoke', {'name': 'www', 'confirm': True}),
    ('cert_validate order_id', 'cert_validate', {'order_id': GOOD_ORDER['order_id']}),
]


@pytest.mark.parametrize('label,module,args', MODULE_CASES, ids=[case[0].replace(' ', '-') for case in MODULE_CASES])
def test_hostile_order_file_is_named_by_every_module(local, store_dir, reliability, label, module, args):
    issue(local, 'www')
    content = json.dumps([GOOD_ORDER])
    path = os.path.join(store_dir, 'www', 'order.json')
    with open(path, 'w') as handle:
        handle.write(content)
    before = sorted(os.listdir(os.path.dirname(path)))
    result = run(local, module, args)
    record(reliability, 'order-a-list (%s)' % label, '%s %s with order.json a JSON list' % (module, args), result)
    message = assert_fails_clearly(result, [path, 'expected a JSON object, found a list'])
    assert 'unexpected' not in message
    with open(path) as handle:
        assert handle.read() == content
    assert sorted(os.listdir(os.path.dirname(path))) == before


def test_whole_store_report_names_a_damaged_entry_and_reports_the_others(local, store_dir, reliability):
    issue(local, 'www')
    issue(local, 'api')
    path = os.path.join(store_dir, 'www', 'order.json')
    with open(path, 'w') as handle:
        handle.write(json.dumps([GOOD_ORDER]))
    report = run(local, 'cert_info', {}).assert_ok().task('Info')['result']
    assert not report.get('failed'), report
    assert [entry['name'] for entry in report['certificates']] == ['api']
    (unreadable,) = report['unreadable']
    assert unreadable['name'] == 'www'
    assert path in unreadable['error'] and 'expected a JSON object, found a list' in unreadable['error']
    assert any(warning.startswith('www left out of the report: ') for warning in report['warnings']), report.get('warnings')
    reliability.record(AREA, 'order-a-list (cert_info whole store)', 'cert_info of the whole store (www and api) with www/order.json a JSON list',
                       'the others reported; the damaged entry named with its file, as a warning and in unreadable',
                       'api reported; www in unreadable and warned about', message=unreadable['error'])


def test_hostile_proofs_file_is_named(local, store_dir, reliability):
    run(local, 'cert_request', {'name': 'proofs', 'domains': ['proofs.' + ZONE], 'validation': 'none'}).assert_ok()
    path = os.path.join(store_dir, 'proofs', 'proofs.json')
    with open(path, 'w') as handle:
        handle.write('{"type": "file", "webroot": "/", "path": "etc"}')
    result = run(local, 'cert_validate', {'name': 'proofs', 'method': 'none'})
    record(reliability, 'proofs-not-a-list', 'cert_validate of a pending order whose proofs.json is an object, not a list',
           result)
    assert_fails_clearly(result, [path, 'expected a JSON list, found an object'])
    assert not os.path.exists(os.path.join(store_dir, 'proofs', 'cert.pem'))


# ------------------------------------------------------------ item 20: no empty pending/ after a renewal

def test_renewal_leaves_no_empty_pending_folder(local, store_dir):
    issue(local, 'renewed')
    issue(local, 'renewed', renew_before_days=120)      # longer than the 90-day validity: due
    assert len(archives(store_dir, 'renewed')) == 1
    assert sorted(os.listdir(os.path.join(store_dir, 'renewed'))) == [
        'archive', 'cert.pem', 'chain.pem', 'fullchain.pem', 'order.json', 'privkey.pem']
