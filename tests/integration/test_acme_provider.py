# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ACME provider against a real Pebble (with BIND for dns-01 and nginx for http-01), at Python level."""

import os
import secrets
import stat

import pytest
import requests
from cryptography import x509
from cryptography.x509.oid import NameOID

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto

from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import jws as _jws
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.provider import AcmeProvider
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import ProviderContext
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline, wait_until
from ansible_collections.certflow.ssl.plugins.module_utils._ops.certificate_request import CertificateRequest
from ansible_collections.certflow.ssl.plugins.module_utils._store import Store
from tests.lib import services as service_lib


def unique(label, zone='certflow.test'):
    return '%s-%s.%s' % (label, secrets.token_hex(4), zone)


def make_provider(pebble, store_dir=None, log=None, **settings):
    options = {'directory': pebble.directory_url, 'ca_bundle': pebble.ca_bundle, 'account_email': 'ops@certflow.test'}
    options.update(settings)
    store = Store(store_dir) if store_dir else None
    return AcmeProvider(options, ProviderContext(store=store, timeout=120, log=log))


@pytest.fixture
def provider(services, store_dir):
    with make_provider(services.pebble, store_dir) as acme:
        yield acme


class Proofs:
    """Puts challenge proofs in place (webroot file or TXT record) and removes them again."""

    def __init__(self, services):
        self.services = services
        self.files = []
        self.records = []

    def present(self, challenge):
        if challenge['status'] == 'valid':
            return
        if challenge['type'] == 'http-01':
            path = os.path.join(self.services.web.webroot, challenge['file_path'].lstrip('/'))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'w') as handle:
                handle.write(challenge['file_content'])
            self.files.append(path)
        else:
            assert challenge['record_type'] == 'TXT'
            record = (challenge['record_name'] + '.', challenge['record_value'])
            self.services.bind.nsupdate(['update add %s 5 TXT "%s"' % record])
            self.records.append(record)

    def cleanup(self):
        for path in self.files:
            os.unlink(path)
        if self.records:
            self.services.bind.nsupdate(['update delete %s TXT "%s"' % record for record in self.records])


def wait_issued(provider, order, seconds=60):
    def look():
        status, retry_after = provider.poll(order)
        if status == 'failed':
            raise AssertionError(order['error'])
        return status == 'issued', retry_after
    wait_until(look, Deadline(seconds), 'the certificate for %s' % order['identifiers'])


def issue(provider, services, domains=(), ips=(), validation='http', key_type='ec256'):
    """The workflow in miniature: create_order -> proofs -> ready -> poll loop -> fetch."""
    key = _crypto.generate_private_key(key_type)
    csr = _crypto.build_csr(key, list(domains), list(ips))
    order = provider.create_order(CertificateRequest({'name': 'test', 'domains': list(domains), 'ip_addresses': list(ips),
                                                      'validation': validation}), csr)
    assert order['status'] in ('pending_validation', 'processing')
    proofs = Proofs(services)
    try:
        for challenge in order['challenges']:
            proofs.present(challenge)
        for challenge in order['challenges']:
            provider.ready(order, challenge)
        wait_issued(provider, order)
    finally:
        proofs.cleanup()
    return order, provider.fetch(order), key


def assert_good_certificate(services, result, key, names=(), ips=()):
    leaf = _crypto.load_certificate(result['cert'])
    ok, reason = _crypto.verify_chain(leaf, result['chain'], roots=services.pebble.roots_pem())
    assert ok, reason
    assert result['fullchain'] == result['cert'] + result['chain']
    assert result['key'] is None
    assert _crypto.cert_matches_key(leaf, key)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(san.get_values_for_type(x509.DNSName)) == sorted(names)
    assert sorted(str(ip) for ip in san.get_values_for_type(x509.IPAddress)) == sorted(ips)
    return leaf


# ----------------------------------------------------------------------- accounts

def test_account_is_created_stored_and_reused(services, store_dir):
    with make_provider(services.pebble, store_dir) as first:
        account_url = first.account_url
    account_dir = Store(store_dir).account_dir(services.pebble.directory_url)
    key_path = os.path.join(account_dir, 'account.key')
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(account_dir).st_mode) == 0o700
    assert os.path.exists(os.path.join(account_dir, 'account.json'))

    with make_provider(services.pebble, store_dir) as second:
        assert second.account_url == account_url
        assert second.client.request_count == 0           # cached: not even the directory was fetched

    # The same key given explicitly (no store): newAccount answers with the existing account.
    with open(key_path) as handle:
        key_pem = handle.read()
    with make_provider(services.pebble, account_key_content=key_pem) as third:
        assert third.account_url == account_url


def test_account_key_from_file_and_missing_key(services, tmp_path):
    key_path = tmp_path / 'account.pem'
    key_path.write_text(_crypto.private_key_to_pem(_crypto.generate_private_key('rsa2048')))
    with make_provider(services.pebble, account_key_src=str(key_path)) as acme:
        assert acme.account_url.startswith('https://')
    with make_provider(services.pebble) as acme:
        with pytest.raises(CertflowError, match='no account key: set acme.account_key_src or a store_dir'):
            acme.account_url


def test_eab_account(pebble_eab, services, store_dir):
    with make_provider(pebble_eab, store_dir, eab_kid=pebble_eab.eab_kid, eab_hmac_key=pebble_eab.eab_hmac_key) as acme:
        assert acme.account_url.startswith('https://')


def test_eab_wrong_or_missing_key_fails_clearly(pebble_eab, services, tmp_path):
    wrong = _jws.b64u(secrets.token_bytes(48))
    with make_provider(pebble_eab, str(tmp_path / 'a'), eab_kid=pebble_eab.eab_kid, eab_hmac_key=wrong) as acme:
        with pytest.raises(CertflowError) as error:
            acme.account_url
    assert 'urn:ietf:params:acme:error:unauthorized' in error.value.msg
    assert 'external account binding' in error.value.msg
    assert 'eab_hmac_key' in error.value.msg
    assert wrong not in error.value.msg
    with make_provider(pebble_eab, str(tmp_path / 'b')) as acme:
        with pytest.raises(CertflowError, match='requires external account binding'):
            acme.account_url


# ------------------------------------------------------------------- issuance

def test_dns01_two_names(services, provider):
    names = [unique('dns-a'), unique('dns-b')]
    order, result, key = issue(provider, services, domains=names, validation='dns')
    assert order['status'] == 'issued'
    assert sorted(c['domain'] for c in order['challenges']) == sorted(names)
    for challenge in order['challenges']:
        assert challenge['record_name'] == '_acme-challenge.' + challenge['domain']
    assert_good_certificate(services, result, key, names=names)


def test_dns01_wildcard_and_base_name(services, provider):
    base = unique('wild')
    order, result, key = issue(provider, services, domains=['*.' + base, base], validation='dns')
    records = sorted((c['domain'], c['record_name']) for c in order['challenges'])
    assert records == [('*.' + base, '_acme-challenge.' + base), (base, '_acme-challenge.' + base)]
    assert_good_certificate(services, result, key, names=['*.' + base, base])


def test_http01_single_name(services, provider):
    name = unique('http')
    order, result, key = issue(provider, services, domains=[name], validation='http', key_type='rsa2048')
    (challenge,) = order['challenges']
    assert challenge['url'] == 'http://%s%s' % (name, challenge['file_path'])
    assert challenge['file_path'].startswith('/.well-known/acme-challenge/')
    assert_good_certificate(services, result, key, names=[name])
    assert all(c['status'] == 'valid' for c in provider.challenges(order))


def test_ip_identifier_by_http01(services, provider):
    order, result, key = issue(provider, services, ips=['127.0.0.1'], validation='http')
    assert order['identifiers'] == [{'type': 'ip', 'value': '127.0.0.1'}]
    (challenge,) = order['challenges']
    assert challenge['domain'] == '127.0.0.1'
    assert challenge['url'].startswith('http://127.0.0.1/.well-known/acme-challenge/')
    assert_good_certificate(services, result, key, ips=['127.0.0.1'])


def test_email_validation_is_refused_without_network(services, provider):
    with pytest.raises(CertflowError, match="validates with 'dns', 'dns_account', 'dns_persist' or 'http', not 'email'"):
        provider.create_order(CertificateRequest({'name': 'w', 'domains': [unique('w')], 'validation': 'email'}), 'unused')
    assert provider.client.request_count == 0


def test_failed_validation_explains_itself(services, provider):
    name = unique('fail')
    key = _crypto.generate_private_key('ec256')
    order = provider.create_order(CertificateRequest({'name': 'f', 'domains': [name], 'validation': 'http'}), _crypto.build_csr(key, [name]))
    for challenge in order['challenges']:
        provider.ready(order, challenge)         # no file in the webroot: Pebble gets a 404
    assert order['status'] == 'pending_validation'

    def look():
        status, retry_after = provider.poll(order)
        return status == 'failed', retry_after
    wait_until(look, Deadline(60), 'the order to fail')
    assert name in order['error']
    assert 'urn:ietf:params:acme:error:' in order['error']
    assert 'http-01' in order['error']


def test_cancel_deactivates_pending_authorizations(services, provider):
    name = unique('cancel')
    key = _crypto.generate_private_key('ec256')
    order = provider.create_order(CertificateRequest({'name': 'c', 'domains': [name], 'validation': 'dns'}), _crypto.build_csr(key, [name]))
    assert provider.cancel(order) is True
    assert order['status'] == 'cancelled'
    assert [c['status'] for c in provider.challenges(order)] == ['invalid']
    assert provider.cancel(order) is False


# ------------------------------------------------------------------ revocation

def test_revoke_with_account_key(services, provider):
    _order, result, _key = issue(provider, services, domains=[unique('revoke')])
    leaf = _crypto.load_certificate(result['cert'])
    assert services.pebble.cert_status(leaf)['Status'] == 'Valid'
    assert provider.revoke(result['cert'], 'key_compromise') is True
    status = services.pebble.cert_status(leaf)
    assert status['Status'] == 'Revoked'
    assert status.get('Reason') == 1
    assert provider.revoke(result['cert'], 'key_compromise') is False


def test_revoke_with_certificate_key(services, provider, tmp_path):
    _order, result, key = issue(provider, services, domains=[unique('revoke-key')])
    key_pem = _crypto.private_key_to_pem(key)
    # A provider with no account key at all signs with the certificate's own key (jwk).
    with make_provider(services.pebble) as keyless:
        assert keyless.revoke(result['cert'], 'superseded', key_pem=key_pem) is True
        assert services.pebble.cert_status(_crypto.load_certificate(result['cert']))['Status'] == 'Revoked'
        assert keyless.revoke(result['cert'], 'superseded', key_pem=key_pem) is False
    # Another account may not revoke it; with the certificate key it falls back to a jwk-signed request.
    _order, result, key = issue(provider, services, domains=[unique('revoke-other')])
    with make_provider(services.pebble, str(tmp_path / 'other')) as other:
        with pytest.raises(CertflowError, match='urn:ietf:params:acme:error:unauthorized'):
            other.revoke(result['cert'])
        assert other.revoke(result['cert'], key_pem=_crypto.private_key_to_pem(key)) is True
    assert services.pebble.cert_status(_crypto.load_certificate(result['cert']))['Status'] == 'Revoked'


# --------------------------------------------------------------- request count

def connection_count(acme):
    """TCP/TLS connections opened by the provider's pools so far (keep-alive makes it small)."""
    manager = acme.client.http._direct
    with manager.pools.lock:
        pools = list(manager.pools._container.values())
    return sum(pool.num_connections for pool in pools)


def test_requests_per_http01_certificate(services, store_dir, record_property):
    with make_provider(services.pebble, store_dir) as warmup:
        warmup.account_url                                   # the account exists (warm)
    messages = []
    name = unique('count')
    with make_provider(services.pebble, store_dir, log=messages.append) as acme:
        _order, result, key = issue(acme, services, domains=[name])
        first, first_bad_nonces = acme.client.request_count, sum('badNonce' in m for m in messages)
        issue(acme, services, domains=[unique('count2')])
        second = acme.client.request_count - first
        second_bad_nonces = sum('badNonce' in m for m in messages) - first_bad_nonces
        connections = connection_count(acme)
    assert_good_certificate(services, result, key, names=[name])
    record_property('acme_requests_first_cert', first)
    record_property('acme_requests_next_cert', second)
    record_property('acme_connections', connections)
    print('ACME requests: first certificate %d (incl. directory + newNonce; %d badNonce retries), '
          'next certificate %d (%d badNonce retries), connections %d'
          % (first, first_bad_nonces, second, second_bad_nonces, connections))
    # Pebble rejects 5%% of good nonces on purpose; those retries are not the client's choice.
    # newOrder, authz, challenge, order poll (ready) + finalize, order poll (valid), certificate = 7;
    # one more poll when the validation is still running at the first look.
    assert second - second_bad_nonces <= 8
    assert first - first_bad_nonces <= 8 + 2                  # + directory and newNonce
    assert connections <= 2


# ------------------------------------------------------------- alternate chains

@pytest.fixture(scope='module')
def pebble_alternate(services, tmp_path_factory):
    """A Pebble with an alternate root (two chains per certificate) that always reuses valid
    authorizations and rejects 30% of good nonces (the client must retry them)."""
    pebble = service_lib.start_pebble(str(tmp_path_factory.mktemp('pebble-alt')), services.bind.port, services.web.http_port,
                                      env={'PEBBLE_ALTERNATE_ROOTS': '1', 'PEBBLE_AUTHZREUSE': '100', 'PEBBLE_WFE_NONCEREJECT': '30'})
    yield pebble
    pebble.stop()


def test_preferred_chain_picks_the_alternate(services, pebble_alternate, tmp_path):
    alternate_root = requests.get(pebble_alternate.management_url + '/roots/1', verify=pebble_alternate.ca_bundle, timeout=5).text
    root_cn = _crypto.load_certificate(alternate_root).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    with make_provider(pebble_alternate, str(tmp_path), preferred_chain=root_cn) as acme:
        _order, result, key = issue(acme, services, domains=[unique('alt')])
        assert 'chain_url' in _order['provider_data']
    top = _crypto.load_certificates(result['chain'])[-1]
    assert top.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == root_cn
    ok, reason = _crypto.verify_chain(result['cert'], result['chain'], roots=alternate_root)
    assert ok, reason

    with make_provider(pebble_alternate, str(tmp_path)) as acme:     # no preference: the default chain
        _order, result, key = issue(acme, services, domains=[unique('alt-default')])
    default_root = requests.get(pebble_alternate.management_url + '/roots/0', verify=pebble_alternate.ca_bundle, timeout=5).text
    ok, reason = _crypto.verify_chain(result['cert'], result['chain'], roots=default_root)
    assert ok, reason


# ------------------------------------------------------- reuse and stale state

def test_reused_authorization_and_stale_ready(services, pebble_alternate, tmp_path):
    name = unique('reuse')
    with make_provider(pebble_alternate, str(tmp_path)) as acme:
        first, _result, _key = issue(acme, services, domains=[name], validation='http')
        stale = dict(first['challenges'][0], status='pending')
        acme.ready(first, stale)            # told twice (e.g. a re-run): the CA's refusal is absorbed
        # This Pebble reuses the valid authorization: nothing to prove, the order is ready at once.
        key = _crypto.generate_private_key('ec256')
        order = acme.create_order(CertificateRequest({'name': 'r', 'domains': [name], 'validation': 'dns'}), _crypto.build_csr(key, [name]))
        (challenge,) = order['challenges']
        assert challenge['status'] == 'valid'
        assert challenge['type'] == 'dns-01' and challenge['record_value'] is None     # nothing to publish
        assert order['status'] == 'processing'                                          # ready: poll finalizes
        acme.ready(order, challenge)                                                    # a no-op
        wait_issued(acme, order)
        assert _crypto.load_certificate(acme.fetch(order)['cert'])
