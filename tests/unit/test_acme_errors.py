# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME provider logic against a small fake ACME server mounted as a requests
adapter: problem documents, Retry-After, badNonce, nonce reuse, account cache."""

import datetime
import json
from types import SimpleNamespace
import os
import stat

import pytest
from urllib3._collections import HTTPHeaderDict

from ansible_collections.certflow.ssl.plugins.module_utils._store import Store

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto

from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import jws as _jws
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import client as acme_client
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import errors as acme_errors
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import orders as acme_orders
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.provider import AcmeProvider
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import ProviderContext
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._http import Answer, TransportError
from ansible_collections.certflow.ssl.plugins.module_utils._ops.certificate_request import CertificateRequest

BASE = 'https://ca.test'
DIRECTORY = BASE + '/dir'
PROBLEM = 'application/problem+json'


class FakeAcme:
    """Answers ACME requests from handlers; every POST must carry a nonce it issued."""

    def __init__(self):
        self.calls = []            # (method, path, protected header or None, verify)
        self.issued = set()
        self.counter = 0
        self.handlers = {}
        self.queued = {}           # path -> [response tuple, ...] served before the handler
        self.accounts = {}
        self.default_routes()

    # -- plumbing
    def nonce(self):
        self.counter += 1
        value = 'nonce-%d' % self.counter
        self.issued.add(value)
        return value

    def request(self, method, url, body=None, headers=None, timeout=None):
        request = SimpleNamespace(method=method, url=url, body=body, headers=headers or {})
        path = request.url[len(BASE):]
        protected = payload = None
        if request.method == 'POST':
            body = json.loads(request.body)
            protected = json.loads(_jws.b64u_decode(body['protected']))
            payload = json.loads(_jws.b64u_decode(body['payload'])) if body['payload'] else None
            assert protected['url'] == request.url
            assert request.headers['Content-Type'] == 'application/jose+json'
        self.calls.append((request.method, path, protected, None))
        if self.queued.get(path):
            result = self.queued[path].pop(0)
            if isinstance(result, Exception):
                raise result
        elif protected is not None and protected.get('nonce') not in self.issued:
            result = (400, {'Content-Type': PROBLEM}, {'type': acme_errors.BAD_NONCE, 'detail': 'unknown nonce'})
        else:
            if protected is not None:
                self.issued.discard(protected['nonce'])
            result = self.handlers[path](request, protected, payload)
        status, headers, body = result
        headers = dict(headers)
        if request.method == 'POST' or path == '/nonce':
            headers['Replay-Nonce'] = self.nonce()
        content = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or '').encode()
        return Answer(status, headers, content, 'OK' if status < 400 else 'Error', url)

    def close(self):
        pass

    # -- resources
    def default_routes(self):
        self.handlers['/dir'] = lambda r, p, b: (200, {}, {
            'newNonce': BASE + '/nonce', 'newAccount': BASE + '/new-acct', 'newOrder': BASE + '/new-order',
            'revokeCert': BASE + '/revoke', 'meta': {}})
        self.handlers['/nonce'] = lambda r, p, b: (200, {}, '')
        self.handlers['/new-acct'] = self.new_account
        self.handlers['/new-order'] = lambda r, p, b: (201, {'Location': BASE + '/order/1'}, {
            'status': 'pending', 'identifiers': b['identifiers'], 'authorizations': [BASE + '/authz/1'],
            'finalize': BASE + '/order/1/finalize'})

    def new_account(self, request, protected, payload):
        thumb = _jws.thumbprint(protected['jwk'])
        created = thumb not in self.accounts
        self.accounts.setdefault(thumb, BASE + '/acct/%d' % (len(self.accounts) + 1))
        return (201 if created else 200), {'Location': self.accounts[thumb]}, {'status': 'valid'}

    def paths(self, method=None):
        return [path for m, path, _p, _v in self.calls if method is None or m == method]


@pytest.fixture
def fake():
    return FakeAcme()


def make_provider(fake, settings=None, store=None, timeout=60.0, **context):
    base = {'directory': DIRECTORY, 'account_key_content': _crypto.private_key_to_pem(_crypto.generate_private_key('ec256'))}
    if store is not None:
        base.pop('account_key_content')
    base.update(settings or {})
    provider = AcmeProvider(base, ProviderContext(store=store, timeout=timeout, **context))
    provider.client.http = fake
    provider.sleeps = []
    provider.client._sleep = provider.sleeps.append
    return provider


def problem(ptype, detail, status=400, **headers):
    headers.setdefault('Content-Type', PROBLEM)
    return status, headers, {'type': acme_errors.ERROR_NS + ptype, 'detail': detail}


SPEC = CertificateRequest({'name': 'www', 'domains': ['www.example.test'], 'validation': 'http'})


# --------------------------------------------------------------- pure helpers

def test_problem_message_names_type_detail_url_and_subproblems():
    doc = {'type': acme_errors.ERROR_NS + 'rejectedIdentifier', 'detail': 'Some names are forbidden', 'subproblems': [
        {'type': acme_errors.ERROR_NS + 'rejectedIdentifier', 'detail': 'policy forbids it', 'identifier': {'type': 'dns', 'value': 'bad.test'}}]}
    text = acme_errors.problem_message(doc, 'https://ca.test/new-order', 400)
    assert 'urn:ietf:params:acme:error:rejectedIdentifier' in text
    assert 'Some names are forbidden' in text
    assert 'https://ca.test/new-order' in text
    assert 'HTTP 400' in text
    assert 'bad.test: urn:ietf:params:acme:error:rejectedIdentifier: policy forbids it' in text


def test_retry_after_seconds_and_http_date():
    now = datetime.datetime(2024, 5, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
    assert acme_errors.parse_retry_after('120') == 120.0
    assert acme_errors.parse_retry_after(' 0 ') == 0.0
    assert acme_errors.parse_retry_after('Wed, 01 May 2024 12:00:30 GMT', now=now) == 30.0
    assert acme_errors.parse_retry_after('Wed, 01 May 2024 11:00:00 GMT', now=now) == 0.0   # in the past
    assert acme_errors.parse_retry_after('soon') is None
    assert acme_errors.parse_retry_after('') is None
    assert acme_errors.parse_retry_after(None) is None


# ------------------------------------------------------------ request handling

def test_nonce_is_reused_and_new_nonce_fetched_once(fake):
    _authz(fake)
    provider = make_provider(fake)
    order = provider.create_order(SPEC, 'csr')
    assert fake.paths('HEAD') == ['/nonce']
    assert fake.paths('GET') == ['/dir']
    nonces = [p['nonce'] for _m, _path, p, _v in fake.calls if p]
    assert len(nonces) == len(set(nonces)) == 3            # newAccount, newOrder, authz
    assert order['order_id'] == BASE + '/order/1'


def test_bad_nonce_is_retried_with_the_nonce_of_the_error(fake):
    fake.handlers['/authz/1'] = lambda r, p, b: (200, {}, {
        'status': 'pending', 'identifier': {'type': 'dns', 'value': 'www.example.test'},
        'challenges': [{'type': 'http-01', 'url': BASE + '/chall/1', 'token': 'tok', 'status': 'pending'}]})
    fake.queued['/new-order'] = [problem('badNonce', 'try again'), problem('badNonce', 'try again')]
    provider = make_provider(fake)
    provider.create_order(SPEC, 'csr')
    order_posts = [(p['nonce']) for _m, path, p, _v in fake.calls if path == '/new-order']
    assert len(order_posts) == 3
    assert len(set(order_posts)) == 3
    assert fake.paths('HEAD') == ['/nonce']                  # retries used the error responses' nonces


def test_bad_nonce_retries_are_bounded(fake):
    fake.queued['/new-order'] = [problem('badNonce', 'no luck')] * 50
    provider = make_provider(fake)
    with pytest.raises(CertflowError) as error:
        provider.create_order(SPEC, 'csr')
    assert 'badNonce' in error.value.msg
    assert fake.paths().count('/new-order') == acme_client.BAD_NONCE_RETRIES + 1


def test_503_honours_retry_after(fake):
    fake.queued['/new-order'] = [(503, {'Retry-After': '2'}, ''), (503, {'Retry-After': '1'}, '')]
    _authz(fake)
    provider = make_provider(fake)
    provider.create_order(SPEC, 'csr')
    assert provider.sleeps == [2.0, 1.0]


def test_long_rate_limit_fails_at_once_with_the_wait_in_the_message(fake):
    fake.queued['/new-order'] = [problem('rateLimited', 'too many certificates', 429, **{'Retry-After': '3600'})]
    provider = make_provider(fake)
    with pytest.raises(CertflowError) as error:
        provider.create_order(SPEC, 'csr')
    assert 'urn:ietf:params:acme:error:rateLimited' in error.value.msg
    assert 'too many certificates' in error.value.msg
    assert 'retry after 3600 seconds' in error.value.msg
    assert provider.sleeps == []


def test_short_rate_limit_is_waited_out(fake):
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
    fake.queued['/new-order'] = [problem('rateLimited', 'slow down', 429, **{'Retry-After': later.strftime('%a, %d %b %Y %H:%M:%S GMT')})]
    _authz(fake)
    provider = make_provider(fake)
    provider.create_order(SPEC, 'csr')
    assert len(provider.sleeps) == 1 and 3.0 <= provider.sleeps[0] <= 5.0


def test_retry_after_beyond_the_deadline_is_not_slept(fake):
    fake.queued['/new-order'] = [(503, {'Retry-After': '600'}, '')]
    provider = make_provider(fake, timeout=30.0)
    with pytest.raises(CertflowError, match='HTTP 503'):
        provider.create_order(SPEC, 'csr')
    assert provider.sleeps == []


def test_other_problems_become_clear_errors_without_retry(fake):
    fake.queued['/new-order'] = [(400, {'Content-Type': PROBLEM}, {
        'type': acme_errors.ERROR_NS + 'rejectedIdentifier', 'detail': 'Error creating new order',
        'subproblems': [{'type': acme_errors.ERROR_NS + 'rejectedIdentifier', 'detail': 'forbidden by policy',
                         'identifier': {'type': 'dns', 'value': 'www.example.test'}}]})]
    provider = make_provider(fake)
    with pytest.raises(CertflowError) as error:
        provider.create_order(SPEC, 'csr')
    msg = error.value.msg
    assert 'urn:ietf:params:acme:error:rejectedIdentifier' in msg
    assert 'Error creating new order' in msg and 'forbidden by policy' in msg and 'www.example.test' in msg
    assert BASE + '/new-order' in msg
    assert error.value.details['problem_type'] == acme_errors.ERROR_NS + 'rejectedIdentifier'
    assert fake.paths().count('/new-order') == 1


def test_error_without_problem_document(fake):
    fake.queued['/new-order'] = [(500, {'Content-Type': 'text/html'}, '<h1>oops</h1>')]
    provider = make_provider(fake)
    with pytest.raises(CertflowError, match='500.*oops'):
        provider.create_order(SPEC, 'csr')


def test_connection_errors_are_retried_with_backoff(fake):
    fake.queued['/new-order'] = [TransportError(ConnectionError('reset by peer'))]
    _authz(fake)
    # the account's order list is looked at before newOrder is sent again: the CA made no order
    fake.handlers['/acct/1'] = lambda r, p, b: (200, {}, {'status': 'valid', 'orders': BASE + '/orders/1'})
    fake.handlers['/orders/1'] = lambda r, p, b: (200, {}, {'orders': []})
    provider = make_provider(fake)
    provider.create_order(SPEC, 'csr')
    assert len(provider.sleeps) == 1
    assert fake.paths().count('/new-order') == 2
    assert fake.paths('HEAD') == ['/nonce', '/nonce']          # the lost request's nonce is gone


def test_connection_errors_give_up_after_a_few_tries(fake):
    fake.queued['/dir'] = [TransportError(ConnectionError('refused'))] * 10
    provider = make_provider(fake)
    with pytest.raises(CertflowError, match='cannot reach ACME server https://ca.test/dir'):
        provider.create_order(SPEC, 'csr')
    assert fake.paths().count('/dir') == acme_client.CONNECTION_RETRIES + 1


def test_tls_trust_is_the_named_bundle_or_none(tmp_path, monkeypatch):
    # REQUESTS_CA_BUNDLE must not override an explicit acme.ca_bundle (nor validate_certs: false).
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', '/nonexistent/bundle.pem')
    bundle = tmp_path / 'ca.pem'
    bundle.write_text('not read until a connection is made')
    provider = AcmeProvider({'directory': DIRECTORY, 'ca_bundle': str(bundle)}, ProviderContext(timeout=5))
    assert provider.client.http._tls == {'cert_reqs': 'CERT_REQUIRED', 'ca_certs': str(bundle)}
    provider = AcmeProvider({'directory': DIRECTORY, 'validate_certs': False}, ProviderContext(timeout=5))
    assert provider.client.http._tls == {'cert_reqs': 'CERT_NONE'}
    provider = AcmeProvider({'directory': DIRECTORY}, ProviderContext(timeout=5))
    assert provider.client.http._tls == {'cert_reqs': 'CERT_REQUIRED', 'ca_certs': '/nonexistent/bundle.pem'}


def test_deadline_stops_requests(fake):
    provider = make_provider(fake, timeout=0.0)
    with pytest.raises(CertflowError, match='timed out'):
        provider.create_order(SPEC, 'csr')


# -------------------------------------------------------------- seam behaviour

def test_quota_and_find_order_make_no_request(fake):
    provider = make_provider(fake)
    assert provider.quota() == {'unlimited': True, 'total': None, 'used': None, 'issued': None, 'remaining': None}
    assert provider.find_order(SPEC) is None
    assert fake.calls == []


def test_validation_acme_does_not_offer_is_refused_before_any_request(fake):
    provider = make_provider(fake)
    with pytest.raises(CertflowError, match="the acme provider validates with 'dns', 'dns_account', 'dns_persist' or 'http', not 'email'"):
        provider.create_order(CertificateRequest({'name': 'www', 'domains': ['www.example.test'], 'validation': 'email'}), 'csr')
    assert fake.calls == []


def test_the_order_takes_the_request_unchanged(fake):
    """The request's identifiers (normalised where it was built) are the order's,
    and they are what newOrder is sent: the provider does not normalise again."""
    request = CertificateRequest({'name': 'www', 'domains': ['WWW.Example.TEST.', 'bücher.example.test'], 'validation': 'http'})
    identifiers = [dict(i) for i in request.identifiers]
    sent = []
    fake.handlers['/new-order'] = lambda r, p, b: sent.append(b) or (201, {'Location': BASE + '/order/1'}, {
        'status': 'pending', 'identifiers': b['identifiers'], 'authorizations': [], 'finalize': BASE + '/order/1/finalize'})
    order = make_provider(fake).create_order(request, 'csr')
    assert order['identifiers'] == identifiers == [{'type': 'dns', 'value': 'www.example.test'},
                                                   {'type': 'dns', 'value': 'xn--bcher-kva.example.test'}]
    assert order['validation'] == 'http'
    assert request.identifiers == identifiers
    assert [payload['identifiers'] for payload in sent] == [identifiers]


def test_no_key_and_no_store(fake):
    provider = AcmeProvider({'directory': DIRECTORY}, ProviderContext())
    provider.client.http = fake
    with pytest.raises(CertflowError, match='no account key: set acme.account_key_src or a store_dir'):
        provider.create_order(SPEC, 'csr')


def test_generated_account_is_stored_and_reused(fake, tmp_path):
    _authz(fake)
    store = Store(str(tmp_path))
    first = make_provider(fake, store=store)
    first.create_order(SPEC, 'csr')
    account_dir = store.account_dir(DIRECTORY)
    key_path = os.path.join(account_dir, 'account.key')
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    cached = json.load(open(os.path.join(account_dir, 'account.json')))
    assert cached['url'] == BASE + '/acct/1'
    fake.calls.clear()
    second = make_provider(fake, store=store)
    second.create_order(SPEC, 'csr')
    assert '/new-acct' not in fake.paths()
    assert all(p['kid'] == BASE + '/acct/1' for _m, _path, p, _v in fake.calls if p)


def test_unknown_cached_account_is_registered_again(fake, tmp_path):
    _authz(fake)
    store = Store(str(tmp_path))
    make_provider(fake, store=store).create_order(SPEC, 'csr')
    fake.accounts.clear()                                    # the CA forgot us (e.g. a test CA restarted)
    fake.queued['/new-order'] = [problem('accountDoesNotExist', 'Account not found', 400)]
    fake.calls.clear()
    make_provider(fake, store=store).create_order(SPEC, 'csr')
    assert fake.paths('POST') == ['/new-order', '/new-acct', '/new-order', '/authz/1']


def test_poll_invalid_order_explains_the_failed_challenge(fake):
    _authz(fake)
    provider = make_provider(fake)
    order = provider.create_order(SPEC, 'csr')
    fake.handlers['/order/1'] = lambda r, p, b: (200, {}, {'status': 'invalid', 'authorizations': [BASE + '/authz/1'],
                                                           'finalize': BASE + '/order/1/finalize'})
    fake.handlers['/authz/1'] = lambda r, p, b: (200, {}, {
        'status': 'invalid', 'identifier': {'type': 'dns', 'value': 'www.example.test'},
        'challenges': [{'type': 'http-01', 'url': BASE + '/chall/1', 'token': 'tok', 'status': 'invalid',
                        'error': {'type': acme_errors.ERROR_NS + 'unauthorized', 'detail': 'Invalid response: 404'}}]})
    status, retry_after = provider.poll(order)
    assert status == 'failed' and order['status'] == 'failed'
    assert 'www.example.test' in order['error']
    assert 'urn:ietf:params:acme:error:unauthorized' in order['error'] and 'Invalid response: 404' in order['error']
    assert retry_after is None


def test_poll_returns_retry_after_and_finalizes_ready_order(fake):
    _authz(fake)
    provider = make_provider(fake)
    key = _crypto.generate_private_key('ec256')
    csr_pem = _crypto.build_csr(key, ['www.example.test'])
    order = provider.create_order(SPEC, csr_pem)
    fake.handlers['/order/1'] = lambda r, p, b: (200, {'Retry-After': '3'}, {'status': 'ready', 'finalize': BASE + '/order/1/finalize'})
    seen = {}

    def finalize(request, protected, payload):
        seen['csr'] = payload['csr']
        return 200, {'Retry-After': '1'}, {'status': 'processing', 'finalize': BASE + '/order/1/finalize'}
    fake.handlers['/order/1/finalize'] = finalize
    assert provider.poll(order) == ('processing', 1.0)
    assert _jws.b64u_decode(seen['csr']) == _crypto.csr_to_der(csr_pem)
    fake.handlers['/order/1'] = lambda r, p, b: (200, {}, {'status': 'valid', 'certificate': BASE + '/cert/1'})
    assert provider.poll(order) == ('issued', None)
    assert order['provider_data']['certificate_url'] == BASE + '/cert/1'


def _authz(fake):
    fake.handlers['/authz/1'] = lambda r, p, b: (200, {}, {
        'status': 'pending', 'identifier': {'type': 'dns', 'value': 'www.example.test'},
        'challenges': [{'type': 'http-01', 'url': BASE + '/chall/1', 'token': 'tok', 'status': 'pending'}]})


def test_http01_for_an_ipv6_address_uses_brackets(fake):
    fake.handlers['/authz/1'] = lambda r, p, b: (200, {}, {
        'status': 'pending', 'identifier': {'type': 'ip', 'value': '2001:db8::1'},
        'challenges': [{'type': 'http-01', 'url': BASE + '/chall/1', 'token': 'tok_-1', 'status': 'pending'}]})
    provider = make_provider(fake)
    order = provider.create_order(CertificateRequest({'name': 'www', 'ip_addresses': ['2001:0db8:0:0::1'], 'validation': 'http'}), 'csr')
    assert order['identifiers'] == [{'type': 'ip', 'value': '2001:db8::1'}]
    (challenge,) = order['challenges']
    assert challenge['url'] == 'http://[2001:db8::1]/.well-known/acme-challenge/tok_-1'
    assert challenge['file_content'] == 'tok_-1.' + _jws.thumbprint(provider.account.jwk)


def test_a_token_that_could_escape_the_webroot_is_refused(fake):
    fake.handlers['/authz/1'] = lambda r, p, b: (200, {}, {
        'status': 'pending', 'identifier': {'type': 'dns', 'value': 'www.example.test'},
        'challenges': [{'type': 'http-01', 'url': BASE + '/chall/1', 'token': '../../etc/passwd', 'status': 'pending'}]})
    with pytest.raises(CertflowError, match='unusable http-01 token'):
        make_provider(fake).create_order(SPEC, 'csr')


def test_alternate_links_are_all_found():
    headers = HTTPHeaderDict()
    headers.add('Link', '<https://ca.test/dir>;rel="index", <https://ca.test/cert/1/alternate/1>;rel="alternate"')
    headers.add('Link', '<https://ca.test/cert/1/alternate/2>; rel="alternate"')
    response = Answer(200, headers)
    assert acme_orders.alternate_links(response) == ['https://ca.test/cert/1/alternate/1', 'https://ca.test/cert/1/alternate/2']


def test_links_by_relation_like_requests():
    headers = HTTPHeaderDict()
    headers.add('Link', '<https://ca.test/orders?cursor=2>;rel="next"')
    headers.add('Link', '<https://ca.test/dir>;rel="index"')
    links = Answer(200, headers).links
    assert links['next']['url'] == 'https://ca.test/orders?cursor=2' and links['index']['url'] == 'https://ca.test/dir'
    assert Answer(200, {}).links == {}
