# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dns-account-01 and dns-persist-01 (validation: dns_account / dns_persist) end to end
through ansible-playbook, against the current Pebble and BIND9 (issue 14, items 4 and 7)."""

import base64
import hashlib
import json
import os
import re

import dns.rdatatype
import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from tests.integration.test_acme_workflow import assert_issued_and_verifies
from tests.lib.playbook import run_playbook

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOK = os.path.join(HERE, 'playbooks', 'acme_dns_challenges.yml')
# Pebble's issuer domain name (its caaIdentities, unset in the suite's config).
ISSUER = 'pebble.letsencrypt.org'


def _account_key(tmp_path, name):
    path = tmp_path / ('%s.pem' % name)
    path.write_text(_crypto.private_key_to_pem(_crypto.generate_private_key('ec256')))
    return str(path)


def _with_account(acme_vars, key_path):
    values = dict(acme_vars)
    defaults = dict(values['certflow_defaults'])
    defaults['acme'] = dict(defaults['acme'], account_key_src=key_path)
    values['certflow_defaults'] = defaults
    return values


def _account_url(store_dir, key_path):
    """The account URL of ``key_path`` from the store's account cache (written by the run of that account)."""
    with open(key_path) as handle:
        thumbprint = _jws_thumbprint(handle.read())
    for folder, _dirs, files in os.walk(os.path.join(store_dir)):
        for name in files:
            if name == 'account.json':
                with open(os.path.join(folder, name)) as handle:
                    data = json.load(handle)
                if data.get('thumbprint') == thumbprint:
                    return data['url']
    raise AssertionError('no account.json for %s in %s' % (key_path, store_dir))


def _jws_thumbprint(pem):
    from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import jws
    return jws.thumbprint(_crypto.load_private_key(pem))


def _label(account_url):
    # Pebble's va.go: strings.ToLower(base32.StdEncoding.EncodeToString(sha256(acctURL)[0:10]))
    return base64.b32encode(hashlib.sha256(account_url.encode()).digest()[:10]).decode().lower()


def _serial(bind):
    response = bind.query(bind.zone, dns.rdatatype.SOA)
    return [rrset for rrset in response.answer if rrset.rdtype == dns.rdatatype.SOA][0][0].serial


def _run(acme_vars, **values):
    return run_playbook(PLAYBOOK, dict(acme_vars, **values))


# ------------------------------------------------------------------ dns-account-01

def test_dns_account_issues_for_a_name_with_the_account_label(services, acme_vars, tmp_path):
    zone = acme_vars['zone']
    key = _account_key(tmp_path, 'one')
    values = _with_account(acme_vars, key)
    result = _run(values, cert_name='acct-one', cert_domains=['acct-one.' + zone], validation='dns_account').assert_ok()
    challenge = result.task('Request')['result']['certificates'][0]['challenges'][0]
    label = _label(_account_url(acme_vars['store_dir'], key))
    assert challenge['type'] == 'dns-account-01'
    assert challenge['record_name'] == '_%s._acme-challenge.acct-one.%s' % (label, zone)
    assert result.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    assert_issued_and_verifies(services, acme_vars['store_dir'], 'acct-one', ['acct-one.' + zone])
    assert services.bind.query_txt(challenge['record_name']) == [], 'the record we created is removed again'


def test_dns_account_apex_and_wildcard(services, acme_vars):
    zone = 'wild-acct.' + acme_vars['zone']
    result = _run(acme_vars, cert_name='wild-acct', cert_domains=['*.' + zone, zone], validation='dns_account').assert_ok()
    challenges = result.task('Request')['result']['certificates'][0]['challenges']
    assert {c['domain'] for c in challenges} == {'*.' + zone, zone}
    names = {c['record_name'] for c in challenges}
    assert len(names) == 1 and re.fullmatch(r'_[a-z2-7]{16}\._acme-challenge\.' + re.escape(zone), names.pop())
    assert result.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    assert_issued_and_verifies(services, acme_vars['store_dir'], 'wild-acct', ['*.' + zone, zone])


def test_two_accounts_validate_one_name_with_both_records_present(services, acme_vars, tmp_path):
    """Account A's record is still in DNS (its run returned before finishing) while B
    validates the same name: each has its own name, B's cleanup leaves A's alone."""
    bind, name = services.bind, 'shared-acct.' + acme_vars['zone']
    key_a, key_b = _account_key(tmp_path, 'a'), _account_key(tmp_path, 'b')
    vars_a, vars_b = _with_account(acme_vars, key_a), _with_account(acme_vars, key_b)
    first_a = _run(vars_a, cert_name='shared-a', cert_domains=[name], validation='dns_account',
                   wait=False, cleanup=False).assert_ok()
    record_a = first_a.task('Request')['result']['certificates'][0]['challenges'][0]
    assert record_a['record_name'] == '_%s._acme-challenge.%s' % (_label(_account_url(acme_vars['store_dir'], key_a)), name)
    assert bind.query_txt(record_a['record_name']) == [record_a['record_value']]

    result_b = _run(vars_b, cert_name='shared-b', cert_domains=[name], validation='dns_account').assert_ok()
    record_b = result_b.task('Request')['result']['certificates'][0]['challenges'][0]
    assert record_b['record_name'] == '_%s._acme-challenge.%s' % (_label(_account_url(acme_vars['store_dir'], key_b)), name)
    assert record_b['record_name'] != record_a['record_name']
    assert result_b.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    assert bind.query_txt(record_a['record_name']) == [record_a['record_value']], "B's cleanup must leave A's record"
    assert bind.query_txt(record_b['record_name']) == []

    # A resumes its order: issued, and now its own record goes.
    final_a = _run(vars_a, cert_name='shared-a', cert_domains=[name], validation='dns_account').assert_ok()
    assert final_a.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    assert bind.query_txt(record_a['record_name']) == []
    for cert_name in ('shared-a', 'shared-b'):
        assert_issued_and_verifies(services, acme_vars['store_dir'], cert_name, [name])


# ------------------------------------------------------------------ dns-persist-01

def test_dns_persist_record_created_once_then_no_dns_change(services, acme_vars, tmp_path):
    bind = services.bind
    zone = 'persist.' + acme_vars['zone']
    key = _account_key(tmp_path, 'persist')
    values = _with_account(acme_vars, key)
    record = '_validation-persist.' + zone
    first = _run(values, cert_name='persist', cert_domains=['*.' + zone, zone], validation='dns_persist').assert_ok()
    account_url = _account_url(acme_vars['store_dir'], key)
    wanted = '%s; accounturi=%s; policy=wildcard' % (ISSUER, account_url)
    challenges = first.task('Request')['result']['certificates'][0]['challenges']
    assert {(c['type'], c['record_name'], c['record_value']) for c in challenges} == {('dns-persist-01', record, wanted)}
    validated = first.task('Validate')['result']['certificates'][0]
    assert validated['status'] == 'issued'
    assert validated['persistent_records'] == [{'name': record, 'type': 'TXT', 'value': wanted, 'created': True}]
    assert any('stays in place on purpose' in w for w in validated['warnings'])
    assert bind.query_txt(record) == [wanted], 'the persistent record stays after cleanup'
    first_serial = assert_issued_and_verifies(services, acme_vars['store_dir'], 'persist', ['*.' + zone, zone])['serial']

    zone_serial = _serial(bind)
    second = _run(values, cert_name='persist', cert_domains=['*.' + zone, zone], validation='dns_persist', force=True).assert_ok()
    validated = second.task('Validate')['result']['certificates'][0]
    assert validated['status'] == 'issued' and validated['serial'] != first_serial
    assert validated['persistent_records'] == [{'name': record, 'type': 'TXT', 'value': wanted, 'created': False}]
    assert not validated.get('warnings')
    assert _serial(bind) == zone_serial, 'a second issuance must not change the zone'
    assert bind.query_txt(record) == [wanted]


def test_dns_persist_manual_names_the_record_then_succeeds(services, acme_vars, tmp_path):
    bind = services.bind
    name = 'persist-manual.' + acme_vars['zone']
    values = _with_account(acme_vars, _account_key(tmp_path, 'manual'))
    first = _run(values, cert_name='persist-manual', cert_domains=[name], validation='dns_persist', method='dns_manual',
                 propagation_timeout=2)
    assert first.rc != 0
    challenge = first.task('Request')['result']['certificates'][0]['challenges'][0]
    wanted = '%s; accounturi=%s' % (ISSUER, _account_url(acme_vars['store_dir'], values['certflow_defaults']['acme']['account_key_src']))
    assert (challenge['record_name'], challenge['record_type'], challenge['record_value']) == \
        ('_validation-persist.' + name, 'TXT', wanted)
    message = first.task('Validate')['result']['msg']
    assert message.startswith('the dns-persist-01 record for %s is missing or wrong: create TXT _validation-persist.%s "%s"'
                              % (name, name, wanted)), message
    assert 'no TXT record' in message
    assert bind.query_txt(challenge['record_name']) == [], 'the manual flow creates nothing'

    bind.nsupdate(['update add %s 60 TXT "%s"' % (challenge['record_name'], wanted)])
    second = _run(values, cert_name='persist-manual', cert_domains=[name], validation='dns_persist', method='dns_manual').assert_ok()
    validated = second.task('Validate')['result']['certificates'][0]
    assert validated['status'] == 'issued'
    assert validated['persistent_records'] == [{'name': challenge['record_name'], 'type': 'TXT', 'value': wanted, 'created': False}]
    assert bind.query_txt(challenge['record_name']) == [wanted]
    assert_issued_and_verifies(services, acme_vars['store_dir'], 'persist-manual', [name])


@pytest.mark.parametrize('precheck', [True, False])
def test_dns_persist_wrong_record_fails_naming_the_expected_one(services, acme_vars, tmp_path, precheck):
    """A record for another account: our pre-check says what is wrong and what to create;
    without the pre-check the CA refuses and the message still names the record."""
    bind = services.bind
    name = 'persist-wrong-%s.%s' % ('pre' if precheck else 'ca', acme_vars['zone'])
    record = '_validation-persist.' + name
    other = '%s; accounturi=https://127.0.0.1:1/my-account/999' % ISSUER
    bind.nsupdate(['update add %s 60 TXT "%s"' % (record, other)])
    values = _with_account(acme_vars, _account_key(tmp_path, 'wrong'))
    result = _run(values, cert_name='persist-wrong', cert_domains=[name], validation='dns_persist', method='dns_manual',
                  propagation_timeout=2, precheck=precheck)
    assert result.rc != 0
    wanted = result.task('Request')['result']['certificates'][0]['challenges'][0]['record_value']
    message = result.task('Validate')['result']['msg']
    if precheck:
        assert message.startswith('the dns-persist-01 record for %s is missing or wrong: create TXT %s "%s"' % (name, record, wanted))
        assert '"%s" is for another account (accounturi=https://127.0.0.1:1/my-account/999)' % other in message
    else:
        assert 'accounturi mismatch' in message, message
        assert message.endswith('the dns-persist-01 record it looks for: TXT %s "%s"' % (record, wanted)), message
    assert bind.query_txt(record) == [other], 'a record that is not ours is left alone'


# ------------------------------------------------------------------ the certificate role

def test_certificate_role_passes_both_validations_on(services, acme_vars):
    zone, bind = acme_vars['zone'], services.bind
    role_vars = {
        'certflow_provider': 'acme', 'certflow_acme': acme_vars['certflow_defaults']['acme'],
        'certflow_store_dir': acme_vars['store_dir'], 'certflow_timeout': 120,
        'certflow_dns_provider': 'rfc2136', 'certflow_rfc2136': acme_vars['rfc2136_settings'],
        'certflow_nameservers': [acme_vars['nameserver']], 'certflow_propagation_timeout': 20,
        'certflow_certificates': [
            {'name': 'role-acct', 'domains': ['role-acct.' + zone], 'validation': 'dns_account'},
            {'name': 'role-persist', 'domains': ['role-persist.' + zone], 'validation': 'dns_persist'},
        ],
    }
    run_playbook(os.path.join(HERE, 'playbooks', 'faults_role_input.yml'), role_vars).assert_ok()
    assert_issued_and_verifies(services, acme_vars['store_dir'], 'role-acct', ['role-acct.' + zone])
    assert_issued_and_verifies(services, acme_vars['store_dir'], 'role-persist', ['role-persist.' + zone])
    assert len(bind.query_txt('_validation-persist.role-persist.' + zone)) == 1, 'the persistent record stays'


@pytest.mark.parametrize('validation', ['dns_account', 'dns_persist'])
def test_through_alibaba_cloud_dns(services, acme_vars, aliyun_emulator, validation):
    """The same DNS providers as dns-01: here Alibaba Cloud DNS (the emulator, which writes into BIND9)."""
    name = 'ali-%s.%s' % (validation.replace('_', '-'), acme_vars['zone'])
    alidns = {'endpoint': aliyun_emulator.endpoint, 'access_key_id': aliyun_emulator.access_key_id,
              'access_key_secret': aliyun_emulator.access_key_secret}
    result = _run(acme_vars, cert_name='ali', cert_domains=[name], validation=validation, dns_provider='alidns',
                  alidns_settings=alidns).assert_ok()
    challenge = result.task('Request')['result']['certificates'][0]['challenges'][0]
    assert result.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    assert_issued_and_verifies(services, acme_vars['store_dir'], 'ali', [name])
    left = services.bind.query_txt(challenge['record_name'])
    assert left == ([challenge['record_value']] if validation == 'dns_persist' else []), 'only the persistent record stays'
