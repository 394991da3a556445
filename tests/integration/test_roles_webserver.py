# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nginx and apache roles, applied by the real ansible-playbook to a private nginx / apache2
on loopback ports and checked with real TLS handshakes and HTTP requests."""

import http.server
import os
import shutil
import socket
import ssl
import tempfile
import threading

import pytest

from tests.lib import services
from tests.lib.playbook import run_playbook
from tests.lib.webservers import (
    CHALLENGE_TOKEN, HOST, OCSP_URL, PLAYBOOKS, PrivateApache, PrivateNginx, TestPKI, _Backend, _write, eventually, handshake,
    http_get, https_get, refusal_reason)


class Deployment:
    """A private server, the certificates, and the role variables of the baseline configuration."""

    def __init__(self, server, workdir, pki, certs, ports, backend_port):
        self.server = server
        self.kind = server.kind
        self.workdir = workdir
        self.pki = pki
        self.certs = certs
        self.https_port, self.http_port = ports
        self.backend_port = backend_port
        self.playbook = os.path.join(PLAYBOOKS, 'roles_webserver_%s.yml' % server.kind)
        self.first_run = None

    def var(self, name):
        return 'certflow_%s_%s' % (self.kind, name)

    def sites(self, **www_changes):
        www = {'name': 'www', 'server_names': ['www.test', 'test'], 'certificate': self.certs['plain'].fullchain,
               'private_key': self.certs['plain'].privkey, 'root': os.path.join(self.workdir, 'www')}
        www.update(www_changes)
        return [
            www,
            {'name': 'ocsp', 'server_names': ['ocsp.test'], 'certificate': self.certs['ocsp'].fullchain,
             'private_key': self.certs['ocsp'].privkey, 'chain': self.certs['ocsp'].chain,
             'root': os.path.join(self.workdir, 'www')},
            {'name': 'app', 'server_names': ['app.test'], 'certificate': self.certs['plain'].fullchain,
             'private_key': self.certs['plain'].privkey, 'proxy_pass': 'http://%s:%d' % (HOST, self.backend_port)},
        ]

    def role_vars(self, sites=None, **changes):
        values = dict(self.server.role_vars())
        values.update({
            self.var('sites'): sites if sites is not None else self.sites(),
            self.var('https_port'): self.https_port,
            self.var('http_port'): self.http_port,
            self.var('listen_addresses'): [HOST],
            self.var('challenge_root'): os.path.join(self.workdir, 'challenges'),
        })
        values.update({self.var(name): value for name, value in changes.items()})
        return values

    def run(self, sites=None, **changes):
        return run_playbook(self.playbook, extra_vars=self.role_vars(sites, **changes), timeout=300)

    def serial(self, server_name='www.test', version=ssl.TLSVersion.TLSv1_3):
        return handshake(self.https_port, server_name, version, self.pki.ca_path)[1]

    def wait_serving(self, server_name, serial, version=ssl.TLSVersion.TLSv1_3):
        def check():
            served = self.serial(server_name, version)
            assert served == serial, 'serves serial %x, expected %x' % (served, serial)
        eventually(check)

    def config_snapshot(self):
        """Every file under the server's configuration directories with its content (links as their target)."""
        snapshot = {}
        for directory in self.server.config_dirs():
            for name in sorted(os.listdir(directory)):
                path = os.path.join(directory, name)
                if os.path.islink(path):
                    snapshot[path] = 'link -> ' + os.readlink(path)
                else:
                    with open(path) as handle:
                        snapshot[path] = handle.read()
        return snapshot


def _recap(result):
    assert result.recap, 'no play recap recorded:\n%s' % result.output
    return next(iter(result.recap.values()))


@pytest.fixture(scope='module', params=['nginx', 'apache'])
def deployment(request):
    server_class = {'nginx': PrivateNginx, 'apache': PrivateApache}[request.param]
    if os.geteuid() != 0:
        pytest.skip('the private %s needs root (it binds as root and drops to an unprivileged user)' % server_class.binary)
    if services.missing_binaries((server_class.binary,)):
        pytest.fail('%s is not installed; run `make test` (apt-get install nginx-light apache2)' % server_class.binary, pytrace=False)

    # Readable by the unprivileged apache2 children (pytest's tmp_path is private to root).
    workdir = tempfile.mkdtemp(prefix='certflow-%s-' % request.param)
    os.chmod(workdir, 0o755)
    server = server_class(os.path.join(workdir, 'server'))
    backend = http.server.ThreadingHTTPServer((HOST, 0), _Backend)
    backend_thread = threading.Thread(target=backend.serve_forever, daemon=True)
    backend_thread.start()
    try:
        pki = TestPKI(os.path.join(workdir, 'tls'))
        certs = {
            'plain': pki.issue('plain', ['www.test', 'test', 'app.test']),
            'ocsp': pki.issue('ocsp', ['ocsp.test'], ocsp_url=OCSP_URL),
            'renewed': pki.issue('renewed', ['www.test', 'test']),
        }
        os.makedirs(os.path.join(workdir, 'www'))
        _write(os.path.join(workdir, 'www', 'index.html'), 'certflow www\n')
        for folder in ('acme-challenge', 'pki-validation'):
            os.makedirs(os.path.join(workdir, 'challenges', '.well-known', folder))
            _write(os.path.join(workdir, 'challenges', '.well-known', folder, CHALLENGE_TOKEN), '%s %s\n' % (folder, CHALLENGE_TOKEN))

        ports = (services.free_port(), services.free_port())
        server.start(services.free_port())
        deployed = Deployment(server, workdir, pki, certs, ports, backend.server_address[1])
        deployed.first_run = deployed.run().assert_ok()
        deployed.wait_serving('www.test', certs['plain'].serial)
        yield deployed
    finally:
        server.stop()
        backend.shutdown()
        backend.server_close()
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- tests

@pytest.mark.parametrize('version', [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=['tls1.2', 'tls1.3'])
def test_handshake_with_sni_serves_the_configured_certificate(deployment, version):
    assert _recap(deployment.first_run)['changed'] > 0
    for server_name, label in (('www.test', 'plain'), ('test', 'plain'), ('ocsp.test', 'ocsp'), ('app.test', 'plain')):
        negotiated, serial = handshake(deployment.https_port, server_name, version, deployment.pki.ca_path)
        assert negotiated == {'TLSv1_2': 'TLSv1.2', 'TLSv1_3': 'TLSv1.3'}[version.name]
        assert serial == deployment.certs[label].serial, server_name


@pytest.mark.filterwarnings('ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning')
def test_tls11_is_refused(deployment):
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.minimum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, AttributeError) as error:
        pytest.skip('this Python/OpenSSL cannot offer TLS 1.1: %s' % error)
    context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        context.set_ciphers('DEFAULT:@SECLEVEL=0')  # OpenSSL 3 offers TLS 1.1 only at security level 0
    except ssl.SSLError as error:
        pytest.skip('this OpenSSL cannot lower its security level to offer TLS 1.1: %s' % error)
    with socket.create_connection((HOST, deployment.https_port), timeout=5) as raw, pytest.raises(ssl.SSLError) as refused:
        context.wrap_socket(raw, server_hostname='www.test')
    if refused.value.reason in ('NO_PROTOCOLS_AVAILABLE', 'NO_CIPHERS_AVAILABLE'):
        pytest.skip('the local OpenSSL did not offer TLS 1.1 (%s), so the server was not asked' % refused.value.reason)
    # The server answered the TLS 1.1 ClientHello with a protocol_version alert.
    assert refused.value.reason == 'TLSV1_ALERT_PROTOCOL_VERSION', refused.value


def test_https_sends_hsts(deployment):
    status, headers, body = https_get(deployment.https_port, 'www.test', '/', deployment.pki.ca_path)
    assert (status, body) == (200, 'certflow www\n')
    assert headers.get('strict-transport-security') == 'max-age=63072000'


def test_http_redirects_to_https_with_308(deployment):
    status, headers, _body = http_get(deployment.http_port, 'www.test', '/anything?x=1')
    assert status == 308
    assert headers['location'] == 'https://www.test:%d/anything?x=1' % deployment.https_port


@pytest.mark.parametrize('folder', ['acme-challenge', 'pki-validation'])
def test_challenge_paths_are_served_over_http(deployment, folder):
    status, headers, body = http_get(deployment.http_port, 'www.test', '/.well-known/%s/%s' % (folder, CHALLENGE_TOKEN))
    assert (status, body) == (200, '%s %s\n' % (folder, CHALLENGE_TOKEN)), headers
    assert headers['content-type'].startswith('text/plain')
    status, _headers, _body = http_get(deployment.http_port, 'www.test', '/.well-known/%s/unknown-token' % folder)
    assert status == 404


def test_proxied_site_reaches_its_upstream(deployment):
    status, headers, body = https_get(deployment.https_port, 'app.test', '/api?q=1', deployment.pki.ca_path)
    assert status == 200
    assert body.startswith('backend saw host=app.test') and 'proto=https path=/api?q=1' in body, body
    assert 'strict-transport-security' in headers


def test_ocsp_stapling_only_for_the_certificate_with_a_responder(deployment):
    with open(deployment.server.site_file('ocsp')) as handle:
        assert deployment.server.stapling_directive in handle.read()
    for name in ('www', 'app'):
        with open(deployment.server.site_file(name)) as handle:
            assert 'stapling' not in handle.read().lower(), name


def test_second_run_changes_nothing(deployment):
    before = deployment.config_snapshot()
    result = deployment.run().assert_ok()
    recap = _recap(result)
    changed = [record['task'] for record in result.tasks if record['status'] == 'changed']
    assert recap['changed'] == 0, changed
    assert deployment.config_snapshot() == before


def test_check_mode_reports_changes_but_writes_nothing(deployment):
    before = deployment.config_snapshot()
    result = run_playbook(deployment.playbook, extra_vars=deployment.role_vars(tls_profile='modern'), check=True, timeout=300)
    result.assert_ok()
    assert _recap(result)['changed'] > 0
    assert deployment.config_snapshot() == before
    assert handshake(deployment.https_port, 'www.test', ssl.TLSVersion.TLSv1_2, deployment.pki.ca_path)[0] == 'TLSv1.2'


def test_reconfigure_to_modern_without_hsts_and_remove_a_site(deployment):
    sites = deployment.sites()
    sites[2]['state'] = 'absent'
    try:
        deployment.run(sites=sites, tls_profile='modern', hsts=False).assert_ok()

        def tls12_refused():
            assert refusal_reason(deployment.https_port, 'www.test', ssl.TLSVersion.TLSv1_2,
                                  deployment.pki.ca_path) == 'TLSV1_ALERT_PROTOCOL_VERSION'
        eventually(tls12_refused)
        assert deployment.serial('www.test', ssl.TLSVersion.TLSv1_3) == deployment.certs['plain'].serial
        _status, headers, _body = https_get(deployment.https_port, 'www.test', '/', deployment.pki.ca_path)
        assert 'strict-transport-security' not in headers, 'HSTS is still sent after certflow_*_hsts: false'
        with open(deployment.server.site_file('www')) as handle:
            assert deployment.server.cipher_directive not in handle.read(), 'modern (TLS 1.3 only) sets no TLS 1.2 ciphers'
        # The removed site's files are gone and its name falls through to the port's default site (a 404 there).
        assert not any(path.endswith('certflow-app.conf') for path in deployment.config_snapshot())
        status, _headers, body = https_get(deployment.https_port, 'app.test', '/api', deployment.pki.ca_path, check_hostname=False)
        assert status == 404 and 'backend saw' not in body
    finally:
        deployment.run().assert_ok()
        eventually(lambda: deployment.serial('www.test', ssl.TLSVersion.TLSv1_2))


def _assert_failed_without_effect(deployment, result, before, *phrases):
    assert result.rc != 0, 'the play should have failed:\n%s' % result.output
    for phrase in phrases:
        assert phrase in result.output, 'missing %r in:\n%s' % (phrase, result.output)
    assert deployment.config_snapshot() == before, 'the configuration files were not restored'
    assert deployment.server.process.running(), 'the server stopped'
    assert deployment.serial('www.test') == deployment.certs['plain'].serial
    _status, headers, _body = https_get(deployment.https_port, 'www.test', '/', deployment.pki.ca_path)
    assert headers.get('strict-transport-security') == 'max-age=63072000'


def test_missing_certificate_fails_before_anything_changes(deployment):
    before = deployment.config_snapshot()
    missing = os.path.join(deployment.workdir, 'tls', 'gone', 'fullchain.pem')
    result = deployment.run(sites=deployment.sites(certificate=missing))
    _assert_failed_without_effect(deployment, result, before, 'site www: certificate file %s' % missing, 'does not exist')


def test_rejected_configuration_is_rolled_back(deployment):
    before = deployment.config_snapshot()
    renewed = deployment.certs['renewed']
    directive = {'nginx': 'certflow_no_such_directive', 'apache': 'CertflowNoSuchDirective'}[deployment.kind]
    sites = deployment.sites(certificate=renewed.fullchain, private_key=renewed.privkey,
                             extra_config='%s on%s' % (directive, ';' if deployment.kind == 'nginx' else ''))
    # A site that did not exist before: its file (and link) must go as well.
    sites.append({'name': 'late', 'server_names': ['late.test'], 'certificate': renewed.fullchain, 'private_key': renewed.privkey,
                  'root': os.path.join(deployment.workdir, 'www')})
    # A change to every file, the server-wide apache file included.
    everywhere = {'nginx': {'ssl_session_timeout': '2h'},
                  'apache': {'ssl_session_cache': 'shmcb:%s/other_scache(512000)' % deployment.server.directory}}[deployment.kind]
    # The new files pass the role's own checks, but the server's configuration test rejects them.
    result = deployment.run(sites=sites, hsts_max_age=300, **everywhere)
    _assert_failed_without_effect(deployment, result, before, 'previous', 'restored', directive)


def test_key_that_does_not_match_the_certificate_is_refused(deployment):
    before = deployment.config_snapshot()
    renewed = deployment.certs['renewed']
    result = deployment.run(sites=deployment.sites(certificate=renewed.fullchain, private_key=deployment.certs['ocsp'].privkey))
    # nginx -t loads the key and rejects it (then the files are rolled back); apachectl -t does not load
    # certificates, so the apache role compares the public keys before it writes anything.
    phrase = {'nginx': 'key values mismatch', 'apache': 'does not belong to certificate'}[deployment.kind]
    _assert_failed_without_effect(deployment, result, before, phrase)
