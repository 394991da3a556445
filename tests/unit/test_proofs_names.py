# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a challenge proof may go: the full-match checks of a CA's Uri and
RecordDomain, of record names and of challenge file paths (issue 12, items 3, 4, 7)."""

import os

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils._ca.aliyun import dns_record_name, file_uri
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._ops.validate import check_record_name
from ansible_collections.certflow.ssl.plugins.module_utils._proofs.webroot import (
    check_challenge_path, remove_challenge, write_challenge)


@pytest.mark.parametrize('record_domain, domain, names, expected', [
    ('_dnsauth', 'www.example.com', None, '_dnsauth.www.example.com'),
    ('_dnsauth.', 'example.com', None, '_dnsauth.example.com'),
    ('_dnsauth.www.example.com', 'www.example.com', None, '_dnsauth.www.example.com'),
    ('_dnsauth.example.com', 'www.example.com', ['www.example.com', 'example.com'], '_dnsauth.example.com'),
    ('_dnsauth.example.com', 'example.com', ['*.example.com'], '_dnsauth.example.com'),
])
def test_record_domain_of_the_two_api_forms(record_domain, domain, names, expected):
    assert dns_record_name(record_domain, domain, names) == expected


@pytest.mark.parametrize('record_domain', [
    'evil.example.com', '_dnsauth.other-domain.com', '_dnsauth.www.example.com\n', '_acme-challenge.www.example.com',
    '_dnsauth.www', '_dnsauth.example.com', ' _dnsauth', '_dnsauth..www.example.com', None, 7,
])
def test_record_domain_other_forms_are_refused_naming_the_value(record_domain):
    with pytest.raises(CertflowError) as caught:
        dns_record_name(record_domain, 'www.example.com')
    assert repr(record_domain) in caught.value.msg


@pytest.mark.parametrize('uri, expected', [
    ('/.well-known/pki-validation/fileauth.txt', '/.well-known/pki-validation/fileauth.txt'),
    ('.well-known/pki-validation/fileauth.txt', '/.well-known/pki-validation/fileauth.txt'),
])
def test_file_uri_in_pki_validation(uri, expected):
    assert file_uri(uri) == expected


@pytest.mark.parametrize('uri', [
    '/index.html', '/.htaccess', '/../x', '/.well-known/pki-validation/../../index.html',
    '/.well-known/pki-validation/fileauth.txt\n', '/.well-known/pki-validation/', '/.well-known/pki-validation/a/b',
    '/.well-known/acme-challenge/token', '/.well-known/pki-validation/.htaccess', None,
])
def test_file_uri_elsewhere_is_refused_naming_it(uri):
    with pytest.raises(CertflowError) as caught:
        file_uri(uri)
    assert repr(uri) in caught.value.msg


@pytest.mark.parametrize('name', ['_acme-challenge.www.example.com', '_dnsauth.example.com', '_ACME-CHALLENGE.Example.COM'])
def test_record_names_we_create(name):
    assert check_record_name(name) == name


@pytest.mark.parametrize('name', ['www.example.com', '_acme-challenge', '_acme-challenge.www.example.com\n',
                                  'x._acme-challenge.example.com', '_dnsauth.-bad.example.com', '_dnsauth..example.com'])
def test_other_record_names_are_refused(name):
    with pytest.raises(CertflowError):
        check_record_name(name)


@pytest.mark.parametrize('path', ['/index.html', '/.htaccess', '/.well-known/acme-challenge/../../index.html',
                                  '/.well-known/acme-challenge/.hidden', '/.well-known/acme-challenge/a/b',
                                  '/.well-known/acme-challenge/tok\n', '/.well-known/other/tok'])
def test_challenge_paths_outside_the_challenge_folders_are_refused(path):
    with pytest.raises(CertflowError) as caught:
        check_challenge_path(path)
    assert repr(path) in caught.value.msg


def test_an_existing_file_is_never_replaced_and_a_changed_one_never_removed(tmp_path):
    file_path = '/.well-known/acme-challenge/TOKEN'
    target = tmp_path / '.well-known' / 'acme-challenge' / 'TOKEN'
    target.parent.mkdir(parents=True)
    target.write_text('theirs')
    with pytest.raises(CertflowError, match='already exists'):
        write_challenge(str(tmp_path), file_path, 'ours')
    with pytest.raises(CertflowError, match='already exists'):
        write_challenge(str(tmp_path), file_path, 'ours', same_ok=True)
    assert target.read_text() == 'theirs'
    # Noted as ours by an interrupted run, with our content: taken as written.
    target.write_text('ours')
    write_challenge(str(tmp_path), file_path, 'ours', same_ok=True)
    target.write_text('replaced since')
    with pytest.raises(CertflowError, match='left in place'):
        remove_challenge(str(tmp_path), file_path, content='ours')
    assert target.read_text() == 'replaced since'
    assert sorted(os.listdir(str(target.parent))) == ['TOKEN'], 'no temp file left behind'
