# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start and stop the real test services (BIND9, PowerDNS, nginx, Pebble) on free loopback ports.

Every service gets its own work directory and its own ports (picked by binding to
port 0), so several test runs can share one machine. Start-up waits by polling the
service until it answers, bounded by a deadline; stop() terminates, then kills.
"""

import atexit
import base64
import ctypes
import datetime
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import time

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = '127.0.0.1'
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.05
PORT_ATTEMPTS = 3
PR_SET_PDEATHSIG = 1  # linux/prctl.h
REQUIRED_BINARIES = ('named', 'nsupdate', 'nginx')
# A current Pebble (ARI, profiles, IP identifiers, dns-account-01, dns-persist-01), not Debian's 2.4:
# ../shared/pebble/bin/pebble next to the project, or PEBBLE_BIN. Never a silent fallback to another one.
PEBBLE_DEFAULT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                              'shared', 'pebble', 'bin', 'pebble')

_live_processes = set()


class ServiceError(RuntimeError):
    """A test service could not be started (missing binary, no answer in time, early exit)."""


def missing_binaries(names=REQUIRED_BINARIES):
    """Return the names of required service binaries that are not on PATH (sbin included), and Pebble's
    expected path when it is not there (with the default names)."""
    path = os.environ.get('PATH', '') + os.pathsep + '/usr/sbin' + os.pathsep + '/sbin'
    missing = [name for name in names if shutil.which(name, path=path) is None]
    if names is REQUIRED_BINARIES and not _is_executable(pebble_binary()):
        missing.append(pebble_binary())
    return missing


def _is_executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def pebble_binary():
    """The Pebble the tests and the benchmark run: $PEBBLE_BIN, else ../shared/pebble/bin/pebble."""
    return os.environ.get('PEBBLE_BIN') or PEBBLE_DEFAULT


def _pebble():
    binary = pebble_binary()
    if not _is_executable(binary):
        raise ServiceError('Pebble is not at %s: the tests need the current Pebble of ../shared/pebble '
                           '(or set PEBBLE_BIN to one built with its build.sh); Debian\'s pebble 2.4 lacks ARI, '
                           'profiles and the new challenges' % binary)
    return binary


def _which(name):
    path = os.environ.get('PATH', '') + os.pathsep + '/usr/sbin' + os.pathsep + '/sbin'
    found = shutil.which(name, path=path)
    if found is None:
        raise ServiceError('%s is not installed; run `make test` or apt-get install the test services '
                           '(bind9, bind9-utils, nginx-light)' % name)
    return found


def free_port(udp_too=False):
    """Return a loopback port that is free right now (TCP, and UDP as well when asked)."""
    for _attempt in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((HOST, 0))
            port = tcp.getsockname()[1]
            if not udp_too:
                return port
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.bind((HOST, port))
            except OSError:
                continue
            return port
    raise ServiceError('no free loopback port found')


def tcp_answers(port):
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path, limit=4000):
    try:
        with open(path, 'r', errors='replace') as handle:
            return handle.read()[-limit:]
    except OSError:
        return '<no log at %s>' % path


class _Process:
    """A child process whose output goes to a log file; stop() terminates, then kills."""

    def __init__(self, name, argv, cwd, log_path, env=None):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, 'ab')  # noqa: SIM115 - stays open for the process's lifetime; closed in stop()
        self.popen = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)  # noqa: PLW1509 - only a prctl call
        _live_processes.add(self)

    @property
    def pid(self):
        return self.popen.pid

    def running(self):
        return self.popen.poll() is None

    def wait_ready(self, probe, timeout=START_TIMEOUT, fatal_log_markers=()):
        """Poll probe() until it returns True; fail early if the process exits or logs a fatal marker."""
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                raise ServiceError('%s exited with code %s during start-up; log %s:\n%s'
                                   % (self.name, self.popen.returncode, self.log_path, _tail(self.log_path)))
            if fatal_log_markers and any(marker in _tail(self.log_path, limit=100000) for marker in fatal_log_markers):
                self.stop()
                raise ServiceError('%s failed during start-up; log %s:\n%s' % (self.name, self.log_path, _tail(self.log_path)))
            if probe():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ServiceError('%s did not answer within %.0fs; log %s:\n%s'
                                   % (self.name, timeout, self.log_path, _tail(self.log_path)))
            time.sleep(POLL_INTERVAL)

    def stop(self):
        if self.popen.poll() is None:
            try:
                self.popen.terminate()
                self.popen.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._kill_group()
                self.popen.wait(timeout=STOP_TIMEOUT)
        # nginx workers (and anything else the service forked) share its process group.
        self._kill_group()
        _live_processes.discard(self)
        if not self._log.closed:
            self._log.close()

    def _kill_group(self):
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _die_with_parent():
    """In the child before exec: get SIGTERM when the test process dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


@atexit.register
def _stop_leftovers():
    for process in list(_live_processes):
        process.stop()


def _start_with_port_retries(start_once):
    """Call start_once() again when a freshly picked port was taken by someone else meanwhile."""
    last_error = None
    for _attempt in range(PORT_ATTEMPTS):
        try:
            return start_once()
        except ServiceError as error:
            text = str(error).lower()
            if 'already in use' not in text and 'address in use' not in text:
                raise
            last_error = error
    raise last_error


# --------------------------------------------------------------------------- BIND

ZONE_TEMPLATE = """$TTL 5
@ IN SOA ns.{main}. hostmaster.{zone}. ( 1 5 5 60 5 )
@ IN NS ns.{main}.
@ IN A 127.0.0.1
* IN A 127.0.0.1
{extra}"""

NAMED_CONF_TEMPLATE = """options {{
    directory "{workdir}";
    pid-file "{workdir}/named.pid";
    session-keyfile "{workdir}/session.key";
    managed-keys-directory "{workdir}";
    dump-file "{workdir}/named_dump.db";
    statistics-file "{workdir}/named.stats";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    // recursion only so that a CNAME into the other local zone is chased in the same answer,
    // as real resolvers do (Pebble's validator does not follow a bare CNAME itself).
    // The root zone below is local, so nothing is ever looked up outside this server.
    recursion yes;
    allow-recursion {{ 127.0.0.1; }};
    allow-query-cache {{ 127.0.0.1; }};
    dnssec-validation no;
    notify no;
    automatic-interface-scan no;
}};
controls {{ }};
key "{tsig_name}" {{
    algorithm {tsig_algorithm};
    secret "{tsig_secret}";
}};
zone "." {{
    type primary;
    file "{root_file}";
}};
{zones}"""

# An empty local root: names outside the test zones get NXDOMAIN at once instead of a
# lookup towards the internet root servers.
ROOT_ZONE = """$TTL 5
@ IN SOA localhost. hostmaster.localhost. ( 1 5 5 60 5 )
@ IN NS localhost.
localhost IN A 127.0.0.1
"""

ZONE_CONF_TEMPLATE = """zone "{zone}" {{
    type primary;
    file "{file}";
    journal "{file}.jnl";
    allow-update {{ key "{tsig_name}"; }};
}};
"""


class BindServer:
    """BIND9 serving certflow.test and delegated.test with TSIG-allowed dynamic updates."""

    host = HOST
    zone = 'certflow.test'
    delegated_zone = 'delegated.test'
    tsig_algorithm = 'hmac-sha256'

    def __init__(self, workdir, port, tsig_name, tsig_secret, process):
        self.workdir = workdir
        self.port = port
        self.nameserver = '%s:%d' % (HOST, port)
        self.tsig_name = tsig_name
        self.tsig_secret = tsig_secret
        self.process = process
        self.log_path = process.log_path

    def nsupdate(self, commands, timeout=20):
        """Run nsupdate with the TSIG key; commands are lines like 'update add NAME 5 TXT "v"'.

        server/send lines are added here. Returns the CompletedProcess; raises on failure.
        """
        script = ['server %s %d' % (HOST, self.port)] + list(commands)
        if not any(line.strip() == 'send' for line in commands):
            script.append('send')
        key = '%s:%s:%s' % (self.tsig_algorithm, self.tsig_name, self.tsig_secret)
        completed = subprocess.run([_which('nsupdate'), '-y', key], input='\n'.join(script) + '\n',
                                   capture_output=True, text=True, timeout=timeout, check=False)
        if completed.returncode != 0:
            raise ServiceError('nsupdate failed (rc %d):\n%s\n%s' % (completed.returncode, completed.stdout, completed.stderr))
        return completed

    def query(self, name, rdtype, timeout=2.0):
        """Ask this server directly (UDP, TCP on truncation); returns the dns.message response."""
        request = dns.message.make_query(name, rdtype)
        response, _used_tcp = dns.query.udp_with_fallback(request, HOST, port=self.port, timeout=timeout)
        return response

    def query_txt(self, name):
        """Return the TXT strings at name (each record's chunks joined), [] when there are none."""
        response = self.query(name, dns.rdatatype.TXT)
        values = []
        for rrset in response.answer:
            if rrset.rdtype != dns.rdatatype.TXT:
                continue
            for rdata in rrset:
                values.append(b''.join(rdata.strings).decode('utf-8'))
        return values

    def _answers(self):
        try:
            response = self.query(self.zone, dns.rdatatype.SOA, timeout=0.5)
        except (dns.exception.DNSException, OSError):
            return False
        return any(rrset.rdtype == dns.rdatatype.SOA for rrset in response.answer)

    def stop(self):
        self.process.stop()


def start_bind(workdir):
    """Start named on a free loopback port with the two test zones; returns a BindServer."""
    named = _which('named')
    workdir = os.path.abspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    tsig_name = 'certflow-test-key'
    tsig_secret = base64.b64encode(secrets.token_bytes(32)).decode('ascii')
    zone_files = {
        BindServer.zone: ZONE_TEMPLATE.format(
            main=BindServer.zone, zone=BindServer.zone,
            extra='ns IN A 127.0.0.1\n_acme-challenge.cname IN CNAME _acme-challenge.cname.%s.\n' % BindServer.delegated_zone),
        BindServer.delegated_zone: ZONE_TEMPLATE.format(
            main=BindServer.zone, zone=BindServer.delegated_zone, extra='ns IN A 127.0.0.1\n'),
    }

    def start_once():
        for name in os.listdir(workdir):
            if name.endswith(('.jnl', '.db')):
                os.unlink(os.path.join(workdir, name))
        zones = ''
        for zone, text in zone_files.items():
            path = os.path.join(workdir, '%s.db' % zone)
            with open(path, 'w') as handle:
                handle.write(text)
            zones += ZONE_CONF_TEMPLATE.format(zone=zone, file=path, tsig_name=tsig_name)
        root_file = os.path.join(workdir, 'root.db')
        with open(root_file, 'w') as handle:
            handle.write(ROOT_ZONE)
        port = free_port(udp_too=True)
        conf_path = os.path.join(workdir, 'named.conf')
        with open(conf_path, 'w') as handle:
            handle.write(NAMED_CONF_TEMPLATE.format(workdir=workdir, port=port, tsig_name=tsig_name,
                                                    tsig_algorithm=BindServer.tsig_algorithm,
                                                    tsig_secret=tsig_secret, zones=zones, root_file=root_file))
        process = _Process('named', [named, '-g', '-4', '-c', conf_path], workdir, os.path.join(workdir, 'named.log'))
        server = BindServer(workdir, port, tsig_name, tsig_secret, process)
        # named keeps running when it cannot bind a listener; its log says so.
        process.wait_ready(server._answers, fatal_log_markers=('address in use', 'loading configuration: failure'))
        return server

    return _start_with_port_retries(start_once)


# --------------------------------------------------------------------------- nginx

_NGINX_CONF_HEAD = """user root root;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {workdir}/access.log;
    client_body_temp_path {workdir}/tmp/body;
    proxy_temp_path {workdir}/tmp/proxy;
    fastcgi_temp_path {workdir}/tmp/fastcgi;
    uwsgi_temp_path {workdir}/tmp/uwsgi;
    scgi_temp_path {workdir}/tmp/scgi;
    default_type application/octet-stream;
"""

_WEBROOT_SERVER = """    server {{
        listen 127.0.0.1:{port} default_server;
        server_name _;
        root {webroot};
        location / {{ try_files $uri =404; }}
    }}
"""


def private_nginx_conf(workdir, http_body):
    """nginx.conf for an nginx that keeps its pid, logs and temporary files in
    ``workdir`` (mkdir ``workdir``/tmp first), with ``http_body`` inside http { }."""
    return _NGINX_CONF_HEAD.format(workdir=workdir) + http_body + '}\n'


class WebServer:
    """A private nginx serving a webroot over plain HTTP (for HTTP-01 challenges)."""

    host = HOST

    def __init__(self, workdir, http_port, webroot, process):
        self.workdir = workdir
        self.http_port = http_port
        self.webroot = webroot
        self.process = process
        self.log_path = process.log_path

    def stop(self):
        self.process.stop()


def start_web(workdir, webroot=None):
    """Start nginx on a free loopback port serving webroot (created when None); returns a WebServer."""
    nginx = _which('nginx')
    workdir = os.path.abspath(workdir)
    os.makedirs(os.path.join(workdir, 'tmp'), exist_ok=True)
    webroot = os.path.abspath(webroot or os.path.join(workdir, 'webroot'))
    os.makedirs(webroot, exist_ok=True)

    def start_once():
        port = free_port()
        conf_path = os.path.join(workdir, 'nginx.conf')
        with open(conf_path, 'w') as handle:
            handle.write(private_nginx_conf(workdir, _WEBROOT_SERVER.format(port=port, webroot=webroot)))
        argv = [nginx, '-p', workdir + '/', '-e', os.path.join(workdir, 'error.log'), '-c', conf_path, '-g', 'daemon off;']
        process = _Process('nginx', argv, workdir, os.path.join(workdir, 'nginx.log'))
        server = WebServer(workdir, port, webroot, process)
        try:
            process.wait_ready(lambda: tcp_answers(port))
        except ServiceError as error:
            raise ServiceError('%s\nerror.log:\n%s' % (error, _tail(os.path.join(workdir, 'error.log'))))
        return server

    return _start_with_port_retries(start_once)


# --------------------------------------------------------------------------- PowerDNS

PDNS_SCHEMA = '/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql'


class PowerDNS:
    """PowerDNS Authoritative (sqlite3 backend) with its HTTP API: pdns.test, and the sub-zone
    sub.pdns.test delegated from it, where _acme-challenge.alias.pdns.test points by CNAME."""

    host = HOST
    zone = 'pdns.test'
    sub_zone = 'sub.pdns.test'
    server_id = 'localhost'

    def __init__(self, workdir, port, api_port, api_key, process):
        self.workdir = workdir
        self.port = port
        self.nameserver = '%s:%d' % (HOST, port)
        self.api_port = api_port
        self.api_url = 'http://%s:%d' % (HOST, api_port)
        self.api_key = api_key
        self.process = process
        self.log_path = process.log_path

    def api(self, method, path, body=None, expect=(200, 201, 204)):
        """Call the HTTP API (path below /api/v1/servers/localhost); returns the decoded JSON or None."""
        response = requests.request(method, '%s/api/v1/servers/%s%s' % (self.api_url, self.server_id, path), json=body,
                                    headers={'X-API-Key': self.api_key}, timeout=10)
        if response.status_code not in expect:
            raise ServiceError('PowerDNS API %s %s: HTTP %d %s' % (method, path, response.status_code, response.text))
        return response.json() if response.content else None

    def create_zone(self, zone, rrsets=()):
        self.api('POST', '/zones', {'name': zone + '.', 'kind': 'Native', 'nameservers': ['ns.%s.' % self.zone],
                                    'rrsets': list(rrsets)})

    def records(self, zone):
        """Every record of ``zone`` as sorted (name, type, ttl, content) tuples, read through the API;
        the SOA serial is left out (PowerDNS counts it up on every change made through the API)."""
        data = self.api('GET', '/zones/%s.' % zone)
        return sorted((rrset['name'], rrset['type'], rrset['ttl'], _without_serial(rrset['type'], record['content']))
                      for rrset in data['rrsets'] for record in rrset['records'])

    def set_txt(self, name, values):
        """Replace the TXT values at ``name`` (an empty list deletes them), through the API."""
        zone = self.sub_zone if name.rstrip('.').endswith(self.sub_zone) else self.zone
        rrset = {'name': name.rstrip('.') + '.', 'type': 'TXT', 'ttl': 5, 'changetype': 'REPLACE' if values else 'DELETE',
                 'records': [{'content': '"%s"' % value, 'disabled': False} for value in values]}
        self.api('PATCH', '/zones/%s.' % zone, {'rrsets': [rrset]})

    def query_txt(self, name):
        request = dns.message.make_query(name, dns.rdatatype.TXT)
        response, _used_tcp = dns.query.udp_with_fallback(request, HOST, port=self.port, timeout=2.0)
        return [b''.join(rdata.strings).decode('utf-8') for rrset in response.answer if rrset.rdtype == dns.rdatatype.TXT
                for rdata in rrset]

    def _answers(self):
        try:
            return requests.get('%s/api/v1/servers/%s' % (self.api_url, self.server_id), headers={'X-API-Key': self.api_key},
                                timeout=1.0).status_code == 200
        except requests.RequestException:
            return False

    def stop(self):
        self.process.stop()


def _without_serial(rtype, content):
    if rtype != 'SOA':
        return content
    fields = content.split()
    return ' '.join(fields[:2] + ['<serial>'] + fields[3:])


def _rrset(name, rtype, *contents):
    return {'name': name, 'type': rtype, 'ttl': 5, 'records': [{'content': c, 'disabled': False} for c in contents]}


def start_powerdns(workdir):
    """Start pdns_server on free loopback ports (DNS and the HTTP API, a random API key), its
    sqlite database and config in ``workdir``, and create the test zones through the API."""
    pdns = _which('pdns_server')
    workdir = os.path.abspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    api_key = secrets.token_urlsafe(24)

    def start_once():
        database = os.path.join(workdir, 'pdns.sqlite3')
        if os.path.exists(database):
            os.unlink(database)
        with open(PDNS_SCHEMA) as handle, sqlite3.connect(database) as connection:
            connection.executescript(handle.read())
        connection.close()
        with open(os.path.join(workdir, 'pdns.conf'), 'w') as handle:
            handle.write('# all settings on the command line\n')
        port, api_port = free_port(udp_too=True), free_port()
        argv = [pdns, '--config-dir=' + workdir, '--socket-dir=' + workdir, '--daemon=no', '--guardian=no',
                '--disable-syslog=yes', '--write-pid=no', '--local-address=%s' % HOST, '--local-port=%d' % port,
                '--launch=gsqlite3', '--gsqlite3-database=' + database, '--api=yes', '--api-key=' + api_key,
                '--webserver=yes', '--webserver-address=%s' % HOST, '--webserver-port=%d' % api_port,
                '--webserver-allow-from=127.0.0.0/8',
                # No caches: a record changed through the API is answered at once.
                '--cache-ttl=0', '--negquery-cache-ttl=0', '--query-cache-ttl=0', '--zone-cache-refresh-interval=0']
        process = _Process('pdns_server', argv, workdir, os.path.join(workdir, 'pdns.log'))
        server = PowerDNS(workdir, port, api_port, api_key, process)
        process.wait_ready(server._answers, fatal_log_markers=('Address already in use', 'Unable to bind'))
        return server

    server = _start_with_port_retries(start_once)
    try:
        zone, sub = PowerDNS.zone, PowerDNS.sub_zone
        server.create_zone(zone, [
            _rrset('ns.%s.' % zone, 'A', HOST),
            _rrset('%s.' % sub, 'NS', 'ns.%s.' % zone),
            _rrset('_acme-challenge.alias.%s.' % zone, 'CNAME', '_acme-challenge.alias.%s.' % sub),
        ])
        server.create_zone(sub)
    except BaseException:
        server.stop()
        raise
    return server


# --------------------------------------------------------------------------- Pebble

def make_test_ca(common_name, days):
    """(key, name, certificate) of a self-signed EC root that may sign leaves (path length 0)."""
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, name, cert


def _write_test_tls(workdir):
    """Create a test root CA and a localhost/127.0.0.1 leaf it signs; return (ca, cert, key) paths."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, ca_name, ca_cert = make_test_ca('certflow test root for pebble', 30)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'localhost')]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName('localhost'), x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False, crl_sign=False,
                                     content_commitment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (os.path.join(workdir, 'test-root.pem'), os.path.join(workdir, 'pebble-cert.pem'), os.path.join(workdir, 'pebble-key.pem'))
    with open(paths[0], 'wb') as handle:
        handle.write(ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], 'wb') as handle:
        handle.write(leaf_cert.public_bytes(serialization.Encoding.PEM))
    with open(os.open(paths[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'wb') as handle:
        handle.write(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


class Pebble:
    """A Pebble ACME test CA; its HTTPS leaf is signed by ca_bundle, issued certs by roots_pem()."""

    host = HOST

    def __init__(self, workdir, port, management_port, ca_bundle, process, eab_keys):
        self.workdir = workdir
        self.port = port
        self.management_port = management_port
        self.directory_url = 'https://%s:%d/dir' % (HOST, port)
        self.management_url = 'https://%s:%d' % (HOST, management_port)
        self.ca_bundle = ca_bundle
        self.process = process
        self.log_path = process.log_path
        self.eab_keys = dict(eab_keys or {})
        # The first EAB key, for the common one-key case (None when EAB is not required).
        self.eab_kid, self.eab_hmac_key = next(iter(self.eab_keys.items()), (None, None))

    def _get(self, path, timeout=5.0):
        # verify= on each call: requests ignores Session.verify when REQUESTS_CA_BUNDLE is set.
        response = requests.get(self.management_url + path, verify=self.ca_bundle, timeout=timeout)
        response.raise_for_status()
        return response

    def directory(self):
        response = requests.get(self.directory_url, verify=self.ca_bundle, timeout=5.0)
        response.raise_for_status()
        return response.json()

    def roots_pem(self):
        """PEM of the root that signs issued certificates (changes with every Pebble start)."""
        return self._get('/roots/0').text

    def intermediates_pem(self):
        return self._get('/intermediates/0').text

    def cert_status(self, serial):
        """Revocation status of an issued cert, e.g. {'Status': 'Revoked', 'Serial': ...}.

        serial: int, x509.Certificate, or hex text (with or without colons / 0x; any case).
        """
        return self._get('/cert-status-by-serial/%s' % pebble_serial(serial)).json()

    def _answers(self):
        try:
            return requests.get(self.directory_url, verify=self.ca_bundle, timeout=1.0).status_code == 200
        except requests.RequestException:
            return False

    def stop(self):
        self.process.stop()


def pebble_serial(serial):
    """Pebble's serial spelling: lowercase hex without leading zeros, '0x' or colons."""
    if isinstance(serial, x509.Certificate):
        serial = serial.serial_number
    if isinstance(serial, str):
        text = serial.strip().lower().replace(':', '')
        serial = int(text.removeprefix('0x'), 16)
    return format(serial, 'x')


def start_pebble(workdir, dns_port, http_port, env=None, eab_keys=None, config=None):
    """Start Pebble on free loopback ports using the given DNS server and HTTP-01 port; returns a Pebble.

    config: more Pebble settings, e.g. {'domainBlocklist': ['blocked.example']} (rejectedIdentifier)."""
    pebble = _pebble()
    workdir = os.path.abspath(workdir)
    os.makedirs(workdir, exist_ok=True)
    ca_bundle, cert_path, key_path = _write_test_tls(workdir)
    process_env = dict(os.environ)
    process_env['PEBBLE_VA_NOSLEEP'] = '1'
    process_env.update({key: str(value) for key, value in (env or {}).items()})
    extra_config = dict(config or {})

    def start_once():
        port, management_port, tls_port = free_port(), free_port(), free_port()
        config = {
            'listenAddress': '%s:%d' % (HOST, port),
            'managementListenAddress': '%s:%d' % (HOST, management_port),
            'certificate': cert_path,
            'privateKey': key_path,
            'httpPort': int(http_port),
            'tlsPort': tls_port,
            'ocspResponderURL': '',
            'externalAccountBindingRequired': bool(eab_keys),
        }
        if eab_keys:
            config['externalAccountMACKeys'] = dict(eab_keys)
        config.update(extra_config)
        config_path = os.path.join(workdir, 'pebble-config.json')
        with open(config_path, 'w') as handle:
            json.dump({'pebble': config}, handle, indent=2)
        argv = [pebble, '-config', config_path, '-dnsserver', '%s:%d' % (HOST, dns_port)]
        process = _Process('pebble', argv, workdir, os.path.join(workdir, 'pebble.log'), env=process_env)
        server = Pebble(workdir, port, management_port, ca_bundle, process, eab_keys)
        process.wait_ready(server._answers)
        return server

    return _start_with_port_retries(start_once)


# --------------------------------------------------------------------------- all together

class Services:
    """BIND, nginx and Pebble started together; stop() stops them in reverse order."""

    def __init__(self, workdir, bind, web, pebble):
        self.workdir = workdir
        self.bind = bind
        self.web = web
        self.pebble = pebble

    def stop(self):
        for service in (self.pebble, self.web, self.bind):
            if service is not None:
                service.stop()


def start_all(workdir, pebble_env=None, eab_keys=None):
    """Start BIND, then nginx, then Pebble pointed at both; everything stops again on failure."""
    workdir = os.path.abspath(workdir)
    services = Services(workdir, None, None, None)
    try:
        services.bind = start_bind(os.path.join(workdir, 'bind'))
        services.web = start_web(os.path.join(workdir, 'web'))
        services.pebble = start_pebble(os.path.join(workdir, 'pebble'), services.bind.port, services.web.http_port,
                                       env=pebble_env, eab_keys=eab_keys)
    except BaseException:
        services.stop()
        raise
    return services
