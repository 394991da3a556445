# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-check of file validation: is the challenge file served at its URL, as a CA will fetch it?"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import socket
import ssl
import time
import warnings
from urllib.parse import urljoin, urlsplit, urlunsplit

try:
    import urllib3
    from urllib3 import exceptions as urllib3_errors
except ImportError:  # reported by the module wrapper (module_utils/_deps.py)
    pass

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, backoff
from ansible_collections.certflow.ssl.plugins.module_utils._http import is_timeout, tls_settings
from ansible_collections.certflow.ssl.plugins.module_utils._proofs.propagation import resolve_addresses

MAX_REDIRECTS = 5           # CAs follow a few (Let's Encrypt: 10), to http or https
REQUEST_TIMEOUT = 5.0
BODY_LIMIT = 64 * 1024      # a challenge file is tiny; never read a whole page
SEEN_PREFIX = 60
REDIRECT_CODES = (301, 302, 303, 307, 308)
DEFAULT_PORTS = {'http': 80, 'https': 443}
USER_AGENT = 'certflow.ssl file validation pre-check'


def _literal(host):
    try:
        ipaddress.ip_address(host.strip('[]'))
        return True
    except ValueError:
        return False


def _netloc(host, port):
    if ':' in host:
        host = '[%s]' % host
    return '%s:%d' % (host, port)


def _host_header(host, port, scheme):
    if ':' in host:
        host = '[%s]' % host
    return host if port == DEFAULT_PORTS[scheme] else '%s:%d' % (host, port)


def _with_port(url, port):
    """``url`` with an explicit port: ``port`` when given, else its own, else the scheme's default."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise CertflowError('challenge URL %r is not an http(s) URL with a host' % url)
    port = port or parts.port or DEFAULT_PORTS[parts.scheme]
    return urlunsplit((parts.scheme, _netloc(parts.hostname, int(port)), parts.path or '/', parts.query, ''))


def _causes(exc):
    """``exc`` and what it wraps: urllib3 errors wrap socket and ssl errors
    (``reason``, ``__cause__``, ``args``)."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop(0)
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend([getattr(current, 'reason', None), current.__cause__, current.__context__] + list(current.args[:1]))


def _describe_error(exc):
    """A short reason for a failed request (urllib3's own texts run long)."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return 'TLS error: certificate verify failed: %s' % (cause.verify_message or cause.reason)
        if isinstance(cause, ssl.SSLError):
            return 'TLS error: %s' % (cause.reason or cause)
        if isinstance(cause, ConnectionRefusedError):
            return 'connection refused'
        if isinstance(cause, socket.timeout) or is_timeout(cause):
            return 'no response within the timeout'
        if isinstance(cause, socket.gaierror):
            return 'cannot resolve: %s' % cause.strerror
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
    return str(exc)[:200]


def _seen(status, body):
    text = body.decode('utf-8', 'replace').strip()
    if len(text) > SEEN_PREFIX:
        text = text[:SEEN_PREFIX] + '...'
    return 'HTTP %d, body %r' % (status, text)


def _read_body(response):
    return response.read(BODY_LIMIT)[:BODY_LIMIT]


class _FileFetcher:
    """Connection pools kept for all attempts; requests go to resolved addresses
    with the URL's Host header (TLS still names and checks the real host),
    redirects are followed by hand (each new host resolved the same way), as a
    CA's validator does."""

    def __init__(self, nameservers, validate_certs, deadline):
        self.nameservers = nameservers
        self.validate_certs = validate_certs
        self.deadline = deadline
        self._tls = tls_settings(validate_certs)
        self._pools = {}

    def close(self):
        for pool in self._pools.values():
            pool.close()

    def addresses(self, host):
        return resolve_addresses(host, self.nameservers, deadline=self.deadline)

    def _pool(self, scheme, address, port, host):
        key = (scheme, address, port, host)
        pool = self._pools.get(key)
        if pool is None:
            if scheme == 'https':
                server_hostname = None if _literal(host) else host
                pool = urllib3.HTTPSConnectionPool(address, port, maxsize=1, server_hostname=server_hostname,
                                                   assert_hostname=server_hostname or host, **self._tls)
            else:
                pool = urllib3.HTTPConnectionPool(address, port, maxsize=1)
            self._pools[key] = pool
        return pool

    def fetch(self, url, address):
        """Follow ``url`` (explicit port) starting at ``address``; return
        (status, body) of the final response, or raise CertflowError with what
        went wrong."""
        current = url
        for hop in range(MAX_REDIRECTS + 1):
            parts = urlsplit(current)
            host, scheme = parts.hostname, parts.scheme
            port = parts.port or DEFAULT_PORTS[scheme]
            if hop:
                address = self.addresses(host)[0]
            path = urlunsplit(('', '', parts.path or '/', parts.query, ''))
            seconds = max(0.5, min(REQUEST_TIMEOUT, self.deadline.remaining()))
            headers = {'Host': _host_header(host, port, scheme), 'User-Agent': USER_AGENT, 'Accept': '*/*'}
            try:
                with warnings.catch_warnings():
                    if self.validate_certs is False:    # asked for: no warning per poll
                        warnings.simplefilter('ignore', urllib3_errors.InsecureRequestWarning)
                    response = self._pool(scheme, address, port, host).request(
                        'GET', path, headers=headers, retries=False, redirect=False, assert_same_host=False,
                        timeout=urllib3.Timeout(connect=seconds, read=seconds), preload_content=False)
            except urllib3_errors.HTTPError as exc:
                where = current if not hop else '%s (redirected)' % current
                raise CertflowError('%s: %s' % (where, _describe_error(exc)))
            try:
                location = response.headers.get('Location')
                if response.status in REDIRECT_CODES and location:
                    following = urljoin(current, location)
                    if urlsplit(following).scheme not in DEFAULT_PORTS:
                        raise CertflowError('redirect to %s: only http and https are followed' % following)
                    current = _with_port(following, None)
                    continue
                return response.status, _read_body(response)
            finally:
                # Closed, not given back: an unread rest of a body would be read as the next answer.
                response.close()
        raise CertflowError('more than %d redirects, last to %s' % (MAX_REDIRECTS, current))


def wait_for_http_file(url, expected_content, deadline, nameservers=None, port=None, validate_certs=True, sleep=time.sleep):
    """Poll, with back-off within ``deadline``, until ``url`` serves
    ``expected_content`` (compared stripped, like a CA) from every address of
    its host.

    The host is resolved with ``resolve_addresses`` (``nameservers`` when
    given); the request goes to ``http://<address>:<port or the URL's port or
    80><path>`` with the URL's Host header; up to MAX_REDIRECTS redirects are
    followed, including to https (``validate_certs``: True, False or a CA
    bundle path, passed on every request). Returns the addresses checked. On
    timeout raises CertflowError naming the URL, the address and what was
    seen.
    """
    started = time.monotonic()
    expected = (expected_content or '').strip()
    first = _with_port(url, port)
    host = urlsplit(first).hostname
    fetcher = _FileFetcher(nameservers, validate_certs, deadline)
    intervals = backoff(initial=0.1, maximum=3.0)
    try:
        while True:
            failures, checked = _attempt(fetcher, first, host, expected)
            if not failures:
                return checked
            if deadline.expired():
                raise CertflowError('file %s was not served with the expected content after %ds: %s' % (
                    url, round(time.monotonic() - started), '; '.join(failures)), url=url, failures=failures)
            sleep(min(next(intervals), max(deadline.remaining(), 0.01)))
    finally:
        fetcher.close()


def _attempt(fetcher, first, host, expected):
    """One round over every address of ``host``: (failures, addresses)."""
    try:
        addresses = fetcher.addresses(host)
    except CertflowError as exc:
        return ['cannot resolve %s: %s' % (host, exc.msg)], []
    failures = []
    for address in addresses:
        via = 'via %s' % _netloc(address, urlsplit(first).port)
        try:
            status, body = fetcher.fetch(first, address)
        except CertflowError as exc:
            failures.append('%s: %s' % (via, exc.msg))
            continue
        if status != 200 or body.decode('utf-8', 'replace').strip() != expected:
            failures.append('%s: %s' % (via, _seen(status, body)))
    return failures, addresses
