# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module options -> normalised certificate spec, and batch entries."""

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._ops.certificate_request import build_spec, entries


def test_unicode_and_punycode_of_one_name_are_one_name():
    spec = build_spec({'domains': ['Bücher.example', 'xn--bcher-kva.example', 'www.example']})
    assert spec['domains'] == ['xn--bcher-kva.example', 'www.example']
    assert spec['domains_unicode'] == ['bücher.example', 'www.example']
    assert spec['name'] == 'xn--bcher-kva.example'
    assert spec['identifiers'][0] == {'type': 'dns', 'value': 'xn--bcher-kva.example'}


def test_names_come_from_csr():
    key = _crypto.generate_private_key('ec256')
    csr = _crypto.build_csr(key, ['a.example', 'b.example'], ['192.0.2.1'])
    spec = build_spec({'csr_content': csr, 'validation': 'http'})
    assert spec['domains'] == ['a.example', 'b.example']
    assert spec['ip_addresses'] == ['192.0.2.1']


@pytest.mark.parametrize('options,words', [
    ({}, 'no names'),
    ({'domains': ['*.example'], 'validation': 'http'}, 'wildcard'),
    ({'ip_addresses': ['192.0.2.1'], 'validation': 'dns'}, 'cannot be validated by dns'),
    ({'domains': ['a.example'], 'name': 'bad name'}, 'invalid certificate name'),
])
def test_bad_options(options, words):
    with pytest.raises(CertflowError, match=words):
        build_spec(options)


def test_entries_inherit_top_level_and_merge_provider_dicts():
    params = {'validation': 'http', 'acme': {'directory': 'https://ca/dir', 'account_email': 'a@b'},
              'certificates': [{'name': 'one', 'domains': ['one.example'], 'validation': None},
                               {'name': 'two', 'domains': ['two.example'], 'acme': {'directory': None, 'account_email': 'c@d'}}]}
    first, second = entries(params)
    assert first['validation'] == 'http' and first['name'] == 'one'
    assert second['acme'] == {'directory': 'https://ca/dir', 'account_email': 'c@d'}
    assert 'certificates' not in first


def test_entries_refuse_duplicate_names():
    with pytest.raises(CertflowError, match='more than once'):
        entries({'certificates': [{'name': 'x'}, {'name': 'x'}]})
