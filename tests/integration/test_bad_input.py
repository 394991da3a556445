# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input through ansible-playbook: each case fails with a message that
names the problem, reports changed=false, and writes nothing."""

import datetime
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

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
    ('ip-in-domains', 'cert_request', {'domains': ['192.0.2.7']}, ['IP address', '192.0.2.7', 'validation: http']),
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
    # added with the reliability work (docs/reliability.md)
    ('mixed-idn-forms', 'cert_request', {'domains': ['xn--bücher.' + ZONE]}, ['xn--bücher']),
    ('zero-width-joiner', 'cert_request', {'domains': ['a\u200db.' + ZONE]}, ['internationalised']),
    ('two-wildcards', 'cert_request', {'domains': ['*.*.' + ZONE], 'validation': 'dns'}, ['wildcard']),
    ('no-names', 'cert_request', {'domains': []}, ['no names']),
    ('ip-zone-index', 'cert_request', {'ip_addresses': ['fe80::1%eth0'], 'validation': 'http'}, ['zone index']),
    ('email-validation-at-acme', 'cert_request', {'domains': ['mail.' + ZONE], 'validation': 'email'}, ["'dns_persist' or 'http'", 'email']),
    ('bad-key-type', 'cert_request', {'domains': ['kt.' + ZONE], 'key_type': 'dsa1024'}, ['key_type', 'dsa1024']),
    ('unknown-module-option', 'cert_request', {'domains': ['opt.' + ZONE], 'domain_names': ['x']}, ['domain_names']),
    ('missing-key-file', 'cert_request', {'domains': ['kf.' + ZONE], 'private_key_src': '/nonexistent/key.pem'},
     ['/nonexistent/key.pem']),
    ('duplicate-batch-names', 'cert_request', {'certificates': [{'name': 'dup', 'domains': ['a.' + ZONE]},
                                                                {'name': 'dup', 'domains': ['b.' + ZONE]}]}, ['dup', 'more than once']),
    ('unknown-batch-option', 'cert_request', {'certificates': [{'name': 'bo', 'domains': ['bo.' + ZONE], 'colour': 'red'}]},
     ['colour']),
    ('validate-unknown-method', 'cert_validate', {'name': 'x', 'method': 'carrier-pigeon'}, ['method', 'carrier-pigeon']),
    ('validate-unknown-order-id', 'cert_validate', {'order_id': 'https://127.0.0.1:9/my-order/none'}, ['my-order/none']),
    ('revoke-bad-reason', 'cert_revoke', {'name': 'x', 'confirm': True, 'reason': 'because'}, ['reason', 'because']),
    ('revoke-corrupt-pem', 'cert_revoke', {'content': 'not a certificate', 'confirm': True}, ['certificate']),
    ('info-corrupt-chain', 'cert_info', {'content': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'}, ['certificate']),
    ('info-renewal-detail-with-revocation', 'cert_info', {'detail': 'renewal', 'check_revocation': 'crl'},
     ['check_revocation', 'detail: full']),
    ('info-unknown-detail', 'cert_info', {'detail': 'everything'}, ['detail', 'everything']),
]


def _shown(value):
    """An option value as the report shows it: short, PEM bodies left out."""
    text = repr(value)
    if 'BEGIN' in text:
        text = '<PEM>' if 'garbage' not in text else text
    return text if len(text) <= 90 else text[:87] + '...'


def assert_fails_clearly(result, words):
    """One task failed, with changed false and every word in its message; returns the message."""
    assert result.rc != 0, result.output
    failed = result.failed_tasks()
    assert len(failed) == 1, result.output
    message = failed[0]['result'].get('msg', '')
    for word in words:
        assert word in message, 'expected %r in %r' % (word, message)
    assert failed[0]['result'].get('changed') is False
    return message


def _record(reliability, case_id, module, args, result, area='Bad input'):
    failed = result.failed_tasks()
    outcome = failed[0]['result'] if failed else {}
    shown_args = dict(args)
    if 'acme' in shown_args:
        shown_args['acme'] = dict((k, v) for k, v in shown_args['acme'].items() if k != 'ca_bundle')
    for option in ('aliyun', 'local_ca'):
        if option in shown_args:
            shown_args[option] = dict((k, v) for k, v in shown_args[option].items() if k in ('key_type', 'quota'))
    shown = ', '.join('%s: %s' % (key, _shown(value)) for key, value in sorted(shown_args.items())
                      if key != 'acme' or case_id.startswith(('unknown', 'no-directory', 'unreachable')))
    reliability.record(area, case_id, '%s %s' % (module, shown), 'fails with a clear msg, changed: false, nothing written',
                       'failed, changed: %s' % outcome.get('changed') if failed else 'NOT REFUSED (rc %d)' % result.rc,
                       outcome.get('msg'))


@pytest.fixture
def defaults(services, store_dir):
    return {'provider': 'acme', 'store_dir': store_dir, 'timeout': 20,
            'acme': {'directory': services.pebble.directory_url, 'ca_bundle': services.pebble.ca_bundle}}


@pytest.mark.parametrize('case_id,module,args,words', CASES, ids=[c[0] for c in CASES])
def test_bad_input_fails_clearly_and_writes_nothing(defaults, store_dir, case_id, module, args, words, reliability):
    args = dict(args)
    if 'acme' in args:
        args['acme'] = dict(defaults['acme'], **args['acme'])
    result = run_playbook(PLAYBOOK, {'certflow_defaults': defaults, 'module': module, 'module_args': args})
    _record(reliability, case_id, module, args, result)
    message = assert_fails_clearly(result, words)
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


# ------------------------------------------------------------------ other providers and the roles

ROLE_PLAYBOOK = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks', 'faults_role_input.yml')
NO_ALIYUN_ENV = {'ALIBABA_CLOUD_ACCESS_KEY_ID': '', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': '', 'ALIBABA_CLOUD_SECURITY_TOKEN': ''}

# (id, provider, module, args, words the message must contain)
PROVIDER_CASES = [
    ('aliyun-without-credentials', 'aliyun-no-keys', 'cert_request', {'domains': ['nokeys.' + ZONE], 'validation': 'dns'},
     ['credentials are missing', 'access_key_id', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET']),
    ('aliyun-more-names-than-allowed', 'aliyun', 'cert_request',
     {'domains': ['n%d.%s' % (index, ZONE) for index in range(6)], 'validation': 'dns'}, ['5 domain names']),
    ('aliyun-unknown-product', 'aliyun', 'cert_quota', {'product': 'no-such-plan', 'min_remaining': 1}, ['no-such-plan']),
    ('aliyun-wrong-secret', 'aliyun-wrong-secret', 'cert_quota', {'min_remaining': 1}, ['SignatureDoesNotMatch']),
    ('local-ca-unknown-key-type', 'local', 'cert_request', {'domains': ['lk.' + ZONE], 'validation': 'none',
                                                            'local_ca': {'key_type': 'dsa'}}, ['key_type', 'dsa']),
    ('local-ca-quota-exhausted', 'local', 'cert_quota', {'min_remaining': 2, 'local_ca': {'quota': 1}}, ['1 certificate(s) left', '2 needed']),
]


@pytest.fixture
def provider_defaults(services, store_dir, aliyun_emulator, tmp_path):
    aliyun = {'endpoint': aliyun_emulator.endpoint, 'access_key_id': aliyun_emulator.access_key_id,
              'access_key_secret': aliyun_emulator.access_key_secret}
    return {
        'aliyun': {'provider': 'aliyun', 'store_dir': store_dir, 'timeout': 30, 'aliyun': aliyun},
        'aliyun-no-keys': {'provider': 'aliyun', 'store_dir': store_dir, 'timeout': 30, 'aliyun': {'endpoint': aliyun_emulator.endpoint}},
        'aliyun-wrong-secret': {'provider': 'aliyun', 'store_dir': store_dir, 'timeout': 30,
                                'aliyun': dict(aliyun, access_key_secret='not-the-secret')},
        'local': {'provider': 'local', 'store_dir': store_dir, 'timeout': 30, 'local_ca': {'path': str(tmp_path / 'local-ca')}},
    }


@pytest.mark.parametrize('case_id,provider,module,args,words', PROVIDER_CASES, ids=[c[0] for c in PROVIDER_CASES])
def test_bad_input_other_providers(provider_defaults, aliyun_emulator, store_dir, reliability, case_id, provider, module, args, words):
    defaults = dict(provider_defaults[provider])
    args = dict(args)
    for option in ('local_ca', 'aliyun'):
        if option in args:
            args[option] = dict(defaults.get(option) or {}, **args[option])
    used_before = {product: aliyun_emulator.quota(product)['used'] for product in (aliyun_emulator.dv_product,)}
    result = run_playbook(PLAYBOOK, {'certflow_defaults': defaults, 'module': module, 'module_args': args}, env=NO_ALIYUN_ENV)
    _record(reliability, case_id, module, args, result)
    message = assert_fails_clearly(result, words)
    assert 'Traceback' not in message and 'unexpected' not in message
    assert aliyun_emulator.access_key_secret not in result.output
    assert [entry for entry in os.listdir(store_dir) if entry != '.locks'] == [], 'nothing may be written for bad input'
    assert {product: aliyun_emulator.quota(product)['used'] for product in used_before} == used_before, 'no quota may be spent'


ROLE_CASES = [
    ('role-entry-without-name', [{'domains': ['role.' + ZONE]}], ['name']),
    ('role-entry-bad-validation', [{'name': 'rv', 'domains': ['rv.' + ZONE], 'validation': 'fax'}], ['validation', 'fax']),
    ('role-entry-duplicate-names', [{'name': 'twice', 'domains': ['a.' + ZONE]}, {'name': 'twice', 'domains': ['b.' + ZONE]}],
     ['unique', 'twice']),
]


@pytest.mark.parametrize('case_id,certificates,words', ROLE_CASES, ids=[c[0] for c in ROLE_CASES])
def test_bad_input_certificate_role(services, store_dir, reliability, case_id, certificates, words):
    extra = {'certflow_certificates': certificates, 'certflow_store_dir': store_dir, 'certflow_validation': 'http',
             'certflow_acme': {'directory': services.pebble.directory_url, 'ca_bundle': services.pebble.ca_bundle}}
    result = run_playbook(ROLE_PLAYBOOK, extra)
    _record(reliability, case_id, 'role certflow.ssl.certificate', {'certflow_certificates': certificates}, result)
    assert_fails_clearly(result, words)
    assert [entry for entry in os.listdir(store_dir) if entry != '.locks'] == [], 'nothing may be written for bad input'


# ------------------------------------------------------------------ chains cert_info must call bad

def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(subject, key, issuer, issuer_key, ca, not_before, not_after):
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer)).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _chain_pems():
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    keys = [ec.generate_private_key(ec.SECP256R1()) for _key in range(4)]
    root = _issue('Bad Chain Root', keys[0], 'Bad Chain Root', keys[0], True, now - 10 * day, now + 100 * day)
    expired_ca = _issue('Expired Intermediate', keys[1], 'Bad Chain Root', keys[0], True, now - 50 * day, now - day)
    other_ca = _issue('Unrelated Intermediate', keys[2], 'Bad Chain Root', keys[0], True, now - 10 * day, now + 100 * day)
    leaf = _issue('chain.' + ZONE, keys[3], 'Expired Intermediate', keys[1], False, now - day, now + 30 * day)
    pem = [c.public_bytes(serialization.Encoding.PEM).decode() for c in (leaf, expired_ca, other_ca, root)]
    return {'expired-intermediate': (pem[0] + pem[1], pem[3], 'expired'),
            'wrong-intermediate': (pem[0] + pem[2], pem[3], 'Unrelated Intermediate')}


CHAINS = _chain_pems()


@pytest.mark.parametrize('case_id', sorted(CHAINS))
def test_cert_info_reports_a_bad_chain_with_the_reason(store_dir, tmp_path, reliability, case_id):
    fullchain, root, word = CHAINS[case_id]
    (tmp_path / 'fullchain.pem').write_text(fullchain)
    (tmp_path / 'root.pem').write_text(root)
    args = {'path': str(tmp_path / 'fullchain.pem'), 'ca_bundle': str(tmp_path / 'root.pem')}
    result = run_playbook(PLAYBOOK, {'certflow_defaults': {'store_dir': store_dir}, 'module': 'cert_info', 'module_args': args})
    result.assert_ok()
    info = result.task('Info')['result']
    reliability.record('Bad input', 'cert-info-' + case_id, 'cert_info path: leaf + %s' % case_id.replace('-', ' '),
                       'chain_valid: false with the reason', 'chain_valid: %s, changed: %s' % (info['chain_valid'], info['changed']),
                       info.get('chain_problem'))
    assert info['chain_valid'] is False
    assert word in (info.get('chain_problem') or ''), info.get('chain_problem')
    assert info['changed'] is False
