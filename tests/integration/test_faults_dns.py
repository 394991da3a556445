# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS faults through ansible-playbook: an authoritative server that never got
the record or does not answer, a DNS update server that is down, a wrong TSIG
key, and a CA that refuses after our records were added. Every failure names
what was wrong, and the TXT records we added are gone afterwards."""

import os

import pytest

from tests.lib import services as service_lib
from tests.lib.fault_proxy import CHALLENGE, Fault, FaultProxy
from tests.lib.faults import ZONE, batch_vars, check_issued, playbook
from tests.lib.playbook import run_playbook

AREA = 'DNS faults'
WRONG_SECRET = 'd3Jvbmcgc2VjcmV0IGZvciB0ZXN0cw=='


@pytest.fixture(scope='module')
def second_bind(tmp_path_factory):
    """Another real BIND serving the same zones that never receives our updates:
    an authoritative server the record has not reached."""
    server = service_lib.start_bind(str(tmp_path_factory.mktemp('bind-unsynced')))
    yield server
    server.stop()


def _two_names(services, store_dir, label, **extra):
    """Extra vars for one certificate with two names, validated by RFC 2136 updates."""
    values = batch_vars(services, store_dir, [(label, 'dns')], timeout=60, **extra)
    values['batch'][0]['domains'] = ['%s.%s' % (label, ZONE), 'www.%s.%s' % (label, ZONE)]
    return values


def _records(services, label):
    return {name: services.bind.query_txt('_acme-challenge.%s.%s' % (name, ZONE)) for name in (label, 'www.' + label)}


def _failed_validate(result):
    assert result.rc != 0, result.output
    failed = result.failed_tasks()
    assert [record['task'] for record in failed] == ['Validate'], result.output
    assert failed[0]['result'].get('changed') is False
    assert 'Traceback' not in result.output
    return failed[0]['result']['msg']


def _nothing_left(services, store_dir, label):
    assert _records(services, label) == {label: [], 'www.' + label: []}, 'the TXT records we added must be removed'
    assert not os.path.exists(os.path.join(store_dir, label, 'cert.pem'))


def test_record_missing_on_one_authoritative_server(services, second_bind, store_dir, reliability):
    label = 'unsynced'
    extra = _two_names(services, store_dir, label, propagation_timeout=3,
                       validate_nameservers=[services.bind.nameserver, second_bind.nameserver])
    message = _failed_validate(run_playbook(playbook('faults_batch.yml'), extra))
    assert 'not visible on %s after' % second_bind.nameserver in message, message
    assert 'not visible on %s' % services.bind.nameserver not in message
    _nothing_left(services, store_dir, label)
    reliability.record(AREA, 'record not on every authoritative server', 'two names; nameservers: the updated BIND and a second BIND '
                       'that never gets the update; propagation_timeout: 3',
                       'propagation timeout naming the server that lacked the record; our records removed',
                       'failed after 3 s naming only the second server; both TXT records removed from the first; order kept '
                       'pending, a re-run against the updated server issued it', message)
    del extra['validate_nameservers']
    run_playbook(playbook('faults_batch.yml'), extra).assert_ok()
    check_issued(store_dir, label, services.pebble.roots_pem())
    assert _records(services, label) == {label: [], 'www.' + label: []}


def test_authoritative_server_down(services, store_dir, reliability):
    label = 'nsdown'
    down = '127.0.0.1:%d' % service_lib.free_port(udp_too=True)
    extra = _two_names(services, store_dir, label, propagation_timeout=2, validate_nameservers=[services.bind.nameserver, down])
    message = _failed_validate(run_playbook(playbook('faults_batch.yml'), extra))
    assert 'not visible on %s (' % down in message, message
    assert 'no answer within' in message or 'connection refused' in message, message
    _nothing_left(services, store_dir, label)
    reliability.record(AREA, 'authoritative server down', 'nameservers: the BIND and a port where nothing listens; propagation_timeout: 2',
                       'propagation timeout naming the silent server and why', 'failed naming the down server; TXT records removed',
                       message)


def test_update_server_down(services, store_dir, reliability):
    label = 'updown'
    port = service_lib.free_port(udp_too=True)
    extra = _two_names(services, store_dir, label)
    extra['rfc2136_settings'] = dict(extra['rfc2136_settings'], port=port, zone=ZONE)
    message = _failed_validate(run_playbook(playbook('faults_batch.yml'), extra))
    assert '127.0.0.1:%d' % port in message and 'refused' in message, message
    _nothing_left(services, store_dir, label)
    reliability.record(AREA, 'DNS update server down', 'rfc2136.port where nothing listens', 'clear message naming server and port',
                       'failed naming the server; nothing added', message)


def test_wrong_tsig_key(services, store_dir, reliability):
    label = 'badtsig'
    extra = _two_names(services, store_dir, label)
    extra['rfc2136_settings'] = dict(extra['rfc2136_settings'], key_secret=WRONG_SECRET)
    result = run_playbook(playbook('faults_batch.yml'), extra)
    message = _failed_validate(result)
    assert 'TSIG' in message and services.bind.tsig_name in message or 'TSIG key rejected' in message, message
    assert WRONG_SECRET not in result.output
    _nothing_left(services, store_dir, label)
    reliability.record(AREA, 'wrong TSIG key', 'rfc2136.key_secret that the server does not know',
                       'clear message naming the key problem; the secret never printed', 'failed: TSIG key rejected; nothing added',
                       message)


def test_ca_refuses_after_our_records_were_added(services, store_dir, reliability):
    label = 'carefuses'
    with FaultProxy(services.pebble, lifetime=90) as proxy:
        proxy.add(Fault('status', CHALLENGE, method='POST', status=403, problem_type='urn:ietf:params:acme:error:unauthorized',
                        detail='account is not allowed to validate this name', times=None))
        extra = _two_names(services, store_dir, label, directory=proxy.directory_url)
        message = _failed_validate(run_playbook(playbook('faults_batch.yml'), extra))
        assert proxy.fired() >= 1
    assert 'urn:ietf:params:acme:error:unauthorized' in message, message
    _nothing_left(services, store_dir, label)
    reliability.record(AREA, 'CA refuses after the records were added', 'both TXT records added and visible, then "challenge ready" '
                       'answered 403 urn:ietf:params:acme:error:unauthorized', 'fails naming the problem type; records removed',
                       'failed; both TXT records removed; no certificate', message)
