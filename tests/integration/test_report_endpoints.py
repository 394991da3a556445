# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""report.yml answers what docs/workflow/11-report.md promises: does the live endpoint serve the certificate it
should? Against the private nginx and apache2 (inventories/deploy): after a deployment every endpoint serves the
store's certificate; after a renewal in the store that was not deployed, the report says they do not."""

import json
import os

import pytest

from tests.integration.test_deploy import INVENTORY, put_in_store, running
from tests.integration.test_deploy_lifecycle import SiteBench
from tests.lib.playbook import run_playbook

REPORT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'playbooks', 'report.yml')


@pytest.fixture
def bench():
    with running(SiteBench, 'certflow-report-') as started:
        yield started


def report(bench):
    extra = bench.extra_vars()
    extra.update({'certflow_report_dir': os.path.join(bench.workdir, 'report'), 'certflow_report_check_revocation': 'none'})
    run_playbook(REPORT, extra, inventory=INVENTORY, timeout=300).assert_ok()
    with open(os.path.join(bench.workdir, 'report', 'certflow-report.json')) as handle:
        data = json.load(handle)
    with open(os.path.join(bench.workdir, 'report', 'certflow-report.html')) as handle:
        return data, handle.read()


def test_report_says_whether_each_live_endpoint_serves_the_store_certificate(bench):
    first = bench.pki.issue('v1', ['www.test'])
    put_in_store(bench.store_dir, 'www', first)
    bench.site().assert_ok()
    data, page = report(bench)
    endpoints = {row['host']: row for row in data['endpoints']}
    assert set(endpoints) == {'web-nginx', 'web-apache'}
    for host, row in endpoints.items():
        kind = host.split('-')[1]
        assert row['endpoint'] == '127.0.0.1:%d' % bench.ports[kind][0] and row['server_name'] == 'www.test'
        assert int(row['serial'], 16) == first.serial and row['serves_store_certificate'] is True
    assert page.count('<tr class="endpoint"') == 2 and 'data-state="error"' not in page.split('id="endpoints"')[1]

    # Renewed in the store, not deployed: the endpoints still serve the first certificate.
    second = bench.pki.issue('v2', ['www.test'])
    put_in_store(bench.store_dir, 'www', second)
    data, page = report(bench)
    for row in data['endpoints']:
        assert int(row['serial'], 16) == first.serial and int(row['expected_serial'], 16) == second.serial
        assert row['serves_store_certificate'] is False
    assert page.split('id="endpoints"')[1].count('not the store certificate') == 2

    # A server that is down is reported, not a failure of the report.
    bench.nginx.stop()
    data, _page = report(bench)
    down = [row for row in data['endpoints'] if row['host'] == 'web-nginx'][0]
    assert down['serves_store_certificate'] is False and 'error' in down and 'serial' not in down
