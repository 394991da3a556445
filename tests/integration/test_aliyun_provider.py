# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The aliyun CA provider and the alidns DNS provider against the emulator, with
proofs checked through the real BIND and nginx of the ``services`` fixture."""

import datetime
import os
import secrets

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.aliyun import AliyunProvider
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import STATUSES, ProviderContext
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline, wait_until
from ansible_collections.certflow.ssl.plugins.module_utils._ops.certificate_request import CertificateRequest
from ansible_collections.certflow.ssl.plugins.module_utils._dns.alidns import AlidnsProvider
from tests.emulator.aliyun_emulator import AliyunEmulator

DV = 'digicert-free-1-free'
OV = 'geotrust-ov-1-personal'


@pytest.fixture
def emulator(aliyun_emulator):
    """The session's emulator (tests/integration/conftest.py); DV has 50, OV 5 in its plans."""
    assert (aliyun_emulator.dv_product, aliyun_emulator.ov_product) == (DV, OV)
    return aliyun_emulator


def settings(emulator, **extra):
    return dict({'access_key_id': emulator.access_key_id, 'access_key_secret': emulator.access_key_secret,
                 'endpoint': emulator.endpoint}, **extra)


def context():
    return ProviderContext(timeout=60)


@pytest.fixture
def ca(emulator):
    provider = AliyunProvider(settings(emulator), context())
    yield provider
    provider.close()


@pytest.fixture
def alidns(emulator):
    provider = AlidnsProvider(settings(emulator), context())
    yield provider
    provider.close()


def unique(label, zone='certflow.test'):
    return '%s-%s.%s' % (label, secrets.token_hex(3), zone)


def make_spec(domains, validation='dns', product=None, **extra):
    options = {'name': domains[0].split('.')[0].replace('*', 'wild'), 'domains': list(domains), 'validation': validation,
               'product': product, 'contact': {'name': 'Ops', 'email': 'ops@certflow.test', 'phone': '+86-10-0000'},
               'company': {}, 'key_type': 'ec256'}
    options.update(extra)
    return CertificateRequest(options)


def new_csr(domains):
    key = _crypto.generate_private_key('ec256')
    return key, _crypto.build_csr(key, domains)


def wait_for(ca, order, statuses, seconds=30):
    def check():
        status, retry_after = ca.poll(order)
        return status in statuses, retry_after
    wait_until(check, Deadline(seconds), 'order %s to reach %s' % (order['order_id'], '/'.join(statuses)))
    return order['status']


def issue_with_dns(ca, alidns, domains, product=None):
    """Request, prove through alidns -> BIND, wait, fetch; returns (order, key, issued)."""
    key, csr = new_csr(domains)
    spec = make_spec(domains, product=product)
    order = ca.create_order(spec, csr)
    assert order['status'] == 'pending_validation'
    for challenge in ca.challenges(order):
        alidns.present(challenge['record_name'], challenge['record_value'])
    try:
        assert wait_for(ca, order, ('issued', 'failed')) == 'issued'
    finally:
        for challenge in order['challenges']:
            alidns.cleanup(challenge['record_name'], challenge['record_value'])
    return order, key, ca.fetch(order)


def assert_issued_for(emulator, issued, key, domains):
    cert = _crypto.load_certificate(issued['cert'])
    assert _crypto.cert_matches_key(cert, key)
    ok, reason = _crypto.verify_chain(cert, issued['chain'], roots=emulator.root_pem)
    assert ok, reason
    assert set(_crypto.cert_summary(cert)['domains']) == set(domains)
    assert issued['fullchain'] == issued['cert'] + issued['chain']


# ------------------------------------------------------------------- quota

def test_quota(ca, emulator):
    emulator.set_quota('geotrust-dv-1-starter', 4, used=1)
    quota = ca.quota('geotrust-dv-1-starter')
    assert quota == {'product': 'geotrust-dv-1-starter', 'total': 4, 'used': 1, 'issued': 0, 'remaining': 3, 'unlimited': False}
    assert ca.quota('never-bought-1-starter')['remaining'] == 0


def test_quota_exhausted_and_missing_plan(ca, emulator):
    product = 'globalsign-dv-1-personal'
    emulator.set_quota(product, 1)
    domains = [unique('quota')]
    ca.create_order(make_spec(domains, product=product), new_csr(domains)[1])
    with pytest.raises(CertflowError) as caught:
        ca.create_order(make_spec([unique('quota2')], product=product), new_csr(domains)[1])
    assert 'no quota left for product %s' % product in caught.value.msg
    assert ca.quota(product)['remaining'] == 0
    with pytest.raises(CertflowError) as caught:
        ca.create_order(make_spec(domains, product='symantec-dv-1-starter'), new_csr(domains)[1])
    assert 'no certificate resource plan has been bought for product symantec-dv-1-starter' in caught.value.msg


# -------------------------------------------------------- DV through alidns

def test_dv_dns_through_alidns_and_bind(ca, alidns, emulator, services):
    domains = [unique('dv'), unique('dv')]
    key, csr = new_csr(domains)
    used_before = ca.quota(DV)['used']
    order = ca.create_order(make_spec(domains), csr)
    assert order['status'] == 'pending_validation' and order['status'] in STATUSES
    assert ca.quota(DV)['used'] == used_before + 1
    challenges = ca.challenges(order)
    assert [c['record_name'] for c in challenges] == ['_dnsauth.%s' % d for d in domains]
    assert all(c['type'] == 'dns' and c['record_type'] == 'TXT' and c['record_value'] for c in challenges)

    # Not proven yet: the CA keeps waiting.
    assert ca.poll(order) == ('pending_validation', None)

    for challenge in challenges:
        alidns.present(challenge['record_name'], challenge['record_value'])
        assert challenge['record_value'] in services.bind.query_txt(challenge['record_name'])
        ca.ready(order, challenge)

    seen = set()

    def check():
        status, _hint = ca.poll(order)
        seen.add(status)
        return status == 'issued'
    wait_until(check, Deadline(30), 'issuance')
    assert 'processing' in seen

    issued = ca.fetch(order)
    assert issued['key'] is None
    assert_issued_for(emulator, issued, key, domains)

    # Re-running finds the same order instead of spending quota again.
    creates = emulator.actions().count('CreateCertificateForPackageRequest')
    found = ca.find_order(make_spec(domains))
    assert found['order_id'] == order['order_id'] and found['status'] == 'issued'
    assert emulator.actions().count('CreateCertificateForPackageRequest') == creates

    for challenge in challenges:
        alidns.cleanup(challenge['record_name'], challenge['record_value'])
        assert services.bind.query_txt(challenge['record_name']) == []
        assert emulator.records_at(challenge['record_name']) == []


def test_find_order_resumes_pending_order(ca):
    domains = [unique('resume')]
    order = ca.create_order(make_spec(domains), new_csr(domains)[1])
    found = ca.find_order(make_spec(domains))
    assert found['order_id'] == order['order_id'] and found['status'] == 'pending_validation'
    assert found['challenges'][0]['record_value'] == order['challenges'][0]['record_value']
    assert ca.find_order(make_spec(domains + [unique('other')])) is None
    assert ca.find_order(make_spec(domains, product='geotrust-dv-1-starter')) is None
    # The orders other store entries hold are collected only when an order matches.
    asked = []

    def held(ids):
        return lambda: asked.append(ids) or ids
    assert ca.find_order(make_spec(domains + [unique('other')]), exclude=held(set())) is None
    assert asked == []
    assert ca.find_order(make_spec(domains), exclude=held({str(order['order_id'])})) is None
    assert asked == [{str(order['order_id'])}]


def test_ca_generated_key(ca, alidns, emulator):
    domains = [unique('nokey')]
    order = ca.create_order(make_spec(domains), None)
    for challenge in ca.challenges(order):
        alidns.present(challenge['record_name'], challenge['record_value'])
    assert wait_for(ca, order, ('issued',)) == 'issued'
    issued = ca.fetch(order)
    assert issued['key'] and 'PRIVATE KEY' in issued['key']
    assert_issued_for(emulator, issued, _crypto.load_private_key(issued['key']), domains)
    assert 'PRIVATE KEY' not in repr(order)


# ------------------------------------------------------------- DV by file

def test_dv_file_through_nginx(ca, emulator, services):
    domains = [unique('file')]
    key, csr = new_csr(domains)
    order = ca.create_order(make_spec(domains, validation='http'), csr)
    (challenge,) = ca.challenges(order)
    assert challenge['type'] == 'file'
    assert challenge['file_path'] == '/.well-known/pki-validation/fileauth.txt'
    assert challenge['url'] == 'http://%s/.well-known/pki-validation/fileauth.txt' % domains[0]
    path = os.path.join(services.web.webroot, challenge['file_path'].lstrip('/'))
    assert ca.poll(order)[0] == 'pending_validation'
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(challenge['file_content'])
    try:
        assert wait_for(ca, order, ('issued', 'failed')) == 'issued'
    finally:
        os.unlink(path)
    assert_issued_for(emulator, ca.fetch(order), key, domains)


def test_file_validation_refuses_wildcards(ca, emulator):
    # Refused where the request is built, before Alibaba Cloud hears of it.
    calls = len(emulator.calls)
    with pytest.raises(CertflowError) as caught:
        ca.create_order(make_spec(['*.%s' % unique('wild')], validation='http'), None)
    assert 'need dns validation, not http' in caught.value.msg
    assert emulator.calls[calls:] == []


def test_wildcard_by_dns(ca, alidns, emulator):
    base = unique('wild')
    order, key, issued = issue_with_dns(ca, alidns, ['*.' + base])
    assert order['challenges'][0]['record_name'] == '_dnsauth.' + base
    assert_issued_for(emulator, issued, key, ['*.' + base])


# ------------------------------------------------------------ OV by email

def test_ov_email_waits_for_the_ca_review(ca, emulator):
    domains = [unique('ov')]
    key, csr = new_csr(domains)
    spec = make_spec(domains, validation='email', product=OV, company={'name': 'Certflow Test Ltd'})
    order = ca.create_order(spec, csr)
    assert order['status'] == 'processing'
    assert [(c['type'], c['record_name'], c['file_path'], c['status']) for c in ca.challenges(order)] == [
        ('email', None, None, 'pending')]
    for _look in range(3):
        assert ca.poll(order) == ('processing', None)
    created = [params for action, params in emulator.calls if action == 'CreateCertificateForPackageRequest'][-1]
    assert created['CompanyName'] == 'Certflow Test Ltd' and created['Email'] == 'ops@certflow.test'
    assert created['Username'] == 'Ops' and created['Phone'] == '+86-10-0000' and 'ValidateType' not in created

    emulator.approve(order['order_id'])
    assert ca.poll(order) == ('issued', None)
    assert order['challenges'][0]['status'] == 'valid'
    issued = ca.fetch(order)
    assert_issued_for(emulator, issued, key, domains)
    assert 'O=Certflow Test Ltd' in _crypto.cert_summary(issued['cert'])['subject']


def test_email_validation_needs_an_ov_product(ca):
    with pytest.raises(CertflowError) as caught:
        ca.create_order(make_spec([unique('dvmail')], validation='email'), None)
    assert "'email' is for OV/EV products" in caught.value.msg


# ----------------------------------------------- created without submitting

def test_created_without_submitting(ca, emulator):
    domains = [unique('created')]
    used = ca.quota(DV)['used']
    creates = emulator.actions().count('CreateCertificateForPackageRequest')
    order = ca.create_order(make_spec(domains), new_csr(domains)[1], submit=False)
    assert order['status'] == 'created' and order['order_id'] is None
    assert ca.poll(order) == ('created', None) and ca.challenges(order) == []
    assert ca.quota(DV)['used'] == used
    assert emulator.actions().count('CreateCertificateForPackageRequest') == creates

    ca.submit(order)
    assert order['status'] == 'pending_validation' and order['order_id']
    assert ca.quota(DV)['used'] == used + 1
    assert ca.cancel(order) is True
    assert ca.quota(DV)['used'] == used


# ------------------------------------------------------------ cancel, fail

def test_cancel_returns_quota(ca, emulator):
    domains = [unique('cancel')]
    used = ca.quota(DV)['used']
    order = ca.create_order(make_spec(domains), new_csr(domains)[1])
    assert ca.quota(DV)['used'] == used + 1
    assert ca.cancel(order) is True
    assert order['status'] == 'cancelled'
    assert ca.quota(DV)['used'] == used
    actions = emulator.actions()
    assert actions[-3:-1] == ['CancelOrderRequest', 'DeleteCertificateRequest'] or \
        actions[-2:] == ['CancelOrderRequest', 'DeleteCertificateRequest']
    assert ca.cancel(order) is False
    assert ca.find_order(make_spec(domains)) is None


def test_failed_review(ca, emulator):
    domains = [unique('fail')]
    used = ca.quota(DV)['used']
    order = ca.create_order(make_spec(domains), new_csr(domains)[1])
    emulator.reject(order['order_id'], 'domain owner refused')
    assert ca.poll(order) == ('failed', None)
    assert order['error'] and order['order_id'] in order['error']
    assert ca.cancel(order) is True
    assert ca.quota(DV)['used'] == used


def test_cancel_refuses_issued_order(ca, alidns):
    order, _key, _issued = issue_with_dns(ca, alidns, [unique('issued')])
    with pytest.raises(CertflowError) as caught:
        ca.cancel(order)
    assert 'revoke the certificate instead' in caught.value.msg


# ------------------------------------------------------------------ renew

def test_renew_an_expiring_order(ca, alidns, emulator):
    domains = [unique('renew')]
    order, _key, first = issue_with_dns(ca, alidns, domains)
    emulator.expire_soon(order['order_id'])
    key, csr = new_csr(domains)
    renewed = ca.renew(order, make_spec(domains), csr)
    assert renewed['provider_data']['renewed_from'] == int(order['order_id'])
    assert renewed['order_id'] != order['order_id'] and renewed['status'] == 'pending_validation'
    for challenge in ca.challenges(renewed):
        alidns.present(challenge['record_name'], challenge['record_value'])
    assert wait_for(ca, renewed, ('issued',)) == 'issued'
    second = ca.fetch(renewed)
    assert_issued_for(emulator, second, key, domains)
    assert _crypto.cert_serial_hex(_crypto.load_certificate(second['cert'])) != \
        _crypto.cert_serial_hex(_crypto.load_certificate(first['cert']))
    assert 'RenewCertificateOrderForPackageRequest' in emulator.actions()


def test_renew_before_the_window_requests_a_new_certificate(ca, alidns):
    domains = [unique('early')]
    order, _key, _issued = issue_with_dns(ca, alidns, domains)
    renewed = ca.renew(order, make_spec(domains), new_csr(domains)[1])
    assert renewed['provider_data']['renewed_from'] is None
    assert renewed['order_id'] != order['order_id'] and renewed['status'] == 'pending_validation'
    ca.cancel(renewed)


# ----------------------------------------------------------------- revoke

def test_revoke_found_by_certificate(ca, alidns, emulator):
    domains = [unique('revoke')]
    order, _key, issued = issue_with_dns(ca, alidns, domains)
    assert ca.revoke(issued['cert'], 'key_compromise') is True
    assert emulator.order(order['order_id'])['state'] == 'revoked'
    assert ca.revoke(issued['cert']) is False
    assert ca.revoke(issued['cert'], order=order) is False
    assert order['status'] == 'revoked'
    assert ca.poll(order) == ('revoked', None)
    assert ca.find_order(make_spec(domains)) is None


def test_revoke_with_order(ca, alidns, emulator):
    order, _key, issued = issue_with_dns(ca, alidns, [unique('revoke')])
    assert ca.revoke(issued['cert'], order=order) is True
    assert order['status'] == 'revoked'
    assert emulator.order(order['order_id'])['state'] == 'revoked'


def test_revoke_unknown_certificate(ca):
    key = _crypto.generate_private_key('ec256')
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'stranger.certflow.test')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1234).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName('stranger.certflow.test')]), critical=False)
            .sign(key, hashes.SHA256()))
    with pytest.raises(CertflowError) as caught:
        ca.revoke(_crypto.cert_to_pem(cert))
    assert 'no Alibaba Cloud order' in caught.value.msg and '04d2' in caught.value.msg


# ------------------------------------------------------ faults and errors

def test_throttling_and_unavailability_are_survived(ca, alidns, emulator):
    emulator.fail_next(3, 'Throttling.User')
    assert ca.quota(DV)['total'] == 50
    emulator.fail_next(2, 'ServiceUnavailable')
    domains = [unique('throttle')]
    order = ca.create_order(make_spec(domains), new_csr(domains)[1])
    assert order['status'] == 'pending_validation'
    emulator.fail_next(2, 'Throttling.User')
    name, value = order['challenges'][0]['record_name'], order['challenges'][0]['record_value']
    alidns.present(name, value)
    emulator.fail_next(1, 'ServiceUnavailable')
    alidns.cleanup(name, value)
    assert emulator.records_at(name) == []
    ca.cancel(order)


def test_wrong_secret_is_a_clear_error(emulator):
    provider = AliyunProvider(settings(emulator, access_key_secret='wrong-secret-value'), context())
    with pytest.raises(CertflowError) as caught:
        provider.quota(DV)
    assert 'signature was rejected' in caught.value.msg and 'access_key_secret' in caught.value.msg
    assert 'wrong-secret-value' not in caught.value.msg and emulator.access_key_secret not in caught.value.msg


def test_unknown_key_id_is_a_clear_error(emulator):
    provider = AliyunProvider(settings(emulator, access_key_id='LTAI5tUnknownKey99'), context())
    with pytest.raises(CertflowError) as caught:
        provider.quota(DV)
    assert 'does not exist' in caught.value.msg and 'LTAI****ey99' in caught.value.msg


def test_credentials_from_environment(emulator, monkeypatch):
    monkeypatch.setenv('ALIBABA_CLOUD_ACCESS_KEY_ID', emulator.access_key_id)
    monkeypatch.setenv('ALIBABA_CLOUD_ACCESS_KEY_SECRET', emulator.access_key_secret)
    monkeypatch.delenv('ALIBABA_CLOUD_SECURITY_TOKEN', raising=False)
    assert AliyunProvider({'endpoint': emulator.endpoint}, context()).quota(DV)['total'] == 50
    assert AlidnsProvider({'endpoint': emulator.endpoint}, context()).zone_for('_dnsauth.x.certflow.test') == 'certflow.test'


def test_missing_credentials(emulator, monkeypatch):
    for name in ('ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_SECURITY_TOKEN'):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(CertflowError) as caught:
        AliyunProvider({'endpoint': emulator.endpoint}, context()).quota(DV)
    assert 'ALIBABA_CLOUD_ACCESS_KEY_ID' in caught.value.msg and 'aliyun.access_key_secret' in caught.value.msg


def test_sts_token(services):
    """An STS token goes over https only (over http it is refused: tests/integration/test_hostile_flow.py)."""
    tls = (os.path.join(services.pebble.workdir, 'pebble-cert.pem'), os.path.join(services.pebble.workdir, 'pebble-key.pem'))
    with AliyunEmulator(credentials={'STS.Integration': ('sts-secret', 'sts-token-value')}, packages={DV: 50}, tls=tls) as https:
        provider = AliyunProvider({'access_key_id': 'STS.Integration', 'access_key_secret': 'sts-secret',
                                   'security_token': 'sts-token-value', 'endpoint': https.endpoint,
                                   'ca_bundle': services.pebble.ca_bundle}, context())
        assert https.endpoint.startswith('https://')
        assert provider.quota(DV)['total'] == 50


# ---------------------------------------------------------------- alidns

def test_alidns_cleanup_removes_only_our_value(alidns, emulator, services):
    name = '_dnsauth.%s' % unique('multi')
    alidns.present(name, 'first-value')
    alidns.present(name, 'second-value')
    alidns.present(name, 'second-value')            # DomainRecordDuplicate: already there
    assert sorted(services.bind.query_txt(name)) == ['first-value', 'second-value']
    alidns.cleanup(name, 'first-value')
    assert services.bind.query_txt(name) == ['second-value']
    assert [record['Value'] for record in emulator.records_at(name)] == ['second-value']
    alidns.cleanup(name, 'first-value')             # nothing left to remove: no error
    alidns.cleanup(name, 'second-value')
    assert services.bind.query_txt(name) == []


def test_alidns_zone_and_record_split(alidns, emulator):
    name = '_dnsauth.deep.%s' % unique('zone')
    alidns.present(name, 'v')
    (record,) = emulator.records_at(name)
    assert record['DomainName'] == 'certflow.test' and record['RR'] == name[:-len('.certflow.test')]
    assert record['Type'] == 'TXT' and record['TTL'] == 600
    alidns.cleanup(name, 'v')


def test_alidns_unknown_zone(alidns):
    with pytest.raises(CertflowError) as caught:
        alidns.present('_dnsauth.example.org', 'v')
    assert 'no domain of this Alibaba Cloud DNS account contains _dnsauth.example.org' in caught.value.msg


def test_alidns_domain_setting(emulator):
    provider = AlidnsProvider(settings(emulator, domain='certflow.test', ttl=900), context())
    name = '_dnsauth.%s' % unique('fixed')
    provider.present(name, 'v')
    assert emulator.records_at(name)[0]['TTL'] == 900
    provider.cleanup(name, 'v')
    with pytest.raises(CertflowError) as caught:
        provider.present('_dnsauth.example.org', 'v')
    assert 'not inside the domain certflow.test' in caught.value.msg
    assert 'DescribeDomains' not in [action for action, params in emulator.calls[-3:]]


def test_alidns_credentials_fall_back_to_aliyun_settings(emulator):
    aliyun_credentials = {'access_key_id': emulator.access_key_id, 'access_key_secret': emulator.access_key_secret}
    provider = AlidnsProvider({'endpoint': emulator.endpoint, 'aliyun': aliyun_credentials}, context())
    assert provider.zone_for('a.b.certflow.test') == 'certflow.test'
