# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/demo.yml as a new user runs it: empty home directory, nothing
external, certificates + nginx site + live TLS check + report, idempotent, with
and without nginx installed, and nothing written outside the demo folder."""

import json
import os
import socket
import ssl
import subprocess

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from tests.lib.playbook import run_playbook
from tests.lib.services import free_port
from tests.lib.tools import system_tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, 'playbooks', 'demo.yml')
# Where a web server's configuration lives on this machine: the demo must add nothing there.
SYSTEM_CONFIG_DIRS = ('/etc/nginx', '/etc/apache2')


def stop_demo_nginx(demo_dir):
    nginx_dir = os.path.join(demo_dir, 'nginx')
    if os.path.exists(os.path.join(nginx_dir, 'nginx.pid')):
        subprocess.run([system_tool('nginx'), '-e', os.path.join(nginx_dir, 'error.log'), '-p', nginx_dir,
                        '-c', os.path.join(nginx_dir, 'nginx.conf'), '-s', 'stop'], check=False, timeout=60)


@pytest.fixture
def demo(tmp_path):
    home = tmp_path / 'home'
    home.mkdir()
    ports = {'certflow_demo_https_port': free_port(), 'certflow_demo_http_port': free_port()}
    env = {'HOME': str(home)}
    yield str(home / 'certflow-demo'), ports, env
    stop_demo_nginx(str(home / 'certflow-demo'))


def home_page(port, server_name, ca_file):
    """The page the demo site serves at / (verified TLS with SNI, HTTP/1.1)."""
    context = ssl.create_default_context(cafile=ca_file)
    with socket.create_connection(('127.0.0.1', port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            tls.sendall(('GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' % server_name).encode())
            response = b''
            while True:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                response += chunk
    head, _sep, body = response.partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 200'), head
    return body.decode()


def served_serial(port, server_name, ca_file):
    context = ssl.create_default_context(cafile=ca_file)
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname=server_name) as tls:
            return _crypto.cert_serial_hex(_crypto.load_certificate(ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True))))


def system_config_listing():
    """Every entry under the system's web server configuration, with its link target."""
    listing = {}
    for top in SYSTEM_CONFIG_DIRS:
        for folder, dirs, files in os.walk(top):
            for entry in dirs + files:
                path = os.path.join(folder, entry)
                listing[path] = os.readlink(path) if os.path.islink(path) else None
    return listing


def added_by(before, folder):
    """Entries that appeared in the system configuration since ``before`` and point into or
    name ``folder``. (Other test runs on the same machine may add their own meanwhile; anything
    the demo writes names its folder: the site files, links and paths all live there.)"""
    added = {}
    for path, target in system_config_listing().items():
        if path in before:
            continue
        if target is not None or os.path.isdir(path):
            mentions = folder in (target or '') or folder in path
        else:
            with open(path, 'rb') as handle:
                mentions = folder.encode() in handle.read()
        if mentions:
            added[path] = target
    return added


def summary_of(result):
    return '\n'.join(result.task('What happened, where everything is, what to try next')['result']['msg'])


@pytest.mark.parametrize('nginx', ['installed', 'missing'])
def test_demo_on_a_fresh_home_writes_only_into_its_folder(demo, nginx, tmp_path, reliability):
    demo_dir, ports, env = demo
    home = os.path.dirname(demo_dir)
    env['CERTFLOW_DEMO_DIR'] = ''
    if nginx == 'installed':
        ports['certflow_demo_nginx'] = system_tool('nginx')
    else:
        # A machine without nginx: the demo looks for nginx at a path that does not exist.
        ports['certflow_demo_nginx'] = str(tmp_path / 'no-nginx-here' / 'nginx')
    before = system_config_listing()

    first = run_playbook(DEMO, ports, env=env, timeout=180)
    second = run_playbook(DEMO, ports, env=env, timeout=180) if first.rc == 0 else first
    added = added_by(before, str(tmp_path))
    summary = summary_of(first) if first.rc == 0 else first.output[-2000:]
    reliability.record('Hostile input', 'demo, nginx %s' % nginx,
                       'make demo twice on a fresh HOME, nginx %s, a Debian nginx layout in /etc/nginx' % nginx,
                       'issues, renders the sites into the demo folder, %s; second run changed=0; nothing in /etc'
                       % ('serves them' if nginx == 'installed' else 'says nothing is served and how to serve it'),
                       'rc %d/%d, second run changed=%s, entries added in /etc: %d'
                       % (first.rc, second.rc, second.recap.get('localhost', {}).get('changed'), len(added)),
                       message=summary.splitlines()[-1] if nginx == 'installed' else summary)
    first.assert_ok()
    assert added == {}, 'the demo wrote outside its folder: %s' % added

    issued = {c['name']: c for c in first.task('Validate, wait for the CA and install into the store')['result']['certificates']}
    assert sorted(issued) == ['api', 'shop', 'www']
    assert all(c['status'] == 'issued' for c in issued.values())
    assert '例子.demo.internal' in issued['shop']['domains_unicode']
    assert 'xn--fsqu00a.demo.internal' in issued['shop']['domains']

    ca_file = os.path.join(demo_dir, 'ca', 'root.pem')
    for name in ('www', 'shop', 'api'):
        assert os.path.isfile(os.path.join(demo_dir, 'store', name, 'fullchain.pem'))
        assert os.path.isfile(os.path.join(demo_dir, 'nginx', 'sites', 'certflow-%s.conf' % name))
    if nginx == 'installed':
        port = ports['certflow_demo_https_port']
        assert served_serial(port, 'www.demo.internal', ca_file) == issued['www']['serial']
        assert served_serial(port, 'xn--fsqu00a.demo.internal', ca_file) == issued['shop']['serial']
        assert home_page(port, 'www.demo.internal', ca_file) == '<h1>Served over TLS by certflow.ssl</h1>\n'
        assert 'Live https://127.0.0.1:%d (SNI www.demo.internal)' % port in summary
        assert 'Nothing is served' not in summary
    else:
        assert not os.path.exists(os.path.join(demo_dir, 'nginx', 'nginx.pid'))
        assert 'Nothing is served: nginx is not installed' in summary
        assert 'apt-get install nginx-light' in summary and 'certflow_demo_nginx=' in summary
        assert 'Live https' not in summary

    with open(os.path.join(demo_dir, 'report.json')) as handle:
        report = json.load(handle)
    assert sorted(c['name'] for c in report) == ['api', 'shop', 'www']
    with open(os.path.join(demo_dir, 'report.html'), encoding='utf-8') as handle:
        html = handle.read()
    assert '例子.demo.internal' in html and 'api.demo.internal' in html
    assert demo_dir in summary and 'root.pem' in summary

    second.assert_ok()
    assert second.recap['localhost']['changed'] == 0
    # (~/.ansible is ansible-playbook's own temporary folder)
    assert sorted(os.listdir(home)) == ['.ansible', 'certflow-demo']


def test_demo_dir_from_the_environment(tmp_path):
    """CERTFLOW_DEMO_DIR puts everything there; HOME gets nothing but ansible's own folder."""
    home = tmp_path / 'home'
    home.mkdir()
    demo_dir = tmp_path / 'elsewhere'
    ports = {'certflow_demo_https_port': free_port(), 'certflow_demo_http_port': free_port(),
             'certflow_demo_nginx': str(tmp_path / 'no-nginx-here' / 'nginx')}
    before = system_config_listing()
    run_playbook(DEMO, ports, env={'HOME': str(home), 'CERTFLOW_DEMO_DIR': str(demo_dir)}, timeout=180).assert_ok()
    assert added_by(before, str(tmp_path)) == {}
    assert (demo_dir / 'store' / 'www' / 'fullchain.pem').is_file()
    assert (demo_dir / 'nginx' / 'sites' / 'certflow-www.conf').is_file()
    assert [entry for entry in os.listdir(home) if entry != '.ansible'] == []


def test_demo_in_check_mode_says_what_it_would_do_and_writes_nothing(demo):
    demo_dir, ports, env = demo
    home = os.path.dirname(demo_dir)
    env['CERTFLOW_DEMO_DIR'] = ''
    checked = run_playbook(DEMO, ports, env=env, check=True, timeout=180).assert_ok()
    requested = checked.task('Create the certificates and submit them to the CA')['result']['certificates']
    assert sorted((c['name'], c['action']) for c in requested) == [('api', 'create'), ('shop', 'create'), ('www', 'create')]
    summary = '\n'.join(checked.task('What happened, where everything is, what to try next')['result']['msg'])
    assert 'Would create shop: shop.demo.internal, 例子.demo.internal' in summary and 'Check mode' in summary
    # (~/.ansible is ansible-playbook's own temporary folder)
    assert [entry for entry in os.listdir(home) if entry != '.ansible'] == [], 'check mode must not create the demo folder, the CA or the store'
