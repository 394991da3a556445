# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The emulator's cloud deployment actions behave as documented: unique upload names, a key
that must match, unknown resources and certificates refused, the job state machine
editing -> pending -> scheduling -> processing -> success | error with per-resource
workers, the CDN certificate region, and a bound upload that cannot be deleted. Through the
signed client, so every call passes the emulator's signature check."""

import time

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils._aliyun.client import AliyunAPIError, AliyunClient, Credentials
from tests.emulator.aliyun_emulator import AliyunEmulator
from tests.unit.test_cloud_deploy_target import self_signed

KEY_ID, SECRET = 'LTAI5tEmulatorCloud', 'emulator-cloud-secret'


@pytest.fixture
def emulator():
    with AliyunEmulator(credentials={KEY_ID: SECRET}, deploy_step_seconds=0.05) as running:
        running.contact = running.add_contact()
        yield running


def client(emulator, product='cas', version='2020-04-07'):
    return AliyunClient(product, version, emulator.endpoint, Credentials(KEY_ID, SECRET), max_attempts=1, warn=lambda msg: None)


def upload(emulator, name='one'):
    cert, key = self_signed('%s.certflow.test' % name)
    return client(emulator).call('UploadUserCertificate', {'Name': name}, form={'Cert': cert, 'Key': key})['CertId']


def test_upload_names_are_unique_and_keys_must_match(emulator):
    upload(emulator, 'one')
    with pytest.raises(AliyunAPIError) as error:
        upload(emulator, 'one')
    assert error.value.code == 'NameRepeat'
    cert, _key = self_signed('a.certflow.test')
    _other, key = self_signed('a.certflow.test')
    with pytest.raises(AliyunAPIError) as error:
        client(emulator).call('UploadUserCertificate', {'Name': 'mismatch'}, form={'Cert': cert, 'Key': key})
    assert error.value.code == 'CertificateKeyMismatch'


def test_jobs_need_known_certificates_resources_and_contacts(emulator):
    cert_id = upload(emulator)
    resource = emulator.add_cloud_resource('CDN', domain='one.certflow.test')
    cas = client(emulator)
    for params, code in (({'CertIds': '999', 'ResourceIds': str(resource)}, 'NotFoundCertificate'),
                         ({'CertIds': str(cert_id), 'ResourceIds': '12345'}, 'NotFoundResource'),
                         ({'CertIds': str(cert_id), 'ResourceIds': str(resource), 'ContactIds': '77'}, 'NotFoundContact')):
        call = dict({'Name': 'job', 'JobType': 'user', 'ContactIds': str(emulator.contact)}, **params)
        with pytest.raises(AliyunAPIError) as error:
            cas.call('CreateDeploymentJob', call)
        assert error.value.code == code


def states_until_done(cas, job_id, limit=5.0):
    seen = []
    end = time.monotonic() + limit
    while time.monotonic() < end:
        state = cas.call('DescribeDeploymentJob', {'JobId': job_id})['Status']
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in ('success', 'error'):
            return seen
        time.sleep(0.01)
    return seen


def test_the_job_state_machine_and_per_resource_results(emulator):
    cert_id = upload(emulator)
    good = emulator.add_cloud_resource('CDN', domain='one.certflow.test')
    bad = emulator.add_cloud_resource('SLB', instance_id='lb-one', port=443)
    emulator.fail_resource(bad, 'listener busy')
    emulator.deploy_step_seconds = 0.3        # long enough to see every state between two polls
    cas = client(emulator)
    job_id = cas.call('CreateDeploymentJob', {'Name': 'job', 'JobType': 'user', 'CertIds': str(cert_id),
                                              'ResourceIds': '%d,%d' % (good, bad), 'ContactIds': str(emulator.contact)})['JobId']
    time.sleep(0.4)
    # never told to run: it stays in editing
    assert cas.call('DescribeDeploymentJob', {'JobId': job_id})['Status'] == 'editing'
    cas.call('UpdateDeploymentJobStatus', {'JobId': job_id, 'Status': 'pending'})
    assert states_until_done(cas, job_id) == ['pending', 'scheduling', 'processing', 'error']
    workers = {item['ResourceId']: item for item in cas.call('ListWorkerResource', {'JobId': job_id})['Data']}
    assert workers[good]['Status'] == 'success' and workers[bad]['Status'] == 'error'
    assert workers[bad]['ErrorMsg'] == 'listener busy' and workers[bad]['Port'] == 443
    assert emulator.bound_cert(good) == cert_id and emulator.bound_cert(bad) is None
    with pytest.raises(AliyunAPIError) as error:
        cas.call('UpdateDeploymentJobStatus', {'JobId': job_id, 'Status': 'pending'})
    assert error.value.code == 'OperationDenied.JobStatus'
    # bound: the upload cannot be deleted
    with pytest.raises(AliyunAPIError) as error:
        cas.call('DeleteUserCertificate', {'CertId': cert_id})
    assert error.value.code == 'OperationDenied.CertificateInUse'
    listed = cas.call('ListCloudResources', {'CertIds': str(cert_id)})['Data']
    assert [item['Id'] for item in listed] == [good]


def test_cdn_certificate_region(emulator):
    emulator.set_cas_region('ap-southeast-1')
    cert_id = upload(emulator)
    domain = emulator.add_cloud_resource('CDN', domain='one.certflow.test')
    cdn = client(emulator, 'cdn', '2018-05-10')
    params = {'DomainName': 'one.certflow.test', 'SSLProtocol': 'on', 'CertType': 'cas', 'CertId': cert_id}
    with pytest.raises(AliyunAPIError) as error:
        cdn.call('SetCdnDomainSSLCertificate', dict(params, CertRegion='cn-hangzhou'))
    assert error.value.code == 'ServerCertificateId.NotFound'
    cdn.call('SetCdnDomainSSLCertificate', dict(params, CertRegion='ap-southeast-1'))
    assert emulator.bound_cert(domain) == cert_id
    with pytest.raises(AliyunAPIError) as error:
        cdn.call('SetCdnDomainSSLCertificate', dict(params, DomainName='other.certflow.test', CertRegion='ap-southeast-1'))
    assert error.value.code == 'InvalidDomain.NotFound'
