# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plain HTTP and unchecked TLS (issue 12, item 10): possible, said on every run,
and no STS token or EAB key sent over plain HTTP. Nothing here opens a connection."""

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils._aliyun import client
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.provider import AcmeProvider
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import ProviderContext
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError


class NoNetwork:
    def request(self, *args, **kwargs):
        raise AssertionError('nothing may be sent')


def aliyun_client(endpoint, token=None, validate_certs=True, warnings=None):
    return client.AliyunClient('cas', '2020-04-07', endpoint, client.Credentials('LTAI5tUnit', 'secret', token),
                               validate_certs=validate_certs, session=NoNetwork(), warn=(warnings if warnings is not None else []).append)


def test_aliyun_sts_token_over_http_is_refused():
    with pytest.raises(CertflowError) as caught:
        aliyun_client('http://127.0.0.1:8080', token='STS-TOKEN')
    assert caught.value.msg.startswith('aliyun.security_token (or ALIBABA_CLOUD_SECURITY_TOKEN) is not sent over plain HTTP')
    assert 'STS-TOKEN' not in caught.value.msg


def test_alidns_names_its_own_option():
    with pytest.raises(CertflowError) as caught:
        client.AliyunClient('alidns', '2015-01-09', 'http://127.0.0.1:8080', client.Credentials('k', 's', 'T'), session=NoNetwork())
    assert caught.value.msg.startswith('alidns.security_token')


@pytest.mark.parametrize('endpoint,validate_certs,expected', [
    ('http://127.0.0.1:8080', True, ['aliyun endpoint http://127.0.0.1:8080/ is plain HTTP: the requests and answers can be read '
                                     'and changed on the way; use https://']),
    ('https://cas.example.test', False, ['aliyun.validate_certs is false: the identity of https://cas.example.test/ is not checked']),
    ('cas.example.test', True, []),
])
def test_aliyun_transport_warnings(endpoint, validate_certs, expected):
    warnings = []
    aliyun_client(endpoint, validate_certs=validate_certs, warnings=warnings)
    assert warnings == expected


def acme(settings, warnings):
    return AcmeProvider(settings, ProviderContext(warn=warnings.append))


def test_acme_eab_key_over_http_is_refused():
    with pytest.raises(CertflowError) as caught:
        acme({'directory': 'http://ca.example.test/dir', 'eab_kid': 'kid', 'eab_hmac_key': 'SECRET'}, [])
    assert caught.value.msg.startswith('acme.eab_hmac_key is not sent over plain HTTP') and 'SECRET' not in caught.value.msg


@pytest.mark.parametrize('settings,expected', [
    ({'directory': 'http://ca.example.test/dir'}, 'ACME directory http://ca.example.test/dir is plain HTTP'),
    ({'directory': 'https://ca.example.test/dir', 'validate_certs': False}, "acme.validate_certs is false: the ACME server's identity"),
    ({'directory': 'https://ca.example.test/dir'}, None),
])
def test_acme_transport_warnings(settings, expected):
    warnings = []
    acme(settings, warnings).close()
    if expected is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and warnings[0].startswith(expected), warnings


def test_acme_directory_must_be_http_or_https():
    with pytest.raises(CertflowError) as caught:
        acme({'directory': 'ftp://ca.example.test/dir'}, [])
    assert 'acme.directory ftp://ca.example.test/dir' in caught.value.msg
