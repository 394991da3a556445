# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the fault, interruption, concurrency and secrets tests:
extra vars for tests/integration/playbooks/faults_batch.yml, a strict check
of what a certificate folder in the store holds, and ansible-playbook started
in the background (to be killed with everything under it, or waited for)."""

import glob
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from tests.lib.tools import tool

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOKS = os.path.join(os.path.dirname(HERE), 'integration', 'playbooks')
ZONE = 'certflow.test'


def playbook(name):
    return os.path.join(PLAYBOOKS, name)


def rfc2136_settings(bind):
    return {'server': bind.host, 'port': bind.port, 'key_name': bind.tsig_name, 'key_secret': bind.tsig_secret,
            'key_algorithm': bind.tsig_algorithm}


def batch_vars(services, store_dir, certificates, directory=None, ca_bundle=None, timeout=120, **extra):
    """Extra vars for faults_batch.yml: ``certificates`` is [(name, validation)], one name each in ZONE."""
    batch = [{'name': name, 'domains': ['%s.%s' % (name, ZONE)], 'validation': validation} for name, validation in certificates]
    values = {
        'certflow_defaults': {
            'provider': 'acme',
            'acme': {'directory': directory or services.pebble.directory_url, 'ca_bundle': ca_bundle or services.pebble.ca_bundle,
                     'account_email': 'hostmaster@' + ZONE},
            'store_dir': store_dir,
            'timeout': timeout,
        },
        'batch': batch,
        'validate_batch': [{'name': entry['name'], 'method': entry['validation']} for entry in batch],
        'rfc2136_settings': rfc2136_settings(services.bind),
        'nameserver': services.bind.nameserver,
        'webroot': services.web.webroot,
        'http_port': services.web.http_port,
    }
    values.update(extra)
    return values


def read(path):
    with open(path) as handle:
        return handle.read()


def check_issued(store_dir, name, roots_pem, domains=None):
    """Everything a server needs is there, whole and consistent: key 0600 in a
    0700 folder, the key matches the certificate, cert + chain = full chain,
    the chain verifies to ``roots_pem``, the names are right, order.json says
    issued with this serial, and nothing is left pending. Returns the summary."""
    folder = os.path.join(store_dir, name)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
    files = dict((kind, os.path.join(folder, kind + '.pem')) for kind in ('privkey', 'cert', 'chain', 'fullchain'))
    for path in files.values():
        assert os.path.isfile(path), path
    assert stat.S_IMODE(os.stat(files['privkey']).st_mode) == 0o600
    key = _crypto.load_private_key(read(files['privkey']))
    cert = _crypto.load_certificate(read(files['cert']))
    chain = _crypto.load_certificates(read(files['chain']))
    full = _crypto.load_certificates(read(files['fullchain']))
    assert _crypto.cert_matches_key(cert, key), 'the key of %s does not match its certificate' % name
    assert [c.serial_number for c in full] == [c.serial_number for c in [cert] + chain], 'fullchain of %s != cert + chain' % name
    ok, reason = _crypto.verify_chain(cert, chain, roots=roots_pem)
    assert ok, reason
    summary = _crypto.cert_summary(cert)
    if domains is not None:
        assert sorted(summary['domains']) == sorted(domains)
    order = json.loads(read(os.path.join(folder, 'order.json')))
    assert order['status'] == 'issued', order['status']
    assert order.get('serial') == summary['serial']
    assert not os.path.exists(os.path.join(folder, 'pending', 'privkey.pem')), 'a pending key is left for %s' % name
    return summary


def stray_temp_files(store_dir):
    """Temporary files of interrupted atomic writes anywhere in the store."""
    return sorted(glob.glob(os.path.join(store_dir, '**', '.tmp-*'), recursive=True))


def challenge_files(webroot):
    folder = os.path.join(webroot, '.well-known', 'acme-challenge')
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


class StartedPlaybook:
    """ansible-playbook started in the background (its own session), to be
    killed (interruption tests) or waited for (concurrency tests)."""

    def __init__(self, extra_vars, name='faults_batch.yml'):
        self.workdir = tempfile.mkdtemp(prefix='certflow-background-')
        inventory = os.path.join(self.workdir, 'inventory.ini')
        with open(inventory, 'w') as handle:
            handle.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
        vars_path = os.path.join(self.workdir, 'extra_vars.json')
        with open(vars_path, 'w') as handle:
            json.dump(extra_vars, handle)
        env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='False', ANSIBLE_RETRY_FILES_ENABLED='False')
        self.log_path = os.path.join(self.workdir, 'output.log')
        self.log = open(self.log_path, 'w')  # noqa: SIM115 - closed in kill() / wait()
        self.process = subprocess.Popen([tool('ansible-playbook'), '-i', inventory, '-e', '@' + vars_path, playbook(name)],
                                        stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)

    def wait(self, timeout=300):
        """Wait for it to finish; returns (rc, output)."""
        try:
            rc = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError('ansible-playbook did not finish within %ss' % timeout)
        self.log.close()
        output = read(self.log_path)
        shutil.rmtree(self.workdir, ignore_errors=True)
        return rc, output

    def kill(self):
        """SIGKILL to ansible-playbook and every process under it, as when the
        machine loses power; True when it was still running. Ansible's workers
        call setsid(), so killing the process group alone would leave them
        (and the module process) running: every descendant is stopped first,
        so none can fork away, then killed."""
        running = self.process.poll() is None
        tree = set()
        for _round in range(20):
            found = _descendants(self.process.pid) | {self.process.pid}
            for pid in found - tree:
                _signal(pid, signal.SIGSTOP)
            if found <= tree:
                break
            tree |= found
        for pid in tree:
            _signal(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        _wait_gone(tree - {self.process.pid})
        self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
        return running


def _signal(pid, signum):
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _parents():
    parents = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as handle:
                fields = handle.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = (int(fields[1]), fields[0])
    return parents


def _descendants(root):
    parents = _parents()
    found, frontier = set(), {root}
    while frontier:
        frontier = set(pid for pid, (ppid, _state) in parents.items() if ppid in frontier) - found
        found |= frontier
    return found


def _wait_gone(pids, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        parents = _parents()
        alive = [pid for pid in pids if pid in parents and parents[pid][1] != 'Z']
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError('processes of the killed playbook are still running: %s' % alive)
