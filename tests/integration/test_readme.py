# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's ACME example is a real playbook: the copy in the README is the
file this test runs against Pebble and BIND9, changing only variables."""

import os

from tests.lib.playbook import run_playbook
from tests.lib.readme import readme_block

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, 'tests', 'integration', 'playbooks', 'readme_acme_example.yml')


def test_readme_example_is_the_tested_playbook():
    with open(EXAMPLE, encoding='utf-8') as handle:
        assert readme_block('example: acme') == handle.read()


def test_readme_aliyun_example_is_the_tested_playbook():
    # tests/integration/test_aliyun_workflow.py runs this file against the emulator
    with open(os.path.join(ROOT, 'tests', 'integration', 'playbooks', 'aliyun_readme_example.yml'), encoding='utf-8') as handle:
        assert readme_block('example: aliyun') == handle.read()


def test_readme_example_runs_against_pebble(services, store_dir):
    env = {
        'CERTFLOW_STORE_DIR': store_dir,
        'CERTFLOW_ACME_CA_BUNDLE': services.pebble.ca_bundle,
        'CERTFLOW_RFC2136_PORT': str(services.bind.port),
        'CERTFLOW_DNS_NAMESERVERS': services.bind.nameserver,
    }
    extra = {'acme_directory': services.pebble.directory_url, 'zone': services.bind.zone, 'dns_server': '127.0.0.1',
             'tsig_key_name': services.bind.tsig_name, 'tsig_secret': services.bind.tsig_secret}
    result = run_playbook(EXAMPLE, extra, env=env).assert_ok()
    issued = {c['name']: c for c in result.task('Prove control through the DNS server, wait for the CA, install into the store')
              ['result']['certificates']}
    assert {name: c['status'] for name, c in issued.items()} == {'www': 'issued', 'shop': 'issued', 'wildcard': 'issued'}
    assert 'bücher.' + services.bind.zone in issued['shop']['domains_unicode']
    assert os.path.isfile(os.path.join(store_dir, 'wildcard', 'fullchain.pem'))
