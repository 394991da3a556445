# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The playbooks site.yml, renew.yml, report.yml and revoke.yml, run by the real ansible-playbook
with inventories/site (a host with nginx, a host with apache2, both on this machine) against
Pebble and BIND9 (the services fixture) and a private nginx and apache2 on loopback ports,
checked with real TLS handshakes, HTTP requests and a headless browser. The tests run in order;
each builds on the state the one before left."""

import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess

import pytest
from cryptography import x509

from tests.lib.playbook import changed_tasks, run_playbook
from tests.lib.secret_scan import leaks, secrets_in
from tests.lib.webservers import ServerPair, eventually, handshake, http_get, serial_of, server_pair_workdir

HERE = os.path.dirname(os.path.abspath(__file__))

REPO = os.path.dirname(os.path.dirname(HERE))
PLAYBOOKS = os.path.join(REPO, 'playbooks')
INVENTORY = os.path.join(HERE, 'inventories', 'site')
SHOP_NAMES = ['shop.certflow.test', 'www.shop.certflow.test']
TOKEN = 'certflow-site-token'
TLS_VERSIONS = {'TLSv1.2': ssl.TLSVersion.TLSv1_2, 'TLSv1.3': ssl.TLSVersion.TLSv1_3}
# Where each host serves which certificate.
SERVED = {'nginx': {'shop': SHOP_NAMES, 'api': ['api.certflow.test']}, 'apache': {'shop': SHOP_NAMES}}
HOST_OF = {'nginx': 'web-nginx', 'apache': 'web-apache'}


class Site(ServerPair):
    """The private servers, the directories of the run and the certflow_test extra var of inventories/site."""

    def __init__(self, services, workdir):
        super(Site, self).__init__(workdir)
        self.services = services
        self.workdir = workdir
        self.store_dir = os.path.join(workdir, 'store')
        os.makedirs(self.store_dir, mode=0o700)
        self.deploy_root = os.path.join(workdir, 'deploy')
        self.report_dir = os.path.join(workdir, 'report')
        self.docroot = os.path.join(workdir, 'www')
        os.makedirs(self.docroot)
        with open(os.path.join(self.docroot, 'index.html'), 'w') as handle:
            handle.write('certflow site\n')
        self.roots = os.path.join(workdir, 'pebble-roots.pem')
        with open(self.roots, 'w') as handle:
            handle.write(services.pebble.roots_pem())
        # nginx (root) serves the challenges from the harness web root that Pebble validates against;
        # the apache2 children cannot read pytest's private directories, so apache gets its own.
        self.challenge_roots = {'nginx': services.web.webroot, 'apache': os.path.join(workdir, 'challenges-apache')}

    def extra_vars(self, **changes):
        services = self.services
        test = {
            'acme_directory': services.pebble.directory_url, 'acme_ca_bundle': services.pebble.ca_bundle,
            'dns_server': services.bind.host, 'dns_port': services.bind.port, 'nameserver': services.bind.nameserver,
            'tsig_name': services.bind.tsig_name, 'tsig_secret': services.bind.tsig_secret, 'tsig_algorithm': services.bind.tsig_algorithm,
            'webroot': services.web.webroot, 'http_port': services.web.http_port,
            'store_dir': self.store_dir, 'deploy_root': self.deploy_root, 'docroot': self.docroot, 'report_dir': self.report_dir,
        }
        test.update(self.server_settings(self.challenge_roots))
        values = {'certflow_test': test}
        values.update(changes)
        return values

    def run(self, playbook, check=False, diff=False, **changes):
        return run_playbook(os.path.join(PLAYBOOKS, playbook), self.extra_vars(**changes), inventory=INVENTORY, timeout=300,
                            check=check, diff=diff)

    def files(self):
        """Every file under the store, the deployment root and the servers' site folders."""
        found = set()
        for top in (self.store_dir, self.deploy_root, self.nginx.role_vars()['certflow_nginx_sites_dir'],
                    self.apache.role_vars()['certflow_apache_sites_dir']):
            for folder, _dirs, names in os.walk(top):
                found.update(os.path.join(folder, name) for name in names)
        return found

    def challenge_dir(self):
        return os.path.join(self.services.web.webroot, '.well-known', 'acme-challenge')

    def store_serial(self, name):
        return serial_of(os.path.join(self.store_dir, name, 'cert.pem'))

    def deployed(self, server, name, kind='cert'):
        return os.path.join(self.deploy_root, HOST_OF[server], name, kind + '.pem')

    def handshake(self, server, server_name, version=ssl.TLSVersion.TLSv1_3):
        """(protocol, certificate) of a verified TLS handshake with SNI."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(self.roots)
        context.minimum_version = context.maximum_version = version
        with socket.create_connection(('127.0.0.1', self.ports[server][0]), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname=server_name) as tls:
                return tls.version(), x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))

    def assert_serving_store(self):
        """Every name on both servers serves the store's certificate, verified up to Pebble's root."""
        for server, certificates in SERVED.items():
            for name, names in certificates.items():
                expected = self.store_serial(name)
                for server_name in names:
                    eventually(lambda: _assert_serial(handshake(self.ports[server][0], server_name, ssl.TLSVersion.TLSv1_3, self.roots)[1],
                                                      expected, server, server_name))


def _assert_serial(served, expected, server, server_name):
    assert served == expected, '%s serves %x for %s, expected %x' % (server, served, server_name, expected)


def pebble_requests(services):
    with open(services.pebble.log_path) as handle:
        return sum(1 for line in handle if 'calling handler()' in line)


@pytest.fixture(scope='module')
def site(services):
    workdir = server_pair_workdir('certflow-site-')
    site = Site(services, workdir)
    try:
        site.start()
        # On fresh hosts first: check mode must get through every role and change nothing.
        site.files_before_check, site.requests_before_check = site.files(), pebble_requests(services)
        # The harness web root is shared with the other tests of the session: only this module's files count.
        site.challenges_before = set(os.listdir(site.challenge_dir())) if os.path.isdir(site.challenge_dir()) else set()
        site.check_run = site.run('site.yml', check=True, diff=True)
        site.files_after_check, site.requests_after_check = site.files(), pebble_requests(services)
        site.first_run = site.run('site.yml')
        yield site
    finally:
        site.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- site.yml

def test_site_issues_deploys_and_serves_on_nginx_and_apache(site):
    site.first_run.assert_ok()
    issued = {entry['name']: entry for entry in site.first_run.task('Publish the results for the plays and roles that follow')['result']
              ['ansible_facts']['certflow_certificate_results']}
    assert issued['shop']['renewed'] and issued['api']['renewed']
    for server, certificates in SERVED.items():
        for name, names in certificates.items():
            for server_name in names:
                for label, version in TLS_VERSIONS.items():
                    protocol, cert = site.handshake(server, server_name, version)
                    assert protocol == label
                    assert cert.serial_number == site.store_serial(name), (server, server_name)
                    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
                    assert sorted(sans) == sorted(names)
            # deployed with safe modes
            assert os.stat(site.deployed(server, name, 'privkey')).st_mode & 0o777 == 0o600
            assert os.stat(site.deployed(server, name, 'fullchain')).st_mode & 0o777 == 0o644
    # the http-01 files were put on the web host and removed again
    assert set(os.listdir(site.challenge_dir())) <= site.challenges_before


@pytest.mark.parametrize('server', ['nginx', 'apache'])
def test_http_redirects_with_308_except_the_validation_paths(site, server):
    status, headers, _body = http_get(site.ports[server][1], 'shop.certflow.test', '/some/page?x=1')
    assert status == 308
    assert headers['location'] == 'https://shop.certflow.test:%d/some/page?x=1' % site.ports[server][0]
    for folder in ('acme-challenge', 'pki-validation'):
        path = os.path.join(site.challenge_roots[server], '.well-known', folder, TOKEN)
        with open(path, 'w') as handle:
            handle.write('%s proof\n' % folder)
        try:
            status, _headers, body = http_get(site.ports[server][1], 'shop.certflow.test', '/.well-known/%s/%s' % (folder, TOKEN))
            assert (status, body) == (200, '%s proof\n' % folder)
        finally:
            os.unlink(path)


def test_second_site_run_changes_nothing(site):
    before = pebble_requests(site.services)
    result = site.run('site.yml').assert_ok()
    assert changed_tasks(result) == []
    assert all(recap['changed'] == 0 for recap in result.recap.values()), result.recap
    assert pebble_requests(site.services) == before, 'a second run must not ask the CA anything'


def test_site_check_mode_on_fresh_hosts_goes_through_and_changes_nothing(site):
    site.check_run.assert_ok()
    assert site.files_after_check == site.files_before_check
    assert site.requests_after_check == site.requests_before_check, 'check mode must not ask the CA anything'
    requested = site.check_run.task('Create, renew or resume the orders')['result']['certificates']
    assert sorted((entry['name'], entry['status']) for entry in requested) == [('api', 'pending_validation'),
                                                                               ('shop', 'pending_validation')]
    waiting = [record['result']['msg'] for record in site.check_run.tasks
               if record['task'].startswith('Report the sites that would be configured')]
    assert any('shop' in message for message in waiting), waiting


# --------------------------------------------------------------------------- renew.yml

def test_renew_when_nothing_is_due_changes_nothing(site):
    serials = {name: site.store_serial(name) for name in ('shop', 'api')}
    result = site.run('renew.yml').assert_ok()
    assert changed_tasks(result) == []
    assert {name: site.store_serial(name) for name in serials} == serials


def test_renew_and_report_in_check_mode_change_nothing_even_when_due(site):
    files = {path: _digest(path) for path in site.files()}
    before = pebble_requests(site.services)
    serials = {name: site.store_serial(name) for name in ('shop', 'api')}
    renew = site.run('renew.yml', check=True, diff=True, certflow_renew_before_days=100000).assert_ok()
    planned = renew.task('Create, renew or resume the orders')['result']['certificates']
    assert sorted((entry['name'], entry['action']) for entry in planned) == [('api', 'renew'), ('shop', 'renew')]
    site.run('report.yml', check=True).assert_ok()
    assert {path: _digest(path) for path in site.files()} == files
    assert not os.path.exists(os.path.join(site.report_dir, 'certflow-report.json'))
    assert pebble_requests(site.services) == before, 'check mode must not ask the CA anything'
    site.assert_serving_store()
    assert {name: site.store_serial(name) for name in serials} == serials


def _digest(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_renew_when_due_serves_the_new_certificates_and_removes_the_old_files(site):
    old = {name: site.store_serial(name) for name in ('shop', 'api')}
    result = site.run('renew.yml', diff=True, certflow_renew_before_days=100000).assert_ok()
    renewed = result.task('Publish the names that got a new certificate in this run')['result']['ansible_facts']
    assert sorted(renewed['certflow_certificate_renewed']) == ['api', 'shop']
    for name in old:
        assert site.store_serial(name) != old[name]
    site.assert_serving_store()
    for server, certificates in SERVED.items():
        for name in certificates:
            assert serial_of(site.deployed(server, name)) == site.store_serial(name)
            # served and checked: the copies of the old files (and the old private key) are gone
            assert not os.path.exists(site.deployed(server, name, 'privkey') + '.certflow-previous')
            assert not os.path.exists(site.deployed(server, name) + '.certflow-previous')
    checked = result.task_items('Ask each endpoint for its certificate (TLS with SNI)')
    assert len(checked) == 3 and all(not item['result'].get('failed') for item in checked)
    # --diff shows the certificate files change on the hosts, never a private key.
    copied = [item['result'] for item in result.task_items('Copy key, certificate, chain and full chain')]
    assert any(entry.get('diff') for entry in copied if entry['item'][1]['kind'] == 'cert')
    assert not any(entry.get('diff') for entry in copied if entry['item'][1]['kind'] == 'privkey')
    assert 'PRIVATE KEY' not in result.output
    assert leaks(result.output, secrets_in(site.workdir)) == []


# --------------------------------------------------------------------------- report.yml

def test_report_lists_every_certificate_in_json_and_html(site, tmp_path):
    site.run('report.yml').assert_ok()
    with open(os.path.join(site.report_dir, 'certflow-report.json')) as handle:
        report = json.load(handle)
    rows = {(row['name'], row['location']): row for row in report['certificates']}
    assert set(rows) == {('shop', 'store'), ('api', 'store'), ('shop', 'web-nginx'), ('api', 'web-nginx'), ('shop', 'web-apache')}
    for (name, _location), row in rows.items():
        assert int(row['serial'], 16) == site.store_serial(name)
        assert row['issuer'].startswith('CN=Pebble Intermediate CA')
        assert row['days_remaining'] > 30 and row['not_after'].endswith('Z')
        assert sorted(row['domains']) == sorted(SERVED['nginx'][name])

    chromium = shutil.which('chromium') or shutil.which('chromium-browser')
    if chromium is None:
        pytest.fail('chromium is not installed (apt-get install chromium)', pytrace=False)
    page = 'file://' + os.path.join(site.report_dir, 'certflow-report.html')
    flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
             '--disable-sync', '--no-first-run', '--user-data-dir=%s' % (tmp_path / 'chromium')]
    screenshot = tmp_path / 'report.png'
    subprocess.run([chromium] + flags + ['--window-size=1280,1000', '--screenshot=%s' % screenshot, page],
                   capture_output=True, timeout=120, check=True)
    assert screenshot.stat().st_size > 10000
    with open(screenshot, 'rb') as handle:
        assert handle.read(8) == b'\x89PNG\r\n\x1a\n'
    dom = subprocess.run([chromium] + flags + ['--dump-dom', page], capture_output=True, text=True, timeout=120, check=True).stdout
    assert 'id="count-all">5<' in dom
    for (name, location), row in rows.items():
        assert 'data-name="%s"' % name in dom
        assert '%s &#183; %s' % (name, 'store' if location == 'store' else location) in dom or \
            '%s · %s' % (name, 'store' if location == 'store' else location) in dom
        assert row['not_after'] in dom
    assert dom.count('<tr class="certificate"') == 5
    assert dom.count('<g class="cert"') == 5


# --------------------------------------------------------------------------- revoke.yml

def test_revoke_needs_the_confirmation_then_revokes(site):
    serial = '%x' % site.store_serial('api')
    refused = site.run('revoke.yml', certflow_revoke_names='api')
    assert refused.rc != 0
    assert 'Revocation is irreversible; nothing was revoked' in refused.output
    assert 'certflow_revoke_confirm=yes' in refused.output
    assert site.services.pebble.cert_status(serial)['Status'] == 'Valid'

    done = site.run('revoke.yml', certflow_revoke_names=['api'], certflow_revoke_reason='superseded',
                    certflow_revoke_confirm='yes').assert_ok()
    assert done.task_items('Revoke')[0]['result']['changed'] is True
    assert site.services.pebble.cert_status(serial)['Status'] == 'Revoked'

    site.run('report.yml').assert_ok()
    with open(os.path.join(site.report_dir, 'certflow-report.json')) as handle:
        rows = {(row['name'], row['location']): row for row in json.load(handle)['certificates']}
    assert rows[('api', 'store')]['revocation_status'] == 'revoked'
    assert rows[('api', 'web-nginx')]['revocation_status'] == 'revoked', 'a deployed copy shows the revocation too'
    assert rows[('shop', 'store')]['revocation_status'] != 'revoked'
