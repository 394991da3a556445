# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/demo.yml as a new user runs it: empty home directory, nothing
external, certificates + nginx site + live TLS check + report, idempotent."""

import json
import os
import shutil
import socket
import ssl
import subprocess

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from tests.lib.playbook import run_playbook
from tests.lib.services import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, 'playbooks', 'demo.yml')


@pytest.fixture
def demo(tmp_path):
    home = tmp_path / 'home'
    home.mkdir()
    ports = {'certflow_demo_https_port': free_port(), 'certflow_demo_http_port': free_port()}
    env = {'HOME': str(home)}
    yield str(home / 'certflow-demo'), ports, env
    nginx_dir = home / 'certflow-demo' / 'nginx'
    if (nginx_dir / 'nginx.pid').exists():
        subprocess.run(['nginx', '-e', str(nginx_dir / 'error.log'), '-p', str(nginx_dir), '-c', str(nginx_dir / 'nginx.conf'),
                        '-s', 'stop'], check=False)


def served_serial(port, server_name, ca_file):
    context = ssl.create_default_context(cafile=ca_file)
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname=server_name) as tls:
            return _crypto.cert_serial_hex(_crypto.load_certificate(ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True))))


def test_demo_on_a_fresh_home(demo):
    demo_dir, ports, env = demo
    if 'CERTFLOW_DEMO_DIR' in os.environ:
        env['CERTFLOW_DEMO_DIR'] = ''
    first = run_playbook(DEMO, ports, env=env, timeout=180).assert_ok()
    issued = {c['name']: c for c in first.task('Validate, wait for the CA and install into the store')['result']['certificates']}
    assert sorted(issued) == ['api', 'shop', 'www']
    assert all(c['status'] == 'issued' for c in issued.values())
    assert '例子.demo.internal' in issued['shop']['domains_unicode']
    assert 'xn--fsqu00a.demo.internal' in issued['shop']['domains']

    ca_file = os.path.join(demo_dir, 'ca', 'root.pem')
    for name in ('www', 'shop', 'api'):
        assert os.path.isfile(os.path.join(demo_dir, 'store', name, 'fullchain.pem'))
        assert os.path.isfile(os.path.join(demo_dir, 'nginx', 'sites', 'certflow-%s.conf' % name))
    if shutil.which('nginx'):
        port = ports['certflow_demo_https_port']
        assert served_serial(port, 'www.demo.internal', ca_file) == issued['www']['serial']
        assert served_serial(port, 'xn--fsqu00a.demo.internal', ca_file) == issued['shop']['serial']

    with open(os.path.join(demo_dir, 'report.json')) as handle:
        report = json.load(handle)
    assert sorted(c['name'] for c in report) == ['api', 'shop', 'www']
    with open(os.path.join(demo_dir, 'report.html'), encoding='utf-8') as handle:
        html = handle.read()
    assert '例子.demo.internal' in html and 'api.demo.internal' in html
    summary = '\n'.join(first.task('What happened, where everything is, what to try next')['result']['msg'])
    assert demo_dir in summary and 'root.pem' in summary

    second = run_playbook(DEMO, ports, env=env, timeout=180).assert_ok()
    assert second.recap['localhost']['changed'] == 0


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
