# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dns_provider lexicon end to end: ansible-playbook against Pebble, with the TXT records
created and removed by dns-lexicon's powerdns provider in a real PowerDNS (HTTP API)."""

import os
import secrets

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from tests.lib import services as service_lib
from tests.lib.playbook import run_playbook
from tests.lib.readme import readme_block
from tests.lib.secret_scan import leaks

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOK = os.path.join(HERE, 'playbooks', 'acme_lexicon.yml')
BATCH_PLAYBOOK = os.path.join(HERE, 'playbooks', 'acme_lexicon_batch.yml')
DOCS_EXAMPLE = os.path.join(HERE, 'playbooks', 'lexicon_docs_example.yml')


@pytest.fixture(scope='module')
def pdns(tmp_path_factory):
    """PowerDNS serving pdns.test and sub.pdns.test, and a Pebble that resolves through it."""
    server = service_lib.start_powerdns(str(tmp_path_factory.mktemp('pdns')))
    try:
        # Pebble asks PowerDNS for the TXT records; nothing here is validated over HTTP.
        server.pebble = service_lib.start_pebble(str(tmp_path_factory.mktemp('pebble-pdns')), server.port,
                                                 service_lib.free_port(), env={'PEBBLE_AUTHZREUSE': '0'})
    except BaseException:
        server.stop()
        raise
    yield server
    server.pebble.stop()
    server.stop()


@pytest.fixture
def lexicon_vars(pdns, store_dir):
    return {
        'certflow_defaults': {
            'provider': 'acme', 'store_dir': store_dir, 'timeout': 120,
            'acme': {'directory': pdns.pebble.directory_url, 'ca_bundle': pdns.pebble.ca_bundle,
                     'account_email': 'hostmaster@pdns.test'},
        },
        'nameserver': pdns.nameserver,
        'lexicon_settings': {'provider': 'powerdns', 'auth_token': pdns.api_key, 'pdns_server': pdns.api_url},
    }


def _zones(pdns):
    return {zone: pdns.records(zone) for zone in (pdns.zone, pdns.sub_zone)}


def _label():
    return 't%s' % secrets.token_hex(4)


def _issued_names(pdns, store_dir, name):
    with open(os.path.join(store_dir, name, 'fullchain.pem')) as handle:
        certs = _crypto.load_certificates(handle.read())
    ok, reason = _crypto.verify_chain(certs[0], certs[1:], roots=_crypto.load_certificates(pdns.pebble.roots_pem()))
    assert ok, reason
    return sorted(_crypto.cert_summary(certs[0])['domains'])


def _issue(lexicon_vars, name, domains, **kwargs):
    lexicon_vars.update(cert_name=name, cert_domains=domains)
    return run_playbook(PLAYBOOK, lexicon_vars, **kwargs)


def test_single_name_issues_and_no_secret_in_vvv_output(pdns, lexicon_vars, store_dir):
    before = _zones(pdns)
    domain = '%s.%s' % (_label(), pdns.zone)
    result = _issue(lexicon_vars, 'single', [domain], verbosity=3).assert_ok()
    assert result.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    assert _issued_names(pdns, store_dir, 'single') == [domain]
    assert _zones(pdns) == before, 'the zones must be as they were'
    assert leaks(result.output, {pdns.api_key: 'PowerDNS API key'}) == []
    assert '"auth_token": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in result.output, 'the -vvv invocation shows the key masked'


def test_apex_and_wildcard_share_one_name_and_a_foreign_value_stays(pdns, lexicon_vars, store_dir):
    # Two of our values at _acme-challenge.sub.pdns.test (the apex of a delegated sub-zone:
    # lexicon's own zone guess would pick a zone "test."), next to a value that is not ours.
    record = '_acme-challenge.%s' % pdns.sub_zone
    pdns.set_txt(record, ['foreign-value'])
    try:
        before = _zones(pdns)
        result = _issue(lexicon_vars, 'wild', [pdns.sub_zone, '*.' + pdns.sub_zone]).assert_ok()
        assert result.task('Validate')['result']['certificates'][0]['status'] == 'issued'
        assert _issued_names(pdns, store_dir, 'wild') == sorted(['*.' + pdns.sub_zone, pdns.sub_zone])
        assert pdns.query_txt(record) == ['foreign-value']
        assert _zones(pdns) == before
    finally:
        pdns.set_txt(record, [])


def test_the_documented_example_is_this_playbook_and_issues(pdns, store_dir):
    with open(DOCS_EXAMPLE, encoding='utf-8') as handle:
        assert readme_block('example: lexicon', 'docs/workflow/03-validate-dns.md') == handle.read()
    before = _zones(pdns)
    extra = {'acme_directory': pdns.pebble.directory_url, 'zone': pdns.zone, 'pdns_api_url': pdns.api_url,
             'vault_pdns_api_key': pdns.api_key}
    env = {'CERTFLOW_STORE_DIR': store_dir, 'CERTFLOW_ACME_CA_BUNDLE': pdns.pebble.ca_bundle,
           'CERTFLOW_DNS_NAMESERVERS': pdns.nameserver}
    result = run_playbook(DOCS_EXAMPLE, extra, env=env).assert_ok()
    assert result.task('TXT records through lexicon\'s powerdns provider, wait for the CA, install, remove the records')[
        'result']['certificates'][0]['status'] == 'issued'
    assert _issued_names(pdns, store_dir, 'site') == sorted(['*.' + pdns.zone, pdns.zone])
    assert _zones(pdns) == before


def test_cname_delegated_challenge(pdns, lexicon_vars, store_dir):
    # _acme-challenge.alias.pdns.test is a CNAME to _acme-challenge.alias.sub.pdns.test.
    before = _zones(pdns)
    domain = 'alias.' + pdns.zone
    result = _issue(lexicon_vars, 'alias', [domain]).assert_ok()
    assert result.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    assert _issued_names(pdns, store_dir, 'alias') == [domain]
    assert _zones(pdns) == before


def test_credentials_from_lexicon_environment_variables(pdns, lexicon_vars, store_dir):
    before = _zones(pdns)
    lexicon_vars['lexicon_settings'] = {'provider': 'powerdns'}
    env = {'LEXICON_POWERDNS_AUTH_TOKEN': pdns.api_key, 'LEXICON_POWERDNS_PDNS_SERVER': pdns.api_url}
    domain = '%s.%s' % (_label(), pdns.zone)
    result = _issue(lexicon_vars, 'from-env', [domain], env=env).assert_ok()
    assert result.task('Validate')['result']['certificates'][0]['status'] == 'issued'
    assert _zones(pdns) == before


def test_batch_of_twenty_names(pdns, lexicon_vars, store_dir):
    before = _zones(pdns)
    label = _label()
    batch = [{'name': 'b%02d' % index, 'domains': ['n%02d.%s.%s' % (index, label, pdns.zone)]} for index in range(20)]
    lexicon_vars.update(batch=batch, batch_names=[{'name': entry['name']} for entry in batch])
    result = run_playbook(BATCH_PLAYBOOK, lexicon_vars).assert_ok()
    entries = result.task('Validate')['result']['certificates']
    assert [entry['status'] for entry in entries] == ['issued'] * 20
    for entry in batch:
        assert _issued_names(pdns, store_dir, entry['name']) == entry['domains']
    assert _zones(pdns) == before


def test_wrong_api_key_fails_clearly_and_leaves_nothing(pdns, lexicon_vars, store_dir):
    before = _zones(pdns)
    wrong = 'wrong-key-%s' % secrets.token_hex(8)
    lexicon_vars['lexicon_settings']['auth_token'] = wrong
    result = _issue(lexicon_vars, 'wrongkey', ['%s.%s' % (_label(), pdns.zone)])
    assert result.rc != 0
    message = result.task('Validate')['result']['msg']
    assert 'lexicon powerdns' in message and 'refused the credentials (HTTP 401)' in message and 'auth_token' in message, message
    assert wrong not in result.output
    assert _zones(pdns) == before
    assert not os.path.exists(os.path.join(store_dir, 'wrongkey', 'cert.pem'))
    assert not os.path.exists(os.path.join(store_dir, 'wrongkey', 'proofs.json')), 'no record is noted for a later cleanup'


def test_unknown_lexicon_provider_says_how_to_find_the_names(pdns, lexicon_vars):
    lexicon_vars['lexicon_settings']['provider'] = 'powerdnss'
    result = _issue(lexicon_vars, 'unknown', ['%s.%s' % (_label(), pdns.zone)])
    assert result.rc != 0
    message = result.task('Validate')['result']['msg']
    assert "'powerdnss' is not a provider of the installed dns-lexicon" in message, message
    assert 'did you mean powerdns' in message and '`lexicon --help` lists the' in message, message


def test_lexicon_not_installed_says_pip_install(pdns, lexicon_vars, tmp_path):
    # The modules' Python finds a lexicon package that cannot be imported, as if dns-lexicon were not installed.
    shadow = tmp_path / 'shadow' / 'lexicon'
    shadow.mkdir(parents=True)
    (shadow / '__init__.py').write_text("raise ImportError('No module named lexicon (shadowed by the test)')\n")
    env = {'PYTHONPATH': str(shadow.parent)}
    result = _issue(lexicon_vars, 'nolexicon', ['%s.%s' % (_label(), pdns.zone)], env=env)
    assert result.rc != 0
    message = result.task('Validate')['result']['msg']
    assert 'needs the Python package dns-lexicon' in message and 'pip install dns-lexicon' in message, message
    # Only the DNS step needed it: the request went through.
    assert result.task('Request')['status'] == 'changed'
