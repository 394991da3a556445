# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The embedded local CA through ansible-playbook: validation by dns (RFC 2136
to BIND9), http (nginx) and none; renewal; revocation into the CRL; quota."""

import datetime
import os

import pytest
from cryptography import x509

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from tests.lib.playbook import run_playbook

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks')


@pytest.fixture
def local_vars(playbook_vars, services, tmp_path):
    values = dict(playbook_vars)
    values['ca_path'] = str(tmp_path / 'local-ca')
    values['certflow_defaults'] = {'provider': 'local', 'store_dir': playbook_vars['store_dir'], 'timeout': 60,
                                   'local_ca': {'path': values['ca_path'], 'validity_days': 90}}
    values['rfc2136_settings'] = {'server': services.bind.host, 'port': services.bind.port,
                                  'key_name': services.bind.tsig_name, 'key_secret': services.bind.tsig_secret,
                                  'key_algorithm': services.bind.tsig_algorithm}
    return values


def run(name, variables, **kwargs):
    return run_playbook(os.path.join(PLAYBOOKS, name), variables, **kwargs)


def chain_verifies_to_local_root(store_dir, name, ca_path):
    with open(os.path.join(store_dir, name, 'fullchain.pem')) as handle:
        certs = _crypto.load_certificates(handle.read())
    with open(os.path.join(ca_path, 'root.pem')) as handle:
        roots = _crypto.load_certificates(handle.read())
    return _crypto.verify_chain(certs[0], certs[1:], roots=roots)


@pytest.mark.parametrize('validation,method,domain', [
    ('dns', 'dns', 'local-dns.certflow.test'),
    ('http', 'http', 'local-http.certflow.test'),
    ('none', 'none', 'intranet.corp.internal'),
])
def test_issue_with_each_validation(local_vars, validation, method, domain):
    local_vars.update(cert_name=domain, cert_domains=[domain], validation=validation, method=method)
    result = run('local_lifecycle.yml', local_vars).assert_ok()
    assert result.task('Quota')['result']['unlimited'] is True
    assert result.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    info = result.task('Info')['result']
    assert info['domains'] == [domain]
    assert info['key_matches'] is True and info['chain_valid'] is True
    assert info['revocation_status'] == 'good'
    assert 88 <= info['days_remaining'] <= 90
    ok, reason = chain_verifies_to_local_root(local_vars['store_dir'], domain, local_vars['ca_path'])
    assert ok, reason


def test_dns_validation_fails_when_the_record_is_missing(local_vars):
    # dns_manual with no record added: the local CA itself looks and refuses
    local_vars.update(cert_name='nodns', cert_domains=['nodns.certflow.test'], validation='dns', method='dns_manual')
    result = run('local_lifecycle.yml', local_vars)
    assert result.rc != 0
    message = result.task('Validate')['result']['msg']
    assert '_acme-challenge.nodns.certflow.test' in message
    assert not os.path.exists(os.path.join(local_vars['store_dir'], 'nodns', 'cert.pem'))


def test_renew_then_revoke_is_in_crl_and_reported(local_vars):
    local_vars.update(cert_name='renewed', cert_domains=['renewed.certflow.test'], validation='none', method='none')
    first = run('local_lifecycle.yml', local_vars).assert_ok()
    serial_1 = first.task('Info')['result']['serial']
    again = run('local_lifecycle.yml', local_vars).assert_ok()
    assert again.recap['localhost']['changed'] == 0

    local_vars['renew_before_days'] = 120  # longer than the 90-day validity: due
    renewed = run('local_lifecycle.yml', local_vars).assert_ok()
    serial_2 = renewed.task('Info')['result']['serial']
    assert serial_2 != serial_1
    assert len(os.listdir(os.path.join(local_vars['store_dir'], 'renewed', 'archive'))) == 1

    revoked = run('local_revoke.yml', local_vars).assert_ok()
    assert revoked.task('Revoke')['result']['changed'] is True
    assert revoked.task('Info by name')['result']['revocation_status'] == 'revoked'
    assert revoked.task('Info by path')['result']['revocation_status'] == 'revoked'
    with open(os.path.join(local_vars['ca_path'], 'crl.pem'), 'rb') as handle:
        crl = x509.load_pem_x509_crl(handle.read())
    listed = {'%x' % entry.serial_number for entry in crl}
    assert serial_2.lstrip('0') in listed
    assert serial_1.lstrip('0') not in listed, 'only the named certificate is revoked'
    assert run('local_revoke.yml', local_vars).assert_ok().task('Revoke')['result']['changed'] is False


def test_quota_exhaustion(local_vars):
    local_vars['certflow_defaults']['local_ca']['quota'] = 1
    local_vars.update(cert_name='quota-1', cert_domains=['quota-1.corp.internal'], validation='none', method='none')
    first = run('local_lifecycle.yml', local_vars).assert_ok()
    assert first.task('Quota')['result']['remaining'] == 1

    local_vars.update(cert_name='quota-2', cert_domains=['quota-2.corp.internal'], min_remaining=1)
    refused = run('local_lifecycle.yml', local_vars)
    assert refused.rc != 0
    assert 'only 0 certificate(s) left' in refused.task('Quota')['result']['msg']

    local_vars['min_remaining'] = 0
    used_up = run('local_lifecycle.yml', local_vars)
    assert used_up.rc != 0
    assert 'quota of 1 certificates is used up' in used_up.failed_tasks()[0]['result']['msg']
    assert not os.path.exists(os.path.join(local_vars['store_dir'], 'quota-2', 'cert.pem'))


@pytest.mark.parametrize('rule,expected_source,days_before', [
    ({'renew_before_days': 30}, 'days', 30),
    ({'renew_before_ratio': 0.5}, 'ratio', 45),
])
def test_cert_validate_reports_renewal_by_the_rule_cert_request_was_given(local_vars, rule, expected_source, days_before):
    name = 'rule-%s' % expected_source.replace('_', '-')
    request = dict({'name': name, 'domains': [name + '.corp.internal'], 'validation': 'none'}, **rule)
    requested = run('single_task.yml', dict(local_vars, module='cert_request', module_args=request)).assert_ok()
    assert requested.task('Request')['result']['certificates'][0]['status'] in ('pending_validation', 'issued')
    validated = run('single_task.yml', dict(local_vars, module='cert_validate', module_args={'name': name})).assert_ok()
    entry = validated.task('Validate')['result']['certificates'][0]
    assert entry['status'] == 'issued'
    assert entry['renewal_source'] == expected_source, entry
    not_after = datetime.datetime.fromisoformat(entry['not_after'].replace('Z', '+00:00'))
    renewal_time = datetime.datetime.fromisoformat(entry['renewal_time'].replace('Z', '+00:00'))
    assert abs((not_after - renewal_time) - datetime.timedelta(days=days_before)) < datetime.timedelta(minutes=5), entry
    # cert_info with the same rule agrees with what cert_validate said
    info_args = dict({'name': name}, **rule)
    info = run('single_task.yml', dict(local_vars, module='cert_info', module_args=info_args)).assert_ok().task('Info')['result']
    assert (info['renewal_time'], info['renewal_source']) == (entry['renewal_time'], entry['renewal_source'])
