# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nginx and apache roles, applied by the real ansible-playbook to a private nginx / apache2
on loopback ports and checked with real TLS handshakes and HTTP requests."""

import datetime
import grp
import http.client
import http.server
import os
import pwd
import shutil
import socket
import ssl
import tempfile
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from tests.lib import services
from tests.lib.playbook import run_playbook

HOST = '127.0.0.1'
PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks')
SETTLE_TIMEOUT = 20.0
POLL_INTERVAL = 0.1
# An OCSP responder nobody answers on: the servers only need to see that one is named.
OCSP_URL = 'http://127.0.0.1:9/ocsp'
CHALLENGE_TOKEN = 'certflow-token-Zx81'
APACHE_MODULES = ('mpm_event', 'authz_core', 'ssl', 'socache_shmcb', 'headers', 'rewrite', 'dir', 'mime', 'alias',
                  'log_config', 'proxy', 'proxy_http')


# --------------------------------------------------------------------------- certificates

class TestPKI:
    """A throwaway CA and the server certificates it signs, written as fullchain/privkey/chain files."""

    __test__ = False  # not a test class

    def __init__(self, directory):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        now = datetime.datetime.now(datetime.timezone.utc)
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'certflow webserver test CA')])
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(self._name).issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_path = os.path.join(directory, 'ca.pem')
        _write(self.ca_path, self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, label, names, ocsp_url=None):
        """Issue a certificate for names (OCSP responder in AIA when ocsp_url is given); return a ServerCert."""
        now = datetime.datetime.now(datetime.timezone.utc)
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
        )
        if ocsp_url:
            builder = builder.add_extension(x509.AuthorityInformationAccess([
                x509.AccessDescription(AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        folder = os.path.join(self.directory, label)
        os.makedirs(folder, exist_ok=True)
        ca_pem = self._cert.public_bytes(serialization.Encoding.PEM)
        server_cert = ServerCert(folder, cert.serial_number)
        _write(server_cert.fullchain, cert.public_bytes(serialization.Encoding.PEM) + ca_pem)
        _write(server_cert.chain, ca_pem)
        _write(server_cert.privkey, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()), mode=0o600)
        return server_cert


class ServerCert:
    def __init__(self, folder, serial):
        self.fullchain = os.path.join(folder, 'fullchain.pem')
        self.privkey = os.path.join(folder, 'privkey.pem')
        self.chain = os.path.join(folder, 'chain.pem')
        self.serial = serial


def _write(path, data, mode=0o644):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), 'wb') as handle:
        handle.write(data if isinstance(data, bytes) else data.encode('utf-8'))
    os.chmod(path, mode)


# --------------------------------------------------------------------------- private servers

NGINX_CONF = """user root root;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    default_type application/octet-stream;
    server {{
        listen {host}:{control_port};
        return 204;
    }}
    include {d}/sites-enabled/*.conf;
}}
"""

APACHE_CONF = """ServerRoot {d}
DefaultRuntimeDir {d}/run
PidFile {d}/run/httpd.pid
Mutex file:{d}/run default
ErrorLog {d}/error.log
LogLevel warn
User {user}
Group {group}
ServerName localhost
{modules}
TypesConfig /etc/mime.types
DirectoryIndex index.html
Listen {host}:{control_port}
<VirtualHost {host}:{control_port}>
    ServerName control.test
    DocumentRoot {d}/control
</VirtualHost>
IncludeOptional {d}/conf-enabled/*.conf
IncludeOptional {d}/sites/*.conf
"""


class PrivateNginx:
    """nginx from Debian with its own prefix and main config, which includes sites-enabled/ (a Debian-style layout)."""

    kind = 'nginx'
    binary = 'nginx'
    stapling_directive = 'ssl_stapling on;'
    cipher_directive = 'ssl_ciphers '

    def __init__(self, directory):
        self.directory = directory
        self.sites_dir = os.path.join(directory, 'sites-available')
        self.enabled_dir = os.path.join(directory, 'sites-enabled')
        for path in (self.sites_dir, self.enabled_dir, os.path.join(directory, 'tmp')):
            os.makedirs(path, exist_ok=True)
        self.conf = os.path.join(directory, 'nginx.conf')
        self.process = None

    def _cli(self):
        return '%s -p %s/ -c %s -e %s' % (self._nginx, self.directory, self.conf, os.path.join(self.directory, 'error.log'))

    def start(self, control_port):
        self._nginx = services._which('nginx')
        _write(self.conf, NGINX_CONF.format(d=self.directory, host=HOST, control_port=control_port))
        argv = self._cli().split() + ['-g', 'daemon off;']
        self.process = services._Process('nginx', argv, self.directory, os.path.join(self.directory, 'nginx.log'))
        self.process.wait_ready(lambda: _tcp_answers(control_port))

    def role_vars(self):
        return {
            'certflow_nginx_sites_dir': self.sites_dir,
            'certflow_nginx_sites_enabled_dir': self.enabled_dir,
            'certflow_nginx_config_test_command': self._cli() + ' -t',
            'certflow_nginx_reload_command': self._cli() + ' -s reload',
        }

    def site_file(self, name):
        return os.path.join(self.sites_dir, 'certflow-%s.conf' % name)

    def config_dirs(self):
        return [self.sites_dir, self.enabled_dir]

    def stop(self):
        if self.process is not None:
            self.process.stop()


class PrivateApache:
    """apache2 from Debian with its own ServerRoot and modules, without the system configuration (an RHEL-style
    single directory for the sites, conf-available/conf-enabled for the server-wide file)."""

    kind = 'apache'
    binary = 'apache2'
    stapling_directive = 'SSLUseStapling on'
    cipher_directive = 'SSLCipherSuite '

    def __init__(self, directory):
        self.directory = directory
        self.sites_dir = os.path.join(directory, 'sites')
        self.conf_dir = os.path.join(directory, 'conf-available')
        self.conf_enabled_dir = os.path.join(directory, 'conf-enabled')
        for path in (self.sites_dir, self.conf_dir, self.conf_enabled_dir, os.path.join(directory, 'run'),
                     os.path.join(directory, 'control')):
            os.makedirs(path, exist_ok=True)
        self.conf = os.path.join(directory, 'httpd.conf')
        self.process = None

    def _cli(self):
        return '%s -d %s -f %s' % (self._apache2, self.directory, self.conf)

    def start(self, control_port):
        self._apache2 = services._which('apache2')
        module_dir = '/usr/lib/apache2/modules'
        modules = '\n'.join('<IfModule !%s_module>\n    LoadModule %s_module %s/mod_%s.so\n</IfModule>' % (name, name, module_dir, name)
                            for name in APACHE_MODULES)
        user, group = _unprivileged_user()
        _write(self.conf, APACHE_CONF.format(d=self.directory, host=HOST, control_port=control_port, modules=modules,
                                             user=user, group=group))
        argv = self._cli().split() + ['-D', 'FOREGROUND']
        self.process = services._Process('apache2', argv, self.directory, os.path.join(self.directory, 'apache2.log'))
        self.process.wait_ready(lambda: _tcp_answers(control_port))

    def role_vars(self):
        return {
            'certflow_apache_sites_dir': self.sites_dir,
            'certflow_apache_sites_enabled_dir': self.sites_dir,
            'certflow_apache_conf_dir': self.conf_dir,
            'certflow_apache_conf_enabled_dir': self.conf_enabled_dir,
            'certflow_apache_runtime_dir': os.path.join(self.directory, 'run'),
            'certflow_apache_system_listen_ports': [],
            'certflow_apache_enable_modules': False,
            'certflow_apache_config_test_command': self._cli() + ' -t',
            'certflow_apache_reload_command': self._cli() + ' -k graceful',
        }

    def site_file(self, name):
        return os.path.join(self.sites_dir, 'certflow-%s.conf' % name)

    def config_dirs(self):
        return [self.sites_dir, self.conf_dir, self.conf_enabled_dir]

    def stop(self):
        if self.process is not None:
            self.process.stop()


def _unprivileged_user():
    for user, group in (('www-data', 'www-data'), ('nobody', 'nogroup'), ('nobody', 'nobody')):
        try:
            pwd.getpwnam(user)
            grp.getgrnam(group)
            return user, group
        except KeyError:
            continue
    pytest.skip('no unprivileged user (www-data or nobody) for the apache2 children')


def _tcp_answers(port):
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


class _Backend(http.server.BaseHTTPRequestHandler):
    """The upstream of the proxied site: says which Host and X-Forwarded-Proto it received."""

    def do_GET(self):
        body = ('backend saw host=%s proto=%s path=%s' % (self.headers.get('Host'), self.headers.get('X-Forwarded-Proto'),
                                                          self.path)).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'text/plain')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


# --------------------------------------------------------------------------- clients

def handshake(port, server_name, version, ca_path):
    """TLS handshake with SNI pinned to one protocol version; returns (negotiated version, certificate serial)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(ca_path)
    context.minimum_version = version
    context.maximum_version = version
    with socket.create_connection((HOST, port), timeout=5) as raw, context.wrap_socket(raw, server_hostname=server_name) as tls:
        certificate = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
        return tls.version(), certificate.serial_number


def refusal_reason(port, server_name, version, ca_path):
    """The OpenSSL reason a handshake pinned to version fails with, or None when it succeeds."""
    try:
        handshake(port, server_name, version, ca_path)
    except ssl.SSLError as error:
        return error.reason
    return None


class _LoopbackHTTPS(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with the connection's host name as SNI (and Host header)."""

    def connect(self):
        raw = socket.create_connection((HOST, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


def https_get(port, server_name, path, ca_path, check_hostname=True):
    context = ssl.create_default_context(cafile=ca_path)
    context.check_hostname = check_hostname
    connection = _LoopbackHTTPS(server_name, port, context=context, timeout=5)
    try:
        connection.request('GET', path)
        response = connection.getresponse()
        return response.status, {key.lower(): value for key, value in response.getheaders()}, response.read().decode()
    finally:
        connection.close()


def http_get(port, host_header, path):
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        connection.request('GET', path, headers={'Host': host_header})
        response = connection.getresponse()
        return response.status, {key.lower(): value for key, value in response.getheaders()}, response.read().decode()
    finally:
        connection.close()


def eventually(check, timeout=SETTLE_TIMEOUT):
    """Call check() until it stops raising (a reload is asynchronous); return its result."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except (AssertionError, OSError, ssl.SSLError, http.client.HTTPException) as error:
            if time.monotonic() > deadline:
                raise AssertionError('still failing after %.0fs: %s' % (timeout, error)) from error
        time.sleep(POLL_INTERVAL)


# --------------------------------------------------------------------------- the deployment under test

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
