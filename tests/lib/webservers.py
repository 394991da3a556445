# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private nginx and apache2 instances on loopback ports, a throwaway PKI for
them, and the TLS / HTTP probes the web server tests use."""

import datetime
import grp
import http.client
import http.server
import os
import pwd
import socket
import ssl
import tempfile
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from tests.lib import services

HOST = '127.0.0.1'
PLAYBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'integration', 'playbooks')
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
        self._key, self._name, self._cert = services.make_test_ca('certflow webserver test CA', 7)
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

# A control server (answers 204 once nginx is up) and the sites the roles write.
NGINX_HTTP_BODY = """    server {{
        listen {host}:{control_port};
        return 204;
    }}
    include {d}/sites-enabled/*.conf;
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
        _write(self.conf, services.private_nginx_conf(self.directory, NGINX_HTTP_BODY.format(d=self.directory, host=HOST,
                                                                                             control_port=control_port)))
        argv = self._cli().split() + ['-g', 'daemon off;']
        self.process = services._Process('nginx', argv, self.directory, os.path.join(self.directory, 'nginx.log'))
        self.process.wait_ready(lambda: services.tcp_answers(control_port))

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
        self.process.wait_ready(lambda: services.tcp_answers(control_port))

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


def serial_of(path):
    """Serial number of the (first) certificate in a PEM file."""
    with open(path, 'rb') as handle:
        return x509.load_pem_x509_certificate(handle.read()).serial_number


def server_pair_workdir(prefix):
    """A work directory for a ServerPair (needs root, nginx, apache2, openssl), readable by the
    unprivileged apache2 children (pytest's tmp_path is private to root)."""
    if os.geteuid() != 0:
        pytest.skip('the private nginx and apache2 need root')
    missing = services.missing_binaries(('nginx', 'apache2', 'openssl'))
    if missing:
        pytest.fail('%s not installed; run `make test`' % ', '.join(missing), pytrace=False)
    workdir = tempfile.mkdtemp(prefix=prefix)
    os.chmod(workdir, 0o755)
    return workdir


class ServerPair:
    """A private nginx and apache2, each with an HTTPS and an HTTP port on loopback, and the settings the
    test inventories (inventories/deploy, inventories/site) hand to the roles as certflow_test.nginx/.apache."""

    def __init__(self, workdir):
        self.nginx = PrivateNginx(os.path.join(workdir, 'nginx'))
        self.apache = PrivateApache(os.path.join(workdir, 'apache'))
        self.ports = {'nginx': (services.free_port(), services.free_port()), 'apache': (services.free_port(), services.free_port())}

    def start(self):
        self.nginx.start(services.free_port())
        self.apache.start(services.free_port())

    def stop(self):
        self.nginx.stop()
        self.apache.stop()

    def server_settings(self, challenge_roots):
        """{'nginx': {...}, 'apache': {...}}: ports, challenge root, folders and commands of each server."""
        nginx_vars, apache_vars = self.nginx.role_vars(), self.apache.role_vars()
        settings = {
            'nginx': {'sites_dir': nginx_vars['certflow_nginx_sites_dir'], 'sites_enabled_dir': nginx_vars['certflow_nginx_sites_enabled_dir'],
                      'config_test_command': nginx_vars['certflow_nginx_config_test_command'],
                      'reload_command': nginx_vars['certflow_nginx_reload_command']},
            'apache': {'sites_dir': apache_vars['certflow_apache_sites_dir'], 'sites_enabled_dir': apache_vars['certflow_apache_sites_enabled_dir'],
                       'conf_dir': apache_vars['certflow_apache_conf_dir'], 'conf_enabled_dir': apache_vars['certflow_apache_conf_enabled_dir'],
                       'runtime_dir': apache_vars['certflow_apache_runtime_dir'],
                       'config_test_command': apache_vars['certflow_apache_config_test_command'],
                       'reload_command': apache_vars['certflow_apache_reload_command']},
        }
        for kind, values in settings.items():
            values.update(https_port=self.ports[kind][0], http_port=self.ports[kind][1], challenge_root=challenge_roots[kind])
        return settings
