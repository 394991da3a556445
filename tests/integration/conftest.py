# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the integration tests: real BIND9, nginx and Pebble on loopback ports."""

import base64
import os
import secrets

import pytest

from tests.emulator.aliyun_emulator import AliyunEmulator
from tests.lib import services as service_lib

# The emulator's resource plans: the products every Alibaba Cloud test may use.
ALIYUN_DV_PRODUCT = 'digicert-free-1-free'
ALIYUN_OV_PRODUCT = 'geotrust-ov-1-personal'


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        if str(item.fspath).startswith(here + os.sep):
            item.add_marker(pytest.mark.integration)


def _require_binaries():
    missing = service_lib.missing_binaries()
    if missing:
        pytest.fail('integration tests need %s; run `make test` (or apt-get install bind9 bind9-utils nginx-light; Pebble from ../shared/pebble or PEBBLE_BIN)'
                    % ', '.join(missing), pytrace=False)


@pytest.fixture(scope='session')
def services(tmp_path_factory):
    """BIND (certflow.test, delegated.test), nginx (webroot) and Pebble, for the whole session."""
    _require_binaries()
    # Pebble reuses a valid authorization half of the time by default; tests
    # that prove a failed validation leaves files alone need every order validated.
    # Even at 0 it reuses one in a hundred (rand.Intn(100) > 0 is false for 0):
    # such a test validates with an account that has no valid authorization.
    started = service_lib.start_all(str(tmp_path_factory.mktemp('services')), pebble_env={'PEBBLE_AUTHZREUSE': '0'})
    yield started
    started.stop()


@pytest.fixture(scope='session')
def pebble_eab(services, tmp_path_factory):
    """A second Pebble that requires External Account Binding; key id in .eab_kid, HMAC key in .eab_hmac_key."""
    hmac_key = base64.urlsafe_b64encode(secrets.token_bytes(48)).decode('ascii').rstrip('=')
    pebble = service_lib.start_pebble(str(tmp_path_factory.mktemp('pebble-eab')), services.bind.port, services.web.http_port,
                                      eab_keys={'kid-1': hmac_key})
    yield pebble
    pebble.stop()


@pytest.fixture(scope='session')
def aliyun_emulator(services):
    """The Alibaba Cloud CAS + Alidns emulator for the whole session (plain http on loopback).

    It checks DNS proofs by asking the session's BIND, pushes Alidns records into
    that BIND with RFC 2136, and fetches file proofs from the session's nginx. It
    accepts one AccessKey pair, found on ``.access_key_id`` / ``.access_key_secret``
    (the secret is random per session, so a test can look for it in any output);
    ``.dv_product`` (50) and ``.ov_product`` (5) have resource plans. Tests share
    it: use fresh domain names and compare quota counts before and after.
    """
    bind = services.bind
    key_id = 'LTAI5tIntegration01'
    secret = 'integration-secret-%s' % secrets.token_hex(8)
    rfc2136 = {'server': bind.nameserver, 'key_name': bind.tsig_name, 'key_secret': bind.tsig_secret,
               'key_algorithm': bind.tsig_algorithm}
    with AliyunEmulator(credentials={key_id: secret}, dns_server=bind.nameserver, http_port=services.web.http_port,
                        rfc2136=rfc2136, alidns_zones=[bind.zone],
                        packages={ALIYUN_DV_PRODUCT: 50, ALIYUN_OV_PRODUCT: 5}) as running:
        running.access_key_id = key_id
        running.access_key_secret = secret
        running.dv_product = ALIYUN_DV_PRODUCT
        running.ov_product = ALIYUN_OV_PRODUCT
        yield running


@pytest.fixture
def store_dir(tmp_path):
    """A fresh, empty certificate store directory for one test."""
    path = tmp_path / 'store'
    path.mkdir(mode=0o700)
    return str(path)


@pytest.fixture
def playbook_vars(services, store_dir):
    """Extra vars every integration playbook can use to reach the test services."""
    return {
        'acme_directory': services.pebble.directory_url,
        'acme_ca_bundle': services.pebble.ca_bundle,
        'dns_server': services.bind.host,
        'dns_port': services.bind.port,
        'nameserver': services.bind.nameserver,
        'tsig_name': services.bind.tsig_name,
        'tsig_secret': services.bind.tsig_secret,
        'tsig_algorithm': services.bind.tsig_algorithm,
        'zone': services.bind.zone,
        'delegated_zone': services.bind.delegated_zone,
        'webroot': services.web.webroot,
        'http_port': services.web.http_port,
        'store_dir': store_dir,
    }


@pytest.fixture
def acme_vars(playbook_vars, services):
    """playbook_vars plus `certflow_defaults` (module_defaults for Pebble) and `rfc2136_settings` (BIND9 with TSIG)."""
    values = dict(playbook_vars)
    values['certflow_defaults'] = {
        'provider': 'acme',
        'acme': {'directory': services.pebble.directory_url, 'ca_bundle': services.pebble.ca_bundle,
                 'account_email': 'hostmaster@certflow.test'},
        'store_dir': playbook_vars['store_dir'],
        'timeout': 120,
    }
    values['rfc2136_settings'] = {
        'server': services.bind.host, 'port': services.bind.port, 'key_name': services.bind.tsig_name,
        'key_secret': services.bind.tsig_secret, 'key_algorithm': services.bind.tsig_algorithm,
    }
    return values


@pytest.fixture(params=['acme', 'local'])
def provider_vars(request, acme_vars, tmp_path):
    """acme_vars for Pebble, then for a fresh local CA; ``validation`` (dns / none) and ``provider`` name which."""
    if request.param == 'local':
        acme_vars['certflow_defaults'] = {'provider': 'local', 'local_ca': {'path': str(tmp_path / 'ca')},
                                          'store_dir': acme_vars['store_dir'], 'timeout': 60}
    acme_vars['validation'] = 'dns' if request.param == 'acme' else 'none'
    acme_vars['provider'] = request.param
    return acme_vars
