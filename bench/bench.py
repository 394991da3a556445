# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue N fresh single-name certificates from Pebble with several ACME clients and compare them.

    make bench              # N=10, 3 runs per tool, median reported
    make bench N=50         # another N
    python bench/bench.py --help

Services (tests/lib/services.py): Pebble (PEBBLE_VA_NOSLEEP=1, PEBBLE_WFE_NONCEREJECT=0),
BIND9 and nginx on loopback, with a counting TCP proxy in front of Pebble's ACME port.
Tools, each in the same run on fresh names:

  certflow-http     this collection: one batch cert_request + one batch cert_validate (webroot)
  certflow-dns      the same with dns-01 through RFC 2136 (BIND)
  community.crypto  acme_certificate, the documented two-step loop (plus openssl_privatekey/_csr)
  certbot           certbot certonly --webroot, once per certificate
  raw-floor         bench/raw_acme.py: a minimal raw-protocol client (requests + cryptography, the
                    same webroot and concurrency), the least the work itself costs

Per tool: wall and CPU seconds per certificate (CPU from the children's rusage), ACME
requests per certificate (Pebble's log), new TLS connections (the proxy), peak memory
(max RSS of the child processes) and the ratios to certflow-http. Then the collection's
own targets: certflow-http against raw-floor (wall and CPU) and its peak memory, N=200
against N=10, a re-run with nothing due, cert_info over 1,000 certificates.

community.crypto comes from the PyPI package ``ansible`` installed with ``pip
--target`` into a cache directory (never into requirements.txt); certbot is the
Debian package, apt-get installed when missing.
"""

import argparse
import datetime
import json
import os
import platform
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

from tests.conftest import COLLECTIONS_ROOT  # noqa: E402 - links the checkout as ansible_collections.certflow.ssl
from tests.lib import services as service_lib  # noqa: E402
from bench.tcp_proxy import CountingProxy  # noqa: E402

PLAYBOOKS = os.path.join(HERE, 'playbooks')
CALLBACKS = os.path.join(HERE, 'callback_plugins')
CACHE = os.path.join(os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'certflow-bench')
TOOL_TIMEOUT = 1800
DOC = os.path.join(REPO, 'docs', 'performance.md')
DOC_BEGIN = '<!-- bench:begin -->'
DOC_END = '<!-- bench:end -->'
ALL_TOOLS = ('certflow-http', 'certflow-dns', 'community.crypto', 'certbot', 'raw-floor')
RAW_FLOOR = 'raw-floor'     # bench/raw_acme.py: the protocol work alone
FLOOR = 'ansible floor'     # ansible-playbook with two ping tasks, measured alongside
BASELINE = 'certflow-http'

TARGETS = {
    'vs_community_crypto': 20.0,
    'vs_certbot': 10.0,
    'vs_raw_floor': 1.5,
    'rss_mb': 150.0,
    # 7 for the order itself, and the renewalInfo GET that RFC 9773 (4.3) asks for right after issuance.
    'requests_per_cert': 9.0,
    'scale_ratio': 1.5,
    'scale_rss_mb': 200.0,
    'rerun_task_s': 1.5,
    'ari_task_s': 2.0,
    'info_task_s': 3.0,
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------- dependencies

def _sudo():
    return [] if os.geteuid() == 0 else ['sudo']


def ensure_certbot():
    if shutil.which('certbot'):
        return shutil.which('certbot')
    log('installing the Debian package certbot (bench only)')
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    subprocess.run(_sudo() + ['apt-get', 'update', '-qq'], check=True, env=env)
    subprocess.run(_sudo() + ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'certbot'], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return shutil.which('certbot')


def ansible_core_version():
    from ansible.release import __version__
    return __version__


def ensure_community_crypto():
    """The PyPI package ``ansible`` that matches this ansible-core (2.19 -> 12.x, 2.18 -> 11.x ...),
    installed once with ``pip --target`` into the cache: only its collections are used."""
    major, minor = (int(part) for part in ansible_core_version().split('.')[:2])
    package_major = minor - 7 if major == 2 else 12
    target = os.path.join(CACHE, 'ansible-%d' % package_major)
    marker = os.path.join(target, 'ansible_collections', 'community', 'crypto', 'MANIFEST.json')
    if not os.path.exists(marker):
        log('installing the PyPI package ansible %d.x into %s (bench only, a few hundred MB)' % (package_major, target))
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run([sys.executable, '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps',
                        '--target', target, 'ansible>=%d,<%d' % (package_major, package_major + 1)], check=True)
    with open(marker) as handle:
        version = json.load(handle)['collection_info']['version']
    return target, version


def tool_version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return '?'
    return out.splitlines()[0] if out else '?'


def ansible_playbook():
    beside = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    return beside if os.access(beside, os.X_OK) else shutil.which('ansible-playbook')


# --------------------------------------------------------------- measuring

class Measured:
    def __init__(self, rc, wall, cpu, maxrss_kb, output_path):
        self.rc = rc
        self.wall = wall
        self.cpu = cpu
        self.maxrss_mb = maxrss_kb / 1024.0
        self.output_path = output_path

    def tail(self, limit=3000):
        with open(self.output_path, errors='replace') as handle:
            return handle.read()[-limit:]


def run_measured(argv, env, output_path, cwd=None, timeout=TOOL_TIMEOUT):
    """Run ``argv`` and return its wall time, and from wait4() the CPU time and the
    largest RSS of it and every descendant it waited for."""
    with open(output_path, 'ab') as output:
        started = time.monotonic()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        timer = threading.Timer(timeout, lambda: _kill_group(process.pid))
        timer.start()
        try:
            _pid, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Measured(process.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, output_path)


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def pebble_requests(pebble):
    with open(pebble.log_path, errors='replace') as handle:
        return sum(1 for line in handle if 'calling handler()' in line)


def read_times(path):
    if not os.path.exists(path):
        return {}
    times = {}
    with open(path) as handle:
        for line in handle:
            record = json.loads(line)
            times[record['task']] = record['seconds']
    return times


# --------------------------------------------------------------- the bench

class Bench:
    def __init__(self, args):
        self.args = args
        self.workdir = tempfile.mkdtemp(prefix='certflow-bench-')
        self.services = None
        self.proxy = None
        self.directory = None
        self.cc_path = None
        self.versions = {}
        self.counter = 0

    # -- set-up
    def start(self):
        missing = service_lib.missing_binaries()
        if missing:
            raise SystemExit('bench needs %s; run `make system-deps` (Debian packages bind9 nginx-light; '
                             'Pebble from ../shared/pebble or PEBBLE_BIN)' % ', '.join(missing))
        tools = self.args.tools
        if 'certbot' in tools:
            ensure_certbot()
            self.versions['certbot'] = tool_version(['certbot', '--version']).replace('certbot ', '')
        if 'community.crypto' in tools:
            self.cc_path, self.versions['community.crypto'] = ensure_community_crypto()
        self.versions['ansible-core'] = ansible_core_version()
        self.versions['pebble'] = tool_version([service_lib.pebble_binary(), '-version']).replace('Pebble version: ', '')
        log('starting Pebble, BIND9 and nginx in %s' % self.workdir)
        # No nonce is rejected on purpose: certbot 2.1 gives up after one badNonce retry, and
        # a benchmark measures speed, not how each client survives a hostile CA.
        self.services = service_lib.start_all(os.path.join(self.workdir, 'services'), pebble_env={'PEBBLE_WFE_NONCEREJECT': '0'})
        self.proxy = CountingProxy(self.services.pebble.port).start()
        self.directory = 'https://127.0.0.1:%d/dir' % self.proxy.port

    def stop(self):
        if self.proxy:
            self.proxy.stop()
        if self.services:
            self.services.stop()
        if not self.args.keep:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            log('kept %s' % self.workdir)

    def fresh_dir(self, label):
        self.counter += 1
        path = os.path.join(self.workdir, '%02d-%s' % (self.counter, label))
        os.makedirs(path)
        return path

    def domains(self, label, count):
        token = secrets.token_hex(3)
        return ['%s-%s-%d.%s' % (label, token, i, self.services.bind.zone) for i in range(count)]

    # -- one measured tool run
    def measure(self, tool, count, store_dir=None):
        """Issue ``count`` fresh certificates with ``tool``; return a result dict."""
        label = {'certflow-http': 'ch', 'certflow-dns': 'cd', 'community.crypto': 'cc', 'certbot': 'cb', RAW_FLOOR: 'rf', FLOOR: 'fl'}[tool.split('@')[0]]
        work = self.fresh_dir(label)
        domains = self.domains(label, count)
        requests_before, connections_before = pebble_requests(self.services.pebble), self.proxy.count()
        if tool == FLOOR:
            measured, times = self._playbook('ansible_floor.yml', {}, work, COLLECTIONS_ROOT)
            extra = {'tasks': times}
        elif tool.startswith('certflow'):
            measured, extra = self._certflow(tool, work, domains, store_dir or os.path.join(work, 'store'))
        elif tool == 'community.crypto':
            measured, extra = self._community_crypto(work, domains)
        elif tool == RAW_FLOOR:
            measured, extra = self._raw_floor(work, domains)
        else:
            measured, extra = self._certbot(work, domains)
        result = {
            'tool': tool, 'n': count, 'rc': measured.rc, 'wall': measured.wall, 'cpu': measured.cpu, 'rss_mb': measured.maxrss_mb,
            'requests': pebble_requests(self.services.pebble) - requests_before,
            'connections': self.proxy.count() - connections_before,
        }
        result.update(extra)
        if measured.rc != 0 or result.get('issued', count) != count:
            raise SystemExit('%s failed (rc %s, %s of %d issued); output %s:\n%s' % (
                tool, measured.rc, result.get('issued'), count, measured.output_path, measured.tail()))
        return result

    def _playbook(self, playbook, extra_vars, work, collections_path, env=None):
        vars_path = os.path.join(work, 'vars.json')
        with open(vars_path, 'w') as handle:
            json.dump(extra_vars, handle)
        inventory = os.path.join(work, 'inventory.ini')
        with open(inventory, 'w') as handle:
            handle.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
        times = os.path.join(work, 'task-times.jsonl')
        run_env = dict(os.environ)
        run_env.update({
            'ANSIBLE_COLLECTIONS_PATH': collections_path,
            'ANSIBLE_CALLBACK_PLUGINS': CALLBACKS,
            'ANSIBLE_CALLBACKS_ENABLED': 'bench_timer',
            'CERTFLOW_BENCH_TIMES': times,
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_LOCALHOST_WARNING': 'False',
            'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'False',
            'ANSIBLE_RETRY_FILES_ENABLED': 'False',
        })
        run_env.update(env or {})
        argv = [ansible_playbook(), '-i', inventory, '-e', '@' + vars_path, os.path.join(PLAYBOOKS, playbook)]
        measured = run_measured(argv, run_env, os.path.join(work, 'output.log'), cwd=work)
        return measured, read_times(times)

    def collection_at(self, ref):
        """A collections path holding this collection as it was at git ``ref`` (for before/after numbers)."""
        root = os.path.join(self.workdir, 'collection-at-' + re.sub(r'[^A-Za-z0-9._-]', '_', ref))
        target = os.path.join(root, 'ansible_collections', 'certflow', 'ssl')
        if not os.path.isdir(target):
            os.makedirs(target)
            archive = subprocess.run(['git', '-C', REPO, 'archive', ref, 'plugins', 'meta', 'galaxy.yml'], capture_output=True, check=True)
            subprocess.run(['tar', '-x', '-C', target], input=archive.stdout, check=True)
        return root

    def _certflow(self, tool, work, domains, store_dir):
        names = [domain.split('.')[0] for domain in domains]
        bind = self.services.bind
        extra_vars = {
            'acme_directory': self.directory, 'acme_ca_bundle': self.services.pebble.ca_bundle, 'store_dir': store_dir,
            'concurrency': self.args.concurrency, 'webroot': self.services.web.webroot, 'http_port': self.services.web.http_port,
            'nameserver': bind.nameserver,
            'rfc2136': {'server': bind.host, 'port': bind.port, 'key_name': bind.tsig_name, 'key_secret': bind.tsig_secret,
                        'key_algorithm': bind.tsig_algorithm},
            'certificates': [{'name': name, 'domains': [domain]} for name, domain in zip(names, domains)],
            'names': [{'name': name} for name in names],
        }
        kind, _at, ref = tool.partition('@')
        playbook = 'certflow_http.yml' if kind == 'certflow-http' else 'certflow_dns.yml'
        measured, times = self._playbook(playbook, extra_vars, work, self.collection_at(ref) if ref else COLLECTIONS_ROOT)
        issued = sum(1 for name, domain in zip(names, domains) if _has_cert(os.path.join(store_dir, name, 'cert.pem'), domain))
        return measured, {'issued': issued, 'tasks': times, 'store_dir': store_dir, 'playbook': playbook, 'extra_vars': extra_vars}

    def _community_crypto(self, work, domains):
        extra_vars = {'acme_directory': self.directory, 'workdir': work, 'domains': domains, 'webroot': self.services.web.webroot}
        env = {'SSL_CERT_FILE': self.services.pebble.ca_bundle, 'REQUESTS_CA_BUNDLE': self.services.pebble.ca_bundle}
        measured, times = self._playbook('community_crypto.yml', extra_vars, work, self.cc_path, env=env)
        issued = sum(1 for domain in domains if _has_cert(os.path.join(work, domain + '.crt'), domain))
        return measured, {'issued': issued, 'tasks': times}

    def _raw_floor(self, work, domains):
        out = os.path.join(work, 'certs')
        argv = [sys.executable, os.path.join(HERE, 'raw_acme.py'), '--directory', self.directory, '--ca-bundle',
                self.services.pebble.ca_bundle, '--webroot', self.services.web.webroot, '--out', out,
                '--concurrency', str(self.args.concurrency)] + domains
        measured = run_measured(argv, dict(os.environ), os.path.join(work, 'output.log'), cwd=work)
        issued = sum(1 for domain in domains if _has_cert(os.path.join(out, domain + '.crt'), domain))
        return measured, {'issued': issued}

    def _certbot(self, work, domains):
        env = dict(os.environ, REQUESTS_CA_BUNDLE=self.services.pebble.ca_bundle)
        total = None
        for domain in domains:
            argv = ['certbot', 'certonly', '--non-interactive', '--quiet', '--agree-tos', '--register-unsafely-without-email',
                    '--server', self.directory, '--config-dir', os.path.join(work, 'config'), '--work-dir', os.path.join(work, 'work'),
                    '--logs-dir', os.path.join(work, 'logs'), '--webroot', '-w', self.services.web.webroot, '--key-type', 'ecdsa',
                    '-d', domain]
            measured = run_measured(argv, env, os.path.join(work, 'output.log'))
            if total is None:
                total = measured
            else:
                total.wall += measured.wall
                total.cpu += measured.cpu
                total.maxrss_mb = max(total.maxrss_mb, measured.maxrss_mb)
                total.rc = total.rc or measured.rc
            if measured.rc:
                break
        issued = sum(1 for domain in domains if _has_cert(os.path.join(work, 'config', 'live', domain, 'cert.pem'), domain))
        return total, {'issued': issued}

    # -- the collection's own targets
    def rerun(self, scale_result):
        """The same playbook again over the store the scale run filled: nothing is due."""
        work = self.fresh_dir('rerun')
        before = pebble_requests(self.services.pebble)
        measured, times = self._playbook(scale_result['playbook'], scale_result['extra_vars'], work, COLLECTIONS_ROOT)
        if measured.rc:
            raise SystemExit('the re-run failed; output %s:\n%s' % (measured.output_path, measured.tail()))
        return {'n': scale_result['n'], 'wall': measured.wall, 'cpu': measured.cpu, 'tasks': times,
                'requests': pebble_requests(self.services.pebble) - before, 'rss_mb': measured.maxrss_mb}

    def ari(self, count, renew_count):
        """ARI at scale: ``count`` certificates issued by Pebble through the collection's batch
        (the CA answers renewalInfo only for its own), then cert_info over them twice, cold
        (the answers kept since issuance dropped, as once Retry-After is over: one GET each) and
        within Retry-After (none); then ``renew_count`` of them made due by the CA
        (set-renewal-info: the window now) and renewed by the same batch playbook."""
        pebble = self.services.pebble
        issued = self.measure(BASELINE, count)
        extra = issued['extra_vars']
        names = [entry['name'] for entry in extra['certificates']]
        info_vars = {'store_dir': issued['store_dir'], 'acme_directory': self.directory,
                     'acme_ca_bundle': pebble.ca_bundle, 'expected': count}
        result = {'n': count, 'issue_wall': issued['wall']}
        # The renewal check (detail: renewal) is what the target is about; the full listing is shown beside it.
        for label, detail in (('cold', 'renewal'), ('cached', 'renewal'), ('full-cold', 'full'), ('full-cached', 'full')):
            if label.endswith('cold'):
                forget_renewal_info(issued['store_dir'], names)
            work = self.fresh_dir('ari-' + label)
            before = log_count(pebble, 'renewalInfo')
            measured, times = self._playbook('certflow_ari_info.yml', dict(info_vars, detail=detail), work, COLLECTIONS_ROOT)
            if measured.rc:
                raise SystemExit('cert_info with ARI failed; output %s:\n%s' % (measured.output_path, measured.tail()))
            result[label] = {'wall': measured.wall, 'cpu': measured.cpu, 'tasks': times,
                             'gets': log_count(pebble, 'renewalInfo') - before}
        # The floor: the same GETs and renewal.json writes by a module with none of the collection's work around them.
        forget_renewal_info(issued['store_dir'], names)
        work = self.fresh_dir('ari-floor')
        before = log_count(pebble, 'renewalInfo')
        measured, times = self._playbook('raw_ari_floor.yml', info_vars, work, COLLECTIONS_ROOT)
        gets = log_count(pebble, 'renewalInfo') - before
        if measured.rc or gets != count:
            raise SystemExit('the ARI floor failed (%d renewalInfo GETs for %d certificates); output %s:\n%s' % (
                gets, count, measured.output_path, measured.tail()))
        result['floor'] = {'wall': measured.wall, 'cpu': measured.cpu, 'tasks': times, 'gets': gets}
        if renew_count:
            due = names[:renew_count]
            for name in due:
                with open(os.path.join(issued['store_dir'], name, 'cert.pem')) as handle:
                    answer = json.dumps({'suggestedWindow': {'start': '2000-01-01T00:00:00Z', 'end': '2000-01-02T00:00:00Z'}})
                    requests.post(pebble.management_url + '/set-renewal-info/', json={'Certificate': handle.read(), 'ARIResponse': answer},
                                  verify=pebble.ca_bundle, timeout=10).raise_for_status()
            forget_renewal_info(issued['store_dir'], due)
            serials = {name: _serial(os.path.join(issued['store_dir'], name, 'cert.pem')) for name in due}
            renew_vars = dict(extra, certificates=extra['certificates'][:renew_count], names=extra['names'][:renew_count])
            work = self.fresh_dir('ari-renew')
            before, replaced = pebble_requests(pebble), log_count(pebble, 'is a replacement of')
            measured, times = self._playbook(issued['playbook'], renew_vars, work, COLLECTIONS_ROOT)
            renewed = sum(1 for name in due if _serial(os.path.join(issued['store_dir'], name, 'cert.pem')) != serials[name])
            if measured.rc or renewed != renew_count:
                raise SystemExit('the ARI renewal run failed (%d of %d renewed); output %s:\n%s' % (
                    renewed, renew_count, measured.output_path, measured.tail()))
            result['renew'] = {'n': renew_count, 'wall': measured.wall, 'cpu': measured.cpu, 'tasks': times,
                               'requests': pebble_requests(pebble) - before,
                               'replaces': log_count(pebble, 'is a replacement of') - replaced}
        return result

    def info(self, scale_result, count):
        """cert_info over a store of ``count`` certificates: the ones the scale run issued from
        Pebble, the rest issued by a local test CA into the same store layout."""
        store_dir = scale_result['store_dir']
        fill_store(store_dir, count)
        work = self.fresh_dir('info')
        measured, times = self._playbook('certflow_info.yml', {'store_dir': store_dir, 'expected': count}, work, COLLECTIONS_ROOT)
        if measured.rc:
            raise SystemExit('cert_info over the store failed; output %s:\n%s' % (measured.output_path, measured.tail()))
        return {'n': count, 'wall': measured.wall, 'cpu': measured.cpu, 'tasks': times, 'rss_mb': measured.maxrss_mb}


def log_count(pebble, text):
    with open(pebble.log_path, errors='replace') as handle:
        return sum(1 for line in handle if text in line)


def forget_renewal_info(store_dir, names):
    """Drop the kept ARI answers, as once their Retry-After is over."""
    for name in names:
        try:
            os.unlink(os.path.join(store_dir, name, 'renewal.json'))
        except FileNotFoundError:
            pass


def _has_cert(path, domain):
    from cryptography import x509
    try:
        with open(path, 'rb') as handle:
            cert = x509.load_pem_x509_certificate(handle.read())
    except (OSError, ValueError):
        return False
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    return domain in names


def _serial(path):
    from cryptography import x509
    with open(path, 'rb') as handle:
        return x509.load_pem_x509_certificate(handle.read()).serial_number


def fill_store(store_dir, count):
    """Top the store up to ``count`` certificates (leaf + intermediate, EC P-256 keys),
    written with the collection's own Store as cert_validate writes them."""
    from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
    from ansible_collections.certflow.ssl.plugins.module_utils._store import Store
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    store = Store(store_dir)
    have = len([name for name in store.names() if store.read(name, 'cert')])
    if have >= count:
        return
    now = datetime.datetime.now(datetime.timezone.utc)

    def make(subject, issuer_name, issuer_key, key, ca, sans=None):
        builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(issuer_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=90))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in sans]), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    root_key = _crypto.generate_private_key('ec256')
    root = make('bench root', x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'bench root')]), root_key, root_key, True)
    inter_key = _crypto.generate_private_key('ec256')
    inter = make('bench intermediate', root.subject, root_key, inter_key, True)
    inter_pem = _crypto.cert_to_pem(inter)
    for index in range(count - have):
        name = 'filler-%04d' % index
        key = _crypto.generate_private_key('ec256')
        leaf_pem = _crypto.cert_to_pem(make(name + '.certflow.test', inter.subject, inter_key, key, False, [name + '.certflow.test']))
        store.install(name, cert=leaf_pem, chain=inter_pem, fullchain=leaf_pem + inter_pem, key=_crypto.private_key_to_pem(key))
        store.save_order(name, {'provider': 'acme', 'status': 'issued', 'identifiers': [{'type': 'dns', 'value': name + '.certflow.test'}]})


# --------------------------------------------------------------- report

def median_result(results):
    keys = ('wall', 'cpu', 'rss_mb', 'requests', 'connections')
    merged = {key: statistics.median(r[key] for r in results) for key in keys}
    merged.update(tool=results[0]['tool'], n=results[0]['n'], runs=len(results), all=results)
    return merged


def machine():
    model = '?'
    try:
        with open('/proc/cpuinfo') as handle:
            for line in handle:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    memory = '?'
    try:
        with open('/proc/meminfo') as handle:
            kb = int(re.search(r'MemTotal:\s+(\d+)', handle.read()).group(1))
        memory = '%.1f GiB' % (kb / 1024.0 / 1024.0)
    except (OSError, AttributeError):
        pass
    return {'nproc': os.cpu_count(), 'cpu': model, 'memory': memory, 'python': platform.python_version(),
            'kernel': platform.release()}


def render(args, table, extras, info, versions, started, finished, loads):
    n = args.n
    base = table.get(BASELINE)
    lines = []
    lines.append('Command: `%s`' % args.command)
    lines.append('')
    lines.append('Date: %s (UTC), %.0f s in all. Machine: %d CPUs (%s), %s memory, Python %s, kernel %s; '
                 'load average %s at the start, %s at the end.' % (
                     started.strftime('%Y-%m-%d %H:%M'), (finished - started).total_seconds(), info['nproc'], info['cpu'],
                     info['memory'], info['python'], info['kernel'], loads[0], loads[1]))
    lines.append('')
    lines.append('Versions: ' + ', '.join('%s %s' % item for item in sorted(versions.items())) + '.')
    lines.append('')
    lines.append('N=%d fresh single-name certificates per run, median of %d runs; certflow.ssl%s with concurrency %d.' % (
        n, args.runs, ' and raw-floor' if RAW_FLOOR in table else '', args.concurrency))
    lines.append('')
    lines.append('| tool | wall s/cert | CPU s/cert | ACME requests/cert | TLS connections/cert (total) | peak RSS MB '
                 '| wall × certflow-http | CPU × certflow-http |')
    lines.append('|---|---:|---:|---:|---:|---:|---:|---:|')
    for tool in args.tools:
        row = table[tool]
        wall_ratio = row['wall'] / base['wall'] if base else float('nan')
        cpu_ratio = row['cpu'] / base['cpu'] if base else float('nan')
        lines.append('| %s | %.3f | %.3f | %.1f | %.1f (%d) | %.0f | %.1f | %.1f |' % (
            tool, row['wall'] / n, row['cpu'] / n, row['requests'] / n, row['connections'] / n, row['connections'], row['rss_mb'],
            wall_ratio, cpu_ratio))
    floor = table.get(FLOOR)
    if floor:
        lines.append('| *%s: ansible-playbook, two ping tasks* | *%.3f* | *%.3f* | | | *%.0f* | *%.1f* | *%.1f* |' % (
            FLOOR, floor['wall'] / n, floor['cpu'] / n, floor['rss_mb'],
            floor['wall'] / base['wall'] if base else float('nan'), floor['cpu'] / base['cpu'] if base else float('nan')))
    lines.append('')
    checks = []

    def check(label, value, limit, ok, unit=''):
        checks.append('| %s | %s%s | %s | %s |' % (label, value, unit, limit, 'met' if ok else '**NOT met**'))

    if base:
        for tool, key in (('community.crypto', 'vs_community_crypto'), ('certbot', 'vs_certbot')):
            if tool in table:
                ratio = table[tool]['wall'] / base['wall']
                goal = '≥ %g×' % TARGETS[key]
                if ratio < TARGETS[key]:
                    goal += ' (needs certflow-http ≤ %.2f s for all %d%s)' % (
                        table[tool]['wall'] / TARGETS[key], n, '; the floor alone takes %.2f s' % floor['wall'] if floor else '')
                check('wall per certificate, %s ÷ certflow-http (N=%d)' % (tool, n), '%.1f' % ratio, goal, ratio >= TARGETS[key], '×')
        raw = table.get(RAW_FLOOR)
        if raw:
            for key, what in (('wall', 'wall'), ('cpu', 'CPU')):
                ratio = base[key] / raw[key]
                check('%s, certflow-http ÷ raw-floor (N=%d, concurrency %d)' % (what, n, args.concurrency), '%.2f× (%.1f s ÷ %.1f s)' % (
                    ratio, base[key], raw[key]), '≤ %g×' % TARGETS['vs_raw_floor'], ratio <= TARGETS['vs_raw_floor'])
        check('peak RSS, certflow-http (N=%d)' % n, '%.0f' % base['rss_mb'], '< %g MB' % TARGETS['rss_mb'], base['rss_mb'] < TARGETS['rss_mb'], ' MB')
        per_cert = base['requests'] / n
        check('ACME requests per certificate, certflow-http', '%.2f' % per_cert, '≤ %g' % TARGETS['requests_per_cert'],
              per_cert <= TARGETS['requests_per_cert'])
        limit = 2 * args.concurrency
        check('TLS connections, certflow-http (2 tasks × %d workers)' % args.concurrency, '%d' % base['connections'],
              '≤ %d (one per worker)' % limit, base['connections'] <= limit)
    scale = extras.get('scale')
    if scale and base:
        ratio = (scale['wall'] / scale['n']) / (base['wall'] / n)
        check('wall per certificate, N=%d ÷ N=%d' % (scale['n'], n), '%.2f (%.3f s ÷ %.3f s)' % (
            ratio, scale['wall'] / scale['n'], base['wall'] / n), '≤ %g' % TARGETS['scale_ratio'], ratio <= TARGETS['scale_ratio'])
        check('peak RSS at N=%d' % scale['n'], '%.0f' % scale['rss_mb'], '< %g MB' % TARGETS['scale_rss_mb'],
              scale['rss_mb'] < TARGETS['scale_rss_mb'], ' MB')
    rerun = extras.get('rerun')
    if rerun:
        for task in ('Request', 'Validate'):
            seconds = rerun['tasks'].get(task)
            if seconds is not None:
                check('re-run, nothing due, %d stored: %s task' % (rerun['n'], task), '%.2f' % seconds, '< %g s' % TARGETS['rerun_task_s'],
                      seconds < TARGETS['rerun_task_s'], ' s')
    cert_info = extras.get('info')
    if cert_info:
        seconds = cert_info['tasks'].get('Info')
        check('cert_info over a store of %d certificates' % cert_info['n'], '%.2f' % seconds, '< %g s' % TARGETS['info_task_s'],
              seconds < TARGETS['info_task_s'], ' s')
    ari = extras.get('ari')
    if ari:
        for label, what in (('cold', 'one renewalInfo GET each'), ('cached', 'within Retry-After')):
            seconds = ari[label]['tasks'].get('Info')
            check('ARI check of %d stored certificates, %s (cert_info task, detail: renewal)' % (ari['n'], what), '%.2f' % seconds,
                  '< %g s' % TARGETS['ari_task_s'], seconds < TARGETS['ari_task_s'], ' s')
        if ari.get('renew') and scale and base:
            renew = ari['renew']
            ratio = (renew['wall'] / renew['n']) / (base['wall'] / n)
            check('wall per certificate, ARI renewal of %d due ÷ N=%d' % (renew['n'], n), '%.2f (%.3f s ÷ %.3f s)' % (
                ratio, renew['wall'] / renew['n'], base['wall'] / n), '≤ %g' % TARGETS['scale_ratio'], ratio <= TARGETS['scale_ratio'])
    if checks:
        lines.append('| target | measured | goal | |')
        lines.append('|---|---:|---|---|')
        lines.extend(checks)
        lines.append('')
    details = []
    if scale:
        details.append('N=%d (certflow-http, 1 run): %.1f s wall, %.1f s CPU, %.2f ACME requests/cert, %d TLS connections, peak RSS %.0f MB; '
                       'tasks: %s.' % (scale['n'], scale['wall'], scale['cpu'], scale['requests'] / scale['n'], scale['connections'],
                                       scale['rss_mb'], _tasks(scale)))
    if rerun:
        details.append('Re-run over those %d: %.2f s wall for the playbook, %d ACME requests; tasks: %s.' % (
            rerun['n'], rerun['wall'], rerun['requests'], _tasks(rerun)))
    if cert_info:
        details.append('cert_info over %d: %.2f s wall for the playbook (%.2f s CPU), peak RSS %.0f MB; tasks: %s.' % (
            cert_info['n'], cert_info['wall'], cert_info['cpu'], cert_info['rss_mb'], _tasks(cert_info)))
    if ari:
        details.append('ARI over %d certificates issued by Pebble (issued in %.1f s): cert_info %.2f s wall for the playbook cold '
                       '(%d renewalInfo GETs; tasks: %s), %.2f s within Retry-After (%d GETs; tasks: %s).' % (
                           ari['n'], ari['issue_wall'], ari['cold']['wall'], ari['cold']['gets'], _tasks(ari['cold']),
                           ari['cached']['wall'], ari['cached']['gets'], _tasks(ari['cached'])))
        floor_task, cold_task = ari['floor']['tasks'].get('Info'), ari['cold']['tasks'].get('Info')
        details.append('ARI floor (bench/playbooks/library/raw_ari_floor.py: the same store, GETs and renewal.json writes, none of '
                       "the collection's checks, no caching): %.2f s for the task (%d GETs); the cold cert_info task is %.2f× that." % (
                           floor_task, ari['floor']['gets'], cold_task / floor_task))
        details.append('The same with detail: full (every chain and key checked, every field): %.2f s wall cold (%d GETs; tasks: %s), '
                       '%.2f s within Retry-After (tasks: %s).' % (
                           ari['full-cold']['wall'], ari['full-cold']['gets'], _tasks(ari['full-cold']),
                           ari['full-cached']['wall'], _tasks(ari['full-cached'])))
        if ari.get('renew'):
            renew = ari['renew']
            numbers = (renew['n'], renew['wall'], renew['cpu'], renew['requests'] / renew['n'], renew['replaces'], _tasks(renew))
            details.append('Renewal of %d made due by the CA (set-renewal-info): %.1f s wall, %.1f s CPU, %.2f ACME requests/cert, '
                           '%d orders with replaces; tasks: %s.' % numbers)
    for tool in list(args.tools) + ([FLOOR] if floor else []):
        runs = table[tool]['all']
        details.append('%s runs (wall s / CPU s / requests / connections): %s; tasks of the median run: %s.' % (
            tool, ', '.join('%.2f/%.2f/%d/%d' % (r['wall'], r['cpu'], r['requests'], r['connections']) for r in runs),
            _tasks(sorted(runs, key=lambda r: r['wall'])[len(runs) // 2])))
    lines.extend('- ' + detail for detail in details)
    return '\n'.join(lines) + '\n', all('**NOT met**' not in line for line in checks)


def _tasks(result):
    tasks = result.get('tasks') or {}
    return ', '.join('%s %.2f s' % item for item in tasks.items()) or 'n/a'


def update_doc(text):
    with open(DOC) as handle:
        doc = handle.read()
    if DOC_BEGIN not in doc or DOC_END not in doc:
        raise SystemExit('%s has no %s ... %s block' % (DOC, DOC_BEGIN, DOC_END))
    head, rest = doc.split(DOC_BEGIN, 1)
    _old, tail = rest.split(DOC_END, 1)
    with open(DOC, 'w') as handle:
        handle.write(head + DOC_BEGIN + '\n' + text + DOC_END + tail)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--n', type=int, default=int(os.environ.get('N') or 10), help='certificates per run (default 10, or $N)')
    parser.add_argument('--runs', type=int, default=3, help='runs per tool; the median is reported (default 3)')
    parser.add_argument('--tools', default=','.join(ALL_TOOLS), help='comma-separated subset of %s; certflow-http@REF or '
                        'certflow-dns@REF measures the collection as it was at git REF' % ', '.join(ALL_TOOLS))
    parser.add_argument('--concurrency', type=int, default=10, help='concurrency of the certflow.ssl tasks (default 10)')
    parser.add_argument('--scale-n', type=int, default=200, help='certificates of the scale run (0: skip it, the re-run and cert_info)')
    parser.add_argument('--info-n', type=int, default=1000, help='certificates in the store cert_info describes (default 1000)')
    parser.add_argument('--ari-n', type=int, default=1000, help='certificates issued by Pebble whose ARI cert_info checks (0: skip)')
    parser.add_argument('--ari-renew-n', type=int, default=500, help='of those, made due by the CA and renewed (default 500)')
    parser.add_argument('--update-doc', action='store_true', help='write the result into docs/performance.md')
    parser.add_argument('--keep', action='store_true', help='keep the work directory (logs, stores)')
    parser.add_argument('--strict', action='store_true', help='exit 1 when a target is not met')
    args = parser.parse_args(argv)
    args.tools = [tool.strip() for tool in args.tools.split(',') if tool.strip()]
    unknown = set(tool for tool in args.tools if not re.match(r'^certflow-(http|dns)@.+$', tool)) - set(ALL_TOOLS)
    if unknown:
        parser.error('unknown tool(s): %s' % ', '.join(sorted(unknown)))
    args.command = os.environ.get('BENCH_COMMAND') or 'python bench/bench.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
    started = datetime.datetime.now(datetime.timezone.utc)
    loads = ['%.2f' % os.getloadavg()[0]]
    bench = Bench(args)
    try:
        bench.start()
        measured_tools = list(args.tools) + ([FLOOR] if any(t in args.tools for t in ('certflow-http', 'community.crypto')) else [])
        results = {tool: [] for tool in measured_tools}
        for run in range(args.runs):
            # tools interleaved, so a change in the machine's load falls on all of them alike
            for tool in measured_tools:
                result = bench.measure(tool, args.n)
                results[tool].append(result)
                log('run %d %-16s %6.2f s wall %6.2f s CPU %4d requests %3d connections %4.0f MB' % (
                    run + 1, tool, result['wall'], result['cpu'], result['requests'], result['connections'], result['rss_mb']))
        table = {tool: median_result(runs) for tool, runs in results.items()}
        extras = {}
        if args.scale_n and BASELINE in args.tools:
            extras['scale'] = bench.measure(BASELINE, args.scale_n)
            log('scale N=%d: %.2f s wall, %.2f s CPU' % (args.scale_n, extras['scale']['wall'], extras['scale']['cpu']))
            extras['rerun'] = bench.rerun(extras['scale'])
            log('re-run: %s' % _tasks(extras['rerun']))
            extras['info'] = bench.info(extras['scale'], max(args.info_n, args.scale_n))
            log('cert_info: %s' % _tasks(extras['info']))
        if args.ari_n and BASELINE in args.tools:
            extras['ari'] = bench.ari(args.ari_n, min(args.ari_renew_n, args.ari_n))
            ari = extras['ari']
            log('ARI: cold %s, cached %s, floor %s, renewal %s' % (
                _tasks(ari['cold']), _tasks(ari['cached']), _tasks(ari['floor']), _tasks(ari.get('renew') or {})))
        loads.append('%.2f' % os.getloadavg()[0])
        text, all_met = render(args, table, extras, machine(), bench.versions, started, datetime.datetime.now(datetime.timezone.utc), loads)
    finally:
        bench.stop()
    print(text)
    if args.update_doc:
        update_doc(text)
        log('wrote %s' % DOC)
    return 0 if all_met or not args.strict else 1


if __name__ == '__main__':
    sys.exit(main())
