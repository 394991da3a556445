# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile input to the request flow (issue 12): two store entries spelling the
same names differently, plain-HTTP transports and unchecked TLS, quick_issue
on renewal, batch failure labels and a pending order whose validation changed."""

import json
import os

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from tests.lib.playbook import run_playbook

PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks', 'single_task.yml')
TASKS = {'cert_request': 'Request', 'cert_validate': 'Validate', 'cert_revoke': 'Revoke', 'cert_info': 'Info',
         'cert_quota': 'Quota'}


def run_module(variables, module, args, check=False, env=None):
    result = run_playbook(PLAYBOOK, dict(variables, module=module, module_args=args), check=check, env=env)
    return result, result.task(TASKS[module])['result']


def read(path):
    with open(path) as handle:
        return handle.read()


def _validate_args(variables, name):
    return {'name': name, 'method': variables['validation'], 'rfc2136': variables['rfc2136_settings'],
            'nameservers': [variables['nameserver']], 'propagation_timeout': 20}


# ------------------------------------------------------------------ item 9: one order per store entry

def test_same_names_spelled_differently_get_their_own_orders(provider_vars, services, reliability):
    zone = provider_vars['zone']
    spellings = {'c1': 'twin-%s.%s.' % (provider_vars['provider'], zone),
                 'c2': ('twin-%s.%s' % (provider_vars['provider'], zone)).upper()}
    store = provider_vars['store_dir']
    orders = {}
    for name, domain in spellings.items():
        result, requested = run_module(provider_vars, 'cert_request', {'name': name, 'domains': [domain],
                                                                       'validation': provider_vars['validation']})
        result.assert_ok()
        orders[name] = requested['certificates'][0]['order_id']
        result, validated = run_module(provider_vars, 'cert_validate', _validate_args(provider_vars, name))
        result.assert_ok()
        assert validated['certificates'][0]['status'] == 'issued', validated
    certs = {}
    for name in spellings:
        assert os.path.isfile(os.path.join(store, name, 'privkey.pem')), '%s has no key of its own' % name
        certs[name] = _crypto.load_certificate(read(os.path.join(store, name, 'cert.pem')))
        key = _crypto.load_private_key(read(os.path.join(store, name, 'privkey.pem')))
        assert _crypto.cert_matches_key(certs[name], key), name
    shared = orders['c1'] == orders['c2'] or certs['c1'].serial_number == certs['c2'].serial_number

    result, revoked = run_module(provider_vars, 'cert_revoke', {'name': 'c2', 'confirm': True})
    result.assert_ok()
    result, info = run_module(provider_vars, 'cert_info', {'name': 'c1', 'check_revocation': 'none'})
    result.assert_ok()
    if provider_vars['provider'] == 'acme':
        c1_status = services.pebble.cert_status(certs['c1'])['Status']
    else:
        result, info = run_module(provider_vars, 'cert_info', {'name': 'c1', 'check_revocation': 'crl'})
        c1_status = info.get('revocation_status')
    reliability.record('Hostile input', 'same-names-two-entries-%s' % provider_vars['provider'],
                       'cert_request c1 %r and c2 %r (%s), then cert_revoke c2' % (spellings['c1'], spellings['c2'],
                                                                                   provider_vars['provider']),
                       'each entry its own order, key and serial; revoking c2 leaves c1 valid',
                       'shared order' if shared else 'own orders; c1 after revoking c2: %s' % c1_status)
    assert not shared, (orders, certs['c1'].serial_number, certs['c2'].serial_number)
    assert c1_status in ('Valid', 'good'), c1_status


def test_same_names_spelled_differently_get_their_own_aliyun_orders(playbook_vars, aliyun_emulator, reliability):
    """ListUserCertificateOrder finds c1's order for c2's names: c2 must not resume it."""
    variables = dict(playbook_vars, certflow_defaults={
        'provider': 'aliyun', 'store_dir': playbook_vars['store_dir'], 'timeout': 60,
        'aliyun': {'endpoint': aliyun_emulator.endpoint, 'access_key_id': aliyun_emulator.access_key_id,
                   'access_key_secret': aliyun_emulator.access_key_secret}})
    domain = 'twin-aliyun-%s.%s' % (os.getpid(), playbook_vars['zone'])
    orders = {}
    for name, spelling in (('c1', domain + '.'), ('c2', domain.upper())):
        result, requested = run_module(variables, 'cert_request', {'name': name, 'domains': [spelling], 'validation': 'dns'})
        result.assert_ok()
        orders[name] = requested['certificates'][0]
    shared = orders['c1']['order_id'] == orders['c2']['order_id']
    reliability.record('Hostile input', 'same-names-two-entries-aliyun',
                       'cert_request c1 %r and c2 %r (aliyun)' % (domain + '.', domain.upper()),
                       'c2 gets an order of its own, never c1\'s (found by ListUserCertificateOrder)',
                       'shared order %s' % orders['c1']['order_id'] if shared else 'own orders (%s)' % orders['c2']['action'])
    assert not shared, orders
    assert orders['c2']['action'] == 'create' and orders['c2']['changed'] is True


# ------------------------------------------------------------------ item 18: a pending order follows the validation asked for

def test_first_run_on_local_ca_with_default_dns_then_validation_none(acme_vars, tmp_path, reliability):
    variables = dict(acme_vars, certflow_defaults={'provider': 'local', 'local_ca': {'path': str(tmp_path / 'ca')},
                                                   'store_dir': acme_vars['store_dir'], 'timeout': 60})
    name = 'intranet'
    request = {'name': name, 'domains': ['intranet.%s' % acme_vars['zone']]}
    result, first = run_module(variables, 'cert_request', request)
    result.assert_ok()
    first_order = first['certificates'][0]['order_id']
    pending_key = read(os.path.join(acme_vars['store_dir'], name, 'pending', 'privkey.pem'))

    # No DNS provider is set up: the message says what to do for internal names.
    result, refused = run_module(variables, 'cert_validate', {'name': name})
    assert result.rc != 0
    reliability.record('Hostile input', 'local-ca-default-dns-no-dns-settings',
                       'provider local, cert_request without validation (dns), cert_validate without DNS settings',
                       'fails naming validation: none for internal names', 'failed, changed: %s' % refused.get('changed'),
                       message=refused.get('msg'))
    assert 'validation: none' in refused['msg'] and 'rfc2136' in refused['msg'], refused['msg']

    result, mismatch = run_module(variables, 'cert_validate', {'name': name, 'method': 'none'})
    assert result.rc != 0 and mismatch['changed'] is False
    assert mismatch['msg'] == ('the order for intranet waits for dns validation but method is none: run certflow.ssl.cert_request '
                               'for intranet with validation: none first (an order not yet validated follows it), then '
                               'cert_validate again'), mismatch['msg']

    none = dict(request, validation='none')
    result, predicted = run_module(variables, 'cert_request', none, check=True)
    result.assert_ok()
    assert predicted['changed'] is True and predicted['certificates'][0]['action'] == 'recreate', predicted
    with open(os.path.join(acme_vars['store_dir'], name, 'order.json')) as handle:
        assert json.load(handle)['order_id'] == first_order, 'check mode changed the store'

    result, switched = run_module(variables, 'cert_request', none)
    result.assert_ok()
    entry = switched['certificates'][0]
    outcome = 'action %s, order %s' % (entry.get('action'), 'new' if entry['order_id'] != first_order else 'the same')
    result, validated = run_module(variables, 'cert_validate', {'name': name, 'method': 'none'})
    reliability.record('Hostile input', 'pending-order-validation-changed',
                       'provider local: a pending dns order, then cert_request validation: none and cert_validate method: none',
                       'the unvalidated order follows the validation now asked for; the key stays',
                       '%s; validate: %s' % (outcome, validated.get('msg') or validated['certificates'][0]['status']),
                       message=validated.get('msg'))
    result.assert_ok()
    assert entry['action'] == 'recreate' and entry['changed'] is True and entry['order_id'] != first_order, entry
    assert validated['certificates'][0]['status'] == 'issued'
    assert read(os.path.join(acme_vars['store_dir'], name, 'privkey.pem')) == pending_key, 'the key made first stays'


# ------------------------------------------------------------------ item 14: quick_issue: false on renewal

def test_renewal_honours_quick_issue_false(provider_vars):
    name = 'renew-later-' + provider_vars['provider']
    request = {'name': name, 'domains': ['%s.%s' % (name, provider_vars['zone'])], 'validation': provider_vars['validation']}
    result, _first = run_module(provider_vars, 'cert_request', request)
    result.assert_ok()
    result, issued = run_module(provider_vars, 'cert_validate', _validate_args(provider_vars, name))
    result.assert_ok()
    issued_order = issued['certificates'][0]['order_id']

    due = dict(request, renew_before_days=36500, quick_issue=False)
    result, predicted = run_module(provider_vars, 'cert_request', due, check=True)
    result.assert_ok()
    assert predicted['certificates'][0]['status'] == 'created' and predicted['changed'] is True

    result, kept = run_module(provider_vars, 'cert_request', due)
    result.assert_ok()
    entry = kept['certificates'][0]
    assert entry['action'] == 'renew' and entry['status'] == 'created' and entry['changed'] is True, entry
    with open(os.path.join(provider_vars['store_dir'], name, 'order.json')) as handle:
        stored = json.load(handle)
    assert stored['status'] == 'created' and stored['order_id'] != issued_order
    if provider_vars['provider'] == 'acme':
        assert stored['order_id'] is None, 'an ACME order kept with us has no order URL: nothing was sent'
    assert read(os.path.join(provider_vars['store_dir'], name, 'cert.pem')), 'the current certificate stays'

    result, submitted = run_module(provider_vars, 'cert_request', dict(request, renew_before_days=36500))
    result.assert_ok()
    entry = submitted['certificates'][0]
    assert entry['action'] == 'submit' and entry['status'] == 'pending_validation' and entry['order_id'], entry
    result, renewed = run_module(provider_vars, 'cert_validate', _validate_args(provider_vars, name))
    result.assert_ok()
    assert renewed['certificates'][0]['status'] == 'issued' and renewed['certificates'][0]['order_id'] != issued_order


# ------------------------------------------------------------------ item 15: batch failures carry the store name

def test_failed_batch_entry_is_labelled_with_its_store_name(acme_vars):
    zone = acme_vars['zone']
    batch = [{'domains': ['*.Wild.%s.' % zone.upper()], 'validation': 'http'},
             {'ip_addresses': ['127.0.0.1'], 'validation': 'dns'},
             {'name': 'fine', 'domains': ['fine-batch.%s' % zone], 'validation': 'dns'}]
    result, outcome = run_module(acme_vars, 'cert_request', {'certificates': batch})
    assert result.rc != 0
    labels = [entry['name'] for entry in outcome['certificates']]
    assert labels == ['wildcard.wild.%s' % zone, '127.0.0.1', 'fine'], labels
    assert [entry['status'] for entry in outcome['certificates']] == ['failed', 'failed', 'pending_validation']
    assert 'wildcard.wild.%s: ' % zone in outcome['msg'] and '127.0.0.1: ' in outcome['msg'], outcome['msg']


# ------------------------------------------------------------------ item 10: plain HTTP and unchecked TLS

def _warnings(outcome):
    return ' | '.join(outcome.get('warnings') or [])


def test_acme_without_certificate_checks_warns_every_run(acme_vars, reliability):
    acme = dict(acme_vars['certflow_defaults']['acme'], validate_certs=False)
    acme.pop('ca_bundle')
    variables = dict(acme_vars, certflow_defaults=dict(acme_vars['certflow_defaults'], acme=acme))
    request = {'name': 'unchecked', 'domains': ['unchecked.%s' % acme_vars['zone']], 'validation': 'dns'}
    seen = []
    for _run in range(2):
        result, outcome = run_module(variables, 'cert_request', request)
        result.assert_ok()
        seen.append(_warnings(outcome))
    reliability.record('Hostile input', 'acme-validate-certs-false', 'cert_request with acme.validate_certs: false (twice)',
                       'works, with a warning on every run', 'warnings: %d of 2 runs' % sum('validate_certs is false' in w for w in seen),
                       message=seen[-1])
    for warnings in seen:
        assert "unchecked: acme.validate_certs is false: the ACME server's identity is not checked" in warnings, warnings
    assert outcome['certificates'][0]['warnings'][0].startswith('acme.validate_certs is false')


def test_acme_plain_http_directory_warns_and_keeps_the_eab_key(acme_vars, store_dir, reliability):
    plain = 'http://127.0.0.1:9/dir'
    eab_key = 'c2VjcmV0LWVhYi1rZXktbm90LWZvci1odHRw'
    acme = {'directory': plain, 'eab_kid': 'kid-1', 'eab_hmac_key': eab_key}
    variables = dict(acme_vars, certflow_defaults=dict(acme_vars['certflow_defaults'], acme=acme))
    request = {'name': 'plain', 'domains': ['plain.%s' % acme_vars['zone']], 'validation': 'dns'}
    result, refused = run_module(variables, 'cert_request', request)
    reliability.record('Hostile input', 'acme-eab-over-http', 'cert_request with acme.eab_hmac_key and an http:// directory',
                       'refused naming acme.eab_hmac_key, nothing sent', 'failed, changed: %s' % refused.get('changed'),
                       message=refused.get('msg'))
    assert result.rc != 0 and refused['changed'] is False
    assert refused['msg'].startswith('acme.eab_hmac_key is not sent over plain HTTP') and plain in refused['msg'], refused['msg']
    assert 'refused' not in refused['msg'], 'nothing may be sent: %s' % refused['msg']
    assert eab_key not in result.output
    assert [entry for entry in os.listdir(store_dir) if entry != '.locks'] == []

    acme.pop('eab_hmac_key')
    acme.pop('eab_kid')
    result, unreachable = run_module(variables, 'cert_request', request)
    reliability.record('Hostile input', 'acme-plain-http-directory', 'cert_request with an http:// ACME directory',
                       'tried, with a plain-HTTP warning', 'warned' if 'plain HTTP' in _warnings(unreachable) else 'NO WARNING',
                       message=_warnings(unreachable))
    assert 'ACME directory %s is plain HTTP' % plain in _warnings(unreachable), unreachable


@pytest.fixture
def aliyun_settings(aliyun_emulator):
    return {'endpoint': aliyun_emulator.endpoint, 'access_key_id': aliyun_emulator.access_key_id,
            'access_key_secret': aliyun_emulator.access_key_secret}


def test_aliyun_plain_http_endpoint_warns(playbook_vars, aliyun_emulator, aliyun_settings, reliability):
    variables = dict(playbook_vars, certflow_defaults={'provider': 'aliyun', 'aliyun': aliyun_settings, 'timeout': 30})
    result, quota = run_module(variables, 'cert_quota', {'product': aliyun_emulator.dv_product})
    result.assert_ok()
    expected = 'aliyun endpoint %s/ is plain HTTP' % aliyun_emulator.endpoint
    reliability.record('Hostile input', 'aliyun-plain-http-endpoint', 'cert_quota with an http:// aliyun.endpoint',
                       'works, with a warning', 'warned' if expected in _warnings(quota) else 'NO WARNING', message=_warnings(quota))
    assert expected in _warnings(quota), quota


def test_aliyun_sts_token_is_not_sent_over_http(playbook_vars, aliyun_emulator, reliability):
    token = 'sts-token-never-over-http'
    aliyun_emulator.add_credentials('STS.Hostile', 'sts-hostile-secret', token)
    calls = len(aliyun_emulator.calls)
    settings = {'endpoint': aliyun_emulator.endpoint, 'access_key_id': 'STS.Hostile', 'access_key_secret': 'sts-hostile-secret',
                'security_token': token}
    variables = dict(playbook_vars, certflow_defaults={'provider': 'aliyun', 'aliyun': settings, 'timeout': 30,
                                                       'store_dir': playbook_vars['store_dir']})
    result, refused = run_module(variables, 'cert_quota', {'product': aliyun_emulator.dv_product})
    reliability.record('Hostile input', 'aliyun-sts-token-over-http', 'cert_quota with aliyun.security_token and an http:// endpoint',
                       'refused naming aliyun.security_token, nothing sent', 'failed, changed: %s' % refused.get('changed'),
                       message=refused.get('msg'))
    assert result.rc != 0 and refused['changed'] is False
    assert refused['msg'].startswith('aliyun.security_token (or ALIBABA_CLOUD_SECURITY_TOKEN) is not sent over plain HTTP'), refused
    assert len(aliyun_emulator.calls) == calls, 'nothing may reach the endpoint'
    assert token not in result.output

    result, requested = run_module(variables, 'cert_request', {'name': 'sts', 'domains': ['sts.%s' % playbook_vars['zone']]})
    assert result.rc != 0 and 'aliyun.security_token' in requested['msg'], requested
    assert len(aliyun_emulator.calls) == calls


def test_aliyun_without_certificate_checks_warns(playbook_vars, services, aliyun_settings, aliyun_emulator, reliability):
    from tests.emulator.aliyun_emulator import AliyunEmulator
    tls = (os.path.join(services.pebble.workdir, 'pebble-cert.pem'), os.path.join(services.pebble.workdir, 'pebble-key.pem'))
    product = aliyun_emulator.dv_product
    with AliyunEmulator(credentials={aliyun_settings['access_key_id']: aliyun_settings['access_key_secret']},
                        packages={product: 3}, tls=tls) as https:
        settings = dict(aliyun_settings, endpoint=https.endpoint, validate_certs=False)
        variables = dict(playbook_vars, certflow_defaults={'provider': 'aliyun', 'aliyun': settings, 'timeout': 30})
        result, quota = run_module(variables, 'cert_quota', {'product': product})
        expected = 'aliyun.validate_certs is false: the identity of %s/ is not checked' % https.endpoint
    result.assert_ok()
    reliability.record('Hostile input', 'aliyun-validate-certs-false', 'cert_quota with aliyun.validate_certs: false (https)',
                       'works, with a warning', 'warned' if expected in _warnings(quota) else 'NO WARNING', message=_warnings(quota))
    assert quota['remaining'] == 3 and expected in _warnings(quota), quota


def test_aliyun_renewal_honours_quick_issue_false(acme_vars, aliyun_emulator):
    variables = dict(acme_vars, certflow_defaults={
        'provider': 'aliyun', 'store_dir': acme_vars['store_dir'], 'timeout': 60,
        'aliyun': {'endpoint': aliyun_emulator.endpoint, 'access_key_id': aliyun_emulator.access_key_id,
                   'access_key_secret': aliyun_emulator.access_key_secret}})
    name = 'renew-later-aliyun'
    request = {'name': name, 'domains': ['%s-%d.%s' % (name, os.getpid(), acme_vars['zone'])], 'validation': 'dns',
               'product': aliyun_emulator.dv_product}
    result, _first = run_module(variables, 'cert_request', request)
    result.assert_ok()
    result, issued = run_module(variables, 'cert_validate', dict(_validate_args(dict(variables, validation='dns'), name)))
    result.assert_ok()
    first_order = issued['certificates'][0]['order_id']
    aliyun_emulator.expire_soon(first_order)
    renewals = aliyun_emulator.actions().count('RenewCertificateOrderForPackageRequest')

    due = dict(request, renew_before_days=10000)
    result, kept = run_module(variables, 'cert_request', dict(due, quick_issue=False))
    result.assert_ok()
    entry = kept['certificates'][0]
    assert entry['action'] == 'renew' and entry['status'] == 'created', entry
    assert aliyun_emulator.actions().count('RenewCertificateOrderForPackageRequest') == renewals, 'nothing may be sent'

    result, submitted = run_module(variables, 'cert_request', due)
    result.assert_ok()
    entry = submitted['certificates'][0]
    assert entry['action'] == 'submit' and entry['status'] == 'pending_validation', entry
    assert aliyun_emulator.actions().count('RenewCertificateOrderForPackageRequest') == renewals + 1
    assert aliyun_emulator.order(entry['order_id'])['renewed_from'] == int(first_order)
