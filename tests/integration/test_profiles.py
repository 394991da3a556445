# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 14 items 2, 3 and 5 through ansible-playbook against the current
Pebble: ACME profiles (checked against the directory, kept for renewal, a
changed one renews), IP-address certificates (RFC 8738, http-01, no address in
the CN), a fresh key on every renewal unless reuse_key, and a newOrder whose
answer was lost resumed instead of ordered twice."""

import datetime
import json
import os
from urllib.parse import urlsplit

import pytest
import requests

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.provider import AcmeProvider
from ansible_collections.certflow.ssl.plugins.module_utils._store import Store
from tests.lib import services as service_lib
from tests.lib.fault_proxy import NEW_ORDER, Fault, FaultProxy
from tests.lib.faults import ZONE, batch_vars, check_issued, playbook, read
from tests.lib.playbook import run_playbook

# Three profiles: Pebble picks a random one for an order without a profile, so every order to it names one.
PROFILES = {'default': {'description': 'ninety', 'validityPeriod': 7776000},
            'shortlived': {'description': 'six days', 'validityPeriod': 518400},
            'tlsserver': {'description': 'forty-five', 'validityPeriod': 3888000}}
LIFETIME_DAYS = {'default': 90, 'shortlived': 6, 'tlsserver': 45}


@pytest.fixture(scope='module')
def profile_pebble(services, tmp_path_factory):
    pebble = service_lib.start_pebble(str(tmp_path_factory.mktemp('pebble-profiles')), services.bind.port, services.web.http_port,
                                      env={'PEBBLE_AUTHZREUSE': '0'}, config={'profiles': PROFILES})
    yield pebble
    pebble.stop()


@pytest.fixture(scope='module')
def listing_pebble(services, tmp_path_factory):
    """One order per page of the account's order list, so that finding an order walks the pages."""
    pebble = service_lib.start_pebble(str(tmp_path_factory.mktemp('pebble-listing')), services.bind.port, services.web.http_port,
                                      env={'PEBBLE_AUTHZREUSE': '0', 'PEBBLE_WFE_ORDERS_PER_PAGE': '1'})
    yield pebble
    pebble.stop()


def _vars(services, store_dir, entries, pebble=None, directory=None):
    """faults_batch.yml's vars: ``entries`` are cert_request entries (http validation unless they say)."""
    pebble = pebble or services.pebble
    batch = [dict({'validation': 'http'}, **entry) for entry in entries]
    return batch_vars(services, store_dir, [], directory=directory or pebble.directory_url, ca_bundle=pebble.ca_bundle,
                      batch=batch, validate_batch=[{'name': e['name'], 'method': e['validation']} for e in batch])


def _issue(services, store_dir, entries, pebble=None, **kwargs):
    return run_playbook(playbook('faults_batch.yml'), _vars(services, store_dir, entries, pebble), **kwargs)


def _cert(store_dir, name):
    return _crypto.load_certificate(read(os.path.join(store_dir, name, 'cert.pem')))


def _lifetime_days(cert):
    return round((cert.not_valid_after_utc - cert.not_valid_before_utc) / datetime.timedelta(days=1))


def _order_json(store_dir, name):
    return json.loads(read(os.path.join(store_dir, name, 'order.json')))


def _key_fingerprint(store_dir, name):
    key = _crypto.load_private_key(read(os.path.join(store_dir, name, 'privkey.pem')))
    return _crypto.public_key_pem(key)


def _store_names(store_dir):
    return sorted(entry for entry in os.listdir(store_dir) if entry not in ('.locks', '_accounts'))


# ---------------------------------------------------------------------------- profiles

def _orders_added(pebble):
    with open(pebble.log_path) as handle:
        return handle.read().count('Added order')


def test_unknown_profile_fails_listing_the_offered_ones_and_writes_nothing(services, profile_pebble, store_dir):
    before = _orders_added(profile_pebble)
    result = _issue(services, store_dir, [{'name': 'nosuch', 'domains': ['nosuch.' + ZONE], 'profile': 'longlived'}], profile_pebble)
    assert result.rc != 0
    message = result.task('Request')['result']['msg']
    assert "profile 'longlived' is not offered by the ACME server" in message, message
    assert 'default (ninety), shortlived (six days), tlsserver (forty-five)' in message, message
    assert _store_names(store_dir) == []
    assert _orders_added(profile_pebble) == before, 'no order may be made for an unknown profile'


def test_each_profile_gets_its_lifetime_and_is_kept_in_the_store(services, profile_pebble, store_dir):
    entries = [{'name': 'life-' + profile, 'domains': ['life-%s.%s' % (profile, ZONE)], 'profile': profile} for profile in PROFILES]
    result = _issue(services, store_dir, entries, profile_pebble).assert_ok()
    requested = result.task('Request')['result']['certificates']
    assert sorted(entry['profile'] for entry in requested) == sorted(PROFILES)
    roots = profile_pebble.roots_pem()
    for profile, days in LIFETIME_DAYS.items():
        name = 'life-' + profile
        check_issued(store_dir, name, roots, ['%s.%s' % (name, ZONE)])
        assert _lifetime_days(_cert(store_dir, name)) == days, profile
        assert _order_json(store_dir, name)['profile'] == profile


def test_profile_is_kept_on_renewal_and_a_changed_one_renews(services, profile_pebble, store_dir):
    name, domains = 'keep', ['keep.' + ZONE]
    _issue(services, store_dir, [{'name': name, 'domains': domains, 'profile': 'tlsserver'}], profile_pebble).assert_ok()
    assert _lifetime_days(_cert(store_dir, name)) == 45

    # Renewed twice without a profile: each time the stored tlsserver is sent again (else Pebble picks at random).
    for _round in range(2):
        serial = _cert(store_dir, name).serial_number
        renewed = _issue(services, store_dir, [{'name': name, 'domains': domains, 'force': True}], profile_pebble).assert_ok()
        assert renewed.task('Request')['result']['certificates'][0]['action'] == 'renew'
        assert _cert(store_dir, name).serial_number != serial
        assert _lifetime_days(_cert(store_dir, name)) == 45
        assert _order_json(store_dir, name)['profile'] == 'tlsserver'

    # Not due, same (or no) profile: nothing to do.
    for entry in ({'name': name, 'domains': domains}, {'name': name, 'domains': domains, 'profile': 'tlsserver'}):
        again = _issue(services, store_dir, [entry], profile_pebble).assert_ok()
        assert again.task('Request')['result']['certificates'][0]['action'] == 'none'

    # Another profile: check mode and diff say a new certificate would be ordered, and why.
    changed = {'name': name, 'domains': domains, 'profile': 'shortlived'}
    serial = _cert(store_dir, name).serial_number
    checked = _issue(services, store_dir, [changed], profile_pebble, check=True, diff=True)
    request = checked.task('Request')['result']
    entry = request['certificates'][0]
    assert entry['changed'] and entry['action'] == 'renew' and entry['profile'] == 'shortlived'
    assert 'profile shortlived asked for, the certificate has tlsserver: a new certificate is ordered' in entry['messages']
    assert ', profile tlsserver' in request['diff'][0]['before'] and ', profile shortlived' in request['diff'][0]['after']
    assert _cert(store_dir, name).serial_number == serial and _order_json(store_dir, name)['profile'] == 'tlsserver'

    renewed = _issue(services, store_dir, [changed], profile_pebble).assert_ok()
    assert renewed.task('Request')['result']['certificates'][0]['action'] == 'renew'
    assert _lifetime_days(_cert(store_dir, name)) == 6
    assert _order_json(store_dir, name)['profile'] == 'shortlived'


def test_profile_is_refused_by_a_ca_without_profiles(services, store_dir, tmp_path):
    entry = {'name': 'local-profile', 'domains': ['local-profile.' + ZONE], 'profile': 'shortlived', 'validation': 'none'}
    extra = _vars(services, store_dir, [entry])
    extra['certflow_defaults'] = {'provider': 'local', 'local_ca': {'path': str(tmp_path / 'ca')}, 'store_dir': store_dir, 'timeout': 60}
    result = run_playbook(playbook('faults_batch.yml'), extra)
    assert result.rc != 0
    assert "profile 'shortlived': the local provider has no certificate profiles" in result.task('Request')['result']['msg']
    assert _store_names(store_dir) == []


# ---------------------------------------------------------------------------- IP addresses

def _subject_cns(subject):
    return [attribute.value for attribute in subject if attribute.oid.dotted_string == '2.5.4.3']


@pytest.mark.parametrize('name,domains,common_names', [
    ('ip-only', ['127.0.0.1'], []),
    ('ip-and-name', ['127.0.0.1', 'ipmix.' + ZONE], ['ipmix.' + ZONE]),
])
def test_ip_certificate_by_http01_without_the_address_in_the_cn(services, profile_pebble, store_dir, name, domains, common_names):
    # The address is given among the domains; Let's Encrypt issues IP certificates under shortlived only.
    result = _issue(services, store_dir, [{'name': name, 'domains': domains, 'profile': 'shortlived'}], profile_pebble).assert_ok()
    requested = result.task('Request')['result']['certificates'][0]
    assert requested['ip_addresses'] == ['127.0.0.1']
    assert {c['type'] for c in requested['challenges']} == {'http-01'}
    summary = check_issued(store_dir, name, profile_pebble.roots_pem(), [d for d in domains if d != '127.0.0.1'])
    assert summary['ip_addresses'] == ['127.0.0.1']
    csr = _crypto.load_csr(_order_json(store_dir, name)['csr'])
    assert _subject_cns(csr.subject) == common_names
    assert '127.0.0.1' not in _subject_cns(_cert(store_dir, name).subject)
    assert {'type': 'ip', 'value': '127.0.0.1'} in _order_json(store_dir, name)['identifiers']


def test_ip_certificate_by_dns_fails_before_any_order(services, store_dir):
    before = _orders_added(services.pebble)
    result = _issue(services, store_dir, [{'name': 'ip-dns', 'domains': ['127.0.0.1'], 'validation': 'dns'}])
    assert result.rc != 0
    assert 'IP address(es) 127.0.0.1 cannot be validated by dns; use validation: http' in result.task('Request')['result']['msg']
    assert _store_names(store_dir) == []
    assert _orders_added(services.pebble) == before


def test_ipv6_only_certificate_gets_a_store_name(services, store_dir):
    # Ordered only: Pebble would check http-01 at [::1], where the test web server does not listen.
    extra = dict(_vars(services, store_dir, []), module='cert_request', module_args={'domains': ['::1'], 'validation': 'http'})
    result = run_playbook(playbook('single_task.yml'), extra).assert_ok()
    requested = result.task('Request')['result']['certificates'][0]
    assert requested['name'] == '0--1' and requested['status'] == 'pending_validation', requested
    assert requested['challenges'][0]['url'].startswith('http://[::1]/.well-known/acme-challenge/')
    assert _order_json(store_dir, '0--1')['identifiers'] == [{'type': 'ip', 'value': '::1'}]


# ---------------------------------------------------------------------------- key rotation

def test_renewal_makes_a_fresh_key_unless_reuse_key(services, store_dir):
    name, domains = 'rotate', ['rotate.' + ZONE]
    _issue(services, store_dir, [{'name': name, 'domains': domains}]).assert_ok()
    first = _key_fingerprint(store_dir, name)

    _issue(services, store_dir, [{'name': name, 'domains': domains, 'force': True}]).assert_ok()
    second = _key_fingerprint(store_dir, name)
    assert second != first, 'a renewal makes a new key by default'

    _issue(services, store_dir, [{'name': name, 'domains': domains, 'force': True, 'reuse_key': True}]).assert_ok()
    assert _key_fingerprint(store_dir, name) == second, 'reuse_key keeps the key'
    check_issued(store_dir, name, services.pebble.roots_pem(), domains)
    assert len(os.listdir(os.path.join(store_dir, name, 'archive'))) == 2


# ---------------------------------------------------------------------------- the lost newOrder answer

def _account_orders(pebble, store_dir, directory_url):
    """The orders Pebble lists for the store's account (every page), each as (url, order object)."""
    key_path = os.path.join(Store(store_dir).account_dir(directory_url), 'account.key')
    # Through the directory the account was made at: Pebble's URLs keep the host and port they were first asked at.
    with AcmeProvider({'directory': directory_url, 'account_key_src': key_path, 'ca_bundle': pebble.ca_bundle}) as provider:
        account = provider.account.post(provider.account.ensure(), None).json()
        orders, url = [], account['orders']
        while url:
            response = provider.account.post(url, None)
            orders += [(u, provider.account.post(u, None).json()) for u in response.json()['orders']]
            url = next((link['url'] for link in requests.utils.parse_header_links(response.headers.get('Link', ''))
                        if link.get('rel') == 'next'), None)
        return orders


def test_a_lost_new_order_answer_is_resumed_not_ordered_twice(services, listing_pebble, store_dir):
    with FaultProxy(listing_pebble, lifetime=120) as proxy:
        first = _vars(services, store_dir, [{'name': 'listed', 'domains': ['listed.' + ZONE]}], listing_pebble, proxy.directory_url)
        run_playbook(playbook('faults_batch.yml'), first).assert_ok()

        lost = proxy.add(Fault('drop_after', NEW_ORDER, times=1))
        extra = _vars(services, store_dir, [{'name': 'lost', 'domains': ['lost.' + ZONE]}], listing_pebble, proxy.directory_url)
        result = run_playbook(playbook('faults_batch.yml'), extra).assert_ok()
        assert lost.fired == 1
        warnings = result.task('Request')['result']['certificates'][0]['warnings']
        assert any('the answer to newOrder was lost; resuming the order' in w for w in warnings), warnings
        check_issued(store_dir, 'lost', listing_pebble.roots_pem(), ['lost.' + ZONE])

        orders = _account_orders(listing_pebble, store_dir, proxy.directory_url)
    lost_orders = [(url, data) for url, data in orders if data['identifiers'] == [{'type': 'dns', 'value': 'lost.' + ZONE}]]
    assert len(orders) == 2 and len(lost_orders) == 1, orders
    new_orders = [action for _method, _path, action in proxy.requests(path=NEW_ORDER, method='POST')]
    assert new_orders[-1] == 'drop_after', 'newOrder was not sent again after its answer was lost: %s' % new_orders
    assert lost_orders[0][1]['status'] == 'valid'
    assert urlsplit(_order_json(store_dir, 'lost')['order_id']).path == urlsplit(lost_orders[0][0]).path


# ---------------------------------------------------------------------------- the certificate role

def test_certificate_role_passes_the_profile_through(services, profile_pebble, store_dir):
    extra = {'certflow_certificates': [{'name': 'role-short', 'domains': ['role-short.' + ZONE], 'profile': 'shortlived'}],
             'certflow_store_dir': store_dir, 'certflow_validation': 'http', 'certflow_certificate_webroot': services.web.webroot,
             'certflow_http_check_port': services.web.http_port, 'certflow_nameservers': [services.bind.nameserver],
             'certflow_timeout': 120, 'certflow_acme': {'directory': profile_pebble.directory_url, 'ca_bundle': profile_pebble.ca_bundle}}
    run_playbook(playbook('hostile_proofs_role.yml'), extra).assert_ok()
    check_issued(store_dir, 'role-short', profile_pebble.roots_pem(), ['role-short.' + ZONE])
    assert _lifetime_days(_cert(store_dir, 'role-short')) == 6
    assert _order_json(store_dir, 'role-short')['profile'] == 'shortlived'
