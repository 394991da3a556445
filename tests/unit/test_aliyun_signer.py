# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACS3-HMAC-SHA256 signing (official test vector), endpoint parsing, credentials and the error table."""

import hashlib

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils._aliyun import client
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from tests.emulator.aliyun_emulator import ApiError, verify_acs3

# The example of Alibaba Cloud's "V3 request structure and signature" topic.
VECTOR = {
    'host': 'ecs.cn-shanghai.aliyuncs.com',
    'query': {'ImageId': 'win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd', 'RegionId': 'cn-shanghai'},
    'action': 'RunInstances',
    'version': '2014-05-26',
    'date': '2023-10-26T10:22:32Z',
    'nonce': '3156853299f313e23d1673dc12e1703d',
    'key_id': 'YourAccessKeyId',
    'secret': 'YourAccessKeySecret',
    'hashed_canonical_request': '7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259',
    'signature': '06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0',
}


def sign_vector(**overrides):
    vector = dict(VECTOR, **overrides)
    return client.sign_request('POST', vector['host'], '/', client.canonical_query_string(vector['query']), vector['action'],
                               vector['version'], vector['key_id'], vector['secret'], date=vector['date'], nonce=vector['nonce'])


# ------------------------------------------------------------------ signing

def test_official_vector_hashed_canonical_request():
    _headers, canonical = sign_vector()
    assert hashlib.sha256(canonical.encode('utf-8')).hexdigest() == VECTOR['hashed_canonical_request']


def test_official_vector_signature_and_authorization_header():
    headers, _canonical = sign_vector()
    assert headers['Authorization'] == (
        'ACS3-HMAC-SHA256 Credential=YourAccessKeyId,'
        'SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,'
        'Signature=%s' % VECTOR['signature'])


def test_official_vector_canonical_request_layout():
    headers, canonical = sign_vector()
    assert canonical.split('\n') == [
        'POST', '/',
        'ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai',
        'host:ecs.cn-shanghai.aliyuncs.com',
        'x-acs-action:RunInstances',
        'x-acs-content-sha256:' + client.EMPTY_BODY_SHA256,
        'x-acs-date:2023-10-26T10:22:32Z',
        'x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d',
        'x-acs-version:2014-05-26',
        '',
        'host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version',
        client.EMPTY_BODY_SHA256,
    ]
    assert headers['x-acs-content-sha256'] == 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'


def test_signature_changes_with_every_input():
    base = sign_vector()[0]['Authorization']
    for change in ({'secret': 'other'}, {'date': '2023-10-26T10:22:33Z'}, {'nonce': 'x'}, {'action': 'StopInstances'},
                   {'query': {'RegionId': 'cn-beijing'}}, {'host': 'ecs.aliyuncs.com'}):
        assert sign_vector(**change)[0]['Authorization'] != base, change


def test_security_token_is_signed():
    headers, canonical = client.sign_request('POST', 'cas.aliyuncs.com', '/', '', 'DescribePackageState', '2020-04-07',
                                             'AK', 'SK', security_token='STS.token', date=VECTOR['date'], nonce='n')
    assert headers['x-acs-security-token'] == 'STS.token'
    assert 'x-acs-security-token' in headers['Authorization'].split('SignedHeaders=')[1].split(',')[0].split(';')
    assert 'x-acs-security-token:STS.token' in canonical


def test_default_date_and_nonce_are_fresh():
    first = client.sign_request('POST', 'h', '/', '', 'A', 'V', 'AK', 'SK')[0]
    second = client.sign_request('POST', 'h', '/', '', 'A', 'V', 'AK', 'SK')[0]
    assert first['x-acs-signature-nonce'] != second['x-acs-signature-nonce']
    assert first['x-acs-date'].endswith('Z') and len(first['x-acs-date']) == 20


@pytest.mark.parametrize('value, encoded', [
    ('abc-_.~XYZ019', 'abc-_.~XYZ019'),
    ('a b', 'a%20b'),
    ('a*b', 'a%2Ab'),
    ('a+b', 'a%2Bb'),
    ('a/b', 'a%2Fb'),
    ('a=b&c', 'a%3Db%26c'),
    ('\u4e2d\u6587', '%E4%B8%AD%E6%96%87'),
    (12, '12'),
])
def test_percent_encoding(value, encoded):
    assert client.percent_encode(value) == encoded


def test_canonical_query_sorts_by_encoded_key_and_drops_none():
    query = client.canonical_query_string({'b': '2', 'a': 'x y', 'A': '1', 'skip': None, 'flag': True})
    assert query == 'A=1&a=x%20y&b=2&flag=true'


def test_emulator_verifier_accepts_our_signature_and_rejects_tampering():
    query = client.canonical_query_string({'Csr': '-----BEGIN CERTIFICATE REQUEST-----\nAB+/=\n', 'Domain': 'a.example,*.b'})
    headers = client.sign_request('POST', '127.0.0.1:9', '/', query, 'X', '2020-04-07', 'AK', 'SK')[0]
    lowered = {name.lower(): value for name, value in headers.items()}
    assert verify_acs3('POST', query, lowered, b'', {'AK': ('SK', None)}.get) == 'AK'
    with pytest.raises(ApiError) as caught:
        verify_acs3('POST', query.replace('a.example', 'b.example'), lowered, b'', {'AK': ('SK', None)}.get)
    assert caught.value.code == 'SignatureDoesNotMatch'


# ---------------------------------------------------------------- endpoints

@pytest.mark.parametrize('text, url, host', [
    (None, 'https://cas.aliyuncs.com/', 'cas.aliyuncs.com'),
    ('', 'https://cas.aliyuncs.com/', 'cas.aliyuncs.com'),
    ('cas.ap-southeast-1.aliyuncs.com', 'https://cas.ap-southeast-1.aliyuncs.com/', 'cas.ap-southeast-1.aliyuncs.com'),
    ('CAS.aliyuncs.com', 'https://cas.aliyuncs.com/', 'cas.aliyuncs.com'),
    ('https://cas.aliyuncs.com', 'https://cas.aliyuncs.com/', 'cas.aliyuncs.com'),
    ('https://cas.aliyuncs.com:443/', 'https://cas.aliyuncs.com/', 'cas.aliyuncs.com'),
    ('http://127.0.0.1:8080', 'http://127.0.0.1:8080/', '127.0.0.1:8080'),
    ('127.0.0.1:8443', 'https://127.0.0.1:8443/', '127.0.0.1:8443'),
    ('http://[::1]:8080', 'http://[::1]:8080/', '[::1]:8080'),
    ('http://localhost:80', 'http://localhost/', 'localhost'),
])
def test_parse_endpoint(text, url, host):
    endpoint = client.parse_endpoint(text, 'cas.aliyuncs.com')
    assert endpoint.url == url
    assert endpoint.host == host


@pytest.mark.parametrize('text, problem', [
    ('ftp://cas.aliyuncs.com', 'scheme'),
    ('https://cas.aliyuncs.com/v1', 'only scheme, host and port'),
    ('https://cas.aliyuncs.com/?a=b', 'only scheme, host and port'),
    ('https://user:pw@cas.aliyuncs.com', 'only scheme, host and port'),
    ('https://cas.aliyuncs.com:99999', 'invalid endpoint'),
    ('https://', 'no host name'),
])
def test_parse_endpoint_errors(text, problem):
    with pytest.raises(CertflowError) as caught:
        client.parse_endpoint(text, 'cas.aliyuncs.com')
    assert problem in caught.value.msg


def test_cas_endpoint_per_region():
    assert client.cas_endpoint(None) == 'cas.aliyuncs.com'
    assert client.cas_endpoint('cn-hangzhou') == 'cas.aliyuncs.com'
    assert client.cas_endpoint('ap-southeast-1') == 'cas.ap-southeast-1.aliyuncs.com'


# -------------------------------------------------------------- credentials

def test_credentials_from_settings_fallback_and_environment():
    environ = {client.ENV_ACCESS_KEY_ID: 'ENVID', client.ENV_ACCESS_KEY_SECRET: 'ENVSECRET', client.ENV_SECURITY_TOKEN: 'ENVTOKEN'}
    creds = client.resolve_credentials({'access_key_id': 'ID', 'access_key_secret': 'SECRET'}, environ=environ)
    assert (creds.access_key_id, creds.access_key_secret, creds.security_token) == ('ID', 'SECRET', 'ENVTOKEN')
    creds = client.resolve_credentials({}, fallback={'access_key_id': 'FALLBACK'}, environ=environ)
    assert (creds.access_key_id, creds.access_key_secret) == ('FALLBACK', 'ENVSECRET')
    creds = client.resolve_credentials(None, environ=environ)
    assert creds.access_key_id == 'ENVID'


def test_missing_credentials_name_option_and_variable():
    with pytest.raises(CertflowError) as caught:
        client.resolve_credentials({'access_key_secret': 'S3CR3T'}, environ={})
    assert 'aliyun.access_key_id' in caught.value.msg and 'ALIBABA_CLOUD_ACCESS_KEY_ID' in caught.value.msg
    assert 'S3CR3T' not in caught.value.msg
    with pytest.raises(CertflowError) as caught:
        client.resolve_credentials({}, environ={}, what='alidns')
    assert 'alidns.access_key_secret' in caught.value.msg and 'ALIBABA_CLOUD_ACCESS_KEY_SECRET' in caught.value.msg


def test_credentials_repr_hides_secrets():
    text = repr(client.Credentials('LTAI5tABCDEFGHIJ', 'very-secret', 'sts-token'))
    assert 'very-secret' not in text and 'sts-token' not in text and 'LTAI5tABCDEFGHIJ' not in text
    assert 'LTAI****GHIJ' in text


# -------------------------------------------------------------- error table

def test_not_remain_count_names_the_product():
    text = client.error_message('NotRemainCount', 'whatever', 'CreateCertificateForPackageRequest',
                                {'ProductCode': 'geotrust-dv-1-starter'}, 'cas')
    assert text.startswith('no quota left for product geotrust-dv-1-starter')


def test_not_remain_count_without_product_names_the_default():
    text = client.error_message('NotRemainCount', '', 'CreateCertificateForPackageRequest', {}, 'cas')
    assert 'no quota left for product digicert-free-1-free' in text


def test_clock_message():
    text = client.error_message('InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.', 'X', {}, 'cas')
    assert 'check the clock' in text


@pytest.mark.parametrize('code, words', [
    ('NotFoundPackage', 'no certificate resource plan has been bought for product p1'),
    ('NotFoundOrder', 'certificate order 42 was not found'),
    ('OrderStateError', 'certificate order 42 is not in a state that allows CancelOrderRequest'),
    ('InvalidAccessKeyId.NotFound', 'the AccessKey ID LTAI****WXYZ does not exist'),
    ('SignatureDoesNotMatch', 'AccessKey secret does not belong to AccessKey ID LTAI****WXYZ'),
    ('Forbidden.RAM', 'grant it the permission yundun-cert:CancelOrderRequest'),
    ('InvalidSecurityToken.Expired', 'STS security token has expired'),
])
def test_error_table(code, words):
    text = client.error_message(code, 'api text', 'CancelOrderRequest', {'ProductCode': 'p1', 'OrderId': 42}, 'cas',
                                key_id='LTAI5tABCDWXYZ')
    assert words in text


def test_unknown_code_keeps_the_api_message():
    text = client.error_message('Some.NewCode', 'The thing broke.', 'DescribePackageState', {}, 'cas')
    assert text == 'DescribePackageState failed: The thing broke. (Some.NewCode)'


def test_alidns_codes():
    assert 'not in this Alibaba Cloud DNS account' in client.error_message(
        'InvalidDomainName.NoExist', '', 'AddDomainRecord', {'DomainName': 'example.com'}, 'alidns')
    assert 'alidns:AddDomainRecord' in client.error_message('Forbidden.RAM', '', 'AddDomainRecord', {}, 'alidns')


@pytest.mark.parametrize('code, status, idempotent, expected', [
    ('Throttling', 400, True, True),
    ('Throttling.User', 400, False, True),
    ('Throttling.Api', 400, False, True),
    ('ServiceUnavailable', 503, False, True),
    (None, 503, False, True),
    ('InternalError', 500, True, True),
    ('InternalError', 500, False, False),
    (None, 502, True, True),
    (None, 502, False, False),
    ('NotRemainCount', 404, True, False),
    ('SignatureDoesNotMatch', 400, True, False),
    ('InvalidTimeStamp.Expired', 400, True, False),
])
def test_retryable(code, status, idempotent, expected):
    assert client.is_retryable(code, status, idempotent) is expected
