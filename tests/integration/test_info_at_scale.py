# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_info over a store large enough to be split between processes
(module_utils/_processes.py), through ansible-playbook against Pebble: every
certificate listed once and in store order, one renewalInfo GET each and
none within Retry-After, the same renewal decision at detail renewal and
full, and a damaged entry in a forked part still named in the result and as
a warning."""

import os

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _processes
from tests.lib.playbook import run_playbook

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOK = os.path.join(HERE, 'playbooks', 'info_large_store.yml')
COUNT = 2 * _processes.MIN_PART + 1
RENEWAL_KEYS = {'name', 'status', 'provider', 'serial', 'domains', 'ip_addresses', 'not_before', 'not_after',
                'days_remaining', 'expired', 'needs_renewal', 'renewal'}


def renewal_info_gets(pebble):
    with open(pebble.log_path) as handle:
        return sum(1 for line in handle if 'renewalInfo' in line and 'GET' in line)


@pytest.fixture(scope='module')
def large_store(services, tmp_path_factory):
    """COUNT certificates issued by Pebble into one store, in one batch."""
    store_dir = str(tmp_path_factory.mktemp('large-store'))
    zone = services.bind.zone
    names = ['many-%03d' % index for index in range(COUNT)]
    values = {
        'certflow_defaults': {'provider': 'acme', 'store_dir': store_dir, 'timeout': 120,
                              'acme': {'directory': services.pebble.directory_url, 'ca_bundle': services.pebble.ca_bundle,
                                       'account_email': 'hostmaster@certflow.test'}},
        'batch': [{'name': name, 'domains': ['%s.%s' % (name, zone)]} for name in names],
        'validate_batch': [{'name': name} for name in names],
        'webroot': services.web.webroot, 'http_port': services.web.http_port, 'nameserver': services.bind.nameserver,
        'issue': True, 'detail': 'renewal',
    }
    run_playbook(PLAYBOOK, values, timeout=600).assert_ok()
    values['issue'] = False
    return values, names


def forget_renewal_info(store_dir, names):
    for name in names:
        os.unlink(os.path.join(store_dir, name, 'renewal.json'))


def test_a_large_store_is_listed_whole_in_order_one_get_each(services, large_store):
    values, names = large_store
    store_dir = values['certflow_defaults']['store_dir']
    assert _processes.parts_for(COUNT) == 2, 'this machine must split the store (two CPUs or more)'
    forget_renewal_info(store_dir, names)
    before = renewal_info_gets(services.pebble)
    quick = run_playbook(PLAYBOOK, values).assert_ok().task('Info')['result']
    assert renewal_info_gets(services.pebble) - before == COUNT, 'one renewalInfo GET per certificate, from both processes'
    assert [entry['name'] for entry in quick['certificates']] == names
    assert quick['unreadable'] == []
    for entry in quick['certificates']:
        assert set(entry) == RENEWAL_KEYS, entry
        assert entry['renewal']['source'] == 'ari' and entry['needs_renewal'] is False
        assert os.path.exists(os.path.join(store_dir, entry['name'], 'renewal.json'))

    before = renewal_info_gets(services.pebble)
    full = run_playbook(PLAYBOOK, dict(values, detail='full')).assert_ok().task('Info')['result']
    assert renewal_info_gets(services.pebble) == before, 'none within Retry-After'
    assert [entry['name'] for entry in full['certificates']] == names
    for fast, complete in zip(quick['certificates'], full['certificates']):
        assert complete['renewal'] == fast['renewal'] and complete['serial'] == fast['serial']
        assert complete['chain_valid'] is True and complete['key_matches'] is True


def test_a_damaged_entry_in_a_forked_part_is_named_and_warned(large_store):
    values, names = large_store
    store_dir = values['certflow_defaults']['store_dir']
    damaged = names[-1]       # in the last part: a forked child reads it
    order = os.path.join(store_dir, damaged, 'order.json')
    with open(order) as handle:
        kept = handle.read()
    try:
        with open(order, 'w') as handle:
            handle.write('{not json')
        result = run_playbook(PLAYBOOK, values).assert_ok()
    finally:
        with open(order, 'w') as handle:
            handle.write(kept)
    listed = result.task('Info')['result']
    assert [entry['name'] for entry in listed['certificates']] == names[:-1]
    assert [entry['name'] for entry in listed['unreadable']] == [damaged]
    assert 'order file' in listed['unreadable'][0]['error']
    assert any(damaged in warning and 'left out of the report' in warning for warning in listed.get('warnings', [])), \
        listed.get('warnings')
