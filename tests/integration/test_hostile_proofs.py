# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Challenge proofs under hostile input, through ansible-playbook: a CA that
names a file or TXT record outside the challenge places, a file already at
the challenge path, a proofs.json in a shared store naming what is not ours,
proofs left by an earlier run with another method, and pre-checks the
control node cannot make (issue 12, items 3, 4, 7, 13 and 15)."""

import json
import os
import secrets

import pytest

from tests.lib.playbook import run_playbook
from tests.lib.services import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
SINGLE_TASK = os.path.join(HERE, 'playbooks', 'single_task.yml')
ROLE_PLAYBOOK = os.path.join(HERE, 'playbooks', 'hostile_proofs_role.yml')
AREA = 'Hostile input'
PRODUCT = 'digicert-dv-1-hostile'
CONTACT = {'name': 'Ops Team', 'email': 'ops@certflow.test', 'phone': '13800000000'}
COMPANY = {'name': 'Certflow Test Ltd', 'country': 'CN', 'state': 'Zhejiang', 'city': 'Hangzhou'}


def unique(label, zone='certflow.test'):
    return '%s-%s.%s' % (label, secrets.token_hex(3), zone)


def module(defaults, name, args, **kwargs):
    return run_playbook(SINGLE_TASK, {'certflow_defaults': defaults, 'module': name, 'module_args': args}, **kwargs)


def entry(result, task):
    return result.task(task)['result']['certificates'][0]


def message_of(result):
    failed = result.failed_tasks()
    return failed[0]['result'].get('msg', '') if failed else ''


def snapshot(path):
    """Content and mtime of a file, None when it is missing."""
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return handle.read(), os.stat(path).st_mtime_ns


@pytest.fixture(scope='module', autouse=True)
def hostile_plan(aliyun_emulator):
    aliyun_emulator.set_quota(PRODUCT, 50)


@pytest.fixture
def aliyun_defaults(aliyun_emulator, store_dir):
    return {'provider': 'aliyun', 'store_dir': store_dir, 'timeout': 20,
            'aliyun': {'endpoint': aliyun_emulator.endpoint, 'access_key_id': aliyun_emulator.access_key_id,
                       'access_key_secret': aliyun_emulator.access_key_secret}}


@pytest.fixture
def acme_defaults(services, store_dir):
    return {'provider': 'acme', 'store_dir': store_dir, 'timeout': 60,
            'acme': {'directory': services.pebble.directory_url, 'ca_bundle': services.pebble.ca_bundle,
                     'account_email': 'hostmaster@certflow.test'}}


@pytest.fixture
def rfc2136(services):
    bind = services.bind
    return {'server': bind.host, 'port': bind.port, 'key_name': bind.tsig_name, 'key_secret': bind.tsig_secret,
            'key_algorithm': bind.tsig_algorithm}


@pytest.fixture
def site_files(services):
    """The site's own index.html and .htaccess in the webroot nginx serves: (path, snapshot) pairs."""
    files = []
    for name, content in (('index.html', '<h1>the real site</h1>\n'), ('.htaccess', 'Require all granted\n')):
        path = os.path.join(services.web.webroot, name)
        if not os.path.exists(path):
            with open(path, 'w') as handle:
                handle.write(content)
        files.append((path, snapshot(path)))
    return files


def http_validate_args(services, name, **extra):
    args = {'name': name, 'method': 'http', 'webroot': services.web.webroot, 'http_check_port': services.web.http_port,
            'nameservers': [services.bind.nameserver], 'propagation_timeout': 5}
    args.update(extra)
    return args


# ------------------------------------------------------------------ item 3: the CA names the file

HOSTILE_URIS = [
    ('uri-index-html', '/index.html'),
    ('uri-htaccess', '/.htaccess'),
    ('uri-dot-dot', '/../x'),
    ('uri-dot-dot-in-prefix', '/.well-known/pki-validation/../../index.html'),
    ('uri-newline', '/.well-known/pki-validation/fileauth.txt\n/index.html'),
]


@pytest.mark.parametrize('case_id,uri', HOSTILE_URIS, ids=[c[0] for c in HOSTILE_URIS])
def test_aliyun_file_uri_outside_pki_validation_is_refused(aliyun_emulator, aliyun_defaults, services, site_files,
                                                           reliability, case_id, uri):
    domain = unique('uri')
    aliyun_emulator.answer_validation_with(domain, Uri=uri)
    requested = module(aliyun_defaults, 'cert_request', {'name': 'hostile', 'domains': [domain], 'validation': 'http',
                                                         'product': PRODUCT, 'contact': CONTACT}).assert_ok()
    assert repr(uri) in ' '.join(entry(requested, 'Request').get('warnings') or []), 'cert_request names the refused Uri'
    outside = os.path.join(os.path.dirname(services.web.webroot), 'x')
    result = module(aliyun_defaults, 'cert_validate', http_validate_args(services, 'hostile'))
    message = message_of(result)
    reliability.record(AREA, 'aliyun-' + case_id, 'Alibaba Cloud answers file validation with Uri %r' % uri,
                       'refused naming the Uri; index.html/.htaccess untouched',
                       'failed' if result.rc else 'NOT REFUSED (rc 0)', message=message)
    assert result.rc != 0, result.output
    assert repr(uri) in message and 'pki-validation' in message, message
    for path, before in site_files:
        assert snapshot(path) == before, '%s was changed or removed' % path
    assert not os.path.exists(outside)
    assert not os.path.exists(os.path.join(services.web.webroot, '.well-known', 'pki-validation', 'fileauth.txt'))


# ------------------------------------------------------------------ item 7: the CA names the TXT record

HOSTILE_RECORDS = [
    ('record-other-name', lambda domain: 'evil.example.com'),
    ('record-other-domain', lambda domain: '_dnsauth.other-domain.com'),
    ('record-newline', lambda domain: '_dnsauth.%s\n' % domain),
    ('record-acme-label', lambda domain: '_acme-challenge.%s' % domain),
]


@pytest.mark.parametrize('case_id,record', HOSTILE_RECORDS, ids=[c[0] for c in HOSTILE_RECORDS])
def test_aliyun_record_domain_other_than_dnsauth_is_refused(aliyun_emulator, aliyun_defaults, services, reliability,
                                                            case_id, record):
    domain = unique('rec')
    record_domain = record(domain)
    aliyun_emulator.answer_validation_with(domain, RecordDomain=record_domain)
    module(aliyun_defaults, 'cert_request', {'name': 'hostile', 'domains': [domain], 'validation': 'dns',
                                             'product': PRODUCT, 'contact': CONTACT}).assert_ok()
    adds = aliyun_emulator.actions().count('AddDomainRecord')
    result = module(aliyun_defaults, 'cert_validate', {
        'name': 'hostile', 'method': 'dns', 'dns_provider': 'alidns', 'alidns': {'endpoint': aliyun_emulator.endpoint},
        'nameservers': [services.bind.nameserver], 'propagation_timeout': 5})
    message = message_of(result)
    reliability.record(AREA, 'aliyun-' + case_id, 'Alibaba Cloud answers DNS validation with RecordDomain %r' % record_domain,
                       'refused naming the value; no record created', 'failed' if result.rc else 'NOT REFUSED (rc 0)',
                       message=message)
    assert result.rc != 0, result.output
    assert repr(record_domain) in message and '_dnsauth' in message, message
    assert aliyun_emulator.actions().count('AddDomainRecord') == adds, 'no record may be created'
    for name in (record_domain.strip(), record_domain.strip() + '.' + domain, '_dnsauth.' + domain):
        assert services.bind.query_txt(name) == []


# ------------------------------------------------------------------ item 3: a file already at the challenge path

def test_existing_file_at_acme_challenge_path_is_neither_overwritten_nor_removed(acme_defaults, services, store_dir, reliability):
    domain = unique('taken')
    requested = module(acme_defaults, 'cert_request', {'name': 'taken', 'domains': [domain], 'validation': 'http'}).assert_ok()
    (challenge,) = entry(requested, 'Request')['challenges']
    path = os.path.join(services.web.webroot, challenge['file_path'].lstrip('/'))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write('put here by someone else\n')
    before = snapshot(path)
    try:
        result = module(acme_defaults, 'cert_validate', http_validate_args(services, 'taken'))
        message = message_of(result)
        reliability.record(AREA, 'acme-challenge-file-exists', 'a file already at the http-01 challenge path',
                           'refused naming the file; file neither overwritten nor removed',
                           'failed' if result.rc else 'NOT REFUSED (rc 0)', message=message)
        assert result.rc != 0, result.output
        assert path in message and 'already exists' in message, message
        assert snapshot(path) == before, 'the file that was there must stay as it was'
        assert not os.path.exists(os.path.join(store_dir, 'taken', 'proofs.json')), 'nothing noted as ours'
    finally:
        os.unlink(path)


# ------------------------------------------------------------------ item 4: a hostile proofs.json

def test_hostile_proofs_json_touches_nothing_that_is_not_ours(acme_defaults, services, store_dir, rfc2136, site_files,
                                                              tmp_path, reliability):
    domain = unique('notes')
    module(acme_defaults, 'cert_request', {'name': 'notes', 'domains': [domain], 'validation': 'http'}).assert_ok()
    webroot = services.web.webroot
    tag = secrets.token_hex(3)
    other_root = tmp_path / 'other-site'
    (other_root / '.well-known' / 'acme-challenge').mkdir(parents=True)
    victims = {
        'other-webroot': str(other_root / '.well-known' / 'acme-challenge' / 'victim'),
        'outside': os.path.join(os.path.dirname(webroot), 'outside-%s.txt' % tag),
        'not-ours': os.path.join(webroot, '.well-known', 'acme-challenge', 'not-ours-%s' % tag),
    }
    for path in victims.values():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as handle:
            handle.write('keep me\n')
    before = dict((key, snapshot(path)) for key, path in victims.items())
    # Not below the order's own name: a record there would hide it from the zone's wildcard A record.
    txt_victims = [('victim-%s.certflow.test' % tag, 'keep-me'), ('_acme-challenge.elsewhere-%s.certflow.test' % tag, 'not-our-value')]
    services.bind.nsupdate(['update add %s 60 TXT "%s"' % pair for pair in txt_victims])
    notes = [
        {'type': 'file', 'webroot': str(other_root), 'path': '/.well-known/acme-challenge/victim'},
        {'type': 'file', 'webroot': webroot, 'path': '/../outside-%s.txt' % tag},
        {'type': 'file', 'webroot': webroot, 'path': '/index.html'},
        {'type': 'file', 'webroot': webroot, 'path': '/.well-known/acme-challenge/not-ours-%s' % tag},
        {'type': 'dns', 'provider': 'rfc2136', 'name': txt_victims[0][0], 'value': txt_victims[0][1]},
        {'type': 'dns', 'provider': 'rfc2136', 'name': txt_victims[1][0], 'value': txt_victims[1][1]},
    ]
    with open(os.path.join(store_dir, 'notes', 'proofs.json'), 'w') as handle:
        json.dump(notes, handle)
    try:
        result = module(acme_defaults, 'cert_validate', http_validate_args(services, 'notes', rfc2136=rfc2136))
        validated = entry(result, 'Validate') if not result.rc else {}
        warnings = validated.get('warnings') or []
        reliability.record(AREA, 'proofs-json-not-ours', 'proofs.json in the store names a file in another webroot, ../, '
                           'the site index.html, a file and TXT records this order did not make',
                           'issued; nothing of those touched; a warning names each',
                           'status %s, %d warning(s)' % (validated.get('status'), len(warnings)),
                           message=' | '.join(warnings) or message_of(result))
        result.assert_ok()
        assert validated['status'] == 'issued'
        for key, path in victims.items():
            assert snapshot(path) == before[key], '%s (%s) was touched' % (path, key)
        for path, snapshot_before in site_files:
            assert snapshot(path) == snapshot_before, '%s was changed or removed' % path
        for name, value in txt_victims:
            assert value in services.bind.query_txt(name), 'TXT %s %s was removed' % (name, value)
        text = ' '.join(warnings)
        for shown in ('/.well-known/acme-challenge/victim', '/index.html', 'not-ours-' + tag, 'outside-' + tag,
                      txt_victims[0][0], txt_victims[1][0]):
            assert shown in text, 'no warning names %s: %s' % (shown, warnings)
        assert not os.path.exists(os.path.join(store_dir, 'notes', 'proofs.json')), 'refused notes are dropped'
    finally:
        services.bind.nsupdate(['update delete %s TXT "%s"' % pair for pair in txt_victims])


# ------------------------------------------------------------------ item 13: an order finished with another method

@pytest.mark.parametrize('with_dns_settings', [True, False], ids=['dns-settings', 'no-dns-settings'])
def test_txt_record_of_an_earlier_run_removed_by_the_finishing_email_run(aliyun_emulator, aliyun_defaults, services, rfc2136,
                                                                         reliability, with_dns_settings):
    domain = unique('ovdns')
    record = '_dnsauth.' + domain
    requested = module(aliyun_defaults, 'cert_request', {
        'name': 'ov', 'domains': [domain], 'validation': 'dns', 'product': aliyun_emulator.ov_product,
        'contact': CONTACT, 'company': COMPANY}).assert_ok()
    order_id = entry(requested, 'Request')['order_id']
    first = module(aliyun_defaults, 'cert_validate', {
        'name': 'ov', 'method': 'dns', 'dns_provider': 'rfc2136', 'rfc2136': rfc2136, 'wait': False,
        'nameservers': [services.bind.nameserver], 'propagation_timeout': 20}).assert_ok()
    assert entry(first, 'Validate')['status'] == 'processing'
    assert services.bind.query_txt(record) != [], 'the first run leaves its record for the CA'
    aliyun_emulator.approve(order_id)
    args = {'name': 'ov', 'method': 'email'}
    if with_dns_settings:
        args['rfc2136'] = rfc2136
    try:
        finished = module(aliyun_defaults, 'cert_validate', args)
        validated = entry(finished, 'Validate') if not finished.rc else {}
        warnings = validated.get('warnings') or []
        left = services.bind.query_txt(record)
        reliability.record(AREA, 'finish-by-email-%s' % ('with-dns' if with_dns_settings else 'no-dns'),
                           'OV order validated by dns (wait: false), finished by method: email %s DNS settings'
                           % ('with' if with_dns_settings else 'without'),
                           'record removed' if with_dns_settings else 'warning names the record',
                           'status %s, record %s' % (validated.get('status'), 'left' if left else 'removed'),
                           message=' | '.join(warnings) or None)
        finished.assert_ok()
        assert validated['status'] == 'issued'
        if with_dns_settings:
            assert left == [], 'the finishing run removes the record an earlier run created'
            # The emulator speaks plain HTTP, which is warned about on every run; nothing about the record.
            assert not [warning for warning in warnings if record in warning or 'could not remove' in warning], warnings
        else:
            assert any(record in warning for warning in warnings), warnings
            assert any(record in warning for warning in finished.task('Validate')['result'].get('warnings', [])), \
                'also a module warning'
    finally:
        services.bind.nsupdate(['update delete %s TXT' % record])


# ------------------------------------------------------------------ item 15: precheck off

def test_precheck_false_tells_the_ca_at_once_and_says_so(acme_defaults, services, reliability):
    domain = unique('nocheck')
    module(acme_defaults, 'cert_request', {'name': 'nocheck', 'domains': [domain], 'validation': 'http'}).assert_ok()
    closed = free_port()          # the control node's view of the site: nothing answers there
    result = module(acme_defaults, 'cert_validate', http_validate_args(services, 'nocheck', http_check_port=closed,
                                                                       precheck=False))
    validated = entry(result, 'Validate') if not result.rc else {}
    warnings = validated.get('warnings') or []
    reliability.record(AREA, 'precheck-false', 'cert_validate precheck: false, the control node cannot reach the site',
                       'issued; a warning says the pre-check was skipped', 'status %s' % validated.get('status'),
                       message=' | '.join(warnings) or message_of(result))
    result.assert_ok()
    assert validated['status'] == 'issued'
    assert any('pre-check skipped' in warning and domain in warning for warning in warnings), warnings


def test_precheck_true_still_checks(acme_defaults, services):
    domain = unique('check')
    module(acme_defaults, 'cert_request', {'name': 'check', 'domains': [domain], 'validation': 'http'}).assert_ok()
    result = module(acme_defaults, 'cert_validate', http_validate_args(services, 'check', http_check_port=free_port()))
    assert result.rc != 0 and domain in message_of(result), result.output


def test_certificate_role_passes_precheck_through(services, store_dir, reliability):
    domain = unique('rolenocheck')
    extra = {'certflow_certificates': [{'name': 'rolenocheck', 'domains': [domain]}], 'certflow_store_dir': store_dir,
             'certflow_validation': 'http', 'certflow_certificate_webroot': services.web.webroot,
             'certflow_http_check_port': free_port(), 'certflow_precheck': False,
             'certflow_nameservers': [services.bind.nameserver], 'certflow_propagation_timeout': 5, 'certflow_timeout': 60,
             'certflow_acme': {'directory': services.pebble.directory_url, 'ca_bundle': services.pebble.ca_bundle}}
    result = run_playbook(ROLE_PLAYBOOK, extra)
    task = result.task('Validate the names and fetch the issued certificates') if not result.rc else {'result': {}}
    validated = (task['result'].get('certificates') or [{}])[0]
    warnings = validated.get('warnings') or []
    reliability.record(AREA, 'role-precheck-false', 'certificate role with certflow_precheck: false, site unreachable from here',
                       'issued; a warning says the pre-check was skipped', 'status %s' % validated.get('status'),
                       message=' | '.join(warnings) or (result.failed_tasks() or [{'result': {}}])[0]['result'].get('msg'))
    result.assert_ok()
    assert validated['status'] == 'issued'
    assert any('pre-check skipped' in warning for warning in warnings), warnings
