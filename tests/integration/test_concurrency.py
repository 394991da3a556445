# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Concurrency: two ansible-playbook runs on the same store at the same time.
Both succeed, every certificate is whole, the CA got exactly one order per
certificate and one account (counted in Pebble's own log), and nothing is left
behind."""

import re
import time

from tests.lib.faults import ZONE, StartedPlaybook, batch_vars, challenge_files, check_issued, stray_temp_files

AREA = 'Concurrency'


def _pebble_counts(services):
    with open(services.pebble.log_path) as handle:
        log = handle.read()
    return len(re.findall(r'Added order ', log)), len(re.findall(r'There are now \d+ accounts in memory', log))


def _run_together(extra_vars_list):
    started = [StartedPlaybook(extra) for extra in extra_vars_list]
    return [run.wait(timeout=300) for run in started]


def test_two_playbooks_on_one_store_at_once(services, store_dir, reliability):
    names = [('same-http-a', 'http'), ('same-dns-b', 'dns'), ('same-http-c', 'http'), ('same-dns-d', 'dns'), ('same-http-e', 'http')]
    webroot_before = challenge_files(services.web.webroot)
    orders_before, accounts_before = _pebble_counts(services)
    extra = batch_vars(services, store_dir, names, timeout=180)
    started = time.monotonic()
    results = _run_together([extra, extra])
    elapsed = time.monotonic() - started
    orders, accounts = (count - before for count, before in zip(_pebble_counts(services), (orders_before, accounts_before)))
    try:
        for rc, output in results:
            assert rc == 0, output
        roots = services.pebble.roots_pem()
        for name, _validation in names:
            check_issued(store_dir, name, roots, ['%s.%s' % (name, ZONE)])
        assert orders == len(names), '%d orders at the CA for %d certificates' % (orders, len(names))
        assert accounts == 1, '%d accounts registered' % accounts
        assert stray_temp_files(store_dir) == []
        assert sorted(set(challenge_files(services.web.webroot)) - set(webroot_before)) == []
        for name, validation in names:
            if validation == 'dns':
                assert services.bind.query_txt('_acme-challenge.%s.%s' % (name, ZONE)) == []
        outcome = 'both succeeded; %d orders and 1 account at the CA; every certificate whole; nothing left behind' % orders
    except AssertionError:
        outcome = 'FAILED: %d orders, %d accounts at the CA' % (orders, accounts)
        raise
    finally:
        reliability.record(AREA, 'same batch twice at once', 'two ansible-playbook runs of the same batch of %d certificates '
                           '(http-01 and dns-01) on one store, started together' % len(names),
                           'no corruption, one order per certificate, one account', outcome)
    assert elapsed < 120


def test_different_certificates_on_one_store_at_once(services, store_dir, reliability):
    first = [('mixed-one-a', 'http'), ('mixed-one-b', 'dns'), ('mixed-shared', 'http')]
    second = [('mixed-two-a', 'dns'), ('mixed-two-b', 'http'), ('mixed-shared', 'http')]
    orders_before, _accounts = _pebble_counts(services)
    results = _run_together([batch_vars(services, store_dir, first, timeout=180), batch_vars(services, store_dir, second, timeout=180)])
    orders = _pebble_counts(services)[0] - orders_before
    unique = sorted(set(first) | set(second))
    try:
        for rc, output in results:
            assert rc == 0, output
        roots = services.pebble.roots_pem()
        for name, _validation in unique:
            check_issued(store_dir, name, roots, ['%s.%s' % (name, ZONE)])
        assert orders == len(unique), '%d orders at the CA for %d certificates' % (orders, len(unique))
        outcome = 'both succeeded; %d orders for %d certificates' % (orders, len(unique))
    except AssertionError:
        outcome = 'FAILED: %d orders for %d certificates' % (orders, len(unique))
        raise
    finally:
        reliability.record(AREA, 'overlapping batches at once', 'two runs at once on one store: 2 certificates each of their own '
                           'and 1 in both', 'all 5 issued, the shared one ordered once', outcome)
