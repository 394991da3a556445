# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME profiles, IP identifiers among the domains, store names of IPv6-only
certificates, and the order a lost newOrder answer made (issue 14, items 2, 3
and 5): the pure parts, against the fake ACME server of test_acme_errors."""

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.local.provider import LocalCAProvider
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import ProviderContext
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._ops.certificate_request import CertificateRequest, certificate_name
from ansible_collections.certflow.ssl.plugins.module_utils._ops.request import _covers
from ansible_collections.certflow.ssl.plugins.module_utils._store import name_for_ip
from ansible_collections.certflow.ssl.plugins.module_utils._http import TransportError
from tests.unit.test_acme_errors import BASE, FakeAcme, _authz, make_provider

PROFILES = {'classic': 'the usual', 'shortlived': 'six days', 'tlsserver': ''}


@pytest.fixture
def fake():
    server = FakeAcme()
    directory = server.handlers['/dir']

    def with_profiles(request, protected, payload):
        status, headers, body = directory(request, protected, payload)
        body['meta'] = {'profiles': dict(PROFILES)}
        return status, headers, body
    server.handlers['/dir'] = with_profiles
    _authz(server)
    return server


def _request(**options):
    base = {'name': 'www', 'domains': ['www.example.test'], 'validation': 'http'}
    base.update(options)
    return CertificateRequest(base)


def _new_order_payloads(fake):
    return [protected for method, path, protected, _v in fake.calls if path == '/new-order']


# -------------------------------------------------------------- profiles

def test_profile_is_sent_in_new_order_and_kept_in_the_order(fake):
    sent = []
    new_order = fake.handlers['/new-order']
    fake.handlers['/new-order'] = lambda r, p, b: (sent.append(b), new_order(r, p, b))[1]
    provider = make_provider(fake)
    request = _request(profile='shortlived')
    provider.check_request(request)
    order = provider.create_order(request, 'csr')
    assert sent[0]['profile'] == 'shortlived'
    assert order['profile'] == 'shortlived'


def test_an_order_made_under_another_profile_is_said(fake):
    new_order = fake.handlers['/new-order']

    def other_profile(request, protected, payload):
        status, headers, body = new_order(request, protected, payload)
        return status, headers, dict(body, profile='classic')
    fake.handlers['/new-order'] = other_profile
    warnings = []
    provider = make_provider(fake, warn=warnings.append)
    provider.create_order(_request(profile='shortlived'), 'csr')
    assert warnings == ["profile shortlived was asked for, but the ACME server made the order %s/order/1 under profile 'classic'" % BASE]


def test_no_profile_sends_none(fake):
    sent = []
    new_order = fake.handlers['/new-order']
    fake.handlers['/new-order'] = lambda r, p, b: (sent.append(b), new_order(r, p, b))[1]
    provider = make_provider(fake)
    order = provider.create_order(_request(), 'csr')
    assert 'profile' not in sent[0] and order['profile'] is None


def test_unknown_profile_fails_before_any_order_naming_the_offered_ones(fake):
    provider = make_provider(fake)
    with pytest.raises(CertflowError) as caught:
        provider.check_request(_request(profile='longlived'))
    assert "profile 'longlived' is not offered" in caught.value.msg
    assert 'classic (the usual), shortlived (six days), tlsserver' in caught.value.msg
    assert fake.paths() == ['/dir']


def test_a_profile_at_a_ca_that_lists_none_fails_clearly():
    fake = FakeAcme()
    provider = make_provider(fake)
    with pytest.raises(CertflowError, match="profile 'classic' was asked for, but the ACME server .* lists no profiles"):
        provider.check_request(_request(profile='classic'))
    provider.check_request(_request())      # none asked for: nothing to check


def test_other_providers_refuse_a_profile(tmp_path):
    provider = LocalCAProvider({'path': str(tmp_path / 'ca')}, ProviderContext())
    with pytest.raises(CertflowError, match="profile 'shortlived': the local provider has no certificate profiles"):
        provider.check_request(_request(profile='shortlived'))
    provider.check_request(_request())


@pytest.mark.parametrize('value', ['', 'two words', 'x' * 129, 'line\n'])
def test_a_profile_that_is_no_name_is_refused(value):
    with pytest.raises(CertflowError, match='is not a profile name'):
        _request(profile=value)


def test_a_changed_profile_is_not_covered_by_the_current_certificate():
    summary = {'domains': ['www.example.test'], 'ip_addresses': []}
    issued = {'status': 'issued', 'profile': 'tlsserver'}
    assert _covers(summary, _request(), issued)
    assert _covers(summary, _request(profile='tlsserver'), issued)
    assert not _covers(summary, _request(profile='shortlived'), issued)
    # a renewal order is open: the certificate still has the profile of the order before it
    renewing = {'status': 'pending_validation', 'profile': 'shortlived', 'certificate_profile': 'tlsserver'}
    assert not _covers(summary, _request(profile='shortlived'), renewing)


def test_an_unset_profile_is_kept_from_the_stored_order():
    request = _request()
    request.inherit_profile({'status': 'issued', 'profile': 'tlsserver'})
    assert request.profile == 'tlsserver'
    request = _request(profile='shortlived')
    request.inherit_profile({'status': 'issued', 'profile': 'tlsserver'})
    assert request.profile == 'shortlived'


# -------------------------------------------------------------- IP identifiers

def test_an_address_among_the_domains_is_an_ip_identifier():
    request = _request(domains=['127.0.0.1', 'www.example.test', '[2001:DB8::1]'])
    assert request.domains == ['www.example.test']
    assert request.ip_addresses == ['127.0.0.1', '2001:db8::1']
    assert request.identifiers == [{'type': 'dns', 'value': 'www.example.test'}, {'type': 'ip', 'value': '127.0.0.1'},
                                   {'type': 'ip', 'value': '2001:db8::1'}]
    assert request.name == 'www'


def test_an_address_cannot_be_validated_by_dns():
    with pytest.raises(CertflowError, match=r'IP address\(es\) 192.0.2.7 cannot be validated by dns; use validation: http'):
        CertificateRequest({'domains': ['192.0.2.7'], 'validation': 'dns'})


@pytest.mark.parametrize('address,name', [
    ('127.0.0.1', '127.0.0.1'), ('::1', '0--1'), ('2001:db8::1', '2001-db8--1'), ('::ffff:192.0.2.1', '0--ffff-c000-201'),
    ('fe80::', 'fe80--'),
])
def test_an_ip_only_certificate_is_named_after_its_address(address, name):
    request = CertificateRequest({'ip_addresses': [address], 'validation': 'http'})
    assert request.name == name
    assert certificate_name({'domains': [address]}) == name


def test_name_for_ip_refuses_what_is_no_normalised_address():
    for text in ('../x', '2001:DB8::1', 'a b', '-1'):
        with pytest.raises(CertflowError):
            name_for_ip(text)


def test_csr_has_the_addresses_in_the_san_and_never_in_the_cn():
    key = _crypto.generate_private_key('ec256')
    only_ip = _crypto.load_csr(_crypto.build_csr(key, [], ['127.0.0.1']))
    assert list(only_ip.subject) == []
    both = _crypto.load_csr(_crypto.build_csr(key, ['www.example.test'], ['127.0.0.1']))
    assert [a.value for a in both.subject] == ['www.example.test']
    assert _crypto.csr_identifiers(both) == (['www.example.test'], ['127.0.0.1'])


# -------------------------------------------------------------- the lost newOrder answer

def _listing(urls, headers):
    """A handler answering one page of the order list."""
    return lambda r, p, b: (200, headers, {'orders': [BASE + u for u in urls]})


def _orders(fake, pages):
    """The account's order list in ``pages`` (lists of order paths) linked by rel="next", and each order."""
    fake.handlers['/acct/1'] = lambda r, p, b: (200, {}, {'status': 'valid', 'orders': BASE + '/orders/1'})
    for index, page in enumerate(pages):
        headers = {'Link': '<%s/orders/1/page/%d>;rel="next"' % (BASE, index + 2)} if index + 1 < len(pages) else {}
        path = '/orders/1' if index == 0 else '/orders/1/page/%d' % (index + 1)
        fake.handlers[path] = _listing(page, headers)


def _order(fake, path, status, names, profile=None, expires='2030-01-01T00:00:00Z'):
    body = {'status': status, 'identifiers': [{'type': 'dns', 'value': n} for n in names], 'expires': expires,
            'authorizations': [BASE + '/authz/1'], 'finalize': BASE + path + '/finalize'}
    if profile:
        body['profile'] = profile
    fake.handlers[path] = lambda r, p, b: (200, {}, body)


def test_a_lost_new_order_answer_resumes_the_order_the_ca_made(fake):
    fake.queued['/new-order'] = [TransportError(ConnectionError('connection dropped after the request'))]
    _orders(fake, [['/order/old', '/order/other-names'], ['/order/wrong-profile', '/order/made', '/order/done']])
    _order(fake, '/order/old', 'pending', ['www.example.test'], 'shortlived', expires='2029-01-01T00:00:00Z')
    _order(fake, '/order/other-names', 'pending', ['mail.example.test'], 'shortlived', expires='2031-01-01T00:00:00Z')
    _order(fake, '/order/wrong-profile', 'pending', ['www.example.test'], 'classic', expires='2031-01-01T00:00:00Z')
    _order(fake, '/order/made', 'pending', ['www.example.test'], 'shortlived')
    _order(fake, '/order/done', 'valid', ['www.example.test'], 'shortlived', expires='2031-01-01T00:00:00Z')
    warnings = []
    provider = make_provider(fake, warn=warnings.append)
    order = provider.create_order(_request(profile='shortlived'), 'csr')
    assert order['order_id'] == BASE + '/order/made'
    assert order['status'] == 'pending_validation' and order['challenges'][0]['domain'] == 'www.example.test'
    assert fake.paths().count('/new-order') == 1, 'newOrder must not be sent a second time'
    assert '/orders/1/page/2' in fake.paths()
    assert any('the answer to newOrder was lost' in w and '/order/made' in w for w in warnings)


def test_a_lost_new_order_that_made_nothing_is_sent_again(fake):
    fake.queued['/new-order'] = [TransportError(ConnectionError('dropped before the CA saw it'))]
    _orders(fake, [['/order/done']])
    _order(fake, '/order/done', 'valid', ['www.example.test'])
    provider = make_provider(fake)
    order = provider.create_order(_request(), 'csr')
    assert order['order_id'] == BASE + '/order/1'
    assert fake.paths().count('/new-order') == 2


def test_a_ca_without_an_order_list_sends_again_with_a_warning(fake):
    fake.queued['/new-order'] = [TransportError(ConnectionError('dropped'))]
    fake.handlers['/acct/1'] = lambda r, p, b: (200, {}, {'status': 'valid'})
    warnings = []
    provider = make_provider(fake, warn=warnings.append)
    provider.create_order(_request(), 'csr')
    assert fake.paths().count('/new-order') == 2
    assert any('lists no orders of the account' in w for w in warnings)
