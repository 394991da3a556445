# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_deploy through ansible-playbook against the Alibaba Cloud emulator: a
stored certificate (the local CA's, and one from Pebble) uploaded to
Certificate Management Service and bound to a CDN domain and an SLB listener
through a deployment job (and a CDN domain directly), idempotently; renewal,
clean-up of superseded uploads, a failing resource, the wrong region, a job
resumed by the next run, and no secret in -vvv output."""

import json
import os
import secrets
import sys

import pytest
import yaml

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from tests.emulator.aliyun_emulator import AliyunEmulator
from tests.lib.playbook import run_playbook
from tests.lib.secret_scan import leaks, secrets_in

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks')
RENEW = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'playbooks', 'renew.yml')
KEY_ID = 'LTAI5tCloudDeploy01'


def playbook(name):
    return os.path.join(PLAYBOOKS, name)


@pytest.fixture(scope='module')
def cloud():
    """An emulator of its own (no DNS or web server needed): one contact, jobs stepping every 0.15 s."""
    secret = 'cloud-secret-%s' % secrets.token_hex(8)
    with AliyunEmulator(credentials={KEY_ID: secret}, deploy_step_seconds=0.15) as emulator:
        emulator.access_key_secret = secret
        emulator.add_contact('Ops', 'ops@certflow.test')
        yield emulator


@pytest.fixture
def resources(cloud):
    """A fresh CDN domain and SLB listener at the emulator; their ids and the specs cert_deploy takes."""
    label = secrets.token_hex(3)
    domain = 'cdn-%s.certflow.test' % label
    instance = 'lb-%s' % label
    ids = {'cdn': cloud.add_cloud_resource('CDN', domain=domain),
           'slb': cloud.add_cloud_resource('SLB', instance_id=instance, port=443)}
    specs = [{'product': 'cdn', 'domain': domain}, {'product': 'slb', 'instance_id': instance, 'port': 443}]
    return {'domain': domain, 'instance': instance, 'ids': ids, 'specs': specs}


def aliyun_settings(cloud, **extra):
    return dict({'endpoint': cloud.endpoint, 'cdn_endpoint': cloud.endpoint, 'access_key_id': KEY_ID,
                 'access_key_secret': cloud.access_key_secret}, **extra)


@pytest.fixture
def local_vars(tmp_path, cloud, resources):
    store = tmp_path / 'store'
    store.mkdir(mode=0o700)
    name = 'cloud-%s' % secrets.token_hex(3)
    return {'certflow_defaults': {'provider': 'local', 'local_ca': {'path': str(tmp_path / 'ca')}, 'store_dir': str(store),
                                  'timeout': 60, 'aliyun': aliyun_settings(cloud)},
            'cert_name': name, 'cert_domains': [resources['domain']], 'cloud_resources': resources['specs'],
            'store_dir': str(store)}


def run(cloud, name, extra_vars, **kwargs):
    """run_playbook; the AccessKey secret never shows in what it printed."""
    result = run_playbook(playbook(name), extra_vars, **kwargs)
    assert cloud.access_key_secret not in result.output, 'the AccessKey secret was printed'
    return result


def issue(cloud, extra_vars, **more):
    run(cloud, 'cloud_issue.yml', dict(extra_vars, **more)).assert_ok()
    with open(os.path.join(extra_vars['store_dir'], extra_vars['cert_name'], 'cert.pem')) as handle:
        return _crypto.cert_serial_hex(_crypto.load_certificate(handle.read()))


def deployed(result):
    return result.task('Deploy')['result']['certificates'][0]


def cloud_state(extra_vars):
    with open(os.path.join(extra_vars['store_dir'], extra_vars['cert_name'], 'cloud.json')) as handle:
        return json.load(handle)['aliyun']


# --------------------------------------------------------------------- core

def test_deploy_is_idempotent_and_renewal_replaces_the_upload(cloud, local_vars, resources):
    serial = issue(cloud, local_vars)
    calls = len(cloud.calls)
    first = run(cloud, 'cloud_deploy.yml', local_vars).assert_ok()
    entry = deployed(first)
    assert first.task('Deploy')['status'] == 'changed'
    assert entry['uploaded'] is True and entry['status'] == 'deployed' and entry['serial'] == serial
    assert [item['status'] for item in entry['resources']] == ['deployed', 'deployed']
    assert cloud.bound_cert(resources['ids']['cdn']) == int(entry['cloud_cert_id'])
    assert cloud.bound_cert(resources['ids']['slb']) == int(entry['cloud_cert_id'])
    actions = [action for action, _params in cloud.calls[calls:]]
    assert actions.count('UploadUserCertificate') == 1
    # The job was created, told to run (it stays in "editing" otherwise) and polled to its end.
    assert actions.index('CreateDeploymentJob') < actions.index('UpdateDeploymentJobStatus') < actions.index('ListWorkerResource')
    assert cloud.jobs[int(entry['job_id'])]['status'] == 'success'

    # A second run uploads and deploys nothing.
    calls = len(cloud.calls)
    again = run(cloud, 'cloud_deploy.yml', local_vars).assert_ok()
    assert again.task('Deploy')['status'] == 'ok'
    second = deployed(again)
    assert second['uploaded'] is False and second['cloud_cert_id'] == entry['cloud_cert_id'] and second['job_id'] is None
    actions = [action for action, _params in cloud.calls[calls:]]
    assert 'UploadUserCertificate' not in actions and 'CreateDeploymentJob' not in actions

    # A renewal uploads the new serial, deploys it, then removes the old upload.
    new_serial = issue(cloud, local_vars, force=True)
    assert new_serial != serial
    renewed = run(cloud, 'cloud_deploy.yml', dict(local_vars, remove_superseded=True)).assert_ok()
    entry3 = deployed(renewed)
    assert entry3['uploaded'] is True and entry3['serial'] == new_serial and entry3['status'] == 'deployed'
    assert entry3['removed'] == [{'cloud_cert_id': entry['cloud_cert_id'], 'serial': serial}]
    assert int(entry['cloud_cert_id']) not in cloud.upload_ids()
    assert cloud.upload_serial(entry3['cloud_cert_id']) == new_serial
    assert cloud.bound_cert(resources['ids']['slb']) == int(entry3['cloud_cert_id'])
    assert [upload['serial'] for upload in cloud_state(local_vars)['uploads']] == [new_serial]


def test_upload_made_before_is_found_not_repeated(cloud, local_vars):
    """The store forgets its cloud.json: the upload is found by name and fingerprint, not made twice."""
    issue(cloud, local_vars)
    first = deployed(run(cloud, 'cloud_deploy.yml', local_vars).assert_ok())
    os.unlink(os.path.join(local_vars['store_dir'], local_vars['cert_name'], 'cloud.json'))
    count = len(cloud.upload_ids())
    again = deployed(run(cloud, 'cloud_deploy.yml', local_vars).assert_ok())
    assert again['uploaded'] is False and again['cloud_cert_id'] == first['cloud_cert_id']
    assert len(cloud.upload_ids()) == count


def test_failed_resource_reports_which_and_why(cloud, local_vars, resources):
    issue(cloud, local_vars)
    cloud.fail_resource(resources['ids']['slb'], 'listener lb busy: OperationConflict')
    try:
        result = run(cloud, 'cloud_deploy.yml', dict(local_vars, remove_superseded=True))
    finally:
        cloud.heal_resource(resources['ids']['slb'])
    assert result.rc != 0
    task = result.task('Deploy')['result']
    assert 'slb:%s:443' % resources['instance'] in task['msg'] and 'OperationConflict' in task['msg']
    by_product = {item['product']: item for item in task['certificates'][0]['resources']}
    assert by_product['cdn']['status'] == 'deployed'
    assert by_product['slb']['status'] == 'failed' and 'OperationConflict' in by_product['slb']['message']
    assert cloud.bound_cert(resources['ids']['cdn']) is not None
    assert cloud.bound_cert(resources['ids']['slb']) is None
    # Healed, the next run deploys the failed resource only.
    again = deployed(run(cloud, 'cloud_deploy.yml', local_vars).assert_ok())
    job = cloud.jobs[int(again['job_id'])]
    assert job['resource_ids'] == [resources['ids']['slb']] and again['status'] == 'deployed'


def test_wait_false_is_resumed_by_the_next_run(cloud, local_vars, resources):
    issue(cloud, local_vars)
    started = deployed(run(cloud, 'cloud_deploy.yml', dict(local_vars, deploy_wait=False)).assert_ok())
    assert started['status'] == 'pending' and started['job_id']
    assert cloud_state(local_vars)['job']['job_id'] == started['job_id']
    creates = [action for action, _params in cloud.calls].count('CreateDeploymentJob')
    resumed = deployed(run(cloud, 'cloud_deploy.yml', local_vars).assert_ok())
    assert resumed['job_id'] == started['job_id'] and resumed['status'] == 'deployed'
    assert [action for action, _params in cloud.calls].count('CreateDeploymentJob') == creates
    assert cloud_state(local_vars)['job'] is None
    assert cloud.bound_cert(resources['ids']['slb']) == int(started['cloud_cert_id'])


def test_check_mode_and_diff(cloud, local_vars, resources):
    serial = issue(cloud, local_vars)
    uploads = len(cloud.upload_ids())
    result = run(cloud, 'cloud_deploy.yml', local_vars, check=True, diff=True).assert_ok()
    entry = deployed(result)
    assert entry['uploaded'] is True and entry['cloud_cert_id'] is None
    assert [item['status'] for item in entry['resources']] == ['pending', 'pending']
    assert len(cloud.upload_ids()) == uploads and cloud.bound_cert(resources['ids']['cdn']) is None
    assert not os.path.exists(os.path.join(local_vars['store_dir'], local_vars['cert_name'], 'cloud.json'))
    assert 'cdn:%s: %s' % (resources['domain'], serial) in result.output
    assert 'cdn:%s: none' % resources['domain'] in result.output


def test_cdn_direct_and_the_wrong_region(cloud, local_vars, resources):
    issue(cloud, local_vars)
    direct = dict(local_vars, cloud_resources=[{'product': 'cdn', 'domain': resources['domain'], 'method': 'direct'}])
    cloud.set_cas_region('ap-southeast-1')        # an international-site account
    try:
        wrong = run(cloud, 'cloud_deploy.yml', direct)
        assert wrong.rc != 0
        msg = wrong.task('Deploy')['result']['msg']
        assert 'ServerCertificateId.NotFound' in msg and 'aliyun.region' in msg and 'ap-southeast-1' in msg
        assert cloud.bound_cert(resources['ids']['cdn']) is None
        direct['certflow_defaults'] = dict(direct['certflow_defaults'], aliyun=aliyun_settings(cloud, region='ap-southeast-1'))
        right = deployed(run(cloud, 'cloud_deploy.yml', direct).assert_ok())
    finally:
        cloud.set_cas_region('cn-hangzhou')
    assert right['status'] == 'deployed' and right['job_id'] is None
    assert cloud.bound_cert(resources['ids']['cdn']) == int(right['cloud_cert_id'])
    assert cloud.calls[-1][0] == 'SetCdnDomainSSLCertificate' or 'SetCdnDomainSSLCertificate' in [a for a, _p in cloud.calls]


def test_bad_input_fails_clearly(cloud, local_vars):
    issue(cloud, local_vars)
    unknown = run(cloud, 'cloud_deploy.yml', dict(local_vars, cloud_resources=[{'product': 'cdn', 'domain': 'nowhere.certflow.test'}]))
    assert unknown.rc != 0 and 'ListCloudResources found none' in unknown.task('Deploy')['result']['msg']
    region = dict(local_vars)
    region['certflow_defaults'] = dict(region['certflow_defaults'], aliyun=aliyun_settings(cloud, region='us-east-1'))
    bad_region = run(cloud, 'cloud_deploy.yml', region)
    assert bad_region.rc != 0 and 'cn-hangzhou' in bad_region.task('Deploy')['result']['msg']


def test_secrets_never_in_vvv_output(cloud, local_vars):
    issue(cloud, local_vars)
    result = run(cloud, 'cloud_deploy.yml', dict(local_vars, remove_superseded=True), verbosity=3).assert_ok()
    assert deployed(result)['uploaded'] is True          # the key really went to the cloud in this run
    found = secrets_in(os.path.join(local_vars['store_dir'], local_vars['cert_name']))
    assert found, 'the scan found no private key to look for'
    found[cloud.access_key_secret] = 'the AccessKey secret'
    assert leaks(result.output, found) == []


# ------------------------------------------------------------------ Pebble

def test_acme_certificate_from_pebble_reaches_cdn_and_slb(cloud, acme_vars, resources, services):
    """A certificate Pebble issued (dns-01 through BIND) goes to a CDN domain and an SLB listener in one task."""
    name = 'pebble-%s' % secrets.token_hex(3)
    domain = 'www-%s.%s' % (secrets.token_hex(3), services.bind.zone)
    variables = dict(acme_vars, cert_name=name, cert_domains=[domain], validation='dns', cloud_resources=resources['specs'])
    variables['certflow_defaults'] = dict(acme_vars['certflow_defaults'], aliyun=aliyun_settings(cloud))
    issue(cloud, variables)
    entry = deployed(run(cloud, 'cloud_deploy.yml', variables).assert_ok())
    assert entry['status'] == 'deployed' and entry['uploaded'] is True
    upload = cloud.uploads[int(entry['cloud_cert_id'])]
    assert upload['serial'] == entry['serial'] and upload['name'] == 'certflow-%s-%s' % (name, entry['serial'])
    assert cloud.bound_cert(resources['ids']['cdn']) == cloud.bound_cert(resources['ids']['slb']) == int(entry['cloud_cert_id'])
    again = run(cloud, 'cloud_deploy.yml', variables).assert_ok()
    assert again.task('Deploy')['status'] == 'ok'


# ------------------------------------------------------------- renew.yml

def _renew_inventory(tmp_path, group_vars):
    """An inventory of the control node only (no web hosts), its settings in group_vars/all.yml."""
    folder = tmp_path / 'inventory'
    (folder / 'group_vars').mkdir(parents=True)
    (folder / 'hosts.yml').write_text(yaml.safe_dump({'all': {'hosts': {'localhost': {
        'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}}))
    (folder / 'group_vars' / 'all.yml').write_text(yaml.safe_dump(group_vars))
    return str(folder)


def test_renew_playbook_keeps_cloud_resources_current(cloud, local_vars, resources, tmp_path):
    renew = RENEW
    defaults = local_vars['certflow_defaults']
    inventory = _renew_inventory(tmp_path, {
        'certflow_provider': 'local', 'certflow_local_ca': defaults['local_ca'], 'certflow_store_dir': local_vars['store_dir'],
        'certflow_aliyun': defaults['aliyun'], 'certflow_validation': 'none',
        'certflow_certificates': [{'name': local_vars['cert_name'], 'domains': local_vars['cert_domains']}],
        'certflow_cloud_deployments': [{'name': local_vars['cert_name'], 'resources': resources['specs']}],
        'certflow_cloud_remove_superseded': True,
    })
    serial = issue(cloud, local_vars)
    first = run_playbook(renew, inventory=inventory).assert_ok()
    entry = first.task('Deploy the certificates to their cloud resources')['result']['certificates'][0]
    assert entry['serial'] == serial and entry['status'] == 'deployed'
    assert cloud.bound_cert(resources['ids']['cdn']) == int(entry['cloud_cert_id'])

    # Nothing due: nothing changes.
    again = run_playbook(renew, inventory=inventory).assert_ok()
    assert again.task('Deploy the certificates to their cloud resources')['status'] == 'ok'

    # Due (the local CA issues for 90 days): renewed, the new serial deployed, the old upload removed.
    due = run_playbook(renew, {'certflow_renew_before_days': 100}, inventory=inventory).assert_ok()
    renewed = due.task('Deploy the certificates to their cloud resources')['result']['certificates'][0]
    assert renewed['serial'] != serial and renewed['uploaded'] is True and renewed['status'] == 'deployed'
    assert renewed['removed'] == [{'cloud_cert_id': entry['cloud_cert_id'], 'serial': serial}]
    assert cloud.bound_cert(resources['ids']['slb']) == int(renewed['cloud_cert_id'])


# ------------------------------------------------------ the documented example

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'docs', 'workflow', '08-deploy.md')
DOC_EXAMPLE = 'cloud_docs_example.yml'


def test_doc_example_is_the_tested_playbook():
    marker = '<!-- tests/integration/playbooks/%s -->' % DOC_EXAMPLE
    with open(DOC) as handle:
        text = handle.read()
    assert marker in text
    block = text[text.index(marker):].split('```yaml\n', 1)[1].split('```', 1)[0]
    with open(playbook(DOC_EXAMPLE)) as handle:
        assert block == handle.read(), 'docs/workflow/08-deploy.md and %s differ: keep them identical' % DOC_EXAMPLE


def test_doc_example_runs_unchanged(cloud, local_vars, resources):
    """Only the endpoint, the store and the account's resources are given; credentials from the environment."""
    issue(cloud, dict(local_vars, cert_name='www'))
    extra = {'store': local_vars['store_dir'], 'cas_endpoint': cloud.endpoint, 'cdn_domain': resources['domain'],
             'slb_instance': resources['instance']}
    env = {'ALIBABA_CLOUD_ACCESS_KEY_ID': KEY_ID, 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': cloud.access_key_secret}
    first = run(cloud, DOC_EXAMPLE, extra, env=env).assert_ok()
    entry = first.task('Upload www and deploy it to the CDN domain and the SLB listener')['result']['certificates'][0]
    assert entry['status'] == 'deployed'
    assert cloud.bound_cert(resources['ids']['cdn']) == cloud.bound_cert(resources['ids']['slb']) == int(entry['cloud_cert_id'])
    second = run(cloud, DOC_EXAMPLE, extra, env=env).assert_ok()
    assert second.recap['localhost']['changed'] == 0
