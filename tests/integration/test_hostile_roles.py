# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile role variables through ansible-playbook: values the nginx and apache roles paste into the web
server configuration (server names, proxy_pass, listen addresses, paths) and names that become folders.
Each case fails in preflight with a message naming the variable and the value; no site file is written and
nothing is reloaded. A valid control run per server proves the same setup does write and reload."""

import os

import pytest

from tests.lib.playbook import run_playbook
from tests.lib.webservers import PLAYBOOKS, TestPKI

LEAK = 'ok.example.com; location /leak/ { alias /etc/; autoindex on; } #'

# (id, site changes, role-wide changes (name without the certflow_<server>_ prefix), words the message must hold)
CASES = [
    ('server-name-semicolon', {'server_names': [LEAK]}, {}, ['server_names', 'location /leak/']),
    ('server-name-newline', {'server_names': ['ok.example.com\nlocation /leak/']}, {}, ['server_names', '\\n']),
    ('server-name-brace', {'server_names': ['ok.example.com}']}, {}, ['server_names', 'ok.example.com}']),
    ('server-name-space', {'server_names': ['ok.example.com other.example.com']}, {}, ['server_names']),
    ('server-name-hash', {'server_names': ['ok.example.com#']}, {}, ['server_names', 'ok.example.com#']),
    ('proxy-pass-injection', {'root': '', 'proxy_pass': 'http://127.0.0.1:8080; root /etc'}, {}, ['proxy_pass', 'root /etc']),
    ('proxy-pass-scheme', {'root': '', 'proxy_pass': 'file:///etc/passwd'}, {}, ['proxy_pass', 'file:///etc/passwd']),
    ('proxy-pass-variable', {'root': '', 'proxy_pass': 'http://$host/'}, {}, ['proxy_pass', '$host']),
    ('listen-host-name', {'listen_addresses': ['localhost']}, {}, ['listen_addresses', 'localhost']),
    ('listen-injection', {'listen_addresses': ['127.0.0.1 ssl; include /etc/passwd']}, {}, ['listen_addresses', 'include']),
    ('listen-bare-ipv6', {'listen_addresses': ['::1']}, {}, ['listen_addresses', '[::1]']),
    ('root-newline', {'root': '/var/www\nautoindex on'}, {}, ['root', '\\n']),
    ('certificate-semicolon', {'certificate': '/etc/ssl/x.pem; include /etc/passwd'}, {}, ['certificate', 'include /etc/passwd']),
    ('private-key-quote', {'private_key': '/etc/ssl/k.pem" x'}, {}, ['private_key', 'k.pem']),
    ('chain-relative', {'chain': 'chain.pem'}, {}, ['chain', 'chain.pem']),
    ('challenge-root-brace', {'challenge_root': '/var/www/c{'}, {}, ['challenge_root', '/var/www/c{']),
    ('sites-dir-newline', {}, {'sites_dir': '/tmp/sites\n'}, ['sites_dir', '\\n']),
    ('sites-dir-relative', {}, {'sites_dir': 'sites'}, ['sites_dir']),
    ('site-name-trailing-newline', {'name': 'www\n'}, {}, ['www']),
    ('file-prefix-folder', {}, {'file_prefix': '../../escaped-'}, ['file_prefix', '../../escaped-']),
    ('session-cache-injection', {}, {'ssl_session_cache': 'shared:x:1m; include /etc/passwd'}, ['ssl_session_cache', 'include']),
    ('curve-newline', {}, {'tls_curves': ['X25519\ninclude /etc/passwd']}, ['tls_curves', '\\n']),
]


def failure_message(result):
    """The msg of the failed task (of its failed item, for a loop)."""
    failed = result.failed_tasks()
    if not failed:
        return ''
    outcome = failed[0]['result']
    for item in outcome.get('results', []):
        if item.get('failed'):
            return item.get('msg', '')
    return outcome.get('msg', '')


class Setup:
    """Certificate files, folders and commands for one server kind; the commands leave a mark when they run."""

    def __init__(self, kind, workdir):
        self.kind = kind
        self.workdir = workdir
        self.pki = TestPKI(os.path.join(workdir, 'tls'))
        self.cert = self.pki.issue('www', ['www.test'])
        self.sites_dir = os.path.join(workdir, 'sites')
        self.conf_dir = os.path.join(workdir, 'conf')
        self.marks = os.path.join(workdir, 'marks')
        for path in (self.sites_dir, self.conf_dir, self.marks, os.path.join(workdir, 'www')):
            os.makedirs(path, exist_ok=True)

    def role_vars(self, site_changes, role_changes):
        site = {'name': 'www', 'server_names': ['www.test'], 'certificate': self.cert.fullchain, 'private_key': self.cert.privkey,
                'chain': self.cert.chain, 'root': os.path.join(self.workdir, 'www')}
        site.update(site_changes)
        values = {
            'sites': [site], 'sites_dir': self.sites_dir, 'https_port': 8443, 'http_port': 8080, 'listen_addresses': ['127.0.0.1'],
            'challenge_root': os.path.join(self.workdir, 'challenges'),
            'config_test_command': 'touch %s/tested' % self.marks, 'reload_command': 'touch %s/reloaded' % self.marks,
        }
        if self.kind == 'apache':
            values.update({'conf_dir': self.conf_dir, 'runtime_dir': self.workdir, 'enable_modules': False,
                           'check_key_match': False, 'system_listen_ports': []})
        values.update(role_changes)
        return {'certflow_%s_%s' % (self.kind, key): value for key, value in values.items()}

    def run(self, site_changes=None, role_changes=None):
        return run_playbook(os.path.join(PLAYBOOKS, 'roles_webserver_%s.yml' % self.kind),
                            self.role_vars(site_changes or {}, role_changes or {}))

    def written(self):
        files = []
        for folder in (self.sites_dir, self.conf_dir, os.path.join(self.workdir, 'challenges')):
            if os.path.isdir(folder):
                files += [os.path.join(folder, name) for name in os.listdir(folder)]
        return sorted(files + [os.path.join(self.marks, name) for name in os.listdir(self.marks)])


@pytest.fixture(params=['nginx', 'apache'])
def setup(request, tmp_path):
    return Setup(request.param, str(tmp_path))


def test_valid_site_is_written_and_reloaded(setup):
    """The control: with the same setup and valid values the role writes the site and reloads."""
    setup.run().assert_ok()
    assert os.path.exists(os.path.join(setup.sites_dir, 'certflow-www.conf'))
    assert os.path.exists(os.path.join(setup.marks, 'reloaded'))


@pytest.mark.parametrize('case_id,site_changes,role_changes,words', CASES, ids=[case[0] for case in CASES])
def test_hostile_role_value_is_refused_before_anything_is_written(setup, reliability, case_id, site_changes, role_changes, words):
    result = setup.run(site_changes, role_changes)
    failed = result.failed_tasks()
    message = failure_message(result)
    shown = ', '.join('%s: %r' % (key, value) for key, value in sorted(dict(site_changes, **role_changes).items()))
    reliability.record('Hostile input', '%s-%s' % (setup.kind, case_id), 'role certflow.ssl.%s, %s' % (setup.kind, shown),
                       'fails in preflight naming the variable and value; no site file, no reload',
                       'failed, %d files written' % len(setup.written()) if failed else 'NOT REFUSED (rc %d)' % result.rc,
                       message=message)
    assert result.rc != 0, result.output
    assert len(failed) == 1, result.output
    assert message.startswith('certflow.ssl.%s: ' % setup.kind), message
    for word in words:
        assert word in message, 'expected %r in %r' % (word, message)
    assert setup.written() == [], 'nothing may be written or reloaded for hostile input'


def test_certificate_name_with_a_trailing_newline_creates_no_store_folder(tmp_path, reliability):
    """A name the old '^...$' check let through: with the local CA the role made a store folder 'x\\n'."""
    store_dir = str(tmp_path / 'store')
    os.makedirs(store_dir, mode=0o700)
    result = run_playbook(os.path.join(PLAYBOOKS, 'faults_role_input.yml'), {
        'certflow_certificates': [{'name': 'x\n', 'domains': ['x.certflow.test']}], 'certflow_store_dir': store_dir,
        'certflow_provider': 'local', 'certflow_validation': 'none', 'certflow_local_ca': {'path': str(tmp_path / 'ca')}})
    message = failure_message(result)
    reliability.record('Hostile input', 'certificate-role-name-trailing-newline', "role certflow.ssl.certificate, name: 'x\\n'",
                       'refused by the role preflight, no store folder', 'failed' if result.rc else 'NOT REFUSED', message=message)
    assert result.rc != 0, result.output
    assert 'certflow.ssl.certificate: entry x' in message and 'is not valid' in message, message
    assert [entry for entry in os.listdir(store_dir) if entry != '.locks'] == []


def test_deploy_name_with_a_trailing_newline_is_refused(tmp_path, reliability):
    store_dir = str(tmp_path / 'store')
    os.makedirs(store_dir, mode=0o700)
    dest = str(tmp_path / 'dest')
    result = run_playbook(os.path.join(PLAYBOOKS, 'hostile_deploy.yml'), {
        'certflow_store_dir': store_dir, 'certflow_deploy_dest_dir': dest,
        'certflow_deploy_certificates': [{'name': 'www\n'}]})
    message = failure_message(result)
    reliability.record('Hostile input', 'deploy-role-name-trailing-newline', "role certflow.ssl.deploy, name: 'www\\n'",
                       'refused by the role preflight, nothing copied', 'failed' if result.rc else 'NOT REFUSED', message=message)
    assert result.rc != 0, result.output
    assert 'certflow.ssl.deploy: entry www' in message and 'is not valid' in message, message
    assert not os.path.exists(dest)
