# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cloud deploy seam and its Alibaba Cloud target, without ansible-playbook: the
store's cloud.json is full-matched, upload names are unique and short enough, answers
that are not ids are refused, an upload holding another certificate is never reused,
a job created but never started is started by the next run, and an upload still bound
to a resource is never removed. Against the in-process emulator (signature checked)."""

import datetime
import json
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._deploy import DEPLOY_TARGETS
from ansible_collections.certflow.ssl.plugins.module_utils._deploy.aliyun_cas import AliyunCasTarget, _cloud_id, upload_name
from ansible_collections.certflow.ssl.plugins.module_utils._ops.cloud_deploy import deploy_certificate, read_certificate
from ansible_collections.certflow.ssl.plugins.module_utils._run import Run
from ansible_collections.certflow.ssl.plugins.module_utils._store import Store
from tests.emulator.aliyun_emulator import AliyunEmulator

KEY_ID, SECRET = 'LTAI5tUnitCloud', 'unit-cloud-secret'


def self_signed(domain):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False).sign(key, hashes.SHA256()))
    return _crypto.cert_to_pem(cert), _crypto.private_key_to_pem(key)


@pytest.fixture(scope='module')
def emulator():
    with AliyunEmulator(credentials={KEY_ID: SECRET}, deploy_step_seconds=0.02) as running:
        running.add_contact()
        yield running


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / 'store'))


def install(store, name, domain):
    cert, key = self_signed(domain)
    store.install(name, cert, '', cert, key=key)
    return read_certificate(store, name)


def make_run(store, check_mode=False):
    return Run({'store_dir': store.root, 'timeout': 30}, check_mode=check_mode)


def target_for(emulator, run):
    settings = {'endpoint': emulator.endpoint, 'cdn_endpoint': emulator.endpoint, 'access_key_id': KEY_ID,
                'access_key_secret': SECRET}
    return AliyunCasTarget(settings, run.context())


# ------------------------------------------------------------------ pure parts

def test_upload_names_are_unique_and_fit():
    assert upload_name('www', '0a1b') == 'certflow-www-0a1b'
    long_name = upload_name('n' * 128, 'f' * 40)
    assert len(long_name) <= 128 and long_name.endswith('-' + 'f' * 40)
    assert upload_name('www', '0a1b') != upload_name('www', '0a1c')


@pytest.mark.parametrize('value', ['../../etc', '12 34', '', None, True, '1' * 21, {'id': 1}])
def test_answers_that_are_not_ids_are_refused(value):
    with pytest.raises(CertflowError, match='not an id'):
        _cloud_id(value, 'CertId')


def test_ids_are_kept_as_text():
    assert _cloud_id(20000001, 'CertId') == '20000001'


@pytest.mark.parametrize('damage', [
    {'aliyun': {'uploads': [{'serial': '0a', 'fingerprint': 'ab', 'cloud_cert_id': '../x', 'name': 'n'}]}},
    {'aliyun': {'uploads': [{'serial': 'XYZ', 'fingerprint': 'ab', 'cloud_cert_id': '1', 'name': 'n'}]}},
    {'aliyun': {'job': {'job_id': '1', 'cloud_cert_id': '2', 'serial': '0a', 'resources': ['1; rm -rf']}}},
    {'aliyun': []},
    [],
])
def test_a_damaged_cloud_file_fails_instead_of_being_trusted(store, damage):
    install(store, 'www', 'www.certflow.test')
    with open(os.path.join(store.cert_dir('www'), 'cloud.json'), 'w') as handle:
        json.dump(damage, handle)
    with pytest.raises(CertflowError, match='cloud file .* is corrupt'):
        store.load_cloud('www')
    with pytest.raises(CertflowError, match='refusing to save'):
        store.save_cloud('www', damage if isinstance(damage, dict) else {'aliyun': damage})


def test_the_registry_holds_the_target():
    assert DEPLOY_TARGETS.get('aliyun') is AliyunCasTarget
    with pytest.raises(CertflowError, match="unknown target 'aws'"):
        DEPLOY_TARGETS.get('aws')


def test_a_region_cas_does_not_keep_certificates_in_is_refused(store):
    with pytest.raises(CertflowError, match='cn-hangzhou .* or ap-southeast-1'):
        AliyunCasTarget({'region': 'us-east-1'}, make_run(store).context())


# ------------------------------------------------------- against the emulator

def test_an_upload_holding_another_certificate_is_not_reused(emulator, store):
    run = make_run(store)
    target = target_for(emulator, run)
    certificate = install(store, 'clash', 'clash.certflow.test')
    other_cert, other_key = self_signed('clash.certflow.test')
    # someone uploaded another certificate under the name this one gets
    emulator.cas_UploadUserCertificate({'Name': upload_name('clash', certificate['serial']), 'Cert': other_cert, 'Key': other_key})
    with pytest.raises(CertflowError, match='holds another certificate'):
        target.find(certificate)


def test_resources_must_match_exactly_one(emulator, store):
    target = target_for(emulator, make_run(store))
    emulator.add_cloud_resource('SLB', instance_id='lb-twice', port=443)
    emulator.add_cloud_resource('SLB', instance_id='lb-twice', port=443)
    with pytest.raises(CertflowError, match='2 SLB resources match lb-twice:443 .*resource_id'):
        target.resources([{'product': 'slb', 'instance_id': 'lb-twice', 'port': 443}])
    with pytest.raises(CertflowError, match='unknown product tencentcdn'):
        target.resources([{'product': 'tencentcdn', 'domain': 'x.certflow.test'}])
    emulator.add_cloud_resource('SLB', instance_id='lb-once', port=443)
    with pytest.raises(CertflowError, match='method direct binds CDN domains only'):
        target.resources([{'product': 'slb', 'instance_id': 'lb-once', 'method': 'direct'}])
    # a listener on another port is another resource
    with pytest.raises(CertflowError, match='ListCloudResources found none'):
        target.resources([{'product': 'slb', 'instance_id': 'lb-once', 'port': 8443}])


def test_a_job_created_but_never_started_is_started_by_the_next_run(emulator, store):
    run = make_run(store)
    target = target_for(emulator, run)
    certificate = install(store, 'crash', 'crash.certflow.test')
    domain_id = emulator.add_cloud_resource('CDN', domain='crash.certflow.test')
    cloud_id, _name = target.upload(certificate)
    resources = target.resources([{'product': 'cdn', 'domain': 'crash.certflow.test'}])
    recorded = []

    class Died(Exception):
        pass

    def record_and_die(job):
        recorded.append(job)
        raise Died()
    with pytest.raises(Died):
        target.deploy(cloud_id, certificate, resources, record_and_die)
    job = recorded[0]
    assert emulator.jobs[int(job['job_id'])]['status'] == 'editing'
    status = target.status(job)          # the next run: started, then followed
    assert emulator.jobs[int(job['job_id'])]['status'] != 'editing' and status['state'] == 'pending'
    run.close()
    emulator_job = emulator.jobs[int(job['job_id'])]
    assert emulator_job['resource_ids'] == [domain_id]


def test_an_upload_still_bound_is_kept(emulator, store):
    cdn = emulator.add_cloud_resource('CDN', domain='kept.certflow.test')
    slb = emulator.add_cloud_resource('SLB', instance_id='lb-kept', port=443)
    both = [{'product': 'cdn', 'domain': 'kept.certflow.test'}, {'product': 'slb', 'instance_id': 'lb-kept'}]
    install(store, 'kept', 'kept.certflow.test')
    run = make_run(store)
    first = deploy_certificate(run, target_for(emulator, run), {'name': 'kept', 'resources': both}, {'wait': True})
    assert first['status'] == 'deployed'
    install(store, 'kept', 'kept.certflow.test')        # renewed
    run = make_run(store)
    second = deploy_certificate(run, target_for(emulator, run), {'name': 'kept', 'resources': both[:1]},
                                {'wait': True, 'remove_superseded': True})
    # the SLB listener still serves the first upload: it stays, with a warning
    assert second['status'] == 'deployed' and second['removed'] == []
    assert int(first['cloud_cert_id']) in emulator.upload_ids()
    assert any('still use it' in warning for warning in second['warnings'])
    assert emulator.bound_cert(slb) == int(first['cloud_cert_id']) and emulator.bound_cert(cdn) == int(second['cloud_cert_id'])


def test_check_mode_sends_nothing_that_changes(emulator, store):
    emulator.add_cloud_resource('CDN', domain='look.certflow.test')
    install(store, 'look', 'look.certflow.test')
    run = make_run(store, check_mode=True)
    before = len(emulator.calls)
    entry = deploy_certificate(run, target_for(emulator, run), {'name': 'look', 'resources': [
        {'product': 'cdn', 'domain': 'look.certflow.test'}]}, {'wait': True})
    assert entry['uploaded'] is True and entry['changed'] is True and entry['resources'][0]['status'] == 'pending'
    changing = {'UploadUserCertificate', 'CreateDeploymentJob', 'UpdateDeploymentJobStatus', 'DeleteUserCertificate',
                'SetCdnDomainSSLCertificate'}
    assert not changing & {action for action, _params in emulator.calls[before:]}
    assert not os.path.exists(os.path.join(store.cert_dir('look'), 'cloud.json'))


def test_the_private_key_travels_in_the_body_not_the_url(emulator, store):
    run = make_run(store)
    target = target_for(emulator, run)
    certificate = install(store, 'body', 'body.certflow.test')
    sent = []
    request = target.cas.session.request

    def recording(method, url, **kwargs):
        sent.append((url, kwargs.get('data') or b''))
        return request(method, url, **kwargs)
    target.cas.session.request = recording
    cloud_id, _name = target.upload(certificate)
    key_line = [line for line in certificate['key'].splitlines() if not line.startswith('-----')][0]
    url, body = sent[-1]
    assert 'Key=' not in url and 'PRIVATE' not in url
    assert b'Key=' in body and key_line.encode() not in url.encode()
    assert emulator.uploads[int(cloud_id)]['key'] == certificate['key']      # the emulator checked the signed body
