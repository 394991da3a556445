# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Show that the test-services harness works: BIND, nginx, Pebble and the playbook runner."""

import base64
import hashlib
import json
import os
import secrets
import time

import dns.rdatatype
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.lib.playbook import run_playbook


def test_bind_answers_soa_and_wildcard(services):
    bind = services.bind
    soa = bind.query(bind.zone, dns.rdatatype.SOA)
    assert [rrset.rdtype for rrset in soa.answer] == [dns.rdatatype.SOA]
    for name in ('anything.%s' % bind.zone, bind.zone, 'host.%s' % bind.delegated_zone):
        answer = bind.query(name, dns.rdatatype.A).answer
        assert [rdata.address for rrset in answer for rdata in rrset] == ['127.0.0.1'], name


def test_bind_cname_to_delegated_zone(services):
    bind = services.bind
    answer = bind.query('_acme-challenge.cname.%s' % bind.zone, dns.rdatatype.CNAME).answer
    targets = [rdata.target.to_text() for rrset in answer for rdata in rrset]
    assert targets == ['_acme-challenge.cname.%s.' % bind.delegated_zone]
    # The server chases the CNAME into the other zone in the same answer, like a real resolver.
    bind.nsupdate(['update add _acme-challenge.cname.%s. 5 TXT "delegated-value"' % bind.delegated_zone])
    try:
        assert bind.query_txt('_acme-challenge.cname.%s' % bind.zone) == ['delegated-value']
    finally:
        bind.nsupdate(['update delete _acme-challenge.cname.%s. TXT' % bind.delegated_zone])


def test_nsupdate_txt_is_visible(services):
    bind = services.bind
    name = '_acme-challenge.smoke-%s.%s.' % (secrets.token_hex(4), bind.zone)
    value = 'token-' + secrets.token_urlsafe(16)
    assert bind.query_txt(name) == []
    bind.nsupdate(['update add %s 5 TXT "%s"' % (name, value)])
    assert bind.query_txt(name) == [value]
    bind.nsupdate(['update delete %s TXT' % name])
    assert bind.query_txt(name) == []


def test_nginx_serves_webroot(services):
    web = services.web
    token = secrets.token_urlsafe(12)
    challenge_dir = os.path.join(web.webroot, '.well-known', 'acme-challenge')
    os.makedirs(challenge_dir, exist_ok=True)
    path = os.path.join(challenge_dir, token)
    with open(path, 'w') as handle:
        handle.write('key-authorization')
    url = 'http://smoke.%s:%d/.well-known/acme-challenge/%s' % (services.bind.zone, web.http_port, token)
    try:
        # Connect to 127.0.0.1 but send a test host name, as Pebble's validator does.
        response = requests.get('http://127.0.0.1:%d/.well-known/acme-challenge/%s' % (web.http_port, token),
                                headers={'Host': url.split('/')[2]}, timeout=5)
    finally:
        os.remove(path)  # the web root is shared by every test of the session
    assert response.status_code == 200
    assert response.text == 'key-authorization'
    assert requests.get('http://127.0.0.1:%d/missing' % web.http_port, timeout=5).status_code == 404


def test_pebble_directory_over_verified_tls(services):
    pebble = services.pebble
    response = requests.get(pebble.directory_url, verify=pebble.ca_bundle, timeout=5)
    assert response.status_code == 200
    assert 'newOrder' in response.json()


def test_pebble_roots_and_intermediates(services):
    root = x509.load_pem_x509_certificate(services.pebble.roots_pem().encode('ascii'))
    intermediate = x509.load_pem_x509_certificate(services.pebble.intermediates_pem().encode('ascii'))
    assert intermediate.issuer == root.subject


def test_pebble_eab_requires_external_account(pebble_eab):
    assert pebble_eab.eab_kid == 'kid-1'
    assert pebble_eab.eab_hmac_key
    assert pebble_eab.directory()['meta']['externalAccountRequired'] is True


def test_playbook_records_task_result(tmp_path):
    playbook = tmp_path / 'smoke.yml'
    playbook.write_text(
        '- hosts: localhost\n'
        '  gather_facts: false\n'
        '  tasks:\n'
        '    - name: say hello\n'
        '      ansible.builtin.debug:\n'
        '        msg: "hello {{ who }}"\n'
        '    - name: loop\n'
        '      ansible.builtin.debug:\n'
        '        msg: "{{ item }}"\n'
        '      loop: [1, 2]\n'
    )
    result = run_playbook(str(playbook), extra_vars={'who': 'certflow'}).assert_ok()
    hello = result.task('say hello')
    assert hello['status'] == 'ok'
    assert hello['host'] == 'localhost'
    assert hello['result']['msg'] == 'hello certflow'
    assert [item['item'] for item in result.task_items('loop')] == [1, 2]
    assert result.recap['localhost']['failures'] == 0
    assert 'TASK [say hello]' in result.stdout


# --------------------------------------------------------------------------- end to end through Pebble
# A deliberately tiny ACME client: it proves Pebble validates through this BIND and this nginx,
# independently of the collection's own client.

def _b64(data):
    return base64.urlsafe_b64encode(data).decode('ascii').rstrip('=')


class _TinyAcme:
    def __init__(self, pebble):
        self.pebble = pebble
        self.directory = pebble.directory()
        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        self.jwk = {'crv': 'P-256', 'kty': 'EC', 'x': _b64(numbers.x.to_bytes(32, 'big')), 'y': _b64(numbers.y.to_bytes(32, 'big'))}
        thumbprint_input = json.dumps(self.jwk, sort_keys=True, separators=(',', ':')).encode('ascii')
        self.thumbprint = _b64(hashlib.sha256(thumbprint_input).digest())
        self.kid = None
        self.nonce = None
        self.kid = self.post(self.directory['newAccount'], {'termsOfServiceAgreed': True}).headers['Location']

    def post(self, url, payload):
        for _attempt in range(10):
            if self.nonce is None:
                self.nonce = requests.head(self.directory['newNonce'], verify=self.pebble.ca_bundle, timeout=5).headers['Replay-Nonce']
            protected = {'alg': 'ES256', 'nonce': self.nonce, 'url': url}
            protected.update({'kid': self.kid} if self.kid else {'jwk': self.jwk})
            protected64 = _b64(json.dumps(protected).encode('utf-8'))
            payload64 = '' if payload is None else _b64(json.dumps(payload).encode('utf-8'))
            r, s = decode_dss_signature(self.key.sign(('%s.%s' % (protected64, payload64)).encode('ascii'), ec.ECDSA(hashes.SHA256())))
            body = {'protected': protected64, 'payload': payload64, 'signature': _b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}
            response = requests.post(url, json=body, headers={'Content-Type': 'application/jose+json'},
                                     verify=self.pebble.ca_bundle, timeout=10)
            self.nonce = response.headers.get('Replay-Nonce')
            if response.status_code == 400 and 'badNonce' in response.text:
                continue  # Pebble rejects a share of good nonces on purpose.
            assert response.status_code < 400, response.text
            return response
        raise AssertionError('too many badNonce answers from Pebble')

    def poll(self, url, until=('valid',)):
        for _attempt in range(200):
            body = self.post(url, None).json()
            if body['status'] in until:
                return body
            assert body['status'] in ('pending', 'processing', 'ready'), body
            time.sleep(0.05)
        raise AssertionError('%s never became %s' % (url, until))

    def issue(self, name, challenge_type, services, txt_name=None):
        order_response = self.post(self.directory['newOrder'], {'identifiers': [{'type': 'dns', 'value': name}]})
        order_url, order = order_response.headers['Location'], order_response.json()
        for authz_url in order['authorizations']:
            authz = self.post(authz_url, None).json()
            if authz['status'] == 'valid':
                continue
            challenge = next(item for item in authz['challenges'] if item['type'] == challenge_type)
            key_authorization = '%s.%s' % (challenge['token'], self.thumbprint)
            if challenge_type == 'http-01':
                directory = os.path.join(services.web.webroot, '.well-known', 'acme-challenge')
                os.makedirs(directory, exist_ok=True)
                with open(os.path.join(directory, challenge['token']), 'w') as handle:
                    handle.write(key_authorization)
            else:
                digest = _b64(hashlib.sha256(key_authorization.encode('ascii')).digest())
                services.bind.nsupdate(['update add %s. 5 TXT "%s"' % (txt_name or '_acme-challenge.' + name, digest)])
            self.post(challenge['url'], {})
            self.poll(authz_url)
        cert_key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
               .sign(cert_key, hashes.SHA256()))
        self.poll(order_url, until=('ready', 'valid'))
        self.post(order['finalize'], {'csr': _b64(csr.public_bytes(serialization.Encoding.DER))})
        order = self.poll(order_url)
        return x509.load_pem_x509_certificates(self.post(order['certificate'], None).content)

    def revoke(self, cert):
        self.post(self.directory['revokeCert'], {'certificate': _b64(cert.public_bytes(serialization.Encoding.DER))})


def _verify_chain(chain, roots_pem):
    root = x509.load_pem_x509_certificate(roots_pem.encode('ascii'))
    for child, parent in zip(chain, chain[1:] + [root]):
        child.verify_directly_issued_by(parent)


def test_pebble_issues_via_http01_and_dns01_and_reports_revocation(services):
    client = _TinyAcme(services.pebble)
    roots = services.pebble.roots_pem()
    http_chain = client.issue('web-%s.%s' % (secrets.token_hex(4), services.bind.zone), 'http-01', services)
    dns_chain = client.issue('dns-%s.%s' % (secrets.token_hex(4), services.bind.zone), 'dns-01', services)
    cname_chain = client.issue('cname.%s' % services.bind.zone, 'dns-01', services,
                               txt_name='_acme-challenge.cname.%s' % services.bind.delegated_zone)
    for chain in (http_chain, dns_chain, cname_chain):
        _verify_chain(chain, roots)

    leaf = http_chain[0]
    assert services.pebble.cert_status(leaf)['Status'] == 'Valid'
    client.revoke(leaf)
    for spelling in (leaf, leaf.serial_number, format(leaf.serial_number, 'X'), '0x%x' % leaf.serial_number,
                     ':'.join('%02X' % byte for byte in leaf.serial_number.to_bytes(20, 'big').lstrip(b'\0'))):
        assert services.pebble.cert_status(spelling)['Status'] == 'Revoked', spelling


def test_failed_playbook_is_recorded(tmp_path):
    playbook = tmp_path / 'fail.yml'
    playbook.write_text(
        '- hosts: localhost\n'
        '  gather_facts: false\n'
        '  tasks:\n'
        '    - name: change something\n'
        '      ansible.builtin.command: "true"\n'
        '    - name: break\n'
        '      ansible.builtin.fail:\n'
        '        msg: broken on purpose\n'
    )
    result = run_playbook(str(playbook))
    assert result.rc != 0
    assert result.task('change something')['status'] == 'changed'
    assert result.task('break')['status'] == 'failed'
    assert result.task('break')['result']['msg'] == 'broken on purpose'
    assert result.recap['localhost']['failures'] == 1
    with pytest.raises(AssertionError, match='broken on purpose'):
        result.assert_ok()
    with pytest.raises(KeyError, match='change something'):
        result.task('no such task')
