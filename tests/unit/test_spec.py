# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module options -> the one CertificateRequest of a certificate, and batch entries."""

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._ops import certificate_request
from ansible_collections.certflow.ssl.plugins.module_utils._ops.certificate_request import (
    CertificateRequest, certificate_name, entries, store_name)


def test_unicode_and_punycode_of_one_name_are_one_name():
    request = CertificateRequest({'domains': ['Bücher.example', 'xn--bcher-kva.example', 'www.example']})
    assert request.domains == ['xn--bcher-kva.example', 'www.example']
    assert request.domains_unicode == ['bücher.example', 'www.example']
    assert request.name == 'xn--bcher-kva.example'
    assert request.identifiers[0] == {'type': 'dns', 'value': 'xn--bcher-kva.example'}


def test_names_come_from_csr():
    key = _crypto.generate_private_key('ec256')
    csr = _crypto.build_csr(key, ['a.example', 'b.example'], ['192.0.2.1'])
    request = CertificateRequest({'csr_content': csr, 'validation': 'http'})
    assert request.domains == ['a.example', 'b.example']
    assert request.ip_addresses == ['192.0.2.1']
    assert request.csr_pem == csr and request.csr is not None


def test_defaults_and_request_options():
    request = CertificateRequest({'domains': ['a.example'], 'ip_addresses': ['2001:DB8::0:1', '2001:db8::1'], 'validation': 'http',
                                  'quick_issue': False, 'renew_before_days': 0, 'force': True, 'reuse_key': True})
    assert request.ip_addresses == ['2001:db8::1']
    assert (request.key_type, request.product, request.contact, request.company) == ('ec256', None, {}, {})
    assert (request.submit, request.renew_before_days, request.force, request.reuse_key) == (False, 0, True, True)
    assert CertificateRequest({'domains': ['a.example']}).renew_before_days is None      # the CA's window, else the lifetime
    assert CertificateRequest({'domains': ['a.example']}).validation == 'dns'
    assert request.has_identifiers([{'type': 'ip', 'value': '2001:db8::1'}, {'type': 'dns', 'value': 'a.example'}])
    assert not request.has_identifiers([{'type': 'dns', 'value': 'a.example'}])


def test_csr_and_key_files_are_read_once(tmp_path, monkeypatch):
    key = _crypto.generate_private_key('ec256')
    csr_path, key_path = tmp_path / 'csr.pem', tmp_path / 'key.pem'
    csr_path.write_text(_crypto.build_csr(key, ['a.example']))
    key_path.write_text(_crypto.private_key_to_pem(key))
    parses, reads = [], []
    real_parse, real_read = _crypto.x509.load_pem_x509_csr, certificate_request.read_file
    monkeypatch.setattr(_crypto.x509, 'load_pem_x509_csr', lambda data: parses.append(data) or real_parse(data))
    monkeypatch.setattr(certificate_request, 'read_file', lambda path, what: reads.append(path) or real_read(path, what))
    request = CertificateRequest({'csr': str(csr_path), 'private_key_src': str(key_path)})
    assert len(parses) == 1
    assert reads == [str(csr_path)]         # the key only when a new order needs it
    assert request.key_pem == request.key_pem == key_path.read_text() and request.domains == ['a.example']
    assert reads == [str(csr_path), str(key_path)]


@pytest.mark.parametrize('options,words', [
    ({}, 'no names given: set domains'),
    ({'domains': ['*.a.example'], 'validation': 'http'}, r'wildcard name\(s\) \*.a.example need dns validation, not http'),
    ({'ip_addresses': ['192.0.2.1'], 'validation': 'dns'}, r'IP address\(es\) 192.0.2.1 cannot be validated by dns; use validation: http'),
    ({'domains': ['a.example'], 'name': 'bad name'}, 'invalid certificate name'),
])
def test_bad_options(options, words):
    with pytest.raises(CertflowError, match=words):
        CertificateRequest(options)


def test_csr_names_must_be_the_names_given():
    key = _crypto.generate_private_key('ec256')
    csr = _crypto.build_csr(key, ['other.example'])
    with pytest.raises(CertflowError, match=r'the CSR names \(other.example\) differ from domains/ip_addresses \(a.example\)'):
        CertificateRequest({'domains': ['a.example'], 'csr_content': csr})


def test_store_name_is_the_request_name():
    for options in ({'domains': ['Bücher.Example.']}, {'ip_addresses': ['192.0.2.1']}, {'name': 'mine', 'domains': ['a.example']}):
        assert store_name(options) == certificate_name(options) == CertificateRequest(dict(options, validation='http')).name
    assert store_name({'domains': ['bad name']}) is None
    assert store_name({}) is None
    with pytest.raises(CertflowError):
        certificate_name({'domains': ['bad name']})


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
