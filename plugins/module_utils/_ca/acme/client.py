# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ACME transport: keep-alive HTTP (module_utils/_http.py), the directory, the nonce pool, JWS-signed POSTs, and the retry loop."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import threading
import time
from urllib.parse import urlsplit

from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import jws as _jws
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.errors import (
    BAD_NONCE, RATE_LIMITED, problem_error, problem_of, retry_after_of, unreachable_error)
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline, backoff
from ansible_collections.certflow.ssl.plugins.module_utils._http import Pools, TransportError

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
# A badNonce retry costs one round trip and the deadline bounds them anyway. 10 was
# too few: a CA rejecting half of all nonces (PEBBLE_WFE_NONCEREJECT=50) fails one
# of ~170 requests that way about once in 12 runs (tests/integration/test_faults_ca.py).
BAD_NONCE_RETRIES = 30
BUSY_RETRIES = 5            # 503 / short rate limits
CONNECTION_RETRIES = 3
MAX_RATE_LIMIT_WAIT = 60.0  # a rateLimited answer is only waited out when it is this short
MAX_CACHED_NONCES = 32
NONCE_WAIT = 0.5            # longest wait for the nonce of an answer under way before asking newNonce for one
NONCE_PARALLEL = 2          # nonces kept in circulation between the workers of a run (requests at once)
POOL_SIZE = 16              # keep-alive connections kept per host for the workers of a run
USER_AGENT = 'certflow.ssl-acme/1.0 (+urllib3)'


class _SharedState:
    """What the providers of one run (one per worker thread) share for one ACME
    directory: the directory itself (read once per run), the pool of unused
    nonces and the keep-alive connections. A nonce is not bound to a
    connection, so any worker may use the nonce another worker's answer
    brought; a worker that finds the pool empty while answers are under way
    waits for one of those instead of spending a newNonce request, so a run
    asks newNonce about NONCE_PARALLEL times, however many workers it has, and
    needs about as many connections (urllib3's pool is thread-safe)."""

    def __init__(self):
        self.pools = {}             # TLS setting -> the keep-alive Pools every worker uses
        self.lock = threading.Lock()
        self.nonce_ready = threading.Condition(self.lock)
        self.nonces = []
        self.in_flight = 0          # requests under way whose answers bring a nonce to the pool
        self.waiting = 0            # workers waiting for one of those answers
        self.asking = 0             # workers that decided to ask newNonce and have no answer yet
        self.directory = None
        self.directory_lock = threading.Lock()


_SHARED_GUARD = threading.Lock()


def _shared_state(context, directory_url):
    registry = getattr(context, 'shared', None)
    if registry is None:            # a provider on its own (tests, single calls)
        return None
    with _SHARED_GUARD:
        state = registry.get(('acme', directory_url))
        if state is None:
            state = registry[('acme', directory_url)] = _SharedState()
        return state


def json_object(response, url):
    """The JSON object of an answer; anything else is an error naming ``url``."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise CertflowError('ACME server sent no JSON object from %s (HTTP %s)' % (url, response.status_code), url=url)
    return data


class AcmeClient:
    """Talks to one ACME directory for one worker: ``settings`` is the ``acme:``
    option (directory, ca_bundle, validate_certs, eab_hmac_key are read here),
    ``context`` the ProviderContext (deadline, log, warn, shared state)."""

    def __init__(self, settings, context):
        self.settings = settings
        self.context = context
        self.directory_url = (settings.get('directory') or '').strip()
        if not self.directory_url:
            raise CertflowError('acme.directory is required (the URL of the ACME directory, e.g. '
                                'https://acme-v02.api.letsencrypt.org/directory)')
        self._check_transport()
        self.verify = self._verify_setting()
        timeout = context.timeout
        self.deadline = Deadline(300.0 if timeout is None else float(timeout))
        shared = _shared_state(context, self.directory_url)
        self._owns_http = shared is None
        self._shared = _SharedState() if shared is None else shared
        with _SHARED_GUARD:
            self.http = self._shared.pools.get(self.verify)
            if self.http is None:
                self.http = self._shared.pools[self.verify] = Pools(self.verify, maxsize=POOL_SIZE, user_agent=USER_AGENT)
        self.request_count = 0
        self._sleep = time.sleep
        self._count_lock = threading.Lock()
        self._nonces = self._shared.nonces      # guarded by self._shared.lock
        self._directory = None

    def _check_transport(self):
        """Plain HTTP and unchecked TLS stay possible (Pebble, labs) but are said on
        every run; the EAB key never goes where anyone on the way can read it."""
        scheme = urlsplit(self.directory_url).scheme.lower()
        if scheme not in ('http', 'https'):
            raise CertflowError('acme.directory %s is not an http(s):// URL' % self.directory_url)
        if scheme == 'http':
            if self.settings.get('eab_hmac_key'):
                raise CertflowError('acme.eab_hmac_key is not sent over plain HTTP: the ACME directory %s is http://; '
                                    'use its https:// URL' % self.directory_url)
            self.warn('ACME directory %s is plain HTTP: the requests and answers can be read and changed on the way; '
                      'use https://' % self.directory_url)
        elif self.settings.get('validate_certs') is False and not self.settings.get('ca_bundle'):
            self.warn("acme.validate_certs is false: the ACME server's identity is not checked (%s)" % self.directory_url)

    def _verify_setting(self):
        """The CA bundle file, True (the default bundle) or False."""
        ca_bundle = self.settings.get('ca_bundle')
        if ca_bundle:
            ca_bundle = os.path.expanduser(ca_bundle)
            if not os.path.isfile(ca_bundle):
                raise CertflowError('acme.ca_bundle %s does not exist or is not a file' % ca_bundle)
            return ca_bundle
        validate = self.settings.get('validate_certs')
        if validate is not None and not validate:
            return False
        # As requests would: a CA bundle named in the environment.
        return os.environ.get('REQUESTS_CA_BUNDLE') or os.environ.get('CURL_CA_BUNDLE') or True

    def close(self):
        # Pools shared with the run's other workers stay open for them.
        if self._owns_http:
            self.http.close()

    # ------------------------------------------------------------ what the run is told
    def log(self, msg):
        try:
            self.context.log(msg)
        except Exception:  # logging must never break a request
            pass

    def warn(self, msg):
        try:
            getattr(self.context, 'warn', self.context.log)(msg)
        except Exception:  # a warning must never break a request
            pass

    # ------------------------------------------------------------ one exchange
    def _timeout(self, url):
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise CertflowError('timed out after %ss talking to the ACME server (last request: %s)' % (self.deadline.seconds, url))
        return (min(CONNECT_TIMEOUT, remaining), min(READ_TIMEOUT, remaining))

    def _pause(self, seconds):
        seconds = max(0.0, min(float(seconds), self.deadline.remaining()))
        if seconds:
            self._sleep(seconds)

    def _request(self, method, url, body=None, headers=None, counted=False):
        """One HTTP exchange; TLS failures are final, other TransportErrors are raised for the caller's retry.
        ``counted``: under way since _take_nonce handed out its nonce."""
        shared = self._shared
        brings_nonce = counted or method in ('POST', 'HEAD')   # the directory (GET) brings none
        if brings_nonce and not counted:
            with shared.lock:
                shared.in_flight += 1
        response = None
        try:
            timeout = self._timeout(url)
            with self._count_lock:
                self.request_count += 1
            try:
                response = self.http.request(method, url, body=body, headers=headers, timeout=timeout)
            except TransportError as exc:
                if exc.tls:
                    raise CertflowError('TLS connection to ACME server %s failed: %s (check acme.ca_bundle / acme.validate_certs)'
                                        % (url, exc), url=url)
                raise
        finally:
            with shared.lock:
                shared.in_flight -= brings_nonce
                if response is not None:
                    self._keep_nonce_locked(response)
                # every waiter looks again: one takes the nonce, the others wait on or ask for one
                shared.nonce_ready.notify_all()
        return response

    # ------------------------------------------------------------ the retry loop
    def _retrying(self, method, url, attempt, on_problem=None, on_lost=None):
        """``attempt()`` (one exchange) until an answer below 400, within the
        deadline: connection errors and timeouts a few times with back-off,
        badNonce of a signed request (the error answer brought a fresh nonce),
        503 and short rate limits as long as the server asks (Retry-After).
        ``on_problem(problem)`` may fix another problem and return True to try
        again. ``on_lost()``, after a connection error or timeout (the server
        may have acted on a request whose answer never came), may find what
        the request made and return True: None is returned then instead of
        sending it again. Anything else is raised as a CertflowError naming the problem."""
        delays = backoff(initial=0.5, factor=2.0, maximum=8.0)
        failures = busy = bad_nonces = 0
        while True:
            try:
                response = attempt()
            except TransportError as exc:
                failures += 1
                if failures > CONNECTION_RETRIES or self.deadline.expired():
                    raise unreachable_error(url, exc, self.deadline)
                self.log('ACME %s %s: %s; retrying' % (method, url, exc))
                self._pause(next(delays))
                if on_lost is not None and on_lost():
                    return None
                continue
            if response.status_code < 400:
                return response
            problem = problem_of(response)
            if method == 'POST' and problem.get('type') == BAD_NONCE and bad_nonces < BAD_NONCE_RETRIES:
                bad_nonces += 1
                self.log('ACME POST %s: badNonce, retrying with the fresh nonce' % url)
                continue
            if on_problem is not None and on_problem(problem):
                continue
            wait = self._busy_wait(response, problem, busy)
            if wait is None:
                raise problem_error(problem, url, response)
            busy += 1
            self.log('ACME %s %s: HTTP %s, waiting %.1fs' % (method, url, response.status_code, wait))
            self._pause(wait)

    def _busy_wait(self, response, problem, attempts):
        """Seconds to wait before retrying a 503 / short rate limit, or None to give up."""
        if attempts >= BUSY_RETRIES:
            return None
        retry_after = retry_after_of(response)
        if response.status_code == 503:
            wait = retry_after if retry_after is not None else min(8.0, 0.5 * (2 ** attempts))
        elif response.status_code == 429 or problem.get('type') == RATE_LIMITED:
            if retry_after is None or retry_after > MAX_RATE_LIMIT_WAIT:
                return None
            wait = retry_after
        else:
            return None
        if wait > self.deadline.remaining():
            return None
        return wait

    # ------------------------------------------------------------ nonces
    def _keep_nonce_locked(self, response):
        nonce = response.headers.get('Replay-Nonce')
        if nonce:
            self._nonces.append(nonce)
            del self._nonces[:-MAX_CACHED_NONCES]

    def _take_nonce(self):
        shared = self._shared
        while True:
            with shared.lock:
                # Wait for the nonce of an answer under way (it comes in less than
                # the round trip newNonce costs) while one is due for this worker,
                # or while NONCE_PARALLEL requests are under way already.
                while not self._nonces:
                    coming = shared.in_flight + shared.asking
                    if not coming or (shared.waiting >= coming and coming < NONCE_PARALLEL):
                        break
                    shared.waiting += 1
                    try:
                        woken = shared.nonce_ready.wait(NONCE_WAIT)
                    finally:
                        shared.waiting -= 1
                    if not woken:
                        break
                if self._nonces:
                    # Under way from now on: the answer to the request it is for brings the next one.
                    shared.in_flight += 1
                    return self._nonces.pop()
                shared.asking += 1
            try:
                url = self.directory()['newNonce']
                response = self._retrying('HEAD', url, lambda: self._request('HEAD', url))
            finally:
                with shared.lock:
                    shared.asking -= 1
                    shared.nonce_ready.notify_all()
            if not response.headers.get('Replay-Nonce'):
                raise CertflowError('ACME server gave no Replay-Nonce at %s' % url, url=url)
            # Its nonce is in the pool now: take it, or the next one when a waiting worker was quicker.

    def _nonce_unused(self):
        """A nonce from _take_nonce that no request will carry after all."""
        with self._shared.lock:
            self._shared.in_flight -= 1
            self._shared.nonce_ready.notify_all()

    # ------------------------------------------------------------ resources
    def directory(self):
        """The directory object (read once per run and directory)."""
        if self._directory is None:
            shared = self._shared
            with shared.directory_lock:     # the workers of a run read it once
                if shared.directory is None:
                    shared.directory = self._read_directory()
            self._directory = shared.directory
        return self._directory

    def _read_directory(self):
        url = self.directory_url
        response = self._retrying('GET', url, lambda: self._request('GET', url))
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ('newNonce', 'newAccount', 'newOrder')):
            raise CertflowError('%s is not an ACME directory (no newNonce/newAccount/newOrder URLs)' % url, url=url)
        return data

    def get(self, url):
        """An unsigned GET (ARI's renewalInfo) through the retry loop, on the pools the run's workers share."""
        return self._retrying('GET', url, lambda: self._request('GET', url))

    def post(self, url, payload, signer, accept=None, on_problem=None, on_lost=None):
        """A JWS-signed POST (``payload=None``: POST-as-GET) through the retry loop.
        ``signer()`` gives ``(key, kid)`` for each attempt (kid None: the JWS carries
        the public key); ``on_problem`` and ``on_lost`` as in _retrying."""
        headers = {'Content-Type': 'application/jose+json'}
        if accept:
            headers['Accept'] = accept

        def attempt():
            key, kid = signer()
            nonce = self._take_nonce()
            try:
                body = _jws.json_bytes(_jws.acme_jws(key, url, payload, nonce, kid=kid))
            except BaseException:
                self._nonce_unused()
                raise
            return self._request('POST', url, body=body, headers=headers, counted=True)
        return self._retrying('POST', url, attempt, on_problem, on_lost)
