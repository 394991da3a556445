# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Diff mode and check mode through ansible-playbook: what a run changes in the
store is shown before and after (never key material), check mode predicts it
and changes nothing, and every module runs in check mode."""

import hashlib
import os

from tests.lib.playbook import run_playbook
from tests.lib.secret_scan import leaks, secrets_in

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOKS = os.path.join(HERE, 'playbooks')


def playbook(name):
    return os.path.join(PLAYBOOKS, name)


def store_digests(store_dir):
    """{relative path: sha256} of every file in the store (to prove nothing changed)."""
    found = {}
    for folder, _dirs, files in os.walk(store_dir):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, 'rb') as handle:
                found[os.path.relpath(path, store_dir)] = hashlib.sha256(handle.read()).hexdigest()
    return found


def only_diff(result, task):
    diffs = result.task(task)['result'].get('diff')
    assert isinstance(diffs, list) and len(diffs) == 1, diffs
    return diffs[0]


def test_diff_shows_the_store_before_and_after_without_key_material(services, acme_vars):
    store_dir = acme_vars['store_dir']
    acme_vars.update(cert_name='diffme', cert_domains=['diffme.' + acme_vars['zone']])
    first = run_playbook(playbook('acme_dns.yml'), acme_vars, diff=True).assert_ok()

    requested = only_diff(first, 'Request')
    assert requested['before_header'] == os.path.join(store_dir, 'diffme') + ' (before)'
    assert 'certificate: none' in requested['before'] and 'order: none' in requested['before']
    assert 'order: pending_validation (order ' in requested['after']
    assert 'key for the open order: present' in requested['after']

    serial = first.task('Validate')['result']['certificates'][0]['serial']
    validated = only_diff(first, 'Validate')
    assert 'certificate: none' in validated['before']
    assert 'certificate: serial %s, diffme.%s, valid until ' % (serial, acme_vars['zone']) in validated['after']
    assert 'order: issued' in validated['after']
    assert '--- before: %s (before)' % os.path.join(store_dir, 'diffme') in first.output, 'the diff is printed'
    first_key = secrets_in(store_dir)
    assert first_key and 'PRIVATE KEY' not in first.output
    assert leaks(first.output, first_key) == []

    again = run_playbook(playbook('acme_dns.yml'), acme_vars, diff=True).assert_ok()
    assert 'diff' not in again.task('Request')['result'] and 'diff' not in again.task('Validate')['result']

    # Renewal: check mode predicts it and writes nothing, then the real run shows old and new serial.
    acme_vars['renew_before_days'] = 10000
    before_files = store_digests(store_dir)
    checked = run_playbook(playbook('acme_dns.yml'), acme_vars, check=True, diff=True).assert_ok()
    predicted = only_diff(checked, 'Request')
    assert 'order: issued' in predicted['before']
    assert 'order: pending_validation (check mode: would renew)' in predicted['after']
    assert store_digests(store_dir) == before_files

    renewed = run_playbook(playbook('acme_dns.yml'), acme_vars, diff=True).assert_ok()
    new_serial = renewed.task('Validate')['result']['certificates'][0]['serial']
    assert new_serial != serial
    change = only_diff(renewed, 'Validate')
    assert 'serial %s,' % serial in change['before'] and 'serial %s,' % new_serial in change['after']
    key_line = [line for line in change['before'].splitlines() if line.startswith('private key:')]
    assert key_line and key_line[0] not in change['after'], 'a renewal makes a new key: its fingerprint changes'
    assert leaks(renewed.output, dict(first_key, **secrets_in(store_dir))) == []

    # Revocation: check mode predicts, the real run records it.
    acme_vars['confirm'] = True
    check_revoke = run_playbook(playbook('acme_revoke.yml'), acme_vars, check=True, diff=True).assert_ok()
    assert check_revoke.task('Revoke')['result']['diff']['after'].endswith('order: revoked (check mode: would revoke)\n')
    assert services.pebble.cert_status(new_serial)['Status'] == 'Valid'
    revoked = run_playbook(playbook('acme_revoke.yml'), acme_vars, diff=True).assert_ok()
    assert 'order: revoked' in revoked.task('Revoke')['result']['diff']['after']
    assert services.pebble.cert_status(new_serial)['Status'] == 'Revoked'


def test_batch_diff_has_one_entry_per_changed_certificate(services, acme_vars):
    zone = acme_vars['zone']
    acme_vars['batch'] = [{'name': 'diff-batch-a', 'domains': ['diff-batch-a.' + zone]},
                          {'name': 'diff-batch-b', 'domains': ['diff-batch-b.' + zone]}]
    acme_vars['validate_batch'] = [{'name': 'diff-batch-a'}, {'name': 'diff-batch-b'}]
    result = run_playbook(playbook('acme_batch.yml'), acme_vars, diff=True).assert_ok()
    headers = [entry['before_header'] for entry in result.task('Validate')['result']['diff']]
    assert headers == [os.path.join(acme_vars['store_dir'], name) + ' (before)' for name in ('diff-batch-a', 'diff-batch-b')]


def test_secret_inside_a_batch_entry_is_masked(services, acme_vars):
    """Batch entries are checked by the module wrapper, not by AnsibleModule's
    suboptions: their no_log options must be masked all the same."""
    zone = acme_vars['zone']
    secret = acme_vars['tsig_secret']
    acme_vars['batch'] = [{'name': 'masked', 'domains': ['masked.' + zone], 'validation': 'dns'}]
    acme_vars['validate_batch'] = [{'name': 'masked', 'method': 'dns', 'rfc2136': dict(acme_vars['rfc2136_settings'])}]
    # The top level has no secret of its own: only the entry carries it.
    acme_vars['rfc2136_settings'] = {key: value for key, value in acme_vars['rfc2136_settings'].items() if key != 'key_secret'}
    result = run_playbook(playbook('acme_batch.yml'), acme_vars, verbosity=3).assert_ok()
    assert result.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    assert secret not in result.output
    assert 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' in result.output or '********' in result.output


def test_unknown_option_in_a_batch_entry_is_named(services, acme_vars):
    acme_vars['batch'] = [{'name': 'typo', 'domains': ['typo.' + acme_vars['zone']], 'renew_befor_days': 10}]
    acme_vars['validate_batch'] = []
    result = run_playbook(playbook('acme_batch.yml'), acme_vars)
    assert result.rc != 0
    message = result.task('Request')['result']['msg']
    assert message.startswith('certificates[0]: unsupported option ') and 'renew_befor_days' in message
    assert os.listdir(acme_vars['store_dir']) == []


def test_every_module_runs_in_check_mode(services, acme_vars):
    """cert_quota and cert_info only read; in check mode they answer the same, and
    nothing in the store or at the CA changes whatever module runs."""
    acme_vars.update(cert_name='checkall', cert_domains=['checkall.' + acme_vars['zone']])
    run_playbook(playbook('acme_dns.yml'), acme_vars).assert_ok()
    before_files = store_digests(acme_vars['store_dir'])
    for module, args in (('cert_quota', {'min_remaining': 1}),
                         ('cert_info', {'name': 'checkall'}),
                         ('cert_request', {'name': 'checkall', 'domains': acme_vars['cert_domains'], 'force': True}),
                         ('cert_validate', {'name': 'checkall'}),
                         ('cert_revoke', {'name': 'checkall', 'confirm': True})):
        variables = dict(acme_vars, module=module, module_args=args)
        result = run_playbook(playbook('single_task.yml'), variables, check=True).assert_ok()
        task = {'cert_quota': 'Quota', 'cert_info': 'Info', 'cert_request': 'Request', 'cert_validate': 'Validate',
                'cert_revoke': 'Revoke'}[module]
        outcome = result.task(task)['result']
        if module == 'cert_quota':
            assert outcome['unlimited'] is True and outcome['changed'] is False
        elif module == 'cert_info':
            assert outcome['domains'] == acme_vars['cert_domains'] and outcome['changed'] is False
        elif module in ('cert_request', 'cert_revoke'):
            assert outcome['changed'] is True, (module, outcome)
        assert store_digests(acme_vars['store_dir']) == before_files, module
