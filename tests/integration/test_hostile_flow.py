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


@pytest.fixture(params=['acme', 'local'])
def provider_vars(request, acme_vars, tmp_path):
    if request.param == 'local':
        acme_vars['certflow_defaults'] = {'provider': 'local', 'local_ca': {'path': str(tmp_path / 'ca')},
                                          'store_dir': acme_vars['store_dir'], 'timeout': 60}
    acme_vars['validation'] = 'dns' if request.param == 'acme' else 'none'
    acme_vars['provider'] = request.param
    return acme_vars


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
