# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CA faults through ansible-playbook: a Pebble that rejects half of all
nonces and blocks a domain, and a fault proxy in front of Pebble that answers
503 and 429 (with and without Retry-After), drops connections before and after
the CA saw the request, answers slowly, or never. Each certificate is either
issued (and whole) or the task fails with a clear message within its timeout,
leaving the store as it was."""

import os
import re
import time

import pytest

from tests.lib import services as service_lib
from tests.lib.fault_proxy import (AUTHZ, CERTIFICATE, CHALLENGE, DIRECTORY, FINALIZE, NEW_ACCOUNT, NEW_NONCE, NEW_ORDER, ORDER,
                                   Fault, FaultProxy)
from tests.lib.faults import batch_vars, check_issued, playbook
from tests.lib.playbook import run_playbook

ACME = 'urn:ietf:params:acme:error:'
BLOCKED = 'blocked.certflow.test'
AREA = 'CA faults'
HANG_TIMEOUT = 6      # the module's timeout option when the CA never answers


@pytest.fixture(scope='module')
def fault_pebble(services, tmp_path_factory):
    """A dedicated Pebble: half of all good nonces rejected as bad, every
    authorization validated afresh, one domain on its block list."""
    pebble = service_lib.start_pebble(str(tmp_path_factory.mktemp('pebble-faults')), services.bind.port, services.web.http_port,
                                      env={'PEBBLE_WFE_NONCEREJECT': '50', 'PEBBLE_AUTHZREUSE': '0'},
                                      config={'domainBlocklist': [BLOCKED]})
    yield pebble
    pebble.stop()


@pytest.fixture
def proxy(services):
    with FaultProxy(services.pebble, lifetime=120) as running:
        yield running


def _store_is_empty(store_dir):
    return [entry for entry in os.listdir(store_dir) if entry not in ('.locks', '_accounts')] == []


def test_half_of_all_nonces_rejected_twenty_certificates_issued(services, fault_pebble, store_dir, reliability):
    names = [('nonce-%02d' % index, 'dns' if index % 4 == 0 else 'http') for index in range(20)]
    extra = batch_vars(services, store_dir, names, directory=fault_pebble.directory_url, ca_bundle=fault_pebble.ca_bundle,
                       timeout=300)
    started = time.monotonic()
    result = run_playbook(playbook('faults_batch.yml'), extra).assert_ok()
    elapsed = time.monotonic() - started
    statuses = [c['status'] for c in result.task('Validate')['result']['certificates']]
    assert statuses == ['issued'] * 20
    roots = fault_pebble.roots_pem()
    for name, _validation in names:
        check_issued(store_dir, name, roots, ['%s.certflow.test' % name])
    with open(fault_pebble.log_path) as handle:
        log = handle.read()
    assert log.count('Configured to reject 50% of good nonces') == 1
    reliability.record(AREA, 'half of all nonces rejected', 'Pebble with PEBBLE_WFE_NONCEREJECT=50; 20 certificates (15 http-01, 5 dns-01) '
                       'in one batch, concurrency 4', 'all 20 issued', 'all 20 issued, keys match, chains verify (%s)'
                       % ('under a minute' if elapsed < 60 else 'over a minute'))


# (id, faults, what the fault is, how many times it must fire)
SURVIVED = [
    ('directory-503-retry-after', [Fault('status', DIRECTORY, status=503, retry_after=1, times=2)],
     '503 + Retry-After: 1 on the directory, twice'),
    ('nonce-503', [Fault('status', NEW_NONCE, method='HEAD', status=503, times=2)],
     '503 without Retry-After on newNonce, twice'),
    ('new-account-429-short', [Fault('status', NEW_ACCOUNT, status=429, retry_after=1, problem_type=ACME + 'rateLimited', times=1)],
     '429 rateLimited + Retry-After: 1 on newAccount'),
    ('new-order-503', [Fault('status', NEW_ORDER, status=503, retry_after=1, times=3)],
     '503 + Retry-After: 1 on newOrder, three times'),
    ('new-order-dropped-before-ca', [Fault('drop', NEW_ORDER, times=1)],
     'connection dropped before newOrder reached the CA'),
    ('new-order-dropped-after-ca', [Fault('drop_after', NEW_ORDER, times=1)],
     'newOrder reached the CA, the answer was lost (connection dropped)'),
    ('authorization-dropped', [Fault('drop', AUTHZ, times=2)],
     'connection dropped on the authorization fetch, twice'),
    ('challenge-dropped-after-ca', [Fault('drop_after', CHALLENGE, method='POST', times=1)],
     '"challenge ready" reached the CA, the answer was lost'),
    ('order-poll-slow', [Fault('delay', ORDER, delay=2, times=2)],
     'order polls answered after 2 s, twice'),
    ('finalize-429-retry-after', [Fault('status', FINALIZE, status=429, retry_after=2, problem_type=ACME + 'rateLimited', times=1)],
     '429 rateLimited + Retry-After: 2 on finalize'),
    ('finalize-dropped-after-ca', [Fault('drop_after', FINALIZE, times=1)],
     'finalize reached the CA, the answer was lost'),
    ('certificate-download-slow', [Fault('delay', CERTIFICATE, delay=2, times=1)],
     'certificate download answered after 2 s'),
    ('certificate-download-503', [Fault('status', CERTIFICATE, status=503, times=2)],
     '503 without Retry-After on the certificate download, twice'),
    ('bad-nonce-burst', [Fault('status', NEW_ORDER, status=400, problem_type=ACME + 'badNonce', detail='JWS has an invalid anti-replay nonce',
                               times=14)],
     'badNonce on newOrder 14 times in a row (what 50 % rejection gives once in 16000 requests)'),
]


@pytest.mark.parametrize('case_id,faults,description', SURVIVED, ids=[case[0] for case in SURVIVED])
def test_transient_ca_fault_is_survived(services, proxy, store_dir, reliability, case_id, faults, description):
    for fault in faults:
        fault.fired = 0
    proxy.add(*faults)
    name = 'ca-' + case_id
    extra = batch_vars(services, store_dir, [(name, 'http')], directory=proxy.directory_url, timeout=90)
    started = time.monotonic()
    result = run_playbook(playbook('faults_batch.yml'), extra)
    elapsed = time.monotonic() - started
    message = (result.failed_tasks() or [{'result': {}}])[0]['result'].get('msg')
    fired = sum(fault.fired for fault in faults)
    reliability.record(AREA, case_id, description, 'issued after retries',
                       'issued and whole; the fault fired %d time(s)' % fired if result.rc == 0 else 'FAILED', message)
    assert result.rc == 0, result.output
    assert [fault.fired for fault in faults] == [fault.times for fault in faults], faults
    check_issued(store_dir, name, services.pebble.roots_pem(), ['%s.certflow.test' % name])
    assert elapsed < 60, elapsed


def _fails_clearly(result, task, words):
    assert result.rc != 0, result.output
    failed = result.failed_tasks()
    assert [record['task'] for record in failed] == [task], result.output
    outcome = failed[0]['result']
    message = outcome.get('msg', '')
    for word in words:
        assert word in message, 'expected %r in %r' % (word, message)
    assert outcome.get('changed') is False
    assert 'Traceback' not in result.output
    return message


def test_long_rate_limit_fails_at_once_naming_the_problem(services, proxy, store_dir, reliability):
    proxy.add(Fault('status', NEW_ORDER, status=429, retry_after=3600, problem_type=ACME + 'rateLimited',
                    detail='too many new orders recently', times=None))
    extra = batch_vars(services, store_dir, [('ratelimited', 'http')], directory=proxy.directory_url, timeout=90)
    started = time.monotonic()
    result = run_playbook(playbook('faults_batch.yml'), extra)
    elapsed = time.monotonic() - started
    message = _fails_clearly(result, 'Request', [ACME + 'rateLimited', 'too many new orders recently', '3600 seconds'])
    reliability.record(AREA, 'long rate limit', '429 rateLimited + Retry-After: 3600 on newOrder', 'fails at once, names the problem type',
                       'failed at once (no hour-long wait), nothing written', message)
    assert elapsed < 30
    assert proxy.fired() == 1, 'a long rate limit is not retried'
    assert _store_is_empty(store_dir)


def test_ca_that_stays_unavailable_is_given_up_on(services, proxy, store_dir, reliability):
    proxy.add(Fault('status', NEW_ORDER, status=503, retry_after=1, times=None))
    extra = batch_vars(services, store_dir, [('unavailable', 'http')], directory=proxy.directory_url, timeout=90)
    started = time.monotonic()
    result = run_playbook(playbook('faults_batch.yml'), extra)
    elapsed = time.monotonic() - started
    message = _fails_clearly(result, 'Request', ['HTTP 503', '/order-plz'])
    reliability.record(AREA, 'CA stays unavailable', '503 + Retry-After: 1 on every newOrder', 'bounded retries, then a clear failure',
                       'gave up after %d attempts, nothing written' % proxy.fired(), message)
    assert 3 <= proxy.fired() <= 10 and elapsed < 40
    assert _store_is_empty(store_dir)


@pytest.mark.parametrize('path,label', [(FINALIZE, 'finalize'), (ORDER, 'order poll')], ids=['finalize', 'order-poll'])
def test_ca_that_never_answers_times_out_then_resumes(services, proxy, store_dir, reliability, path, label):
    proxy.add(Fault('hang', path, times=None))
    name = 'hang-' + label.replace(' ', '-')
    extra = batch_vars(services, store_dir, [(name, 'http')], directory=proxy.directory_url, timeout=HANG_TIMEOUT)
    started = time.monotonic()
    result = run_playbook(playbook('faults_batch.yml'), extra, timeout=120)
    elapsed = time.monotonic() - started
    message = _fails_clearly(result, 'Validate', [path.strip('/')])
    assert re.search(r'timed out|time out|timeout', message, re.I), message
    reliability.record(AREA, 'CA never answers (%s)' % label, 'the %s request is held open forever; timeout: %d' % (label, HANG_TIMEOUT),
                       'a clear timeout error after the timeout, never a hang',
                       'failed when the %d s budget ran out (whole playbook < %d s); a re-run without the fault issued the certificate'
                       % (HANG_TIMEOUT, HANG_TIMEOUT + 25), message)
    assert elapsed < HANG_TIMEOUT + 25, elapsed
    assert not os.path.exists(os.path.join(store_dir, name, 'cert.pem'))

    proxy.clear()
    again = run_playbook(playbook('faults_batch.yml'), dict(extra, certflow_defaults=dict(extra['certflow_defaults'], timeout=90)))
    again.assert_ok()
    check_issued(store_dir, name, services.pebble.roots_pem(), ['%s.certflow.test' % name])


def test_problem_on_finalize_fails_the_order_naming_the_type(services, proxy, store_dir, reliability):
    proxy.add(Fault('status', FINALIZE, status=403, problem_type=ACME + 'caa', detail='CAA record forbids issuance', times=None))
    extra = batch_vars(services, store_dir, [('caa', 'http')], directory=proxy.directory_url, timeout=60)
    result = run_playbook(playbook('faults_batch.yml'), extra)
    message = _fails_clearly(result, 'Validate', [ACME + 'caa', 'CAA record forbids issuance', 'caa'])
    reliability.record(AREA, 'CA refuses at finalize', '403 problem urn:ietf:params:acme:error:caa on finalize',
                       'fails naming the problem type; order marked failed', 'failed, order.json status failed, no certificate installed', message)
    with open(os.path.join(store_dir, 'caa', 'order.json')) as handle:
        assert '"status": "failed"' in handle.read()
    assert not os.path.exists(os.path.join(store_dir, 'caa', 'cert.pem'))


def test_rejected_identifier_is_named(services, fault_pebble, store_dir, reliability):
    extra = batch_vars(services, store_dir, [('blocked', 'http')], directory=fault_pebble.directory_url, ca_bundle=fault_pebble.ca_bundle)
    result = run_playbook(playbook('faults_batch.yml'), extra)
    message = _fails_clearly(result, 'Request', [ACME + 'rejectedIdentifier', BLOCKED])
    reliability.record(AREA, 'CA refuses the name', 'Pebble domainBlocklist: newOrder for %s' % BLOCKED,
                       'fails naming rejectedIdentifier and the name; nothing written', 'failed at newOrder, store empty', message)
    assert _store_is_empty(store_dir)
