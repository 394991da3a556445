# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A TLS-terminating HTTP proxy on loopback that stands in front of Pebble and
injects faults: error answers (503, 429 with Retry-After, ACME problem
documents), dropped connections (before or after the CA saw the request),
slow answers and answers that never come.

It serves with Pebble's own test certificate (signed by the harness's test
root), so a client that trusts ``pebble.ca_bundle`` trusts the proxy. The Host
header is passed through, so every URL Pebble puts into its answers points at
the proxy again. The proxy is bounded: it stops by itself after ``lifetime``
seconds, and every delay ends when it stops.

    with FaultProxy(services.pebble) as proxy:
        proxy.add(Fault('status', path='/order-plz', status=503, retry_after=1, times=2))
        ... acme.directory = proxy.directory_url ...
        assert proxy.fired('status') == 2
"""

import http.client
import json
import os
import re
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOST = '127.0.0.1'
DEFAULT_LIFETIME = 300.0
UPSTREAM_TIMEOUT = 60.0
HOP_BY_HOP = ('connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'upgrade')

# Pebble's endpoint paths (wfe.go), for readable fault rules.
DIRECTORY = '/dir'
NEW_NONCE = '/nonce-plz'
NEW_ACCOUNT = '/sign-me-up'
NEW_ORDER = '/order-plz'
ORDER = '/my-order/'
FINALIZE = '/finalize-order/'
AUTHZ = '/authZ/'
CHALLENGE = '/chalZ/'
CERTIFICATE = '/certZ/'
REVOKE = '/revoke-cert'


class Fault:
    """One fault rule.

    action: 'status' (answer ``status`` with a problem document of ``problem_type``
    and an optional Retry-After, without asking the CA), 'drop' (close the
    connection without an answer, the CA never sees the request), 'drop_after'
    (forward, then close without passing the answer on; an error answer is passed
    on and does not count), 'delay' (wait ``delay`` seconds, then forward), 'hang' (never answer until the proxy stops).
    path: a prefix of the request path (or a compiled regex); method: GET/HEAD/POST or None.
    skip: let this many matching requests through first; times: fire this often (None: always).
    """

    def __init__(self, action, path=None, method=None, times=1, skip=0, status=None, retry_after=None,
                 problem_type=None, detail=None, delay=0.0):
        if action not in ('status', 'drop', 'drop_after', 'delay', 'hang'):
            raise ValueError('unknown fault action %r' % action)
        self.action = action
        self.path = path
        self.method = method
        self.times = times
        self.skip = skip
        self.status = status
        self.retry_after = retry_after
        self.problem_type = problem_type
        self.detail = detail
        self.delay = delay
        self.fired = 0

    def matches(self, method, path):
        if self.method and self.method != method:
            return False
        if self.path is None:
            return True
        if isinstance(self.path, re.Pattern):
            return bool(self.path.search(path))
        return path.startswith(self.path)

    def take(self, method, path):
        """Whether this rule fires for the request (and count it)."""
        if not self.matches(method, path):
            return False
        if self.skip > 0:
            self.skip -= 1
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True

    def __repr__(self):
        return '<Fault %s %s %s fired=%d>' % (self.action, self.method or '*', self.path, self.fired)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, proxy, address, context):
        self.proxy = proxy
        self.context = context
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address):
        pass    # a client that hung up (or was killed) mid-request is part of the game here

    def get_request(self):
        sock, address = self.socket.accept()
        # The handshake happens in the handler thread, so one slow client never blocks the others.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def do_GET(self):
        self._handle()

    def do_HEAD(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def _handle(self):
        proxy = self.server.proxy
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        path = self.path
        fault = proxy._fault_for(self.command, path)
        if fault is not None and fault.action == 'drop_after':
            return self._drop_after(fault, body)
        action = fault.action if fault else 'forward'
        proxy._record(self.command, path, action)
        if fault is None:
            return self._forward(body)
        if fault.action == 'status':
            return self._problem(fault)
        if fault.action == 'drop':
            return self._drop()
        if fault.action == 'delay':
            if proxy.stopping.wait(fault.delay):
                return self._drop()
            return self._forward(body)
        # hang: hold the request until the proxy stops (bounded by its lifetime)
        proxy.stopping.wait()
        return self._drop()

    def _drop_after(self, fault, body):
        """Lose the answer of a request the CA acted on. An error answer (Pebble's
        random badNonce, for one) means the CA did nothing: that answer is passed on
        and the fault waits for the next matching request, so that a test of a lost
        answer always has something the CA made."""
        proxy = self.server.proxy
        try:
            status, reason, headers, data = self._upstream(body)
        except OSError:
            proxy._record(self.command, self.path, 'drop_after')
            return self._drop()
        if status >= 400:
            with proxy._lock:
                fault.fired -= 1
            proxy._record(self.command, self.path, 'forward')
            return self._send(status, [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP], data, reason)
        proxy._record(self.command, self.path, 'drop_after')
        return self._drop()

    def _upstream(self, body):
        proxy = self.server.proxy
        connection = http.client.HTTPSConnection(proxy.upstream_host, proxy.upstream_port, context=proxy.upstream_context,
                                                 timeout=UPSTREAM_TIMEOUT)
        try:
            headers = dict((k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP)
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read()
            return response.status, response.reason, response.getheaders(), data
        finally:
            connection.close()

    def _forward(self, body):
        try:
            status, reason, headers, data = self._upstream(body)
        except OSError as exc:
            return self._send(502, [('Content-Type', 'text/plain')], ('fault proxy: upstream failed: %s' % exc).encode())
        return self._send(status, [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP], data, reason)

    def _problem(self, fault):
        problem = {'type': fault.problem_type or 'about:blank', 'detail': fault.detail or 'injected by the fault proxy',
                   'status': fault.status}
        headers = [('Content-Type', 'application/problem+json')]
        if fault.retry_after is not None:
            headers.append(('Retry-After', str(fault.retry_after)))
        return self._send(fault.status, headers, json.dumps(problem).encode('utf-8'))

    def _send(self, status, headers, data, reason=None):
        self.send_response(status, reason)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)
        self.wfile.flush()

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class FaultProxy:
    """The proxy in front of one Pebble (see the module docstring)."""

    def __init__(self, pebble, lifetime=DEFAULT_LIFETIME):
        self.pebble = pebble
        self.upstream_host, self.upstream_port = HOST, pebble.port
        self.upstream_context = ssl.create_default_context(cafile=pebble.ca_bundle)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.path.join(pebble.workdir, 'pebble-cert.pem'), os.path.join(pebble.workdir, 'pebble-key.pem'))
        self.stopping = threading.Event()
        self._faults = []
        self._lock = threading.Lock()
        self.log = []
        self._server = _Server(self, (HOST, 0), context)
        self.port = self._server.server_address[1]
        self.directory_url = 'https://%s:%d/dir' % (HOST, self.port)
        self.ca_bundle = pebble.ca_bundle
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={'poll_interval': 0.1}, daemon=True)
        self._thread.start()
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()

    def add(self, *faults):
        with self._lock:
            self._faults.extend(faults)
        return faults[0] if len(faults) == 1 else faults

    def clear(self):
        with self._lock:
            self._faults = []

    def _fault_for(self, method, path):
        with self._lock:
            for fault in self._faults:
                if fault.take(method, path):
                    return fault
        return None

    def _record(self, method, path, action):
        with self._lock:
            self.log.append((time.monotonic(), method, path, action))

    def requests(self, path=None, method=None, action=None):
        """Logged requests (method, path, action) matching the filters (path: prefix)."""
        with self._lock:
            entries = list(self.log)
        return [(m, p, a) for _t, m, p, a in entries
                if (path is None or p.startswith(path)) and (method is None or m == method) and (action is None or a == action)]

    def fired(self, action=None):
        with self._lock:
            return sum(f.fired for f in self._faults if action is None or f.action == action)

    def wait_for(self, path, action=None, timeout=30.0):
        """Block until a request for ``path`` (with ``action``) was seen; True if it was."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.requests(path=path, action=action):
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        self.stopping.set()
        self._timer.cancel()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.stop()
