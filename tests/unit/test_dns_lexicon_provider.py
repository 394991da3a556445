# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dns_provider lexicon without a DNS host: its settings, which of its free-form keys are
masked, its messages, and a cleanup that gives back what a host's delete took with it.
(The real thing, through ansible-playbook against PowerDNS: tests/integration/test_dns_lexicon.py.)"""

import os
import sys

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _module
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._dns import DNS_PROVIDERS
from ansible_collections.certflow.ssl.plugins.module_utils._dns.dns_lexicon import LexiconProvider, _Client
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import ProviderContext


def test_settings_are_the_dict_and_the_nameservers():
    options = {'lexicon': {'provider': 'powerdns', 'auth_token': 't'}, 'nameservers': ['127.0.0.1:5353'], 'rfc2136': {}}
    expected = {'lexicon': {'provider': 'powerdns', 'auth_token': 't'}, 'nameservers': ['127.0.0.1:5353']}
    assert LexiconProvider.settings_from(options) == expected
    # Free-form: any key of any lexicon provider is accepted by the module.
    assert _module.dns_argument_spec()['lexicon'] == {'type': 'dict'}


def test_credential_keys_and_lexicon_variables_are_masked(monkeypatch):
    for key in [k for k in list(os.environ) if k.startswith('LEXICON_')]:
        monkeypatch.delenv(key)
    monkeypatch.setenv('LEXICON_CLOUDFLARE_AUTH_TOKEN', 'env-token-value')
    monkeypatch.setenv('LEXICON_CLOUDFLARE_ZONE_ID', 'zone-id-value')
    value = {'provider': 'route53', 'zone': 'example.com', 'ttl': 60, 'auth_access_key': 'AKIAEXAMPLE',
             'auth_access_secret': 'aws-secret', 'private_zone': 'true', 'zone_id': 'Z123', 'auth_password': 'pw-value',
             'pdns_server': 'http://127.0.0.1:8081', 'auth_key_is_global': 'false', 'auth_token': None}
    assert sorted(LexiconProvider.secret_values(value)) == ['AKIAEXAMPLE', 'aws-secret', 'env-token-value', 'pw-value']
    assert LexiconProvider.secret_values(None) == []
    # Through the registry, as the module wrapper asks (top level and each certificates: entry).
    assert 'aws-secret' in DNS_PROVIDERS.secret_values({'lexicon': value})


def test_provider_name_is_required_and_says_where_to_find_one(monkeypatch):
    monkeypatch.delenv('LEXICON_PROVIDER_NAME', raising=False)
    with pytest.raises(CertflowError, match='option provider is required.*`lexicon --help` lists them'):
        LexiconProvider({'lexicon': {'auth_token': 'x'}}, None)
    monkeypatch.setenv('LEXICON_PROVIDER_NAME', 'powerdns')
    assert LexiconProvider({'lexicon': {}}, None).host == 'powerdns'


def test_a_ttl_that_is_no_number_is_refused():
    with pytest.raises(CertflowError, match="ttl 'soon' is not a number of seconds"):
        LexiconProvider({'lexicon': {'provider': 'powerdns', 'ttl': 'soon'}}, None)
    assert LexiconProvider({'lexicon': {'provider': 'powerdns', 'ttl': 60}}, None)._config('example.com').resolve('lexicon:ttl') == 60


def test_a_record_outside_the_given_zone_is_refused():
    provider = LexiconProvider({'lexicon': {'provider': 'powerdns', 'zone': 'example.com.'}}, None)
    with pytest.raises(CertflowError, match='not inside zone example.com'):
        provider.present('_acme-challenge.example.org', 'v')


def test_lexicon_missing_says_pip_install(monkeypatch):
    for module in ('lexicon', 'lexicon.config', 'lexicon._private'):
        monkeypatch.setitem(sys.modules, module, None)      # import lexicon... -> ImportError, even once imported
    provider = LexiconProvider({'lexicon': {'provider': 'powerdns', 'zone': 'example.com'}}, None)
    with pytest.raises(CertflowError, match='needs the Python package dns-lexicon where the module runs: pip install dns-lexicon'):
        provider.present('_acme-challenge.example.com', 'v')


class _WholeSetHost:
    """A stand-in lexicon provider whose delete takes every value at the name (as some hosts' APIs do)."""

    records = {}

    def __init__(self, config):
        self.config = config

    @staticmethod
    def configure_parser(parser):
        parser.add_argument('--auth-token')

    def authenticate(self):
        pass

    def create_record(self, rtype, name, content):
        values = self.records.setdefault(name, [])
        if content not in values:
            values.append(content)
        return True

    def list_records(self, rtype, name):
        return [{'type': 'TXT', 'name': name, 'content': '"%s"' % value, 'id': '%s=%s' % (name, value)}
                for value in self.records.get(name, [])]

    def delete_record(self, identifier, rtype, name, content):
        self.records.pop(name, None)
        return True


def test_cleanup_gives_back_the_values_a_host_deleted_with_ours():
    warnings = []
    provider = LexiconProvider({'lexicon': {'provider': 'wholeset', 'zone': 'example.com'}},
                               ProviderContext(warn=warnings.append, shared={}))
    name = '_acme-challenge.example.com'
    _WholeSetHost.records = {name: ['foreign']}
    provider._clients['example.com'] = _Client('wholeset', _WholeSetHost, None, 'example.com')
    provider.present(name, 'ours')
    provider.present(name, 'ours-wildcard')
    assert _WholeSetHost.records[name] == ['foreign', 'ours', 'ours-wildcard']
    provider.cleanup(name, 'ours')
    assert sorted(_WholeSetHost.records[name]) == ['foreign', 'ours-wildcard']
    assert len(warnings) == 1 and 'removed every TXT value at %s' % name in warnings[0]
    provider.cleanup(name, 'ours-wildcard')
    assert _WholeSetHost.records[name] == ['foreign']
    provider.cleanup(name, 'ours-wildcard')                  # gone already: nothing to do
    assert _WholeSetHost.records[name] == ['foreign']


def test_host_errors_name_the_host_and_its_options():
    class Broken(_WholeSetHost):
        def __init__(self, config):
            raise ValueError('auth_token not defined')

    with pytest.raises(CertflowError) as failure:
        _Client('broken', Broken, None, 'example.com')
    assert failure.value.msg == ('lexicon broken: set up failed: auth_token not defined (options of this provider: auth_token; '
                                 'set them as lexicon.<option> or LEXICON_BROKEN_<OPTION>)')


def test_the_docs_count_the_providers_of_the_installed_dns_lexicon():
    # The README and the DNS page say how many hosts dns-lexicon drives: that must be the truth of the version installed.
    import re
    from lexicon._private.discovery import find_providers, lexicon_version
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for page in ('README.md', os.path.join('docs', 'workflow', '03-validate-dns.md')):
        with open(os.path.join(root, page), encoding='utf-8') as handle:
            said = re.findall(r'(\d+) in dns-lexicon (\d+\.\d+\.\d+)', handle.read())
        assert said, page
        for count, version in said:
            assert (int(count), version) == (len(find_providers()), lexicon_version()), (
                '%s says %s providers in dns-lexicon %s: update it for the installed version' % (page, count, version))
