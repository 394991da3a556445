# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Interruption: ansible-playbook (its whole process group, so the module
process too) is killed with SIGKILL during a batch of issuances, at random
points for several seeds and at chosen points (while the CA holds a request),
then run again. Afterwards every certificate is issued and whole (key matches
certificate, chain verifies, nothing partial or pending), the certificate
locks are free, and no TXT record or challenge file of the killed run is left."""

import json
import os
import random
import time

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils._store import Store
from tests.lib.fault_proxy import CERTIFICATE, NEW_ORDER, ORDER, Fault, FaultProxy
from tests.lib.faults import ZONE, StartedPlaybook, batch_vars, challenge_files, check_issued, playbook, stray_temp_files
from tests.lib.playbook import run_playbook

AREA = 'Interruption'
SEEDS = (11, 23, 37, 41, 59)
AFTER_REQUEST = (0.0, 0.4)   # seconds to let the run go on after the chosen CA request, before the kill


def _names(prefix):
    return [('%s-http-a' % prefix, 'http'), ('%s-dns-b' % prefix, 'dns'), ('%s-http-c' % prefix, 'http'), ('%s-dns-d' % prefix, 'dns')]


def _state(store_dir, names):
    """What the killed run left, in words: per certificate the furthest step reached."""
    reached = []
    for name, _validation in names:
        folder = os.path.join(store_dir, name)
        if os.path.exists(os.path.join(folder, 'cert.pem')):
            reached.append('issued')
        elif os.path.exists(os.path.join(folder, 'order.json')):
            with open(os.path.join(folder, 'order.json')) as handle:
                reached.append(json.load(handle)['status'])
        elif os.path.exists(os.path.join(folder, 'pending')):
            reached.append('key only')
        else:
            reached.append('nothing')
    return reached


def _locks_are_free(store_dir, names):
    store = Store(store_dir)
    for name, _validation in names:
        with store.lock(name, timeout=2.0):
            pass


def _recovered(services, store_dir, names, webroot_before, directory=None):
    """Run again; everything is issued, whole, unlocked and clean."""
    _locks_are_free(store_dir, names)
    result = run_playbook(playbook('faults_batch.yml'), batch_vars(services, store_dir, names, directory=directory, timeout=120))
    result.assert_ok()
    roots = services.pebble.roots_pem()
    for name, _validation in names:
        check_issued(store_dir, name, roots, ['%s.%s' % (name, ZONE)])
    leftovers = {}
    for name, validation in names:
        if validation == 'dns':
            values = services.bind.query_txt('_acme-challenge.%s.%s' % (name, ZONE))
            if values:
                leftovers[name] = values
    assert leftovers == {}, 'TXT records of the killed run are left in DNS: %s' % leftovers
    assert sorted(set(challenge_files(services.web.webroot)) - set(webroot_before)) == [], 'challenge files are left in the webroot'
    assert stray_temp_files(store_dir) == [], 'temporary files of interrupted writes are left in the store'
    return result


@pytest.fixture(scope='module')
def requests_per_batch(services, tmp_path_factory):
    """How many requests an uninterrupted batch sends to the CA: the kill points are
    chosen along that, so they fall inside the run on a fast machine and a slow one."""
    store_dir = str(tmp_path_factory.mktemp('calibration'))
    with FaultProxy(services.pebble, lifetime=120) as proxy:
        run_playbook(playbook('faults_batch.yml'), batch_vars(services, store_dir, _names('calibrate'), directory=proxy.directory_url))\
            .assert_ok()
        return len(proxy.requests())


@pytest.mark.parametrize('seed', SEEDS)
def test_killed_at_a_random_point_then_rerun(services, store_dir, reliability, requests_per_batch, seed):
    names = _names('kill%d' % seed)
    webroot_before = challenge_files(services.web.webroot)
    chooser = random.Random(seed)
    after_requests = chooser.randint(1, requests_per_batch)
    delay = chooser.uniform(*AFTER_REQUEST)
    outcome = 'FAILED'
    with FaultProxy(services.pebble, lifetime=150) as proxy:
        started = StartedPlaybook(batch_vars(services, store_dir, names, directory=proxy.directory_url, timeout=120))
        end = time.monotonic() + 60
        while len(proxy.requests()) < after_requests and started.process.poll() is None and time.monotonic() < end:
            time.sleep(0.005)
        time.sleep(delay)
        was_running = started.kill()
        left = _state(store_dir, names)
        try:
            _recovered(services, store_dir, names, webroot_before, directory=proxy.directory_url)
            outcome = 'killed run left: %s%s; the re-run issued all 4, keys match, chains verify, nothing left behind' % (
                ', '.join(left), '' if was_running else ' (it had already finished)')
        finally:
            reliability.record(AREA, 'SIGKILL after CA request %d of %d + %.2f s (seed %d)' % (after_requests, requests_per_batch, delay, seed),
                               'kill -9 of ansible-playbook and every process under it during a batch of 4 (2 http-01, 2 dns-01), '
                               'then run again', 'all issued and whole; locks free; nothing left behind', outcome)


# (id, where the CA holds the request, what was reached when killed)
HELD = [
    ('new-order', Fault('hang', NEW_ORDER, times=None), 'newOrder sent, no answer: key kept in pending/, no order.json'),
    ('order-poll', Fault('hang', ORDER, times=None), 'proofs in place and the CA told: TXT records and challenge files present'),
    ('certificate-download', Fault('hang', CERTIFICATE, times=None), 'order valid at the CA, certificate not downloaded'),
]


@pytest.mark.parametrize('case_id,fault,reached', HELD, ids=[case[0] for case in HELD])
def test_killed_while_the_ca_holds_a_request_then_rerun(services, store_dir, reliability, case_id, fault, reached):
    names = _names('held-' + case_id)
    webroot_before = challenge_files(services.web.webroot)
    outcome = 'FAILED'
    with FaultProxy(services.pebble, lifetime=150) as proxy:
        proxy.add(fault)
        started = StartedPlaybook(batch_vars(services, store_dir, names, directory=proxy.directory_url, timeout=120))
        try:
            assert proxy.wait_for(fault.path, action='hang', timeout=60), 'the playbook never reached %s' % fault.path
            time.sleep(0.5)   # let the other workers of the batch reach the same point
        finally:
            started.kill()
        left = _state(store_dir, names)
        proxy.clear()         # the CA answers again, at the same address
        try:
            _recovered(services, store_dir, names, webroot_before, directory=proxy.directory_url)
            outcome = 'killed run left: %s; the re-run issued all 4 and removed what the killed run had put in place' % ', '.join(left)
        finally:
            reliability.record(AREA, 'SIGKILL while the CA holds %s' % case_id.replace('-', ' '),
                               'the proxy holds every %s request open; kill -9 once one is held: %s' % (fault.path, reached),
                               'all issued and whole; locks free; nothing left behind', outcome)


def test_temporary_files_of_a_cut_short_write_are_removed(services, store_dir, reliability):
    """What a kill inside an atomic write leaves (a partial key in a temporary
    file, 0600) goes with the next run that takes the certificate's lock."""
    names = [('tmpfiles', 'http')]
    extra = batch_vars(services, store_dir, names)
    run_playbook(playbook('faults_batch.yml'), extra).assert_ok()
    folder = os.path.join(store_dir, 'tmpfiles')
    os.makedirs(os.path.join(folder, 'pending'), mode=0o700, exist_ok=True)
    planted = [os.path.join(folder, '.tmp-privkey-cut'), os.path.join(folder, 'pending', '.tmp-pending-cut')]
    for path in planted:
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), 'w') as handle:
            handle.write('-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqG\n')
    again = run_playbook(playbook('faults_batch.yml'), extra).assert_ok()
    assert again.recap['localhost']['changed'] == 0
    left = [path for path in planted if os.path.exists(path)]
    reliability.record(AREA, 'temporary files of a write cut short', 'partial key files .tmp-* (as a kill inside an atomic write '
                       'leaves them) in the certificate folder and in pending/', 'removed by the next run that takes the lock',
                       'removed by the next (otherwise unchanged) run' if not left else 'LEFT: %d' % len(left))
    assert left == []
    check_issued(store_dir, 'tmpfiles', services.pebble.roots_pem())


def test_killed_after_installing_before_noting_it_is_finished_by_the_next_run(services, store_dir, reliability):
    """Installing moves the order's key into place (pending/ is emptied) and then
    notes the order as issued. A kill between the two (seen at a random kill
    point) left an order still 'processing' and no pending key: the next run
    must see that the installed key is the one the CA's certificate is for,
    and finish, instead of asking for a new order."""
    names = [('installed', 'http')]
    extra = batch_vars(services, store_dir, names)
    run_playbook(playbook('faults_batch.yml'), extra).assert_ok()
    folder = os.path.join(store_dir, 'installed')
    with open(os.path.join(folder, 'cert.pem')) as handle:
        cert_before = handle.read()
    order_path = os.path.join(folder, 'order.json')
    with open(order_path) as handle:
        order = json.load(handle)
    order['status'] = 'processing'            # what the killed run had noted last
    with open(order_path, 'w') as handle:
        json.dump(order, handle)
    assert not os.path.exists(os.path.join(folder, 'pending', 'privkey.pem'))
    again = run_playbook(playbook('faults_batch.yml'), extra)
    validated = (again.task('Validate') or {}).get('result') or {}
    reliability.record(AREA, 'kill between installing and noting the order issued',
                       'order.json still processing, the key already moved from pending/ into place',
                       'the next run finishes the order with the installed key', 'finished' if again.rc == 0 else 'FAILED',
                       message=validated.get('msg'))
    again.assert_ok()
    with open(order_path) as handle:
        assert json.load(handle)['status'] == 'issued'
    with open(os.path.join(folder, 'cert.pem')) as handle:
        assert handle.read() == cert_before
    check_issued(store_dir, 'installed', services.pebble.roots_pem())
