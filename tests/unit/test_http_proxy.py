# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The proxy the ACME transport takes from the environment (module_utils/_http.py):
requests' rules (HTTPS_PROXY, HTTP_PROXY, NO_PROXY, credentials in the URL), and
requests itself imported only when the environment names a proxy."""

import base64
import http.server
import subprocess
import sys
import threading

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._http import Pools, TransportError, environ_proxy

PROXY_VARIABLES = ('HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy')


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


class _RecordingProxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy that answers every request itself and notes what it was asked."""

    seen = []

    def do_GET(self):  # noqa: N802 - the name http.server calls
        type(self).seen.append((self.requestline, self.headers.get('Proxy-Authorization')))
        body = b'{"through": "proxy"}'
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def recording_proxy():
    _RecordingProxy.seen = []
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _RecordingProxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d' % server.server_address[1], _RecordingProxy.seen
    finally:
        server.shutdown()
        server.server_close()


def test_no_proxy_in_the_environment_means_a_direct_connection():
    assert environ_proxy('https://acme.example/directory') is None


def test_https_proxy_is_taken_for_https_urls_only(monkeypatch):
    monkeypatch.setenv('HTTPS_PROXY', 'http://proxy.example:3128')
    assert environ_proxy('https://acme.example/directory') == 'http://proxy.example:3128'
    assert environ_proxy('http://acme.example/directory') is None


def test_no_proxy_lists_hosts_reached_directly(monkeypatch):
    monkeypatch.setenv('HTTPS_PROXY', 'http://proxy.example:3128')
    monkeypatch.setenv('NO_PROXY', 'internal.example,10.0.0.0/8')
    assert environ_proxy('https://acme.internal.example/directory') is None
    assert environ_proxy('https://10.1.2.3/directory') is None
    assert environ_proxy('https://acme.example/directory') == 'http://proxy.example:3128'


def test_requests_is_not_imported_without_a_proxy():
    # Importing requests costs every module start about 30 ms; a run without a proxy never needs it.
    code = ('import sys; from ansible_collections.certflow.ssl.plugins.module_utils import _http; '
            'from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import provider; '
            'from ansible_collections.certflow.ssl.plugins.module_utils._ca import aliyun; '
            'assert _http.environ_proxy("https://acme.example/dir") is None; '
            'print("requests" in sys.modules)')
    env = {'PATH': '/usr/bin:/bin', 'PYTHONPATH': ':'.join(sys.path)}
    done = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == 'False', done.stderr


def test_a_request_goes_through_the_proxy_the_environment_names(monkeypatch, recording_proxy):
    proxy_url, seen = recording_proxy
    monkeypatch.setenv('HTTP_PROXY', proxy_url.replace('http://', 'http://user:s3cret@'))
    pools = Pools(verify=False)
    try:
        answer = pools.request('GET', 'http://acme.invalid/directory', timeout=(5, 5))
    finally:
        pools.close()
    assert answer.status_code == 200 and answer.json() == {'through': 'proxy'}
    assert seen == [('GET http://acme.invalid/directory HTTP/1.1', 'Basic ' + base64.b64encode(b'user:s3cret').decode())]


def test_no_proxy_sends_the_request_directly(monkeypatch, recording_proxy):
    proxy_url, seen = recording_proxy
    monkeypatch.setenv('HTTP_PROXY', proxy_url)
    monkeypatch.setenv('NO_PROXY', 'acme.invalid')
    pools = Pools(verify=False)
    try:
        with pytest.raises(TransportError):       # .invalid never resolves: it was not sent to the proxy
            pools.request('GET', 'http://acme.invalid/directory', timeout=(5, 5))
    finally:
        pools.close()
    assert seen == []


def test_a_proxy_that_is_not_http_is_refused_by_name(monkeypatch):
    monkeypatch.setenv('HTTPS_PROXY', 'socks5://proxy.example:1080')
    pools = Pools(verify=False)
    with pytest.raises(CertflowError, match='socks5://proxy.example:1080 .*only those are supported'):
        pools.request('GET', 'https://acme.example/directory', timeout=(5, 5))
