# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AliyunClient: retries and back-off, error answers, transport options; end to end against the emulator."""

import datetime
import json

import pytest
import requests

from ansible_collections.certflow.ssl.plugins.module_utils._aliyun import client
from ansible_collections.certflow.ssl.plugins.module_utils._ca.aliyun import dns_record_name, is_organization_product
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline
from ansible_collections.certflow.ssl.plugins.module_utils._dns.alidns import split_name
from tests.emulator.aliyun_emulator import AliyunEmulator
from tests.lib.services import _write_test_tls

KEY_ID = 'LTAI5tUnitTestKey01'
SECRET = 'unit-test-secret-value'


class FakeResponse:
    def __init__(self, status, body, headers=None):
        self.status_code = status
        self.text = body if isinstance(body, str) else json.dumps(body)
        self.headers = headers or {}


def error_body(code, message='msg'):
    return {'RequestId': 'REQ-1', 'HostId': 'cas.aliyuncs.com', 'Code': code, 'Message': message}


class FakeSession:
    """Answers from a script; records what was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []

    def request(self, method, url, **kwargs):
        self.sent.append(dict(kwargs, method=method, url=url))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_client(session, max_attempts=8, deadline=None, **kwargs):
    sleeps = []
    api = client.AliyunClient('cas', '2020-04-07', kwargs.pop('endpoint', 'cas.aliyuncs.com'), client.Credentials(KEY_ID, SECRET, kwargs.pop('token', None)),
                              session=session, sleep=sleeps.append, max_attempts=max_attempts, deadline=deadline or Deadline(60),
                              **kwargs)
    return api, sleeps


OK = FakeResponse(200, {'RequestId': 'R', 'TotalCount': 1, 'UsedCount': 0, 'IssuedCount': 0})


# ------------------------------------------------------------- fake transport

def test_retries_throttling_with_growing_back_off():
    session = FakeSession(FakeResponse(400, error_body('Throttling.User')), FakeResponse(400, error_body('Throttling')),
                          FakeResponse(400, error_body('Throttling.Api')), OK)
    api, sleeps = make_client(session)
    assert api.call('DescribePackageState')['TotalCount'] == 1
    assert len(session.sent) == 4
    assert len(sleeps) == 3 and sleeps[0] < sleeps[1] < sleeps[2]


def test_retries_service_unavailable_even_for_writes():
    session = FakeSession(FakeResponse(503, error_body('ServiceUnavailable')), FakeResponse(503, '<html>busy</html>'),
                          FakeResponse(200, {'RequestId': 'R', 'OrderId': 7}))
    api, _sleeps = make_client(session)
    assert api.call('CreateCertificateForPackageRequest', {'Domain': 'a.example'}, idempotent=False)['OrderId'] == 7
    assert len(session.sent) == 3


def test_retry_after_header_is_honoured():
    session = FakeSession(FakeResponse(503, error_body('ServiceUnavailable'), {'Retry-After': '3'}), OK)
    api, sleeps = make_client(session)
    api.call('DescribePackageState')
    assert sleeps == [3.0]


def test_gives_up_after_max_attempts_with_clear_message():
    session = FakeSession(*[FakeResponse(400, error_body('Throttling.User')) for _attempt in range(3)])
    api, sleeps = make_client(session, max_attempts=3)
    with pytest.raises(client.AliyunAPIError) as caught:
        api.call('DescribePackageState')
    assert caught.value.code == 'Throttling.User'
    assert 'kept throttling DescribePackageState' in caught.value.msg and '(after 3 attempts)' in caught.value.msg
    assert len(sleeps) == 2


def test_gives_up_when_the_deadline_is_over():
    session = FakeSession(FakeResponse(400, error_body('Throttling.User')), OK)
    api, sleeps = make_client(session, deadline=Deadline(0))
    with pytest.raises(client.AliyunAPIError):
        api.call('DescribePackageState')
    assert len(session.sent) == 1 and sleeps == []


def test_internal_error_is_not_repeated_for_writes():
    session = FakeSession(FakeResponse(500, error_body('InternalError')), OK)
    api, _sleeps = make_client(session)
    with pytest.raises(client.AliyunAPIError) as caught:
        api.call('CreateCertificateForPackageRequest', {'Domain': 'a.example'}, idempotent=False)
    assert caught.value.code == 'InternalError' and len(session.sent) == 1


def test_internal_error_is_repeated_for_reads():
    session = FakeSession(FakeResponse(500, error_body('InternalError')), OK)
    api, _sleeps = make_client(session)
    api.call('DescribePackageState')
    assert len(session.sent) == 2


def test_business_errors_are_not_retried():
    session = FakeSession(FakeResponse(404, error_body('NotRemainCount', 'no count')))
    api, sleeps = make_client(session)
    with pytest.raises(client.AliyunAPIError) as caught:
        api.call('CreateCertificateForPackageRequest', {'ProductCode': 'geotrust-dv-1-starter'}, idempotent=False)
    error = caught.value
    assert error.code == 'NotRemainCount' and error.http_status == 404 and error.request_id == 'REQ-1'
    assert 'no quota left for product geotrust-dv-1-starter' in error.msg
    assert 'RequestId REQ-1' in error.msg and sleeps == []
    assert isinstance(error, CertflowError)


def test_connection_errors():
    session = FakeSession(requests.exceptions.ConnectionError('refused'), OK)
    api, _sleeps = make_client(session)
    api.call('DescribePackageState')
    assert len(session.sent) == 2

    session = FakeSession(requests.exceptions.ReadTimeout('slow'), OK)
    api, _sleeps = make_client(session)
    with pytest.raises(CertflowError) as caught:
        api.call('CreateCertificateForPackageRequest', idempotent=False)
    assert 'cannot reach https://cas.aliyuncs.com/' in caught.value.msg and len(session.sent) == 1

    session = FakeSession(requests.exceptions.ConnectTimeout('no route'), OK)
    api, _sleeps = make_client(session)
    api.call('CreateCertificateForPackageRequest', idempotent=False)
    assert len(session.sent) == 2


def test_request_shape_verify_and_fresh_nonce_per_attempt():
    session = FakeSession(FakeResponse(400, error_body('Throttling.User')), OK)
    api, _sleeps = make_client(session, endpoint='https://127.0.0.1:8080', ca_bundle='/tmp/ca.pem', token='STS-TOKEN')
    api.call('DescribePackageState', {'ProductCode': 'a b', 'Skip': None})
    first, second = session.sent
    assert first['method'] == 'POST'
    assert first['url'] == 'https://127.0.0.1:8080/?ProductCode=a%20b'
    assert first['verify'] == '/tmp/ca.pem' and first['data'] == b''
    assert first['headers']['host'] == '127.0.0.1:8080'
    assert first['headers']['x-acs-action'] == 'DescribePackageState'
    assert first['headers']['x-acs-version'] == '2020-04-07'
    assert first['headers']['x-acs-security-token'] == 'STS-TOKEN'
    assert first['headers']['Authorization'].startswith('ACS3-HMAC-SHA256 Credential=%s,' % KEY_ID)
    assert first['headers']['x-acs-signature-nonce'] != second['headers']['x-acs-signature-nonce']


def test_validate_certs_false():
    session = FakeSession(OK)
    api, _sleeps = make_client(session, validate_certs=False)
    api.call('DescribePackageState')
    assert session.sent[0]['verify'] is False


def test_secrets_never_echoed():
    echo = 'string to sign had %s and %s' % (SECRET, 'STS-TOKEN')
    session = FakeSession(FakeResponse(400, error_body('IncompleteSignature', echo)))
    api, _sleeps = make_client(session, token='STS-TOKEN')
    with pytest.raises(client.AliyunAPIError) as caught:
        api.call('DescribePackageState')
    assert SECRET not in caught.value.msg and 'STS-TOKEN' not in caught.value.msg
    assert SECRET not in caught.value.api_message


def test_non_json_answer():
    session = FakeSession(FakeResponse(404, '<html>Not Found</html>'))
    api, _sleeps = make_client(session)
    with pytest.raises(client.AliyunAPIError) as caught:
        api.call('DescribePackageState')
    assert 'HTTP 404 with a non-JSON answer: <html>Not Found</html>' in caught.value.msg


# ---------------------------------------------------------------- emulator

@pytest.fixture(scope='module')
def emulator():
    with AliyunEmulator(credentials={KEY_ID: SECRET, 'STS.KEY': ('sts-secret', 'the-token')},
                        packages={'digicert-free-1-free': 2}) as running:
        yield running


def emulator_client(emulator, key_id=KEY_ID, secret=SECRET, token=None, **kwargs):
    return client.AliyunClient('cas', '2020-04-07', emulator.endpoint, client.Credentials(key_id, secret, token),
                               retry_initial=0.01, **kwargs)


def test_emulator_round_trip(emulator):
    answer = emulator_client(emulator).call('DescribePackageState', {'ProductCode': 'digicert-free-1-free'})
    assert (answer['TotalCount'], answer['UsedCount'], answer['IssuedCount']) == (2, 0, 0)


def test_emulator_throttling_and_unavailable_survived(emulator):
    api = emulator_client(emulator)
    emulator.fail_next(3, 'Throttling.User')
    emulator.fail_next(2, 'ServiceUnavailable')
    before = len(emulator.actions())
    assert api.call('DescribePackageState')['TotalCount'] == 2
    assert len(emulator.actions()) - before == 6


def test_emulator_wrong_secret(emulator):
    with pytest.raises(client.AliyunAPIError) as caught:
        emulator_client(emulator, secret='not-the-secret').call('DescribePackageState')
    assert caught.value.code == 'SignatureDoesNotMatch'
    assert 'does not belong to AccessKey ID LTAI****ey01' in caught.value.msg
    assert 'not-the-secret' not in caught.value.msg


def test_emulator_unknown_key(emulator):
    with pytest.raises(client.AliyunAPIError) as caught:
        emulator_client(emulator, key_id='LTAI5tNobodyKnows').call('DescribePackageState')
    assert caught.value.code == 'InvalidAccessKeyId.NotFound' and caught.value.http_status == 404


def test_emulator_clock_off(emulator):
    def late():
        return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)

    with pytest.raises(client.AliyunAPIError) as caught:
        emulator_client(emulator, clock=late).call('DescribePackageState')
    assert caught.value.code == 'InvalidTimeStamp.Expired' and 'check the clock' in caught.value.msg

    def ok():
        return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)

    emulator_client(emulator, clock=ok).call('DescribePackageState')


def test_emulator_sts_token(tmp_path):
    # An STS token goes over https only (over http it is refused: tests/unit/test_flow_transport.py).
    ca_bundle, cert, key = _write_test_tls(str(tmp_path))
    with AliyunEmulator(credentials={'STS.KEY': ('sts-secret', 'the-token')}, packages={'digicert-free-1-free': 2},
                        tls=(cert, key)) as emulator:
        assert emulator_client(emulator, 'STS.KEY', 'sts-secret', 'the-token', ca_bundle=ca_bundle).call(
            'DescribePackageState')['TotalCount'] == 2
        with pytest.raises(client.AliyunAPIError) as caught:
            emulator_client(emulator, 'STS.KEY', 'sts-secret', 'other-token', ca_bundle=ca_bundle).call('DescribePackageState')
    assert caught.value.code == 'InvalidSecurityToken.MismatchWithAccessKey'
    assert 'other-token' not in caught.value.msg


def test_emulator_unknown_action(emulator):
    with pytest.raises(client.AliyunAPIError) as caught:
        emulator_client(emulator).call('NoSuchThing')
    assert caught.value.code == 'InvalidAction.NotFound' and 'does not exist' in caught.value.msg


def test_emulator_unreachable():
    api = client.AliyunClient('cas', '2020-04-07', 'http://127.0.0.1:9', client.Credentials(KEY_ID, SECRET), max_attempts=2,
                              retry_initial=0.01)
    with pytest.raises(CertflowError) as caught:
        api.call('DescribePackageState')
    assert 'cannot reach http://127.0.0.1:9/ after 2 attempt(s)' in caught.value.msg


# -------------------------------------------------------- provider helpers

@pytest.mark.parametrize('record_domain, domain, expected', [
    ('_dnsauth', 'example.com', '_dnsauth.example.com'),
    ('_dnsauth', 'www.example.com', '_dnsauth.www.example.com'),
    ('_dnsauth', '*.example.com', '_dnsauth.example.com'),
    ('_dnsauth.www.example.com.', 'www.example.com', '_dnsauth.www.example.com'),
    ('_DNSAUTH', 'Example.COM', '_dnsauth.example.com'),
])
def test_dns_record_name(record_domain, domain, expected):
    assert dns_record_name(record_domain, domain) == expected


def test_organization_products():
    assert is_organization_product('geotrust-ov-1-personal') and is_organization_product('cfca-ev-w-advanced')
    assert not is_organization_product('digicert-free-1-free') and not is_organization_product(None)


def test_alidns_split_name():
    assert split_name('_dnsauth.www.example.com', 'example.com') == '_dnsauth.www'
    assert split_name('example.com.', 'example.com') == '@'
    with pytest.raises(CertflowError):
        split_name('example.org', 'example.com')
