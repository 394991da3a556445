# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input through ansible-playbook: each case fails with a message that
names the problem, reports changed=false, and writes nothing."""

import os

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from tests.lib.playbook import run_playbook

PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks', 'single_task.yml')
ZONE = 'certflow.test'

_KEY_A = _crypto.generate_private_key('ec256')
_KEY_B = _crypto.generate_private_key('ec256')
CSR_A = _crypto.build_csr(_KEY_A, ['csr.' + ZONE])
KEY_B_PEM = _crypto.private_key_to_pem(_KEY_B)
CORRUPT_PEM = '-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgY3Ny\n-----END CERTIFICATE REQUEST-----\n'

# (id, module, args, words the message must contain)
CASES = [
    ('empty-name', 'cert_request', {'domains': ['']}, ['empty']),
    ('empty-label', 'cert_request', {'domains': ['a..b.' + ZONE]}, ['a..b.' + ZONE]),
    ('bad-characters', 'cert_request', {'domains': ['under_score.' + ZONE]}, ['under_score']),
    ('label-too-long', 'cert_request', {'domains': ['a' * 64 + '.' + ZONE]}, ['63']),
    ('name-too-long', 'cert_request', {'domains': ['.'.join(['abcdefghi'] * 26) + '.' + ZONE]}, ['253']),
    ('ip-in-domains', 'cert_request', {'domains': ['192.0.2.7']}, ['IP address', 'ip_addresses']),
    ('bad-ip', 'cert_request', {'ip_addresses': ['999.1.1.1'], 'validation': 'http'}, ['999.1.1.1']),
    ('ip-with-dns', 'cert_request', {'ip_addresses': ['127.0.0.1'], 'validation': 'dns'}, ['127.0.0.1', 'http']),
    ('wildcard-with-http', 'cert_request', {'domains': ['*.w.' + ZONE], 'validation': 'http'}, ['wildcard', 'dns']),
    ('wildcard-not-leftmost', 'cert_request', {'domains': ['a.*.' + ZONE]}, ['wildcard']),
    ('bad-punycode', 'cert_request', {'domains': ['xn--zz.' + ZONE]}, ['xn--zz']),
    ('corrupt-csr', 'cert_request', {'csr_content': CORRUPT_PEM}, ['CSR']),
    ('csr-key-mismatch', 'cert_request', {'csr_content': CSR_A, 'private_key_content': KEY_B_PEM}, ['private key']),
    ('csr-names-differ', 'cert_request', {'csr_content': CSR_A, 'domains': ['other.' + ZONE]}, ['CSR', 'other.' + ZONE]),
    ('corrupt-key', 'cert_request', {'domains': ['k.' + ZONE], 'private_key_content': 'garbage'}, ['private key']),
    ('bad-store-name', 'cert_request', {'name': '../escape', 'domains': ['n.' + ZONE]}, ['invalid certificate name']),
    ('unreachable-ca', 'cert_request', {'domains': ['u.' + ZONE], 'acme': {'directory': 'https://127.0.0.1:9/dir'}},
     ['127.0.0.1:9']),
    ('unknown-provider-option', 'cert_request', {'domains': ['o.' + ZONE], 'acme': {'directory': 'x', 'bogus': 1}}, ['bogus']),
    ('no-directory', 'cert_request', {'domains': ['d.' + ZONE], 'acme': {'directory': None}}, ['directory']),
    ('validate-without-order', 'cert_validate', {'name': 'never-requested'}, ['no order', 'cert_request']),
    ('revoke-without-confirm', 'cert_revoke', {'name': 'x'}, ['confirm']),
    ('revoke-unknown', 'cert_revoke', {'name': 'not-ours', 'confirm': True}, ['not-ours']),
    ('info-missing-file', 'cert_info', {'path': '/nonexistent/cert.pem'}, ['/nonexistent/cert.pem']),
    ('info-corrupt-pem', 'cert_info', {'content': 'not a certificate'}, ['certificate']),
    ('info-unknown-name', 'cert_info', {'name': 'missing'}, ['missing']),
]


@pytest.fixture
def defaults(services, store_dir):
    return {'provider': 'acme', 'store_dir': store_dir, 'timeout': 20,
            'acme': {'directory': services.pebble.directory_url, 'ca_bundle': services.pebble.ca_bundle}}


@pytest.mark.parametrize('case_id,module,args,words', CASES, ids=[c[0] for c in CASES])
def test_bad_input_fails_clearly_and_writes_nothing(defaults, store_dir, case_id, module, args, words):
    args = dict(args)
    if 'acme' in args:
        args['acme'] = dict(defaults['acme'], **args['acme'])
    result = run_playbook(PLAYBOOK, {'certflow_defaults': defaults, 'module': module, 'module_args': args})
    assert result.rc != 0, result.output
    failed = result.failed_tasks()
    assert len(failed) == 1, result.output
    outcome = failed[0]['result']
    message = outcome.get('msg', '')
    for word in words:
        assert word in message, 'expected %r in %r' % (word, message)
    assert outcome.get('changed') is False
    assert 'Traceback' not in message and 'unexpected' not in message
    written = [entry for entry in os.listdir(store_dir) if entry != '.locks']
    assert written == [], 'nothing may be written for bad input'


def test_dns_propagation_timeout_names_the_server(services, store_dir, defaults):
    zone_name = 'timeout.' + ZONE
    requested = run_playbook(PLAYBOOK, {'certflow_defaults': defaults, 'module': 'cert_request',
                                        'module_args': {'domains': [zone_name]}}).assert_ok()
    assert requested.task('Request')['result']['certificates'][0]['status'] == 'pending_validation'
    result = run_playbook(PLAYBOOK, {'certflow_defaults': defaults, 'module': 'cert_validate', 'module_args': {
        'name': zone_name, 'method': 'dns_manual', 'nameservers': [services.bind.nameserver], 'propagation_timeout': 2}})
    message = result.failed_tasks()[0]['result']['msg']
    assert '_acme-challenge.' + zone_name in message and services.bind.nameserver in message, message
    assert not os.path.exists(os.path.join(store_dir, zone_name, 'cert.pem'))


def test_wrong_tsig_key_is_named(services, store_dir, defaults):
    name = 'tsig.' + ZONE
    run_playbook(PLAYBOOK, {'certflow_defaults': defaults, 'module': 'cert_request',
                            'module_args': {'domains': [name]}}).assert_ok()
    result = run_playbook(PLAYBOOK, {'certflow_defaults': defaults, 'module': 'cert_validate', 'module_args': {
        'name': name, 'method': 'dns', 'dns_provider': 'rfc2136', 'nameservers': [services.bind.nameserver],
        'rfc2136': {'server': '127.0.0.1', 'port': services.bind.port, 'key_name': services.bind.tsig_name,
                    'key_secret': 'd3Jvbmcgc2VjcmV0IQ=='}}})
    message = result.failed_tasks()[0]['result']['msg']
    assert 'TSIG' in message, message
    assert 'd3Jvbmcgc2VjcmV0IQ==' not in result.output
    assert not os.path.exists(os.path.join(store_dir, name, 'cert.pem'))
