# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""site.yml from a certificate store to the private nginx and apache2 (inventories/deploy): the first
deployment is quiet and checked on its endpoints (a server that never includes the sites fails the play),
a renewal leaves no copies behind once the new certificate is served, and keeps them when it is not."""

import os

import pytest

from tests.integration.test_deploy import HOSTS, INVENTORY, Bench, hex_serial, put_in_store, running
from tests.lib.playbook import run_playbook
from tests.lib.webservers import serial_of

SITE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'playbooks', 'site.yml')
ENDPOINT_CHECK = 'Ask each endpoint for its certificate (TLS with SNI)'


class SiteBench(Bench):
    def site(self, limit=None, check=False, **nginx_changes):
        return run_playbook(SITE, self.extra_vars(**nginx_changes), inventory=INVENTORY, limit=limit, timeout=300, check=check)

    def previous(self, host, kind):
        return self.deployed(host, kind) + '.certflow-previous'


@pytest.fixture
def bench():
    with running(SiteBench, 'certflow-lifecycle-') as started:
        yield started


def test_first_deployment_to_a_server_that_never_includes_the_sites_fails(bench, reliability):
    first = bench.pki.issue('v1', ['www.test'])
    put_in_store(bench.store_dir, 'www', first)
    # The role links the site into a folder the private nginx's main configuration does not include.
    elsewhere = os.path.join(bench.workdir, 'not-included')
    os.makedirs(elsewhere)
    result = bench.site(limit='web-nginx', sites_enabled_dir=elsewhere)
    failed = result.failed_tasks()
    message = failed[0]['result'].get('msg', '') if failed else ''
    reliability.record('Hostile input', 'first-deploy-site-not-included', 'site.yml, nginx main config does not include the sites folder',
                       'the play fails: the endpoint does not serve the deployed certificate',
                       'failed' if result.rc else 'NOT NOTICED (rc 0)', message=message)
    assert result.rc != 0, result.output
    assert message.startswith('certflow.ssl.deploy: 127.0.0.1:%d (SNI www.test)' % bench.ports['nginx'][0]), message
    assert 'expected serial %s of www' % hex_serial(first.serial) in message
    assert 'first deployment of www to web-nginx' in message and 'main configuration includes' in message


def test_first_deployment_is_quiet_checked_and_a_renewal_leaves_no_old_key(bench):
    first = bench.pki.issue('v1', ['www.test'])
    put_in_store(bench.store_dir, 'www', first)
    result = bench.site().assert_ok()
    assert 'is not a directory' not in result.output
    assert '[WARNING]' not in result.output, result.output
    # checked on both endpoints although it was the first deployment
    checks = result.task_items(ENDPOINT_CHECK)
    assert sorted(item['host'] for item in checks) == sorted(HOSTS)
    assert all(int(item['result']['serial'], 16) == first.serial for item in checks)

    # A renewal: new key and certificate, the same chain.
    second = bench.pki.issue('v2', ['www.test'])
    put_in_store(bench.store_dir, 'www', second)
    bench.site().assert_ok()
    for host in HOSTS:
        assert serial_of(bench.deployed(host)) == second.serial
        assert not os.path.exists(bench.previous(host, 'chain')), 'the chain did not change: nothing to keep'
        for kind in ('privkey', 'cert', 'fullchain'):
            assert not os.path.exists(bench.previous(host, kind)), 'served and verified: the copy of %s must go' % kind
    for kind in ('nginx', 'apache'):
        bench.wait_served(kind, second.serial)


def test_a_renewal_that_is_not_served_is_rolled_back_and_keeps_the_copies(bench):
    first = bench.pki.issue('v1', ['www.test'])
    put_in_store(bench.store_dir, 'www', first)
    bench.site(limit='web-nginx').assert_ok()
    with open(bench.deployed('web-nginx', 'privkey'), 'rb') as handle:
        first_key = handle.read()
    second = bench.pki.issue('v2', ['www.test'])
    put_in_store(bench.store_dir, 'www', second)
    # nginx "reloads" without reading anything: it keeps serving the first certificate.
    result = bench.site(limit='web-nginx', reload_command='true')
    assert result.rc != 0
    assert 'previous certificate files were restored' in result.task('Report the failed deployment', host='web-nginx')['result']['msg']
    assert serial_of(bench.deployed('web-nginx')) == first.serial
    with open(bench.previous('web-nginx', 'privkey'), 'rb') as handle:
        assert handle.read() == first_key
    assert not os.path.exists(bench.previous('web-nginx', 'chain'))
