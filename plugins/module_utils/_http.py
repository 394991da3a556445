# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP for clients that make many small requests to one server (ACME): urllib3's
thread-safe keep-alive pools, used directly.

requests' per-request machinery (preparing, merging settings, hooks, cookies, the
adapter layer) cost about a quarter of a certificate's CPU time at N=500. What
requests decides for a host is decided here the same way, once per host: the CA
certificates (certifi's bundle, as requests uses, unless a bundle is named) and the
proxy from the environment (HTTPS_PROXY, NO_PROXY ...). urllib3 comes with
requests, so this adds no dependency."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import threading
import urllib.request

try:
    import urllib3
    from urllib3 import exceptions as urllib3_errors
    from urllib3._collections import HTTPHeaderDict   # public in urllib3 2, only here in 1.26
except ImportError:  # reported by the module wrapper (module_utils/_deps.py)
    pass

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError


class Answer:
    """One HTTP answer, read whole: what the clients read of it (the names are requests')."""

    __slots__ = ('status_code', 'reason', 'headers', 'content', 'url')

    def __init__(self, status_code, headers, content=b'', reason='', url=None):
        self.status_code = status_code
        self.headers = headers if hasattr(headers, 'getlist') else HTTPHeaderDict(headers or {})
        self.content = content or b''
        self.reason = reason or ''
        self.url = url

    @property
    def text(self):
        return self.content.decode('utf-8', 'replace')

    def json(self):
        """The body as JSON; ValueError when it is not."""
        return json.loads(self.content.decode('utf-8'))

    def header_values(self, name):
        """Every value of a header that may be sent several times (Link)."""
        return list(self.headers.getlist(name))

    def _parsed_links(self):
        """Every link of the Link headers, parsed by requests' rules (imported only here:
        most runs read no Link header, and importing requests costs a module start ~30 ms)."""
        from requests.utils import parse_header_links
        for value in self.header_values('Link'):
            yield from parse_header_links(value)

    def link_urls(self, rel):
        """The URLs of every link whose relations include ``rel``, in the order sent."""
        return [link['url'] for link in self._parsed_links()
                if rel in (link.get('rel') or '').split() and link.get('url')]

    @property
    def links(self):
        """The Link headers by relation, as requests' ``links``: {rel: {'url': ..., 'rel': ...}}
        (the last one of a relation sent several times)."""
        found = {}
        for link in self._parsed_links():
            key = link.get('rel') or link.get('url')
            if key:
                found[key] = link
        return found


class TransportError(Exception):
    """A request that got no HTTP answer. ``tls``: the TLS handshake or the server's
    certificate failed (retrying does not help); ``timeout``: no answer in time."""

    def __init__(self, cause, tls=False, timeout=False):
        super(TransportError, self).__init__(str(cause))
        self.cause = cause
        self.tls = tls
        self.timeout = timeout


def tls_settings(verify):
    """urllib3's pool settings for ``verify`` as requests takes it: True (certifi's
    bundle), False (no check), or the path of a CA bundle file or folder."""
    if verify is False:
        return {'cert_reqs': 'CERT_NONE'}
    if verify is True:
        from requests import certs
        path = certs.where()
    else:
        path = os.path.expanduser(verify)
    if os.path.isdir(path):
        return {'cert_reqs': 'CERT_REQUIRED', 'ca_cert_dir': path}
    return {'cert_reqs': 'CERT_REQUIRED', 'ca_certs': path}


def is_timeout(exc):
    """Whether a urllib3 error means no answer in time (a refused connection is a
    NewConnectionError, which urllib3 files under its connect timeouts)."""
    return isinstance(exc, urllib3_errors.TimeoutError) and not isinstance(exc, urllib3_errors.NewConnectionError)


def environ_proxy(url):
    """The proxy the environment names for ``url`` (HTTPS_PROXY, NO_PROXY ...) by requests'
    rules, or None. requests is imported only when the environment names a proxy at all
    (both read urllib's getproxies): importing it costs every module start about 30 ms."""
    if not urllib.request.getproxies():
        return None
    from requests import utils
    return utils.select_proxy(url, utils.get_environ_proxies(url))


class Pools:
    """Keep-alive connection pools, shared by the threads of a run (urllib3's pools are
    thread-safe). ``verify``: True (certifi's bundle, or REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
    as the caller found them), False, or the path of a CA bundle file or directory."""

    def __init__(self, verify=True, maxsize=16, user_agent=None):
        self.user_agent = user_agent
        self._maxsize = maxsize
        self._tls = tls_settings(verify)
        self._lock = threading.Lock()
        self._direct = None
        self._proxied = {}          # proxy URL -> ProxyManager
        self._route = {}            # scheme://host[:port] -> manager

    def _manager(self, url):
        origin = '/'.join(url.split('/', 3)[:3])
        manager = self._route.get(origin)
        if manager is not None:
            return manager
        proxy = environ_proxy(url)
        with self._lock:
            if not proxy:
                if self._direct is None:
                    self._direct = urllib3.PoolManager(num_pools=4, maxsize=self._maxsize, **self._tls)
                manager = self._direct
            else:
                manager = self._proxied.get(proxy) or self._proxy_manager(proxy)
            self._route[origin] = manager
        return manager

    def _proxy_manager(self, proxy):
        if not proxy.lower().startswith(('http://', 'https://')):
            raise CertflowError('proxy %s from the environment is not an http(s):// proxy; only those are supported here' % proxy)
        from requests.utils import get_auth_from_url
        username, password = get_auth_from_url(proxy)
        headers = urllib3.make_headers(proxy_basic_auth='%s:%s' % (username, password)) if username else None
        manager = self._proxied[proxy] = urllib3.ProxyManager(proxy, num_pools=4, maxsize=self._maxsize, proxy_headers=headers, **self._tls)
        return manager

    def request(self, method, url, body=None, headers=None, timeout=None):
        """One exchange, no redirects and no retries (the caller's loop decides); an
        Answer, or TransportError when no answer came. ``timeout``: (connect, read)."""
        sent = dict(headers or {})
        if self.user_agent:
            sent.setdefault('User-Agent', self.user_agent)
        if timeout is not None:
            timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        try:
            response = self._manager(url).request(method, url, body=body, headers=sent, retries=False, redirect=False,
                                                  timeout=timeout, preload_content=True)
        except urllib3_errors.SSLError as exc:
            raise TransportError(exc, tls=True)
        except urllib3_errors.HTTPError as exc:
            raise TransportError(exc, timeout=is_timeout(exc))
        return Answer(response.status, response.headers, response.data, response.reason, url)

    def close(self):
        with self._lock:
            managers = [m for m in [self._direct] + list(self._proxied.values()) if m is not None]
        for manager in managers:
            manager.clear()
