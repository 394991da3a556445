# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ACME path end to end, as a user runs it: real ansible-playbook runs of
the collection's modules against Pebble, BIND9 and nginx on loopback."""

import hashlib
import os
import stat


from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from tests.lib.playbook import run_playbook

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOKS = os.path.join(HERE, 'playbooks')


def playbook(name):
    return os.path.join(PLAYBOOKS, name)


def pebble_requests(services):
    with open(services.pebble.log_path) as handle:
        return sum(1 for line in handle if 'calling handler()' in line)


def store_files(store_dir, name):
    folder = os.path.join(store_dir, name)
    return {kind: os.path.join(folder, kind + '.pem') for kind in ('privkey', 'cert', 'chain', 'fullchain')}


def digest(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def assert_issued_and_verifies(services, store_dir, name, expected_names):
    files = store_files(store_dir, name)
    for path in files.values():
        assert os.path.isfile(path), path
    assert stat.S_IMODE(os.stat(files['privkey']).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(store_dir, name)).st_mode) == 0o700
    with open(files['fullchain']) as handle:
        certs = _crypto.load_certificates(handle.read())
    roots = _crypto.load_certificates(services.pebble.roots_pem())
    ok, reason = _crypto.verify_chain(certs[0], certs[1:], roots=roots)
    assert ok, reason
    with open(files['privkey']) as handle:
        assert _crypto.cert_matches_key(certs[0], _crypto.load_private_key(handle.read()))
    summary = _crypto.cert_summary(certs[0])
    assert sorted(summary['domains'] + summary['ip_addresses']) == sorted(expected_names)
    return summary


def test_dns_two_names_one_unicode_then_idempotent(services, acme_vars):
    zone = acme_vars['zone']
    acme_vars['cert_domains'] = ['shop.' + zone, 'Bücher.' + zone]
    first = run_playbook(playbook('acme_dns.yml'), acme_vars).assert_ok()

    requested = first.task('Request')['result']['certificates'][0]
    assert requested['status'] == 'pending_validation'
    assert requested['domains'] == ['shop.' + zone, 'xn--bcher-kva.' + zone]
    assert requested['domains_unicode'] == ['shop.' + zone, 'bücher.' + zone]
    assert {c['record_name'] for c in requested['challenges']} == {'_acme-challenge.shop.' + zone,
                                                                   '_acme-challenge.xn--bcher-kva.' + zone}
    validated = first.task('Validate')['result']['certificates'][0]
    assert validated['status'] == 'issued'
    assert validated['days_remaining'] > 1
    summary = assert_issued_and_verifies(services, acme_vars['store_dir'], 'shop',
                                         ['shop.' + zone, 'xn--bcher-kva.' + zone])
    assert validated['serial'] == summary['serial']
    # the records we created are gone again
    assert services.bind.query_txt('_acme-challenge.shop.' + zone) == []

    before = pebble_requests(services)
    second = run_playbook(playbook('acme_dns.yml'), acme_vars).assert_ok()
    assert second.recap['localhost']['changed'] == 0
    assert pebble_requests(services) == before, 'a re-run must not ask the CA anything'
    assert second.task('Validate')['result']['certificates'][0]['serial'] == summary['serial']


def test_wildcard_and_apex_by_dns(services, acme_vars):
    zone = acme_vars['zone']
    acme_vars.update(cert_name='wild', cert_domains=['*.' + zone, zone])
    result = run_playbook(playbook('acme_dns.yml'), acme_vars).assert_ok()
    assert result.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    assert_issued_and_verifies(services, acme_vars['store_dir'], 'wild', ['*.' + zone, zone])


def test_cname_delegated_challenge(services, acme_vars):
    zone = acme_vars['zone']
    acme_vars.update(cert_name='delegated', cert_domains=['cname.' + zone])
    result = run_playbook(playbook('acme_dns.yml'), acme_vars).assert_ok()
    assert result.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    assert_issued_and_verifies(services, acme_vars['store_dir'], 'delegated', ['cname.' + zone])
    assert services.bind.query_txt('_acme-challenge.cname.' + acme_vars['delegated_zone']) == []


def test_http_file_validation_with_webroot(services, acme_vars):
    zone = acme_vars['zone']
    acme_vars.update(cert_name='web', cert_domains=['web.' + zone])
    result = run_playbook(playbook('acme_http.yml'), acme_vars).assert_ok()
    challenge = result.task('Request')['result']['certificates'][0]['challenges'][0]
    assert challenge['file_path'].startswith('/.well-known/acme-challenge/')
    assert challenge['url'] == 'http://web.%s%s' % (zone, challenge['file_path'])
    assert challenge['file_content']
    assert result.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    assert_issued_and_verifies(services, acme_vars['store_dir'], 'web', ['web.' + zone])
    assert not os.path.exists(os.path.join(acme_vars['webroot'], challenge['file_path'].lstrip('/'))), \
        'the challenge file must be removed'


def test_ip_address_by_http(services, acme_vars):
    acme_vars.update(cert_name='loopback-ip', cert_ips=['127.0.0.1'])
    run_playbook(playbook('acme_http.yml'), acme_vars).assert_ok()
    assert_issued_and_verifies(services, acme_vars['store_dir'], 'loopback-ip', ['127.0.0.1'])


def test_manual_dns(services, acme_vars):
    result = run_playbook(playbook('acme_manual_dns.yml'), acme_vars).assert_ok()
    assert result.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    assert_issued_and_verifies(services, acme_vars['store_dir'], 'manual', ['manual.' + acme_vars['zone']])


def test_batch_request_and_validate(services, acme_vars):
    zone = acme_vars['zone']
    acme_vars['batch'] = [
        {'name': 'batch-a', 'domains': ['batch-a.' + zone]},
        {'name': 'batch-b', 'domains': ['batch-b.' + zone]},
        {'name': 'batch-c', 'domains': ['*.batch-c.' + zone], 'validation': 'dns'},
    ]
    acme_vars['validate_batch'] = [{'name': 'batch-a'}, {'name': 'batch-b'},
                                   {'name': 'batch-c', 'method': 'dns', 'nameservers': [acme_vars['nameserver']]}]
    result = run_playbook(playbook('acme_batch.yml'), acme_vars).assert_ok()
    statuses = {c['name']: c['status'] for c in result.task('Validate')['result']['certificates']}
    assert statuses == {'batch-a': 'issued', 'batch-b': 'issued', 'batch-c': 'issued'}
    assert_issued_and_verifies(services, acme_vars['store_dir'], 'batch-c', ['*.batch-c.' + zone])


def test_renewal_archives_and_failed_renewal_keeps_current_files(services, acme_vars):
    zone = acme_vars['zone']
    acme_vars.update(cert_name='renewme', cert_domains=['renew.' + zone])
    first = run_playbook(playbook('acme_dns.yml'), acme_vars).assert_ok()
    serial_1 = first.task('Validate')['result']['certificates'][0]['serial']

    # inside renew_before_days: a new certificate, the old one archived
    acme_vars['renew_before_days'] = 10000
    second = run_playbook(playbook('acme_dns.yml'), acme_vars).assert_ok()
    assert second.task('Request')['result']['certificates'][0]['action'] == 'renew'
    serial_2 = second.task('Validate')['result']['certificates'][0]['serial']
    assert serial_2 != serial_1
    summary = assert_issued_and_verifies(services, acme_vars['store_dir'], 'renewme', ['renew.' + zone])
    assert summary['serial'] == serial_2
    archive = os.path.join(acme_vars['store_dir'], 'renewme', 'archive')
    archived = [os.path.join(archive, entry, 'cert.pem') for entry in os.listdir(archive)]
    assert len(archived) == 1
    with open(archived[0]) as handle:
        assert _crypto.cert_serial_hex(_crypto.load_certificate(handle.read())) == serial_1

    # a renewal that fails (DNS updates refused) leaves every current file untouched
    files = store_files(acme_vars['store_dir'], 'renewme')
    before = {kind: digest(path) for kind, path in files.items()}
    acme_vars['rfc2136_settings'] = dict(acme_vars['rfc2136_settings'], key_secret='d3Jvbmcgc2VjcmV0IQ==')
    # Another account, so that the renewal must be validated: Pebble reuses an account's valid
    # authorization once in a hundred orders even with PEBBLE_AUTHZREUSE=0 (rand.Intn(100) > 0).
    acme = dict(acme_vars['certflow_defaults']['acme'],
                account_key_content=_crypto.private_key_to_pem(_crypto.generate_private_key('ec256')))
    acme_vars['certflow_defaults'] = dict(acme_vars['certflow_defaults'], acme=acme)
    third = run_playbook(playbook('acme_dns.yml'), acme_vars)
    assert third.rc != 0
    message = third.task('Validate')['result']['msg']
    assert 'TSIG' in message or 'BADSIG' in message or 'BADKEY' in message, message
    assert {kind: digest(path) for kind, path in files.items()} == before


def test_revocation_needs_confirm_not_in_check_mode_then_unchanged(services, acme_vars):
    zone = acme_vars['zone']
    acme_vars.update(cert_name='revokeme', cert_domains=['revoke.' + zone])
    issued = run_playbook(playbook('acme_dns.yml'), acme_vars).assert_ok()
    serial = issued.task('Validate')['result']['certificates'][0]['serial']

    refused = run_playbook(playbook('acme_revoke.yml'), acme_vars)
    assert refused.rc != 0
    assert 'confirm' in refused.task('Revoke')['result']['msg']
    assert services.pebble.cert_status(serial)['Status'] == 'Valid'

    acme_vars['confirm'] = True
    checked = run_playbook(playbook('acme_revoke.yml'), acme_vars, check=True).assert_ok()
    assert checked.task('Revoke')['result']['changed'] is True
    assert services.pebble.cert_status(serial)['Status'] == 'Valid', 'check mode must never revoke'

    done = run_playbook(playbook('acme_revoke.yml'), acme_vars).assert_ok()
    assert done.task('Revoke')['result']['changed'] is True
    assert done.task('Revoke')['result']['serial'] == serial
    assert services.pebble.cert_status(serial)['Status'] == 'Revoked'

    again = run_playbook(playbook('acme_revoke.yml'), acme_vars).assert_ok()
    assert again.task('Revoke')['result']['changed'] is False


def test_check_mode_request_writes_nothing(services, acme_vars):
    acme_vars.update(cert_domains=['checkmode.' + acme_vars['zone']])
    before = pebble_requests(services)
    result = run_playbook(playbook('acme_dns.yml'), acme_vars, check=True)
    assert result.task('Request')['result']['changed'] is True
    assert result.task('Request')['result']['certificates'][0]['status'] == 'pending_validation'
    assert os.listdir(acme_vars['store_dir']) == []
    assert pebble_requests(services) == before


def _pem_body_lines(pem):
    return [line for line in pem.splitlines() if line and not line.startswith('-----')]


def test_no_secret_in_output_even_with_vvv(services, acme_vars, tmp_path):
    account_key = _crypto.private_key_to_pem(_crypto.generate_private_key('ec256'))
    acme_vars['certflow_defaults']['acme']['account_key_content'] = account_key
    acme_vars.update(cert_name='secret', cert_domains=['secret.' + acme_vars['zone']])
    result = run_playbook(playbook('acme_dns.yml'), acme_vars, verbosity=3).assert_ok()
    with open(store_files(acme_vars['store_dir'], 'secret')['privkey']) as handle:
        private_key = handle.read()
    output = result.output
    assert acme_vars['tsig_secret'] not in output
    for line in _pem_body_lines(account_key) + _pem_body_lines(private_key):
        assert line not in output
    assert 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER' in output or '********' in output, 'no_log masking is expected at -vvv'
    order_json = os.path.join(acme_vars['store_dir'], 'secret', 'order.json')
    with open(order_json) as handle:
        order_text = handle.read()
    assert acme_vars['tsig_secret'] not in order_text and 'PRIVATE KEY' not in order_text


def test_cert_info_every_source_and_quota(services, acme_vars):
    zone = acme_vars['zone']
    acme_vars.update(cert_name='info', cert_domains=['info.' + zone, 'Bücher-info.' + zone])
    issued = run_playbook(playbook('acme_dns.yml'), acme_vars).assert_ok()
    serial = issued.task('Validate')['result']['certificates'][0]['serial']
    acme_vars['live_port'] = services.pebble.port
    result = run_playbook(playbook('acme_info.yml'), acme_vars).assert_ok()

    quota = result.task('Quota')['result']
    assert quota['unlimited'] is True and quota['remaining'] is None
    by_path = result.task('By path')['result']
    assert by_path['serial'] == serial
    assert by_path['key_matches'] is True and by_path['chain_valid'] is True
    assert by_path['needs_renewal'] is True
    assert by_path['domains_unicode'] == ['info.' + zone, 'bücher-info.' + zone]
    assert by_path['key_type'] == 'ec256'
    assert result.task('By content')['result']['serial'] == serial
    by_name = result.task('By name')['result']
    assert by_name['serial'] == serial and by_name['status'] == 'issued' and by_name['key_matches'] is True
    live = result.task('Live endpoint')['result']
    assert live['domains'] == ['localhost'] and live['ip_addresses'] == ['127.0.0.1']
    assert live['chain_valid'] is True and live['protocol'] in ('TLSv1.2', 'TLSv1.3')
    everything = result.task('Whole store')['result']['certificates']
    assert [c['name'] for c in everything] == ['info']


def test_validate_check_mode_touches_nothing(services, acme_vars):
    acme_vars.update(cert_name='checkval', cert_domains=['checkval.' + acme_vars['zone']])
    run_playbook(playbook('single_task.yml'), dict(acme_vars, module='cert_request', module_args={
        'name': 'checkval', 'domains': acme_vars['cert_domains']})).assert_ok()
    before = pebble_requests(services)
    result = run_playbook(playbook('acme_validate_check.yml'), acme_vars, check=True).assert_ok()
    assert result.task('Validate')['result']['changed'] is True
    assert pebble_requests(services) == before
    assert services.bind.query_txt('_acme-challenge.checkval.' + acme_vars['zone']) == []
    assert not os.path.exists(store_files(acme_vars['store_dir'], 'checkval')['cert'])


def test_external_account_binding(pebble_eab, acme_vars):
    acme_vars['certflow_defaults']['acme'] = {'directory': pebble_eab.directory_url, 'ca_bundle': pebble_eab.ca_bundle,
                                              'eab_kid': pebble_eab.eab_kid, 'eab_hmac_key': pebble_eab.eab_hmac_key}
    acme_vars.update(cert_name='eab', cert_domains=['eab.' + acme_vars['zone']])
    result = run_playbook(playbook('acme_dns.yml'), acme_vars).assert_ok()
    assert result.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    assert pebble_eab.eab_hmac_key not in result.output

    acme_vars['certflow_defaults']['acme'].pop('eab_kid')
    acme_vars['certflow_defaults']['acme'].pop('eab_hmac_key')
    acme_vars['certflow_defaults']['store_dir'] = acme_vars['store_dir'] + '-no-eab'
    refused = run_playbook(playbook('acme_dns.yml'), acme_vars)
    assert refused.rc != 0
    assert 'external account binding' in refused.task('Request')['result']['msg']


def _task(acme_vars, module, args, check=False):
    return run_playbook(playbook('single_task.yml'), dict(acme_vars, module=module, module_args=args), check=check)


def test_bring_your_own_csr_and_key_validated_by_order_id(services, acme_vars, tmp_path):
    zone = acme_vars['zone']
    key = _crypto.generate_private_key('rsa2048')
    key_file = tmp_path / 'own.key'
    key_file.write_text(_crypto.private_key_to_pem(key))
    csr_file = tmp_path / 'own.csr'
    csr_file.write_text(_crypto.build_csr(key, ['own.' + zone]))
    requested = _task(acme_vars, 'cert_request', {'name': 'own', 'csr': str(csr_file), 'private_key_src': str(key_file)}).assert_ok()
    entry = requested.task('Request')['result']['certificates'][0]
    assert entry['domains'] == ['own.' + zone]
    validated = _task(acme_vars, 'cert_validate', {'order_id': entry['order_id'], 'method': 'dns', 'rfc2136': acme_vars['rfc2136_settings'],
                                                   'nameservers': [acme_vars['nameserver']]}).assert_ok()
    assert validated.task('Validate')['result']['certificates'][0]['name'] == 'own'
    summary = assert_issued_and_verifies(services, acme_vars['store_dir'], 'own', ['own.' + zone])
    assert summary['key_type'] == 'rsa2048'
    with open(store_files(acme_vars['store_dir'], 'own')['privkey']) as handle:
        assert _crypto.cert_matches_key(_crypto.load_certificate(open(store_files(acme_vars['store_dir'], 'own')['cert']).read()),
                                        _crypto.load_private_key(handle.read()))
    assert _crypto.public_key_pem(key) == _crypto.public_key_pem(_crypto.load_private_key(key_file.read_text()))


def test_reuse_key_on_renewal(services, acme_vars):
    zone = acme_vars['zone']
    acme_vars.update(cert_name='samekey', cert_domains=['samekey.' + zone])
    run_playbook(playbook('acme_dns.yml'), acme_vars).assert_ok()
    with open(store_files(acme_vars['store_dir'], 'samekey')['privkey']) as handle:
        first_key = handle.read()
    _task(acme_vars, 'cert_request', {'name': 'samekey', 'domains': acme_vars['cert_domains'], 'force': True, 'reuse_key': True}).assert_ok()
    _task(acme_vars, 'cert_validate', {'name': 'samekey', 'method': 'dns', 'rfc2136': acme_vars['rfc2136_settings'],
                                       'nameservers': [acme_vars['nameserver']]}).assert_ok()
    with open(store_files(acme_vars['store_dir'], 'samekey')['privkey']) as handle:
        assert handle.read() == first_key
    assert len(os.listdir(os.path.join(acme_vars['store_dir'], 'samekey', 'archive'))) == 1
