# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local CA provider without network: validation none, quota, CRL,
chain, file modes, resuming orders and concurrent issuance from processes."""

import datetime
import json
import multiprocessing
import os
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import ProviderContext
from ansible_collections.certflow.ssl.plugins.module_utils._ca.local.provider import LocalCAProvider
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._ops.certificate_request import CertificateRequest


class _Store:
    def __init__(self, root):
        self.root = root


def provider_for(path, store=None, timeout=30.0, **settings):
    settings = dict(settings)
    if path is not None:
        settings['path'] = path
    return LocalCAProvider(settings, ProviderContext(store=store, timeout=timeout))


def make_spec(domains=(), ips=(), validation='none', name='www'):
    return CertificateRequest({'name': name, 'domains': list(domains), 'ip_addresses': list(ips), 'validation': validation})


def make_csr(domains=(), ips=(), key_type='ec256'):
    key = _crypto.generate_private_key(key_type)
    return key, _crypto.build_csr(key, list(domains), list(ips))


def issue(provider, domains=('app.internal',), ips=(), key_type='ec256'):
    _key, csr = make_csr(domains, ips, key_type)
    order = provider.create_order(make_spec(domains, ips), csr)
    status, retry = provider.poll(order)
    assert (status, retry) == ('issued', None)
    return order, provider.fetch(order)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def ca_path(tmp_path):
    return str(tmp_path / 'ca')


# ------------------------------------------------------------- issuance

def test_validation_none_issues_on_first_poll(ca_path):
    provider = provider_for(ca_path)
    key, csr = make_csr(['app.internal', 'db.internal'], ['10.0.0.5', '2001:db8::1'])
    order = provider.create_order(make_spec(['app.internal', 'db.internal'], ['10.0.0.5', '2001:db8::1']), csr)
    assert order['provider'] == 'local'
    assert order['status'] == 'pending_validation'
    assert order['challenges'] == []
    assert provider.challenges(order) == []

    assert provider.poll(order) == ('issued', None)
    assert order['status'] == 'issued'
    issued = provider.fetch(order)
    assert issued['key'] is None
    assert issued['fullchain'] == issued['cert'] + issued['chain']
    cert = x509.load_pem_x509_certificate(issued['cert'].encode())
    assert _crypto.cert_matches_key(cert, key)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ['app.internal', 'db.internal']
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ['10.0.0.5', '2001:db8::1']
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == 'app.internal'
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    inter = x509.load_pem_x509_certificate(issued['chain'].encode())
    inter_ski = inter.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == inter_ski
    assert cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == \
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
    assert 0 < cert.serial_number < 2 ** 159
    now = datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(seconds=30) < now - cert.not_valid_before_utc < datetime.timedelta(minutes=2)
    assert abs((cert.not_valid_after_utc - now) - datetime.timedelta(days=90)) < datetime.timedelta(minutes=2)
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value == 'file://' + os.path.join(ca_path, 'crl.pem')

    root_pem = provider.root_pem()
    with open(os.path.join(ca_path, 'root.pem')) as handle:
        assert handle.read() == root_pem
    assert _crypto.verify_chain(issued['cert'], issued['chain'], roots=root_pem) == (True, '')
    assert order['provider_data']['serial'] == _crypto.cert_serial_hex(cert)


def test_rsa_leaf_gets_key_encipherment(ca_path):
    _order, issued = issue(provider_for(ca_path), key_type='rsa2048')
    cert = x509.load_pem_x509_certificate(issued['cert'].encode())
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_encipherment


def test_keys_0600_dirs_0700(ca_path):
    provider = provider_for(ca_path)
    issue(provider)
    for directory in ('', 'private', 'orders', 'certs'):
        assert mode(os.path.join(ca_path, directory)) == 0o700, directory
    for key in ('private/root.key', 'private/intermediate.key'):
        assert mode(os.path.join(ca_path, key)) == 0o600, key
    for public in ('root.pem', 'intermediate.pem', 'crl.pem', 'index.json'):
        assert mode(os.path.join(ca_path, public)) == 0o644, public


def test_settings_names_key_type_validity_and_crl_url(ca_path):
    provider = provider_for(ca_path, key_type='ec384', validity_days=7, root_name='Example Root', intermediate_name='Example Issuing',
                            crl_url='http://pki.example.test/local.crl')
    _order, issued = issue(provider)
    root = x509.load_pem_x509_certificate(provider.root_pem().encode())
    inter = x509.load_pem_x509_certificate(issued['chain'].encode())
    assert root.subject.rfc4514_string() == 'CN=Example Root'
    assert inter.subject.rfc4514_string() == 'CN=Example Issuing'
    assert isinstance(root.public_key(), ec.EllipticCurvePublicKey) and root.public_key().curve.name == 'secp384r1'
    cert = x509.load_pem_x509_certificate(issued['cert'].encode())
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 7
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert points[0].full_name[0].value == 'http://pki.example.test/local.crl'


def test_default_names_and_path_in_store(tmp_path):
    store_root = str(tmp_path / 'store')
    provider = provider_for(None, store=_Store(store_root))
    assert provider.ca.path == os.path.join(store_root, '_local_ca')
    root = x509.load_pem_x509_certificate(provider.root_pem().encode())
    assert root.subject.rfc4514_string() == 'CN=certflow local root CA'
    assert os.path.exists(os.path.join(store_root, '_local_ca', 'root.pem'))
    with pytest.raises(CertflowError, match='local_ca.path is required'):
        provider_for(None)


def test_reading_creates_nothing(ca_path):
    provider = provider_for(ca_path)
    assert provider.quota()['issued'] == 0
    assert provider.find_order(make_spec(['a.internal'])) is None
    assert not os.path.exists(ca_path)


def test_bad_settings_are_named(ca_path):
    with pytest.raises(CertflowError, match='local_ca.key_type'):
        provider_for(ca_path, key_type='dsa1024')
    with pytest.raises(CertflowError, match='local_ca.validity_days'):
        provider_for(ca_path, validity_days=0)
    with pytest.raises(CertflowError, match='local_ca.quota'):
        provider_for(ca_path, quota='many')


# ------------------------------------------------------------- input checks

def test_validation_the_local_ca_does_not_offer(ca_path):
    _key, csr = make_csr(['a.example'])
    with pytest.raises(CertflowError, match="the local CA validates with dns, http, none, not 'email'"):
        provider_for(ca_path).create_order(make_spec(['a.example'], validation='email'), csr)


def test_the_order_takes_the_request_unchanged(ca_path):
    request = make_spec(['App.Internal.', 'db.internal'], ['10.0.0.5', '2001:DB8::0:1'], validation='http')
    identifiers = [dict(i) for i in request.identifiers]
    _key, csr = make_csr(request.domains, request.ip_addresses)
    order = provider_for(ca_path).create_order(request, csr)
    assert order['identifiers'] == identifiers == [
        {'type': 'dns', 'value': 'app.internal'}, {'type': 'dns', 'value': 'db.internal'},
        {'type': 'ip', 'value': '10.0.0.5'}, {'type': 'ip', 'value': '2001:db8::1'}]
    assert order['validation'] == 'http' and order['provider_data']['name'] == 'www'
    assert request.identifiers == identifiers


def test_weak_rsa_key_is_refused(ca_path):
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    csr = _crypto.build_csr(key, ['weak.internal'])
    provider = provider_for(ca_path)
    order = provider.create_order(make_spec(['weak.internal']), csr)
    with pytest.raises(CertflowError, match='at least 2048'):
        provider.poll(order)


# ------------------------------------------------------------- challenges

def test_dns_and_http_challenges_shape(ca_path):
    provider = provider_for(ca_path)
    _key, csr = make_csr(['*.example.test', 'example.test'])
    order = provider.create_order(make_spec(['*.example.test', 'example.test'], validation='dns'), csr)
    assert order['status'] == 'pending_validation'
    names = sorted((c['domain'], c['type'], c['record_name'], c['record_type']) for c in order['challenges'])
    assert names == [('*.example.test', 'dns-01', '_acme-challenge.example.test', 'TXT'),
                     ('example.test', 'dns-01', '_acme-challenge.example.test', 'TXT')]
    values = [c['record_value'] for c in order['challenges']]
    assert len(set(values)) == 2 and all(len(v) >= 40 for v in values)

    _key, csr = make_csr(['www.example.test'], ['2001:db8::7'])
    order = provider.create_order(make_spec(['www.example.test'], ['2001:db8::7'], validation='http'), csr)
    by_domain = dict((c['domain'], c) for c in order['challenges'])
    web = by_domain['www.example.test']
    assert web['type'] == 'http-01'
    assert web['file_path'].startswith('/.well-known/pki-validation/') and web['file_path'].endswith('.txt')
    assert web['url'] == 'http://www.example.test' + web['file_path']
    assert web['file_content'] and web['status'] == 'pending'
    assert by_domain['2001:db8::7']['url'].startswith('http://[2001:db8::7]/.well-known/pki-validation/')
    assert provider.poll(order) == ('pending_validation', None)


def test_created_order_is_submitted_later(ca_path):
    provider = provider_for(ca_path)
    _key, csr = make_csr(['later.internal'])
    order = provider.create_order(make_spec(['later.internal'], validation='http'), csr, submit=False)
    assert order['status'] == 'created' and order['challenges'] == []
    assert provider.poll(order) == ('created', None)
    submitted = provider.submit(order)
    assert submitted is order and order['status'] == 'pending_validation'
    assert [c['domain'] for c in order['challenges']] == ['later.internal']


# ------------------------------------------------------------- quota

def test_quota_counts_issued_and_stops_issuance(ca_path):
    unlimited = provider_for(ca_path).quota()
    assert unlimited == {'total': None, 'used': 0, 'issued': 0, 'remaining': None, 'unlimited': True}
    provider = provider_for(ca_path, quota=2)
    assert provider.quota() == {'total': 2, 'used': 0, 'issued': 0, 'remaining': 2, 'unlimited': False}
    issue(provider, ['one.internal'])
    # Two orders wait while one certificate is left: the second to be signed fails, and stays open.
    _key, csr_a = make_csr(['two.internal'])
    _key, csr_b = make_csr(['three.internal'])
    order_a = provider.create_order(make_spec(['two.internal']), csr_a)
    order_b = provider.create_order(make_spec(['three.internal']), csr_b)
    assert provider.poll(order_a) == ('issued', None)
    with pytest.raises(CertflowError, match='local CA quota of 2 certificates is used up'):
        provider.poll(order_b)
    assert provider.challenges(order_b) == [] and order_b['status'] == 'pending_validation'
    assert provider.quota() == {'total': 2, 'used': 2, 'issued': 2, 'remaining': 0, 'unlimited': False}
    _key, csr_c = make_csr(['four.internal'])
    with pytest.raises(CertflowError, match='local CA quota of 2 certificates is used up'):
        provider.create_order(make_spec(['four.internal']), csr_c)
    # Raising the quota lets the waiting order through.
    assert provider_for(ca_path, quota=3).poll(order_b) == ('issued', None)


# ------------------------------------------------------------- revocation

def test_revoke_lists_serial_in_crl(ca_path):
    provider = provider_for(ca_path)
    order, issued = issue(provider, ['gone.internal'])
    _other_order, other = issue(provider, ['kept.internal'])
    cert = x509.load_pem_x509_certificate(issued['cert'].encode())
    inter = x509.load_pem_x509_certificate(issued['chain'].encode())
    assert provider.revocation_status(issued['cert']) == 'good'
    number_before = x509.load_pem_x509_crl(open(os.path.join(ca_path, 'crl.pem'), 'rb').read()) \
        .extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    assert provider.revoke(issued['cert'], reason='key_compromise', order=order) is True
    assert order['status'] == 'revoked'
    with open(os.path.join(ca_path, 'crl.pem'), 'rb') as handle:
        crl = x509.load_pem_x509_crl(handle.read())
    assert crl.issuer == inter.subject
    assert crl.is_signature_valid(inter.public_key())
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == number_before + 1
    assert crl.next_update_utc > datetime.datetime.now(datetime.timezone.utc)
    with open(os.path.join(ca_path, 'crl.der'), 'rb') as handle:
        assert x509.load_der_x509_crl(handle.read()) == crl
    other_cert = x509.load_pem_x509_certificate(other['cert'].encode())
    assert crl.get_revoked_certificate_by_serial_number(other_cert.serial_number) is None

    assert provider.revocation_status(issued['cert']) == 'revoked'
    assert provider.revocation_status(other['cert']) == 'good'
    assert provider.revoke(issued['cert']) is False
    with open(os.path.join(ca_path, 'index.json')) as handle:
        index = json.load(handle)
    revoked = index['certificates'][_crypto.cert_serial_hex(cert)]
    assert revoked['reason'] == 'key_compromise' and revoked['revoked_at']
    assert provider.find_order(make_spec(['gone.internal'])) is None
    assert provider.fetch(order)['cert'] == issued['cert']


def test_unspecified_reason_has_no_reason_code(ca_path):
    provider = provider_for(ca_path)
    _order, issued = issue(provider)
    assert provider.revoke(issued['cert']) is True
    crl = x509.load_pem_x509_crl(provider.crl_pem().encode())
    entry = crl.get_revoked_certificate_by_serial_number(x509.load_pem_x509_certificate(issued['cert'].encode()).serial_number)
    assert len(entry.extensions) == 0


def test_foreign_certificate_is_unknown_and_not_revocable(tmp_path):
    mine = provider_for(str(tmp_path / 'mine'))
    _order, theirs = issue(provider_for(str(tmp_path / 'theirs')))
    issue(mine)
    assert mine.revocation_status(theirs['cert']) == 'unknown'
    with pytest.raises(CertflowError, match='was not issued by the local CA'):
        mine.revoke(theirs['cert'])
    with pytest.raises(CertflowError, match='revocation reason'):
        mine.revoke(theirs['cert'], reason='bored')


# ------------------------------------------------------------- orders across processes

def test_second_instance_resumes_pending_and_issued_orders(ca_path):
    first = provider_for(ca_path)
    _key, csr = make_csr(['resume.example.test'])
    spec = make_spec(['resume.example.test'], validation='dns')
    pending = first.create_order(spec, csr)

    second = provider_for(ca_path)
    found = second.find_order(spec)
    assert found['order_id'] == pending['order_id']
    assert found['challenges'] == pending['challenges']
    assert second.poll(found) == ('pending_validation', None)
    assert second.find_order(make_spec(['resume.example.test'], validation='http')) is None
    assert second.find_order(make_spec(['other.example.test'], validation='dns')) is None

    order, issued = issue(first, ['done.internal'])
    found = provider_for(ca_path).find_order(make_spec(['done.internal']))
    assert found['order_id'] == order['order_id'] and found['status'] == 'issued'
    assert provider_for(ca_path).fetch(found) == issued


def test_find_order_asks_for_the_held_orders_only_when_an_order_matches(ca_path):
    # Collecting the orders other store entries hold reads the whole store: a
    # batch must not pay it for every certificate the CA has no order for.
    provider = provider_for(ca_path)
    _key, csr = make_csr(['held.example.test'])
    spec = make_spec(['held.example.test'], validation='dns')
    pending = provider.create_order(spec, csr)
    asked = []

    def held(ids):
        def collect():
            asked.append(ids)
            return ids
        return collect

    assert provider.find_order(make_spec(['nobody.example.test'], validation='dns'), exclude=held(set())) is None
    assert asked == []
    assert provider.find_order(spec, exclude=held(set()))['order_id'] == pending['order_id']
    assert provider.find_order(spec, exclude=held({pending['order_id']})) is None
    assert provider.find_order(spec, exclude={pending['order_id']}) is None
    assert asked == [set(), {pending['order_id']}]
    # The caller's copy is refreshed from disk: a stale dict learns the new status.
    stale = dict(pending, status='processing')
    assert provider_for(ca_path).challenges(stale) == pending['challenges'] and stale['status'] == 'pending_validation'


def test_unknown_order_is_named(ca_path):
    provider = provider_for(ca_path)
    with pytest.raises(CertflowError, match='not known to the local CA'):
        provider.poll({'order_id': 'ab' * 12})
    with pytest.raises(CertflowError, match='not an order of the local CA'):
        provider.poll({'order_id': '../../etc/passwd'})


def test_renew_is_a_new_order_and_find_prefers_it(ca_path):
    provider = provider_for(ca_path)
    old, _issued = issue(provider, ['renew.internal'])
    _key, csr = make_csr(['renew.internal'])
    new = provider.renew(old, make_spec(['renew.internal']), csr)
    assert new['order_id'] != old['order_id']
    assert new['provider_data']['renews'] == old['order_id']
    assert provider.find_order(make_spec(['renew.internal']))['order_id'] == new['order_id']
    assert provider.poll(new) == ('issued', None)
    assert provider.fetch(new)['cert'] != provider.fetch(old)['cert']


def test_cancel(ca_path):
    provider = provider_for(ca_path)
    _key, csr = make_csr(['cancel.example.test'])
    order = provider.create_order(make_spec(['cancel.example.test'], validation='dns'), csr)
    assert provider.cancel(order) is True
    assert order['status'] == 'cancelled'
    assert provider.cancel(order) is False
    assert provider.poll(order) == ('cancelled', None)
    with pytest.raises(CertflowError, match='cancelled'):
        provider.ready(order, order['challenges'][0])
    assert provider.find_order(make_spec(['cancel.example.test'], validation='dns')) is None
    issued_order, _issued = issue(provider)
    with pytest.raises(CertflowError, match='revoke the certificate instead'):
        provider.cancel(issued_order)


def test_signed_but_unrecorded_order_is_not_signed_twice(ca_path):
    """A run that died between signing and saving the order: the next poll
    returns the certificate already in the index instead of a second one."""
    provider = provider_for(ca_path)
    _key, csr = make_csr(['crash.internal'])
    order = provider.create_order(make_spec(['crash.internal']), csr)
    pem, serial = provider.ca.issue(csr, order['order_id'], 90)
    assert provider.poll(order) == ('issued', None)
    assert order['provider_data']['serial'] == serial
    assert provider.fetch(order)['cert'] == pem
    assert provider.quota()['issued'] == 1


# ------------------------------------------------------------- concurrency

def _issue_in_process(args):
    path, quota, names, barrier, results = args
    try:
        barrier.wait(timeout=60)
        provider = provider_for(path, quota=quota)
        for name in names:
            _key, csr = make_csr([name])
            order = provider.create_order(make_spec([name]), csr)
            try:
                provider.poll(order)
                results.put(('issued', name, order['provider_data']['serial']))
            except CertflowError as exc:
                results.put(('refused', name, exc.msg))
    except CertflowError as exc:     # create_order already saw the quota used up
        results.put(('refused', None, exc.msg))
    except Exception as exc:  # noqa: BLE001 - report to the parent instead of dying silently
        results.put(('error', None, '%s: %s' % (type(exc).__name__, exc)))


def _run_processes(path, quota, batches):
    context = multiprocessing.get_context('fork')
    barrier = context.Barrier(len(batches))
    results = context.Queue()
    processes = [context.Process(target=_issue_in_process, args=((path, quota, names, barrier, results),)) for names in batches]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    found = []
    while not results.empty():
        found.append(results.get(timeout=5))
    return found


def test_concurrent_issuance_keeps_index_consistent(ca_path):
    batches = [['p%d-c%d.internal' % (p, c) for c in range(3)] for p in range(6)]
    results = _run_processes(ca_path, None, batches)
    assert [r for r in results if r[0] != 'issued'] == []
    serials = [r[2] for r in results]
    assert len(serials) == 18 and len(set(serials)) == 18

    with open(os.path.join(ca_path, 'index.json')) as handle:
        index = json.load(handle)
    assert sorted(index['certificates']) == sorted(serials)
    provider = provider_for(ca_path)
    root_pem = provider.root_pem()     # every process used the one CA created by the first of them
    chain = provider.ca.intermediate_pem()
    for serial in serials:
        with open(os.path.join(ca_path, 'certs', '%s.pem' % serial)) as handle:
            assert _crypto.verify_chain(handle.read(), chain, roots=root_pem) == (True, '')
    assert provider.quota()['issued'] == 18
    assert len(os.listdir(os.path.join(ca_path, 'orders'))) == 18


def test_concurrent_issuance_never_overshoots_quota(ca_path):
    batches = [['q%d-c%d.internal' % (p, c) for c in range(3)] for p in range(4)]
    results = _run_processes(ca_path, 5, batches)
    assert [r for r in results if r[0] == 'error'] == []
    issued = [r for r in results if r[0] == 'issued']
    refused = [r for r in results if r[0] == 'refused']
    assert len(issued) == 5
    assert refused and all('local CA quota of 5 certificates is used up' in r[2] for r in refused)
    assert provider_for(ca_path, quota=5).quota()['remaining'] == 0
