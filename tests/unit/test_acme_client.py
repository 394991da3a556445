# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ACME transport (_ca/acme/client.py) on its own, against a scripted fake
server mounted on its session: the one retry loop (503, badNonce, Retry-After
within the deadline, giving up) and the nonce pool shared by a run's workers."""

import json
from types import SimpleNamespace

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import client as acme_client
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import jws as _jws
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.errors import BAD_NONCE, ERROR_NS
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import ProviderContext
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._http import Answer, TransportError

BASE = 'https://ca.test'
DIRECTORY = {'newNonce': BASE + '/nonce', 'newAccount': BASE + '/new-acct', 'newOrder': BASE + '/new-order'}
KEY = _crypto.generate_private_key('ec256')


class ScriptedServer:
    """Answers from a script per path (then 200 {}); every answer but the
    directory's brings a fresh Replay-Nonce; records the nonce of each POST."""

    def __init__(self):
        self.script = {}           # path -> [(status, headers, body) or exception, ...]
        self.calls = []            # (method, path, nonce or None)
        self.counter = 0

    def request(self, method, url, body=None, headers=None, timeout=None):
        request = SimpleNamespace(method=method, url=url, body=body, headers=headers or {})
        path = request.url[len(BASE):]
        nonce = None
        if request.method == 'POST':
            nonce = json.loads(_jws.b64u_decode(json.loads(request.body)['protected']))['nonce']
        self.calls.append((request.method, path, nonce))
        if path == '/dir':
            result = (200, {}, DIRECTORY)
        elif self.script.get(path):
            result = self.script[path].pop(0)
        else:
            result = (200, {}, {})
        if isinstance(result, Exception):
            raise result
        status, headers, body = result
        headers = dict(headers)
        if path != '/dir':
            self.counter += 1
            headers['Replay-Nonce'] = 'nonce-%d' % self.counter
        content = json.dumps(body).encode() if isinstance(body, dict) else body.encode()
        return Answer(status, headers, content, 'OK' if status < 400 else 'Error', url)

    def close(self):
        pass

    def paths(self, method):
        return [path for m, path, _n in self.calls if m == method]


def make_client(server, timeout=60.0, shared=None, clock=None):
    client = acme_client.AcmeClient({'directory': BASE + '/dir'}, ProviderContext(timeout=timeout, shared=shared))
    client.http = server
    client.sleeps = []
    if clock is None:
        client._sleep = client.sleeps.append
    else:                          # sleeping moves the deadline's clock on
        client.deadline._clock = clock.now
        client.deadline.end = clock.now() + timeout

        def sleep(seconds):
            client.sleeps.append(seconds)
            clock.t += seconds
        client._sleep = sleep
    return client


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def now(self):
        return self.t


def post(client, url=BASE + '/new-order', payload=None, **kwargs):
    return client.post(url, payload or {}, lambda: (KEY, BASE + '/acct/1'), **kwargs)


def problem(ptype, status=400, **headers):
    return status, headers, {'type': ERROR_NS + ptype, 'detail': ptype + ' detail'}


@pytest.fixture
def server():
    return ScriptedServer()


# ---------------------------------------------------------------- the retry loop

def test_503_then_200_is_retried_with_backoff(server):
    server.script['/new-order'] = [(503, {}, ''), (503, {}, '')]
    client = make_client(server)
    assert post(client).status_code == 200
    assert server.paths('POST') == ['/new-order'] * 3
    assert client.sleeps == [0.5, 1.0]           # no Retry-After: growing back-off


def test_503_on_the_directory_is_retried_too(server):
    server.script['/nonce'] = [(503, {'Retry-After': '1'}, '')]
    client = make_client(server)
    post(client)
    assert server.paths('HEAD') == ['/nonce', '/nonce']
    assert client.sleeps == [1.0]


def test_bad_nonce_is_retried_at_once_with_the_nonce_of_the_error(server):
    server.script['/new-order'] = [problem('badNonce'), problem('badNonce')]
    client = make_client(server)
    post(client)
    nonces = [n for _m, path, n in server.calls if path == '/new-order']
    assert len(nonces) == 3 and len(set(nonces)) == 3
    assert server.paths('HEAD') == ['/nonce']     # only the first nonce was asked for
    assert client.sleeps == []


def test_bad_nonce_retries_end_with_the_problem(server):
    server.script['/new-order'] = [problem('badNonce')] * (acme_client.BAD_NONCE_RETRIES + 5)
    client = make_client(server)
    with pytest.raises(CertflowError) as caught:
        post(client)
    assert caught.value.details['problem_type'] == BAD_NONCE
    assert server.paths('POST').count('/new-order') == acme_client.BAD_NONCE_RETRIES + 1


def test_retry_after_is_honoured_but_never_beyond_the_deadline(server):
    clock = FakeClock()
    server.script['/new-order'] = [(503, {'Retry-After': '20'}, ''), (503, {'Retry-After': '20'}, ''),
                                   (503, {'Retry-After': '20'}, '')]
    client = make_client(server, timeout=50.0, clock=clock)
    with pytest.raises(CertflowError) as caught:
        post(client)
    # 20 + 20 seconds waited; the third 20 would end after the deadline: not slept, the server's answer is the error
    assert client.sleeps == [20.0, 20.0]
    assert caught.value.msg == ('ACME server refused https://ca.test/new-order: about:blank: 503 Error (HTTP 503); '
                                'the server asks to retry after 20 seconds')


def test_busy_server_is_given_up_after_a_few_answers_with_a_clear_error(server):
    server.script['/new-order'] = [(503, {'Retry-After': '1'}, '')] * 10
    client = make_client(server)
    with pytest.raises(CertflowError, match=r'ACME server refused https://ca.test/new-order: .*HTTP 503.*retry after 1 seconds'):
        post(client)
    assert server.paths('POST').count('/new-order') == acme_client.BUSY_RETRIES + 1


def test_a_rate_limit_past_the_longest_wait_is_not_waited(server):
    server.script['/new-order'] = [problem('rateLimited', 429, **{'Retry-After': str(int(acme_client.MAX_RATE_LIMIT_WAIT) + 1)})]
    client = make_client(server)
    with pytest.raises(CertflowError, match='rateLimited'):
        post(client)
    assert client.sleeps == []


def test_connection_errors_end_in_cannot_reach(server):
    server.script['/new-order'] = [TransportError(ConnectionError('refused'))] * 10
    client = make_client(server)
    with pytest.raises(CertflowError, match='cannot reach ACME server https://ca.test/new-order: refused'):
        post(client)
    assert server.paths('POST').count('/new-order') == acme_client.CONNECTION_RETRIES + 1
    assert client.sleeps == [0.5, 1.0, 2.0]


def test_other_problems_go_to_on_problem_and_are_retried_when_it_fixed_them(server):
    server.script['/new-order'] = [problem('accountDoesNotExist'), problem('accountDoesNotExist')]
    seen = []

    def fix_once(problem_document):
        seen.append(problem_document['type'])
        return len(seen) == 1
    client = make_client(server)
    with pytest.raises(CertflowError, match='accountDoesNotExist'):
        post(client, on_problem=fix_once)
    assert seen == [ERROR_NS + 'accountDoesNotExist'] * 2
    assert server.paths('POST') == ['/new-order', '/new-order']


# ---------------------------------------------------------------- the nonce pool

def test_each_answer_brings_the_nonce_of_the_next_request(server):
    client = make_client(server)
    for _attempt in range(3):
        post(client)
    assert server.paths('HEAD') == ['/nonce']
    assert [n for _m, _p, n in server.calls if n] == ['nonce-1', 'nonce-2', 'nonce-3']


def test_the_pool_keeps_only_the_newest_nonces(server):
    client = make_client(server)
    for _attempt in range(acme_client.MAX_CACHED_NONCES + 8):
        client._retrying('HEAD', BASE + '/nonce', lambda: client._request('HEAD', BASE + '/nonce'))
    assert len(client._nonces) == acme_client.MAX_CACHED_NONCES
    assert client._nonces[-1] == 'nonce-%d' % (acme_client.MAX_CACHED_NONCES + 8)


def test_workers_of_one_run_share_the_directory_and_the_nonces(server):
    shared = {}
    first, second = make_client(server, shared=shared), make_client(server, shared=shared)
    post(first)
    post(second)                                  # takes the nonce the first one's answer brought
    assert server.paths('GET') == ['/dir']
    assert server.paths('HEAD') == ['/nonce']
    other_run = make_client(server)
    post(other_run)
    assert server.paths('GET') == ['/dir', '/dir'] and server.paths('HEAD') == ['/nonce', '/nonce']


def test_a_nonce_not_sent_is_given_back_to_the_count(server):
    client = make_client(server)
    post(client)

    def broken_signer():
        raise CertflowError('no key')
    with pytest.raises(CertflowError, match='no key'):
        client.post(BASE + '/new-order', {}, broken_signer)
    shared = client._shared
    assert shared.in_flight == 0 and shared.asking == 0 and len(client._nonces) == 1

    class Unsignable:
        pass
    with pytest.raises(Exception):
        client.post(BASE + '/new-order', {}, lambda: (Unsignable(), None))
    assert shared.in_flight == 0 and client._nonces == []   # taken, never sent: nothing under way
