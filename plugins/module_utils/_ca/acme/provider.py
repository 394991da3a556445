# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ACME (RFC 8555) CA provider: accounts (with EAB), orders, dns-01/http-01, finalize, download, revocation."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import email.utils
import ipaddress
import json
import os
import re
import threading
import time
from urllib.parse import urlsplit

try:
    import requests
    from requests.adapters import HTTPAdapter
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID
except ImportError:  # reported by the module wrapper (module_utils/_deps.py)
    pass

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import jws as _jws
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import CAProvider, ProviderContext, REVOCATION_REASONS
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline, atomic_write, backoff, read_text

ERROR_NS = 'urn:ietf:params:acme:error:'
BAD_NONCE = ERROR_NS + 'badNonce'
RATE_LIMITED = ERROR_NS + 'rateLimited'
ALREADY_REVOKED = ERROR_NS + 'alreadyRevoked'
ACCOUNT_DOES_NOT_EXIST = ERROR_NS + 'accountDoesNotExist'
ORDER_NOT_READY = ERROR_NS + 'orderNotReady'
TRANSIENT_PROBLEMS = (BAD_NONCE, RATE_LIMITED, ERROR_NS + 'serverInternal')

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
CHALLENGES_FRESH_FOR = 300.0  # challenges read this recently (by create_order) are used without reading them again
USER_AGENT = 'certflow.ssl-acme/1.0 (+python-requests)'

ACCOUNT_KEY_FILE = 'account.key'
ACCOUNT_FILE = 'account.json'
DEFAULT_ACCOUNT_KEY_TYPE = 'ec256'

CHALLENGE_TYPES = {'dns': 'dns-01', 'http': 'http-01'}
ORDER_STATUSES = {'pending': 'pending_validation', 'ready': 'processing', 'processing': 'processing',
                  'valid': 'issued', 'invalid': 'failed'}
_TOKEN_RE = re.compile(r'\A[A-Za-z0-9_-]+\Z')


# ----------------------------------------------------------------- wire helpers

def parse_retry_after(value, now=None):
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date
    (RFC 9110 section 10.2.3). None when absent or unparsable; never negative."""
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def problem_message(problem, url, http_status=None):
    """One readable line for an RFC 7807 problem document returned for ``url``,
    naming the problem type, its detail and every subproblem."""
    ptype = problem.get('type') or 'about:blank'
    detail = problem.get('detail') or problem.get('title') or 'no detail given'
    status = http_status or problem.get('status')
    text = 'ACME server refused %s: %s: %s' % (url, ptype, detail)
    if status:
        text += ' (HTTP %s)' % status
    parts = []
    for sub in problem.get('subproblems') or []:
        if not isinstance(sub, dict):
            continue
        ident = sub.get('identifier') or {}
        label = ident.get('value') or '?'
        parts.append('%s: %s: %s' % (label, sub.get('type') or 'about:blank', sub.get('detail') or 'no detail given'))
    if parts:
        text += '; subproblems: ' + '; '.join(parts)
    return text


def _problem_of(response):
    """The problem document of an error response, or a synthetic one."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and (data.get('type') or data.get('detail')):
        return data
    body = (response.text or '').strip().replace('\n', ' ')
    if len(body) > 200:
        body = body[:200] + '...'
    detail = '%s %s%s' % (response.status_code, response.reason or '', (': ' + body) if body else '')
    return {'type': 'about:blank', 'detail': detail}


def alternate_links(response):
    """URLs of every ``Link: <...>;rel="alternate"`` header (several may be sent)."""
    urls = []
    for value in _header_values(response, 'Link'):
        for link in requests.utils.parse_header_links(value):
            rels = (link.get('rel') or '').split()
            if 'alternate' in rels and link.get('url'):
                urls.append(link['url'])
    return urls


def _header_values(response, name):
    raw = getattr(response, 'raw', None)
    headers = getattr(raw, 'headers', None)
    if headers is not None and hasattr(headers, 'getlist'):
        values = headers.getlist(name)
        if values:
            return values
    value = response.headers.get(name)
    return [value] if value else []


def _issuer_cn(cert):
    attrs = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return attrs[0].value if attrs else ''


def _identifier_host(identifier):
    if identifier.get('type') == 'ip' and ':' in identifier.get('value', ''):
        return '[%s]' % identifier['value']
    return identifier.get('value')


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
        self.adapter = None         # the HTTPAdapter (connection pool) every worker's session uses
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
        return _SharedState()
    with _SHARED_GUARD:
        state = registry.get(('acme', directory_url))
        if state is None:
            state = registry[('acme', directory_url)] = _SharedState()
        return state


class AcmeProvider(CAProvider):
    """RFC 8555 client behind the CAProvider seam."""

    NAME = 'acme'
    OPTION = 'acme'
    ARGUMENT_SPEC = dict(
        directory=dict(type='str', fallback=CAProvider.env('CERTFLOW_ACME_DIRECTORY')),
        account_key_src=dict(type='path', no_log=False, fallback=CAProvider.env('CERTFLOW_ACME_ACCOUNT_KEY_SRC')),
        account_key_content=dict(type='str', no_log=True, fallback=CAProvider.env('CERTFLOW_ACME_ACCOUNT_KEY_CONTENT')),
        account_email=dict(type='str', fallback=CAProvider.env('CERTFLOW_ACME_ACCOUNT_EMAIL')),
        eab_kid=dict(type='str', fallback=CAProvider.env('CERTFLOW_ACME_EAB_KID')),
        eab_hmac_key=dict(type='str', no_log=True, fallback=CAProvider.env('CERTFLOW_ACME_EAB_HMAC_KEY')),
        ca_bundle=dict(type='path', fallback=CAProvider.env('CERTFLOW_ACME_CA_BUNDLE')),
        validate_certs=dict(type='bool', default=True),
        preferred_chain=dict(type='str'),
    )

    def __init__(self, settings, context=None):
        super(AcmeProvider, self).__init__(settings, context or ProviderContext())
        self.directory_url = (self.settings.get('directory') or '').strip()
        if not self.directory_url:
            raise CertflowError('acme.directory is required (the URL of the ACME directory, e.g. '
                                'https://acme-v02.api.letsencrypt.org/directory)')
        self._check_transport()
        ca_bundle = self.settings.get('ca_bundle')
        if ca_bundle:
            ca_bundle = os.path.expanduser(ca_bundle)
            if not os.path.isfile(ca_bundle):
                raise CertflowError('acme.ca_bundle %s does not exist or is not a file' % ca_bundle)
            self.verify = ca_bundle
        else:
            validate = self.settings.get('validate_certs')
            self.verify = True if validate is None else bool(validate)
        if self.verify is True:
            # What requests does with trust_env (off below): a CA bundle named in the environment.
            self.verify = os.environ.get('REQUESTS_CA_BUNDLE') or os.environ.get('CURL_CA_BUNDLE') or True
        timeout = self.context.timeout
        self.deadline = Deadline(300.0 if timeout is None else float(timeout))
        self._shared = _shared_state(self.context, self.directory_url)
        self.session = requests.Session()
        self.session.headers['User-Agent'] = USER_AGENT
        # With trust_env requests scans the whole environment for proxy settings twice
        # on every request; the proxies of each host are looked up once instead (_proxies_for).
        self.session.trust_env = False
        self._proxies = {}
        if getattr(self.context, 'shared', None) is not None:
            with _SHARED_GUARD:
                if self._shared.adapter is None:
                    self._shared.adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
            self.session.mount('https://', self._shared.adapter)
            self.session.mount('http://', self._shared.adapter)
        self.request_count = 0
        self._sleep = time.sleep
        self._lock = threading.RLock()
        self._nonces = self._shared.nonces      # guarded by self._shared.lock
        self._directory = None
        self._account_key = None
        self._account_jwk = None
        self._account_url = None
        self._account_from_cache = False
        self._account_dir = None

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
            self._warn('ACME directory %s is plain HTTP: the requests and answers can be read and changed on the way; '
                       'use https://' % self.directory_url)
        elif self.settings.get('validate_certs') is False and not self.settings.get('ca_bundle'):
            self._warn("acme.validate_certs is false: the ACME server's identity is not checked (%s)" % self.directory_url)

    # ------------------------------------------------------------ seam: cheap
    def quota(self, product=None):
        return {'unlimited': True, 'total': None, 'used': None, 'issued': None, 'remaining': None}

    def find_order(self, spec, exclude=()):
        # ACME has no portable "list my orders"; the store's order.json is how
        # the workflow finds and resumes an order.
        return None

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ------------------------------------------------------------ HTTP layer
    def _log(self, msg):
        try:
            self.context.log(msg)
        except Exception:  # logging must never break a request
            pass

    def _warn(self, msg):
        try:
            getattr(self.context, 'warn', self.context.log)(msg)
        except Exception:  # a warning must never break a request
            pass

    def _timeout(self, url):
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise CertflowError('timed out after %ss talking to the ACME server (last request: %s)' % (self.deadline.seconds, url))
        return (min(CONNECT_TIMEOUT, remaining), min(READ_TIMEOUT, remaining))

    def _pause(self, seconds):
        seconds = max(0.0, min(float(seconds), self.deadline.remaining()))
        if seconds:
            self._sleep(seconds)

    def _request(self, method, url, **kwargs):
        """One HTTP exchange; TLS failures are final, other connection errors are raised as is for the caller's retry."""
        shared = self._shared
        counted = kwargs.pop('counted', False)      # under way since _take_nonce handed out its nonce
        brings_nonce = counted or method in ('POST', 'HEAD')   # the directory (GET) brings none
        if brings_nonce and not counted:
            with shared.lock:
                shared.in_flight += 1
        response = None
        try:
            kwargs['timeout'] = self._timeout(url)
            kwargs['verify'] = self.verify   # on every request: REQUESTS_CA_BUNDLE would override Session.verify
            kwargs['proxies'] = self._proxies_for(url)
            with self._lock:
                self.request_count += 1
            response = self.session.request(method, url, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise CertflowError('TLS connection to ACME server %s failed: %s (check acme.ca_bundle / acme.validate_certs)' % (url, exc),
                                url=url)
        finally:
            with shared.lock:
                shared.in_flight -= brings_nonce
                if response is not None:
                    self._keep_nonce_locked(response)
                # every waiter looks again: one takes the nonce, the others wait on or ask for one
                shared.nonce_ready.notify_all()
        return response

    def _proxies_for(self, url):
        """The environment's proxies for ``url`` (HTTPS_PROXY, NO_PROXY ...), as requests
        finds them, looked up once per scheme and host."""
        key = '/'.join(url.split('/', 3)[:3])     # scheme://host[:port]
        proxies = self._proxies.get(key)
        if proxies is None:
            proxies = self._proxies[key] = requests.utils.get_environ_proxies(url)
        return proxies

    def _request_retrying(self, method, url, **kwargs):
        """_request with bounded retries on connection errors, 503 and short 429."""
        delays = backoff(initial=0.5, factor=2.0, maximum=8.0)
        failures = busy = 0
        while True:
            try:
                response = self._request(method, url, **kwargs)
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                failures += 1
                if failures > CONNECTION_RETRIES or self.deadline.expired():
                    raise self._unreachable(url, exc)
                self._log('ACME %s %s: %s; retrying' % (method, url, exc))
                self._pause(next(delays))
                continue
            if response.status_code < 400:
                return response
            problem = _problem_of(response)
            wait = self._busy_wait(response, problem, busy)
            if wait is None:
                raise self._problem_error(problem, url, response)
            busy += 1
            self._log('ACME %s %s: HTTP %s, waiting %.1fs' % (method, url, response.status_code, wait))
            self._pause(wait)

    def _unreachable(self, url, exc):
        if isinstance(exc, requests.exceptions.Timeout) and self.deadline.expired():
            return CertflowError('timed out after %ss (option timeout) waiting for ACME server %s to answer: %s'
                                 % (int(round(self.deadline.seconds)), url, exc), url=url)
        return CertflowError('cannot reach ACME server %s: %s' % (url, exc), url=url)

    def _busy_wait(self, response, problem, attempts):
        """Seconds to wait before retrying a 503 / short rate limit, or None to give up."""
        if attempts >= BUSY_RETRIES:
            return None
        retry_after = parse_retry_after(response.headers.get('Retry-After'))
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

    def _problem_error(self, problem, url, response=None, prefix=''):
        status = response.status_code if response is not None else None
        msg = problem_message(problem, url, status)
        retry_after = parse_retry_after(response.headers.get('Retry-After')) if response is not None else None
        if retry_after is not None and (status in (429, 503) or problem.get('type') == RATE_LIMITED):
            msg += '; the server asks to retry after %d seconds' % int(retry_after)
        return CertflowError(prefix + msg, url=url, http_status=status, problem_type=problem.get('type'))

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
                url = self._dir()['newNonce']
                response = self._request_retrying('HEAD', url)
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

    def _dir(self):
        if self._directory is None:
            shared = self._shared
            with shared.directory_lock:     # the workers of a run read it once
                if shared.directory is None:
                    shared.directory = self._read_directory()
            self._directory = shared.directory
        return self._directory

    def _read_directory(self):
        response = self._request_retrying('GET', self.directory_url)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in ('newNonce', 'newAccount', 'newOrder')):
            raise CertflowError('%s is not an ACME directory (no newNonce/newAccount/newOrder URLs)' % self.directory_url,
                                url=self.directory_url)
        return data

    def _post(self, url, payload, key=None, use_kid=True, accept=None):
        """A signed POST (``payload=None``: POST-as-GET). Retries badNonce with
        the nonce of the error answer, waits out 503 / short rate limits,
        retries connection errors, re-registers once when a cached account
        URL is unknown to the server."""
        headers = {'Content-Type': 'application/jose+json'}
        if accept:
            headers['Accept'] = accept
        delays = backoff(initial=0.5, factor=2.0, maximum=8.0)
        bad_nonces = busy = failures = 0
        reregistered = False
        while True:
            if use_kid:
                self._ensure_account()
                signing_key, kid = self._account_key, self._account_url
            else:
                signing_key, kid = key or self._load_account_key(), None
            nonce = self._take_nonce()
            try:
                body = _jws.json_bytes(_jws.acme_jws(signing_key, url, payload, nonce, kid=kid))
            except BaseException:
                self._nonce_unused()
                raise
            try:
                response = self._request('POST', url, data=body, headers=headers, counted=True)
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                failures += 1
                if failures > CONNECTION_RETRIES or self.deadline.expired():
                    raise self._unreachable(url, exc)
                self._log('ACME POST %s: %s; retrying' % (url, exc))
                self._pause(next(delays))
                continue
            if response.status_code < 400:
                return response
            problem = _problem_of(response)
            ptype = problem.get('type')
            if ptype == BAD_NONCE and bad_nonces < BAD_NONCE_RETRIES:
                bad_nonces += 1
                self._log('ACME POST %s: badNonce, retrying with the fresh nonce' % url)
                continue
            if ptype == ACCOUNT_DOES_NOT_EXIST and use_kid and self._account_from_cache and not reregistered:
                self._warn('ACME account %s is unknown to the server; registering again' % self._account_url)
                reregistered = True
                with self._lock:
                    self._account_url = None
                    self._account_from_cache = False
                    self._register()
                continue
            wait = self._busy_wait(response, problem, busy)
            if wait is None:
                raise self._problem_error(problem, url, response)
            busy += 1
            self._log('ACME POST %s: HTTP %s, waiting %.1fs' % (url, response.status_code, wait))
            self._pause(wait)

    @staticmethod
    def _json(response, url):
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise CertflowError('ACME server sent no JSON object from %s (HTTP %s)' % (url, response.status_code), url=url)
        return data

    def _get_resource(self, url):
        """POST-as-GET of a JSON resource; returns (data, response)."""
        response = self._post(url, None)
        return self._json(response, url), response

    # --------------------------------------------------------------- account
    def _load_account_key(self):
        with self._lock:
            if self._account_key is not None:
                return self._account_key
            src = self.settings.get('account_key_src')
            content = self.settings.get('account_key_content')
            if src:
                path = os.path.expanduser(src)
                try:
                    pem = read_text(path)
                except (IOError, OSError) as exc:
                    raise CertflowError('cannot read acme.account_key_src %s: %s' % (path, exc.strerror or exc))
                key = _crypto.load_private_key(pem)
            elif content:
                key = _crypto.load_private_key(content)
            else:
                key = self._store_account_key()
            _jws.algorithm(key)  # refuses key types ACME cannot sign with, with a clear message
            self._account_key = key
            self._account_jwk = _jws.jwk(key)
            return key

    def _has_configured_account_key(self):
        if self.settings.get('account_key_src') or self.settings.get('account_key_content'):
            return True
        if self.context.store is None or self.context.check_mode:
            return False
        return os.path.exists(os.path.join(self._store_dir(), ACCOUNT_KEY_FILE))

    def _store_dir(self):
        if self._account_dir is None:
            self._account_dir = self.context.store.account_dir(self.directory_url)
        return self._account_dir

    def _store_account_key(self):
        if self.context.store is None:
            raise CertflowError('no account key: set acme.account_key_src or a store_dir')
        if self.context.check_mode:
            raise CertflowError('no account key: in check mode the ACME account is not created; set acme.account_key_src or run without check mode')
        path = os.path.join(self._store_dir(), ACCOUNT_KEY_FILE)
        if os.path.exists(path):
            try:
                return _crypto.load_private_key(read_text(path))
            except CertflowError as exc:
                raise CertflowError('the stored ACME account key %s cannot be used: %s' % (path, exc.msg))
        key = _crypto.generate_private_key(DEFAULT_ACCOUNT_KEY_TYPE)
        atomic_write(path, _crypto.private_key_to_pem(key), 0o600)
        self._log('created ACME account key %s' % path)
        return key

    def _contact(self):
        email_address = self.settings.get('account_email')
        return ['mailto:%s' % email_address] if email_address else []

    def _read_account_cache(self):
        if self.context.store is None or self.context.check_mode:
            return None
        path = os.path.join(self._store_dir(), ACCOUNT_FILE)
        try:
            data = json.loads(read_text(path))
        except (IOError, OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get('thumbprint') != _jws.thumbprint(self._account_jwk):
            return None
        if data.get('directory') != self.directory_url or not data.get('url'):
            return None
        return data

    def _write_account_cache(self):
        if self.context.store is None or self.context.check_mode:
            return
        data = {'url': self._account_url, 'directory': self.directory_url,
                'thumbprint': _jws.thumbprint(self._account_jwk), 'contact': self._contact()}
        atomic_write(os.path.join(self._store_dir(), ACCOUNT_FILE), json.dumps(data, indent=2, sort_keys=True) + '\n', 0o600)

    def _ensure_account(self):
        """Load the key and find the account URL: from the store's account.json,
        else by newAccount (which returns the existing account for a known key)."""
        with self._lock:
            if self._account_url:
                return self._account_url
            if self.context.store is None or self.context.check_mode:
                return self._find_or_register_account()
            # Workers of one batch (and parallel runs) share the store's account:
            # only one of them may generate its key and register it.
            with self.context.store.account_lock(self.directory_url, timeout=max(self.deadline.remaining(), 1.0)):
                return self._find_or_register_account()

    def _find_or_register_account(self):
        self._load_account_key()
        cached = self._read_account_cache()
        if cached:
            self._account_url = cached['url']
            self._account_from_cache = True
            if cached.get('contact') != self._contact() and self.settings.get('account_email'):
                self._update_contact()
            return self._account_url
        self._register()
        return self._account_url

    def _register(self):
        directory = self._dir()
        url = directory['newAccount']
        meta = directory.get('meta') or {}
        eab_kid, eab_hmac_key = self.settings.get('eab_kid'), self.settings.get('eab_hmac_key')
        if bool(eab_kid) != bool(eab_hmac_key):
            raise CertflowError('external account binding needs both acme.eab_kid and acme.eab_hmac_key')
        if meta.get('externalAccountRequired') and not eab_kid:
            raise CertflowError('ACME server %s requires external account binding: set acme.eab_kid and acme.eab_hmac_key '
                                '(from your CA account)' % self.directory_url)
        if self.context.check_mode:
            payload = {'onlyReturnExisting': True}
        else:
            payload = {'termsOfServiceAgreed': True}
            if self._contact():
                payload['contact'] = self._contact()
            if eab_kid:
                payload['externalAccountBinding'] = _jws.eab_jws(self._account_key, eab_kid, eab_hmac_key, url)
        try:
            response = self._post(url, payload, key=self._account_key, use_kid=False)
        except CertflowError as exc:
            eab_problems = (ERROR_NS + 'unauthorized', ERROR_NS + 'malformed', ERROR_NS + 'badPublicKey')
            if eab_kid and exc.details.get('problem_type') in eab_problems:
                raise CertflowError('%s (check acme.eab_kid and acme.eab_hmac_key)' % exc.msg, **exc.details)
            raise
        account_url = response.headers.get('Location')
        if not account_url:
            raise CertflowError('ACME server sent no account URL (Location) from %s' % url, url=url)
        data = self._json(response, url)
        status = data.get('status', 'valid')
        if status != 'valid':
            raise CertflowError('the ACME account %s is %s; use another account key' % (account_url, status), url=account_url)
        self._account_url = account_url
        self._account_from_cache = False
        self._log('ACME account %s (%s)' % (account_url, 'created' if response.status_code == 201 else 'existing'))
        self._write_account_cache()

    def _update_contact(self):
        if self.context.check_mode:
            return
        self._post(self._account_url, {'contact': self._contact()})
        self._write_account_cache()

    @property
    def account_url(self):
        """The account URL (registers or looks the account up when needed)."""
        return self._ensure_account()

    # ---------------------------------------------------------------- orders
    @staticmethod
    def _identifiers(spec):
        identifiers = []
        for domain in spec.get('domains') or []:
            value = domain.strip().lower().rstrip('.')
            entry = {'type': 'dns', 'value': value}
            if value and entry not in identifiers:
                identifiers.append(entry)
        for ip in spec.get('ip_addresses') or []:
            try:
                value = ipaddress.ip_address(str(ip).strip()).compressed
            except ValueError:
                raise CertflowError('invalid IP address %r' % (ip,))
            entry = {'type': 'ip', 'value': value}
            if entry not in identifiers:
                identifiers.append(entry)
        return identifiers

    @staticmethod
    def _check_validation(spec, identifiers):
        validation = spec.get('validation') or 'http'
        if validation not in CHALLENGE_TYPES:
            raise CertflowError("the acme provider validates with 'dns' or 'http', not %r" % validation)
        wildcards = [i['value'] for i in identifiers if i['value'].startswith('*.')]
        if wildcards and validation != 'dns':
            raise CertflowError('wildcard names need dns validation: %s' % ', '.join(wildcards))
        ips = [i['value'] for i in identifiers if i['type'] == 'ip']
        if ips and validation == 'dns':
            raise CertflowError('IP addresses cannot be validated by DNS (RFC 8738), use http validation: %s' % ', '.join(ips))
        return validation

    def holds(self, order):
        return super(AcmeProvider, self).holds(order) and (order.get('provider_data') or {}).get('directory') == self.directory_url

    def create_order(self, spec, csr_pem, submit=True):
        identifiers = self._identifiers(spec)
        if not identifiers:
            raise CertflowError('certificate %s has no domains or IP addresses' % spec.get('name'))
        validation = self._check_validation(spec, identifiers)
        order = {'provider': self.name, 'order_id': None, 'status': 'created', 'identifiers': identifiers,
                 'validation': validation, 'csr': csr_pem, 'challenges': [], 'error': None,
                 'provider_data': {'directory': self.directory_url}}
        if not submit:
            return order
        return self.submit(order)

    def submit(self, order):
        """newOrder for an order kept locally (``quick_issue: false``); ACME orders
        cost nothing, so creating one is the submission."""
        identifiers = order['identifiers']
        validation = order['validation']
        url = self._dir()['newOrder']
        response = self._post(url, {'identifiers': identifiers})
        order_url = response.headers.get('Location')
        if not order_url:
            raise CertflowError('ACME server sent no order URL (Location) from %s' % url, url=url)
        data = self._json(response, url)
        order['order_id'] = order_url
        order['provider_data'].update({'order_url': order_url, 'account_url': self._account_url})
        self._remember(order, data)
        order['challenges'] = [self._challenge_from(authz, authz_url, validation)
                               for authz_url, authz in self._authorizations(order)]
        order['provider_data']['challenges_read_at'] = time.time()
        order['status'] = self._status_of(order, data)
        if order['status'] == 'failed':
            order['error'] = self._failure(order, data)
        return order

    @staticmethod
    def _remember(order, data):
        provider_data = order['provider_data']
        for field, key in (('finalize', 'finalize_url'), ('authorizations', 'authorizations'),
                           ('certificate', 'certificate_url'), ('expires', 'expires')):
            if data.get(field):
                provider_data[key] = data[field]

    def _authorizations(self, order):
        """[(authz_url, authz), ...] freshly read."""
        result = []
        for authz_url in order['provider_data'].get('authorizations') or []:
            authz, _response = self._get_resource(authz_url)
            result.append((authz_url, authz))
        return result

    def _challenge_from(self, authz, authz_url, validation):
        identifier = authz.get('identifier') or {}
        value = identifier.get('value', '')
        domain = '*.' + value if authz.get('wildcard') and not value.startswith('*.') else value
        base = value[2:] if value.startswith('*.') else value
        wanted = CHALLENGE_TYPES[validation]
        authz_status = authz.get('status')
        offered = authz.get('challenges') or []
        chosen = next((c for c in offered if c.get('type') == wanted), None)
        entry = {'domain': domain, 'type': wanted, 'record_name': None, 'record_type': None, 'record_value': None,
                 'file_path': None, 'file_content': None, 'url': None, 'status': None, 'error': None,
                 'provider_data': {'challenge_url': None, 'authz_url': authz_url, 'identifier_type': identifier.get('type')}}
        if chosen is None:
            if authz_status == 'valid':
                entry['status'] = 'valid'   # authorised earlier (the CA reuses the authorization)
                return entry
            if authz_status in ('invalid', 'deactivated', 'expired', 'revoked'):
                entry['status'] = 'invalid'
                entry['error'] = 'authorization for %s is %s' % (domain, authz_status)
                return entry
            raise CertflowError('ACME server offers no %s challenge for %s (offered: %s)' % (
                wanted, domain, ', '.join(c.get('type', '?') for c in offered) or 'none'))
        entry['provider_data']['challenge_url'] = chosen.get('url')
        if authz_status == 'valid':
            entry['status'] = 'valid'
        elif authz_status in ('invalid', 'deactivated', 'expired', 'revoked'):
            entry['status'] = 'invalid'
        else:
            entry['status'] = chosen.get('status') or 'pending'
        if chosen.get('error'):
            entry['error'] = self._challenge_error(domain, chosen)
        token = chosen.get('token') or ''
        if not _TOKEN_RE.match(token):
            raise CertflowError('ACME server sent an unusable %s token for %s' % (wanted, domain))
        key_auth = _jws.key_authorization(token, self._account_jwk)
        if wanted == 'dns-01':
            entry.update({'record_name': '_acme-challenge.' + base, 'record_type': 'TXT',
                          'record_value': _jws.dns01_txt_value(key_auth)})
        else:
            path = '/.well-known/acme-challenge/' + token
            entry.update({'file_path': path, 'file_content': key_auth,
                          'url': 'http://%s%s' % (_identifier_host(identifier), path)})
        return entry

    @staticmethod
    def _challenge_error(domain, challenge):
        problem = challenge.get('error') or {}
        return 'validation of %s failed (%s): %s: %s' % (
            domain, challenge.get('type'), problem.get('type', 'about:blank'), problem.get('detail', 'no detail given'))

    @staticmethod
    def _all_readied(order):
        challenges = order.get('challenges') or []
        return bool(challenges) and all(
            c.get('status') in ('valid', 'processing') or (c.get('provider_data') or {}).get('readied') for c in challenges)

    def _status_of(self, order, data):
        status = data.get('status')
        if status not in ORDER_STATUSES:
            raise CertflowError('ACME order %s has an unknown status %r' % (order.get('order_id'), status))
        if status == 'pending' and self._all_readied(order):
            return 'processing'
        return ORDER_STATUSES[status]

    def challenges(self, order):
        provider_data = order.get('provider_data') or {}
        read_at = provider_data.get('challenges_read_at')
        if order.get('challenges') and read_at and 0 <= time.time() - read_at < CHALLENGES_FRESH_FOR:
            # create_order read every authorization moments ago and nothing was
            # asked of the CA since (cert_request, then cert_validate at once):
            # reading them all again would only repeat that answer.
            return order['challenges']
        validation = order.get('validation') or 'http'
        readied = dict((c['provider_data'].get('challenge_url'), c['provider_data'].get('readied'))
                       for c in order.get('challenges') or [] if c.get('provider_data'))
        fresh = []
        for authz_url, authz in self._authorizations(order):
            entry = self._challenge_from(authz, authz_url, validation)
            if readied.get(entry['provider_data']['challenge_url']):
                entry['provider_data']['readied'] = True
            fresh.append(entry)
        order['challenges'] = fresh
        order.setdefault('provider_data', {})['challenges_read_at'] = time.time()
        return fresh

    def ready(self, order, challenge):
        order.get('provider_data', {}).pop('challenges_read_at', None)   # the challenges change from here on
        if challenge.get('status') in ('valid', 'processing', 'invalid'):
            return
        url = (challenge.get('provider_data') or {}).get('challenge_url')
        if not url:
            raise CertflowError('challenge for %s has no URL; refresh the order first' % challenge.get('domain'))
        try:
            response = self._post(url, {})
            data = self._json(response, url)
        except CertflowError as exc:
            # Told already (e.g. an earlier run crashed after telling the CA):
            # the CA refuses a second "ready"; that is fine when it is under way.
            if exc.details.get('problem_type') != ERROR_NS + 'malformed':
                raise
            data, _response = self._get_resource(url)
            if data.get('status') not in ('processing', 'valid', 'invalid'):
                raise
        status = data.get('status') or 'processing'
        for target in [challenge] + [c for c in order.get('challenges') or []
                                     if (c.get('provider_data') or {}).get('challenge_url') == url]:
            target['status'] = 'processing' if status == 'pending' else status
            target.setdefault('provider_data', {})['readied'] = True
            if data.get('error'):
                target['error'] = self._challenge_error(target.get('domain'), data)

    def poll(self, order):
        provider_data = order['provider_data']
        provider_data.pop('challenges_read_at', None)
        order_url = provider_data.get('order_url') or order.get('order_id')
        if not order_url:
            raise CertflowError('order has no ACME order URL; it was never submitted')
        data, response = self._get_resource(order_url)
        retry_after = parse_retry_after(response.headers.get('Retry-After'))
        self._remember(order, data)
        if data.get('status') == 'ready' and not self.context.check_mode:
            data, retry_after = self._finalize(order, data, retry_after)
            if data is None:
                return order['status'], None
        status = self._status_of(order, data)
        order['status'] = status
        if status == 'failed':
            order['error'] = self._failure(order, data)
        return status, retry_after

    def _finalize(self, order, data, retry_after):
        url = order['provider_data'].get('finalize_url')
        if not url:
            raise CertflowError('ACME order %s has no finalize URL' % order.get('order_id'))
        if not order.get('csr'):
            raise CertflowError('ACME order %s is ready but the order has no CSR to finalize with' % order.get('order_id'))
        payload = {'csr': _jws.b64u(_crypto.csr_to_der(order['csr']))}
        try:
            response = self._post(url, payload)
        except CertflowError as exc:
            if exc.details.get('problem_type') == ORDER_NOT_READY:
                return data, retry_after
            if (exc.details.get('problem_type') or '').startswith(ERROR_NS) and exc.details['problem_type'] not in TRANSIENT_PROBLEMS:
                # The CA's verdict on this CSR (badCSR, unauthorized names ...): the order cannot be issued.
                order['status'] = 'failed'
                order['error'] = exc.msg
                return None, None
            raise
        finalized = self._json(response, url)
        self._remember(order, finalized)
        later = parse_retry_after(response.headers.get('Retry-After'))
        return finalized, later

    def _failure(self, order, data):
        """A message for an invalid order: every failed challenge of its
        authorizations (domain + challenge type + problem type + detail), else
        the order's own error."""
        parts = []
        validation = order.get('validation') or 'http'
        try:
            pairs = self._authorizations(order)
        except CertflowError as exc:
            pairs = []
            parts.append('the authorizations could not be read (%s)' % exc.msg)
        fresh = []
        for authz_url, authz in pairs:
            identifier = authz.get('identifier') or {}
            domain = ('*.' if authz.get('wildcard') else '') + identifier.get('value', '?')
            failed = [c for c in authz.get('challenges') or [] if c.get('error')]
            for challenge in failed:
                parts.append(self._challenge_error(domain, challenge))
            if authz.get('status') not in ('valid', 'pending') and not failed:
                parts.append('authorization for %s is %s' % (domain, authz.get('status')))
            try:
                fresh.append(self._challenge_from(authz, authz_url, validation))
            except CertflowError:
                pass
        if fresh:
            order['challenges'] = fresh
        problem = data.get('error')
        if isinstance(problem, dict) and not any(problem.get('detail', '\0') in part for part in parts):
            parts.insert(0, '%s: %s' % (problem.get('type', 'about:blank'), problem.get('detail', 'no detail given')))
        return 'ACME order %s is invalid: %s' % (order.get('order_id'), '; '.join(parts) or 'the CA gave no reason')

    # ----------------------------------------------------------- certificate
    def fetch(self, order):
        provider_data = order['provider_data']
        cert_url = provider_data.get('certificate_url')
        if not cert_url:
            status, _retry = self.poll(order)
            cert_url = provider_data.get('certificate_url')
            if not cert_url:
                raise CertflowError('ACME order %s is not issued yet (status %s)' % (order.get('order_id'), status))
        accept = 'application/pem-certificate-chain'
        response = self._post(cert_url, None, accept=accept)
        certs = self._chain_of(response, cert_url)
        preferred = self.settings.get('preferred_chain')
        if preferred and _issuer_cn(certs[-1]) != preferred:
            for alt_url in alternate_links(response):
                alt_certs = self._chain_of(self._post(alt_url, None, accept=accept), alt_url)
                if _issuer_cn(alt_certs[-1]) == preferred:
                    certs = alt_certs
                    provider_data['chain_url'] = alt_url
                    break
            else:
                self._warn('no alternate chain ends at issuer %r; using the default chain' % preferred)
        pems = [_crypto.cert_to_pem(cert) for cert in certs]
        return {'cert': pems[0], 'chain': ''.join(pems[1:]), 'fullchain': ''.join(pems), 'key': None}

    @staticmethod
    def _chain_of(response, url):
        return _crypto.load_certificates(response.text, 'the certificate chain from %s' % url)

    # ------------------------------------------------------ cancel / revoke
    def cancel(self, order):
        order.get('provider_data', {}).pop('challenges_read_at', None)
        changed = False
        for authz_url, authz in self._authorizations(order):
            if authz.get('status') == 'pending':
                self._post(authz_url, {'status': 'deactivated'})
                changed = True
        if changed:
            order['status'] = 'cancelled'
        return changed

    @staticmethod
    def _certificate_key(cert, key_pem):
        cert_key = _crypto.load_private_key(key_pem)
        if not _crypto.cert_matches_key(cert, cert_key):
            raise CertflowError('the private key given for revocation does not belong to the certificate (serial %s)'
                                % _crypto.cert_serial_hex(cert))
        return cert_key

    def revoke(self, cert_pem, reason='unspecified', key_pem=None, order=None):
        if reason not in REVOCATION_REASONS:
            raise CertflowError('unknown revocation reason %r; choose one of %s' % (reason, ', '.join(sorted(REVOCATION_REASONS))))
        cert = _crypto.load_certificate(cert_pem, 'the certificate to revoke')
        payload = {'certificate': _jws.b64u(cert.public_bytes(Encoding.DER)), 'reason': REVOCATION_REASONS[reason]}
        url = self._dir().get('revokeCert')
        if not url:
            raise CertflowError('ACME server %s offers no revokeCert' % self.directory_url)
        try:
            if key_pem and not self._has_configured_account_key():
                self._post(url, payload, key=self._certificate_key(cert, key_pem), use_kid=False)
            else:
                try:
                    self._post(url, payload)
                except CertflowError as exc:
                    # The account did not issue this certificate: its own key may still revoke it.
                    if not key_pem or exc.details.get('problem_type') != ERROR_NS + 'unauthorized':
                        raise
                    self._warn('the ACME account may not revoke this certificate; signing with the certificate key')
                    self._post(url, payload, key=self._certificate_key(cert, key_pem), use_kid=False)
        except CertflowError as exc:
            if exc.details.get('problem_type') == ALREADY_REVOKED:
                return False
            raise
        return True
