# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Alibaba Cloud path end to end, as a user runs it: real ansible-playbook
runs of the collection's modules against the Alibaba Cloud emulator, which
checks DNS proofs in the real BIND (and pushes Alidns records into it) and
fetches file proofs from the real nginx."""

import os
import re
import secrets
import shutil
import stat

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from tests.lib.playbook import run_playbook

HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOKS = os.path.join(HERE, 'playbooks')
DOC = os.path.join(os.path.dirname(os.path.dirname(HERE)), 'docs', 'aliyun.md')
EXAMPLE = 'aliyun_readme_example.yml'
EXAMPLE_MARKER = '<!-- tests/integration/playbooks/%s -->' % EXAMPLE

# Resource plans of these tests (the provider tests use the emulator's default ones).
PRODUCT = 'digicert-dv-1-workflow'
CONTACT = {'name': 'Ops Team', 'email': 'ops@certflow.test', 'phone': '13800000000'}
COMPANY = {'name': 'Certflow Test Ltd', 'country': 'CN', 'state': 'Zhejiang', 'city': 'Hangzhou'}


def playbook(name):
    return os.path.join(PLAYBOOKS, name)


def unique(label, zone='certflow.test'):
    return '%s-%s.%s' % (label, secrets.token_hex(3), zone)


@pytest.fixture(scope='module', autouse=True)
def workflow_plan(aliyun_emulator):
    aliyun_emulator.set_quota(PRODUCT, 100)


@pytest.fixture
def emulator(aliyun_emulator):
    return aliyun_emulator


@pytest.fixture
def aliyun_vars(playbook_vars, emulator):
    values = dict(playbook_vars)
    values['certflow_defaults'] = {
        'provider': 'aliyun',
        'aliyun': {'endpoint': emulator.endpoint, 'access_key_id': emulator.access_key_id,
                   'access_key_secret': emulator.access_key_secret},
        'store_dir': playbook_vars['store_dir'],
        'timeout': 120,
    }
    # Alibaba Cloud DNS takes the aliyun credentials; only its endpoint differs from the default.
    values['alidns_settings'] = {'endpoint': emulator.endpoint}
    values.update(cert_product=PRODUCT, ov_product=emulator.ov_product, contact=CONTACT, company=COMPANY)
    return values


def run(emulator, name, extra_vars, **kwargs):
    """run_playbook, and the AccessKey secret never shows in what it printed."""
    result = run_playbook(playbook(name), extra_vars, **kwargs)
    assert emulator.access_key_secret not in result.output, 'the AccessKey secret was printed'
    return result


def entry(result, task='Validate'):
    return result.task(task)['result']['certificates'][0]


def cert_for(extra_vars, label):
    """Give the next playbook runs the certificate ``label`` for one fresh domain name."""
    domains = [unique(label)]
    extra_vars.update(cert_name=label, cert_domains=domains)
    return domains


def used(emulator, product=PRODUCT):
    return emulator.quota(product)['used']


def creates(emulator):
    return emulator.actions().count('CreateCertificateForPackageRequest')


def store_files(store_dir, name):
    folder = os.path.join(store_dir, name)
    return {kind: os.path.join(folder, kind + '.pem') for kind in ('privkey', 'cert', 'chain', 'fullchain')}


def assert_issued_and_verifies(emulator, store_dir, name, expected_names):
    files = store_files(store_dir, name)
    for path in files.values():
        assert os.path.isfile(path), path
    assert stat.S_IMODE(os.stat(files['privkey']).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(store_dir, name)).st_mode) == 0o700
    with open(files['fullchain']) as handle:
        certs = _crypto.load_certificates(handle.read())
    ok, reason = _crypto.verify_chain(certs[0], certs[1:], roots=emulator.root_pem)
    assert ok, reason
    with open(files['privkey']) as handle:
        assert _crypto.cert_matches_key(certs[0], _crypto.load_private_key(handle.read()))
    summary = _crypto.cert_summary(certs[0])
    assert sorted(summary['domains']) == sorted(expected_names)
    return summary


def order_file(store_dir, name):
    return os.path.join(store_dir, name, 'order.json')


# ------------------------------------------------------------------- quota

def test_quota_report(emulator, aliyun_vars):
    product = 'sectigo-dv-1-report'
    emulator.set_quota(product, 7, used=2)
    aliyun_vars['cert_product'] = product
    result = run(emulator, 'aliyun_quota.yml', aliyun_vars).assert_ok()
    quota = result.task('Quota')['result']
    assert {key: quota[key] for key in ('product', 'total', 'used', 'issued', 'remaining', 'unlimited', 'changed')} == {
        'product': product, 'total': 7, 'used': 2, 'issued': 0, 'remaining': 5, 'unlimited': False, 'changed': False}


def test_quota_exhausted(emulator, aliyun_vars):
    product = 'sectigo-dv-1-exhausted'
    emulator.set_quota(product, 2, used=1)
    aliyun_vars.update(cert_product=product, min_remaining=2)
    short = run(emulator, 'aliyun_quota.yml', aliyun_vars)
    assert short.rc != 0
    failed = short.task('Quota')['result']
    assert failed['msg'] == 'only 1 certificate(s) left for product %s, 2 needed' % product
    assert failed['changed'] is False and failed['remaining'] == 1

    emulator.set_quota(product, 2, used=2)
    cert_for(aliyun_vars, 'noquota')
    before = creates(emulator)
    refused = run(emulator, 'aliyun_request.yml', aliyun_vars)
    assert refused.rc != 0
    failed = refused.task('Request')['result']
    assert 'no quota left for product %s' % product in failed['msg'], failed['msg']
    assert 'NotRemainCount' in failed['msg']
    assert failed['changed'] is False
    assert creates(emulator) == before + 1, 'the CA was asked once and said no'
    assert emulator.quota(product)['used'] == 2
    assert not os.path.exists(order_file(aliyun_vars['store_dir'], 'noquota'))


# --------------------------------------------------------------------- DV

def test_dv_automatic_dns_through_alidns(emulator, aliyun_vars, services):
    # Two names, one of them Chinese: Alibaba Cloud gets (and validates) its Punycode form.
    unicode_name = unique('中文')
    domains = [unique('dvdns'), _crypto.normalize_domain(unicode_name)[0]]
    assert domains[1].startswith('xn--')
    aliyun_vars.update(cert_name='dvdns', cert_domains=[domains[0], unicode_name])
    used_before, issued_before = used(emulator), emulator.quota(PRODUCT)['issued']
    result = run(emulator, 'aliyun_dns.yml', aliyun_vars).assert_ok()

    requested = entry(result, 'Request')
    assert requested['status'] == 'pending_validation' and requested['action'] == 'create'
    assert requested['domains'] == domains and requested['domains_unicode'] == [domains[0], unicode_name]
    assert emulator.order(requested['order_id'])['domains'] == domains
    assert requested['order_id']
    assert [(c['domain'], c['record_name'], c['record_type']) for c in requested['challenges']] == [
        (domain, '_dnsauth.' + domain, 'TXT') for domain in domains]
    assert all(c['record_value'] for c in requested['challenges'])

    validated = entry(result)
    assert validated['status'] == 'issued' and validated['order_id'] == requested['order_id']
    summary = assert_issued_and_verifies(emulator, aliyun_vars['store_dir'], 'dvdns', domains)
    assert validated['serial'] == summary['serial']
    assert emulator.order(requested['order_id'])['state'] == 'certificate'
    assert used(emulator) == used_before + 1
    assert emulator.quota(PRODUCT)['issued'] == issued_before + 1

    # The records went through the Alibaba Cloud DNS API into BIND, and are gone again.
    actions = emulator.actions()
    assert actions.count('AddDomainRecord') >= 2 and actions.count('DeleteDomainRecord') >= 2
    for challenge in requested['challenges']:
        assert services.bind.query_txt(challenge['record_name']) == []
        assert emulator.records_at(challenge['record_name']) == []

    # Current: a re-run changes nothing and orders nothing.
    before = creates(emulator)
    again = run(emulator, 'aliyun_dns.yml', aliyun_vars).assert_ok()
    assert again.recap['localhost']['changed'] == 0
    assert entry(again)['serial'] == summary['serial']
    assert creates(emulator) == before and used(emulator) == used_before + 1


def test_dv_manual_dns(emulator, aliyun_vars, services):
    domains = cert_for(aliyun_vars, 'dvmanual')
    result = run(emulator, 'aliyun_manual_dns.yml', aliyun_vars).assert_ok()
    (challenge,) = entry(result, 'Request')['challenges']
    assert challenge['record_name'] == '_dnsauth.' + domains[0]
    assert entry(result)['status'] == 'issued'
    assert_issued_and_verifies(emulator, aliyun_vars['store_dir'], 'dvmanual', domains)
    label = domains[0].split('.')[0]
    assert not [params for action, params in emulator.calls if action == 'AddDomainRecord' and label in params.get('RR', '')], \
        'manual DNS must not touch the Alibaba Cloud DNS API'
    assert services.bind.query_txt(challenge['record_name']) == []


def test_dv_file_validation(emulator, aliyun_vars, services):
    domains = cert_for(aliyun_vars, 'dvfile')
    result = run(emulator, 'aliyun_http.yml', aliyun_vars).assert_ok()
    (challenge,) = entry(result, 'Request')['challenges']
    assert challenge['file_path'] == '/.well-known/pki-validation/fileauth.txt'
    assert challenge['url'] == 'http://%s/.well-known/pki-validation/fileauth.txt' % domains[0]
    assert challenge['file_content']
    assert entry(result)['status'] == 'issued'
    assert_issued_and_verifies(emulator, aliyun_vars['store_dir'], 'dvfile', domains)
    assert not os.path.exists(os.path.join(services.web.webroot, challenge['file_path'].lstrip('/'))), \
        'the validation file must be removed'


# --------------------------------------------------------------------- OV

def test_ov_email_review_left_pending_then_resumed(emulator, aliyun_vars):
    domains = cert_for(aliyun_vars, 'ovmail')
    product = emulator.ov_product
    used_before = used(emulator, product)
    first = run(emulator, 'aliyun_ov.yml', aliyun_vars).assert_ok()
    requested = entry(first, 'Request')
    assert requested['status'] == 'processing'
    assert [(c['type'], c['status']) for c in requested['challenges']] == [('email', 'pending')]
    pending = entry(first)
    assert pending['status'] == 'processing' and pending['serial'] is None
    assert not os.path.exists(store_files(aliyun_vars['store_dir'], 'ovmail')['cert'])
    order_id = requested['order_id']
    assert emulator.order(order_id)['state'] == 'process'
    assert emulator.order(order_id)['company'] == COMPANY['name']
    assert used(emulator, product) == used_before + 1

    # A scheduled run while the CA still reviews changes nothing.
    waiting = run(emulator, 'aliyun_ov.yml', aliyun_vars).assert_ok()
    assert entry(waiting)['status'] == 'processing'
    assert waiting.recap['localhost']['changed'] == 0

    # Days later the CA has reviewed the company; the next run installs the certificate.
    emulator.approve(order_id)
    before = creates(emulator)
    second = run(emulator, 'aliyun_ov.yml', aliyun_vars).assert_ok()
    assert entry(second, 'Request')['action'] == 'resumed'
    assert second.task('Request')['result']['changed'] is False
    issued = entry(second)
    assert issued['status'] == 'issued' and issued['order_id'] == order_id
    summary = assert_issued_and_verifies(emulator, aliyun_vars['store_dir'], 'ovmail', domains)
    assert 'O=%s' % COMPANY['name'] in summary['subject']
    assert creates(emulator) == before and used(emulator, product) == used_before + 1

    third = run(emulator, 'aliyun_ov.yml', aliyun_vars).assert_ok()
    assert third.recap['localhost']['changed'] == 0


# ------------------------------------------------------------ Quick Issue

def test_without_quick_issue_then_submitted(emulator, aliyun_vars):
    domains = cert_for(aliyun_vars, 'later')
    used_before, creates_before = used(emulator), creates(emulator)
    aliyun_vars['quick_issue'] = False
    created = run(emulator, 'aliyun_request.yml', aliyun_vars).assert_ok()
    requested = entry(created, 'Request')
    assert requested['status'] == 'created' and requested['order_id'] is None and requested['challenges'] == []
    assert used(emulator) == used_before and creates(emulator) == creates_before

    again = run(emulator, 'aliyun_request.yml', aliyun_vars).assert_ok()
    assert entry(again, 'Request')['status'] == 'created' and again.recap['localhost']['changed'] == 0

    aliyun_vars['quick_issue'] = True
    submitted = run(emulator, 'aliyun_request.yml', aliyun_vars).assert_ok()
    requested = entry(submitted, 'Request')
    assert requested['action'] == 'submit' and requested['status'] == 'pending_validation' and requested['order_id']
    assert requested['challenges'][0]['record_name'] == '_dnsauth.' + domains[0]
    assert used(emulator) == used_before + 1 and creates(emulator) == creates_before + 1

    issued = run(emulator, 'aliyun_dns.yml', aliyun_vars).assert_ok()
    assert entry(issued)['status'] == 'issued' and entry(issued)['order_id'] == requested['order_id']
    assert_issued_and_verifies(emulator, aliyun_vars['store_dir'], 'later', domains)
    assert used(emulator) == used_before + 1


# ------------------------------------------------------------ idempotency

def test_rerun_never_spends_quota_twice(emulator, aliyun_vars):
    domains = cert_for(aliyun_vars, 'once')
    used_before, creates_before = used(emulator), creates(emulator)
    first = run(emulator, 'aliyun_request.yml', aliyun_vars).assert_ok()
    order_id = entry(first, 'Request')['order_id']
    assert used(emulator) == used_before + 1

    second = run(emulator, 'aliyun_request.yml', aliyun_vars).assert_ok()
    assert entry(second, 'Request')['action'] == 'resumed' and entry(second, 'Request')['order_id'] == order_id
    assert second.task('Request')['result']['changed'] is False

    # A run that died after Alibaba Cloud took the order but before order.json
    # was written: the next run finds the order at the CA instead of buying again.
    os.unlink(order_file(aliyun_vars['store_dir'], 'once'))
    third = run(emulator, 'aliyun_request.yml', aliyun_vars).assert_ok()
    assert entry(third, 'Request')['action'] == 'resumed' and entry(third, 'Request')['order_id'] == order_id
    assert used(emulator) == used_before + 1 and creates(emulator) == creates_before + 1

    issued = run(emulator, 'aliyun_dns.yml', aliyun_vars).assert_ok()
    assert entry(issued)['status'] == 'issued' and entry(issued)['order_id'] == order_id
    assert_issued_and_verifies(emulator, aliyun_vars['store_dir'], 'once', domains)
    last = run(emulator, 'aliyun_dns.yml', aliyun_vars).assert_ok()
    assert last.recap['localhost']['changed'] == 0
    assert used(emulator) == used_before + 1 and creates(emulator) == creates_before + 1


# ---------------------------------------------------------------- renewal

def test_renewal(emulator, aliyun_vars):
    domains = cert_for(aliyun_vars, 'renewme')
    store_dir = aliyun_vars['store_dir']
    first = run(emulator, 'aliyun_dns.yml', aliyun_vars).assert_ok()
    order_1, serial_1 = entry(first)['order_id'], entry(first)['serial']
    used_before = used(emulator)

    # About to expire at Alibaba Cloud: RenewCertificateOrderForPackageRequest.
    emulator.expire_soon(order_1)
    renews = emulator.actions().count('RenewCertificateOrderForPackageRequest')
    aliyun_vars['renew_before_days'] = 10000
    second = run(emulator, 'aliyun_dns.yml', aliyun_vars).assert_ok()
    assert entry(second, 'Request')['action'] == 'renew'
    order_2, serial_2 = entry(second)['order_id'], entry(second)['serial']
    assert order_2 != order_1 and serial_2 != serial_1
    assert emulator.order(order_2)['renewed_from'] == int(order_1)
    assert emulator.actions().count('RenewCertificateOrderForPackageRequest') == renews + 1
    assert assert_issued_and_verifies(emulator, store_dir, 'renewme', domains)['serial'] == serial_2

    # Not yet in Alibaba Cloud's renewal window: a new order for the same names.
    creates_before = creates(emulator)
    third = run(emulator, 'aliyun_dns.yml', aliyun_vars).assert_ok()
    assert entry(third, 'Request')['action'] == 'renew'
    order_3, serial_3 = entry(third)['order_id'], entry(third)['serial']
    assert order_3 not in (order_1, order_2) and serial_3 not in (serial_1, serial_2)
    assert creates(emulator) == creates_before + 1
    assert assert_issued_and_verifies(emulator, store_dir, 'renewme', domains)['serial'] == serial_3
    assert used(emulator) == used_before + 2

    archived = []
    archive = os.path.join(store_dir, 'renewme', 'archive')
    for folder in sorted(os.listdir(archive)):
        with open(os.path.join(archive, folder, 'cert.pem')) as handle:
            archived.append(_crypto.cert_serial_hex(_crypto.load_certificate(handle.read())))
    assert archived == [serial_1, serial_2]

    aliyun_vars['renew_before_days'] = 30
    fourth = run(emulator, 'aliyun_dns.yml', aliyun_vars).assert_ok()
    assert fourth.recap['localhost']['changed'] == 0 and used(emulator) == used_before + 2


# ------------------------------------------------------- cancel and revoke

def test_cancel_pending_order_returns_quota(emulator, aliyun_vars):
    cert_for(aliyun_vars, 'cancelme')
    used_before = used(emulator)
    requested = run(emulator, 'aliyun_request.yml', aliyun_vars).assert_ok()
    order_id = entry(requested, 'Request')['order_id']
    assert used(emulator) == used_before + 1

    aliyun_vars['state'] = 'cancelled'
    cancelled = run(emulator, 'aliyun_revoke.yml', aliyun_vars).assert_ok()
    result = cancelled.task('Revoke')['result']
    assert result['changed'] is True and result['status'] == 'cancelled' and result['order_id'] == order_id
    assert used(emulator) == used_before
    assert emulator.orders[int(order_id)]['state'] == 'deleted'
    assert {'CancelOrderRequest', 'DeleteCertificateRequest'} <= set(emulator.actions())

    again = run(emulator, 'aliyun_revoke.yml', aliyun_vars).assert_ok()
    assert again.task('Revoke')['result']['changed'] is False
    assert used(emulator) == used_before


def test_revoke_needs_confirm_check_mode_then_revoked_once(emulator, aliyun_vars, tmp_path):
    cert_for(aliyun_vars, 'revokeme')
    issued = run(emulator, 'aliyun_dns.yml', aliyun_vars).assert_ok()
    order_id, serial = entry(issued)['order_id'], entry(issued)['serial']

    refused = run(emulator, 'aliyun_revoke.yml', aliyun_vars)
    assert refused.rc != 0 and 'confirm' in refused.task('Revoke')['result']['msg']
    assert emulator.order(order_id)['state'] == 'certificate'

    aliyun_vars['confirm'] = True
    checked = run(emulator, 'aliyun_revoke.yml', aliyun_vars, check=True).assert_ok()
    assert checked.task('Revoke')['result']['changed'] is True
    assert emulator.order(order_id)['state'] == 'certificate', 'check mode must never revoke'

    done = run(emulator, 'aliyun_revoke.yml', aliyun_vars).assert_ok()
    result = done.task('Revoke')['result']
    assert result['changed'] is True and result['serial'] == serial and result['status'] == 'revoked'
    assert emulator.order(order_id)['state'] == 'revoked'
    assert 'CancelCertificateForPackageRequest' in emulator.actions()

    again = run(emulator, 'aliyun_revoke.yml', aliyun_vars).assert_ok()
    assert again.task('Revoke')['result']['changed'] is False

    # From another machine (only the certificate file): Alibaba Cloud says it is revoked already.
    cert_path = tmp_path / 'revoked.pem'
    shutil.copy(store_files(aliyun_vars['store_dir'], 'revokeme')['cert'], cert_path)
    other = dict(aliyun_vars, cert_path=str(cert_path))
    del other['cert_name']
    other['certflow_defaults'] = dict(aliyun_vars['certflow_defaults'], store_dir=str(tmp_path / 'other-store'))
    elsewhere = run(emulator, 'aliyun_revoke.yml', other).assert_ok()
    assert elsewhere.task('Revoke')['result']['changed'] is False


# ------------------------------------------------------- faults and secrets

def test_throttling_and_unavailability_are_survived(emulator, aliyun_vars):
    emulator.fail_next(3, 'Throttling.User')
    quota = run(emulator, 'aliyun_quota.yml', aliyun_vars).assert_ok()
    assert quota.task('Quota')['result']['total'] == 100
    assert emulator.actions()[-4:] == ['DescribePackageState'] * 4

    domains = cert_for(aliyun_vars, 'throttled')
    aliyun_vars['quick_issue'] = False
    run(emulator, 'aliyun_request.yml', aliyun_vars).assert_ok()
    # The next call is the order itself (not idempotent): refused three times before it is taken.
    used_before, creates_before = used(emulator), creates(emulator)
    emulator.fail_next(2, 'Throttling.User')
    emulator.fail_next(1, 'ServiceUnavailable')
    aliyun_vars['quick_issue'] = True
    submitted = run(emulator, 'aliyun_request.yml', aliyun_vars).assert_ok()
    assert entry(submitted, 'Request')['status'] == 'pending_validation'
    assert creates(emulator) == creates_before + 4, 'three refusals, then the order'
    assert used(emulator) == used_before + 1
    assert len([order for order in emulator.orders.values() if order['domains'] == domains]) == 1

    emulator.fail_next(2, 'ServiceUnavailable')
    emulator.fail_next(2, 'Throttling.User')
    issued = run(emulator, 'aliyun_dns.yml', aliyun_vars).assert_ok()
    assert entry(issued)['status'] == 'issued'
    assert_issued_and_verifies(emulator, aliyun_vars['store_dir'], 'throttled', domains)


def test_wrong_secret_is_a_clear_error(emulator, aliyun_vars):
    wrong = 'wrong-secret-%s' % secrets.token_hex(6)
    aliyun_vars['certflow_defaults']['aliyun']['access_key_secret'] = wrong
    quota = run(emulator, 'aliyun_quota.yml', aliyun_vars, verbosity=3)
    assert quota.rc != 0
    failed = quota.task('Quota')['result']
    assert 'SignatureDoesNotMatch' in failed['msg'] and 'signature was rejected' in failed['msg'], failed['msg']
    assert 'access_key_secret' in failed['msg']
    assert failed['changed'] is False
    assert wrong not in quota.output

    cert_for(aliyun_vars, 'wrongkey')
    request = run(emulator, 'aliyun_request.yml', aliyun_vars)
    assert request.rc != 0
    failed = request.task('Request')['result']
    assert 'SignatureDoesNotMatch' in failed['msg'] and failed['changed'] is False
    assert wrong not in request.output
    assert not os.path.exists(os.path.join(aliyun_vars['store_dir'], 'wrongkey')), 'nothing is stored for a refused request'


@pytest.mark.parametrize('where', ['environment', 'module_defaults'])
def test_credentials_and_secret_never_printed(emulator, aliyun_vars, where):
    """Credentials from ALIBABA_CLOUD_* (nothing in the task) or from module_defaults;
    either way, ansible-playbook -vvv prints the AccessKey secret nowhere."""
    domains = cert_for(aliyun_vars, 'creds-' + where[:3])
    env = {}
    if where == 'environment':
        del aliyun_vars['certflow_defaults']['aliyun']['access_key_id']
        del aliyun_vars['certflow_defaults']['aliyun']['access_key_secret']
        env = {'ALIBABA_CLOUD_ACCESS_KEY_ID': emulator.access_key_id,
               'ALIBABA_CLOUD_ACCESS_KEY_SECRET': emulator.access_key_secret}
    result = run(emulator, 'aliyun_dns.yml', aliyun_vars, env=env, verbosity=3).assert_ok()
    assert entry(result)['status'] == 'issued'
    assert_issued_and_verifies(emulator, aliyun_vars['store_dir'], aliyun_vars['cert_name'], domains)
    assert emulator.access_key_id in result.output, 'the run is verbose enough to show the (non-secret) key id'
    assert emulator.access_key_secret not in result.output
    for folder, _dirs, files in os.walk(aliyun_vars['store_dir']):
        for name in files:
            with open(os.path.join(folder, name), 'rb') as handle:
                assert emulator.access_key_secret.encode() not in handle.read(), os.path.join(folder, name)


# ---------------------------------------------------- the documented example

def doc_example():
    with open(DOC) as handle:
        text = handle.read()
    assert EXAMPLE_MARKER in text, 'docs/aliyun.md must mark the complete example with %s' % EXAMPLE_MARKER
    found = re.search(r'```yaml\n(.*?)```', text[text.index(EXAMPLE_MARKER):], re.S)
    assert found, 'no ```yaml block after %s in docs/aliyun.md' % EXAMPLE_MARKER
    return found.group(1)


def test_doc_example_is_the_tested_playbook():
    with open(playbook(EXAMPLE)) as handle:
        assert doc_example() == handle.read(), 'docs/aliyun.md and %s differ: keep them identical' % EXAMPLE


def test_doc_example_runs_unchanged(emulator, services, store_dir, tmp_path):
    """The example of docs/aliyun.md against the emulator: only the endpoints and
    the places of this machine (zone, web root, directories) are given."""
    zone = unique('example')
    tls_dir = tmp_path / 'tls'
    nginx = services.web
    extra_vars = {
        'cas_endpoint': emulator.endpoint, 'alidns_endpoint': emulator.endpoint,
        'zone': zone, 'webroot': nginx.webroot, 'http_port': nginx.http_port,
        'dns_nameservers': [services.bind.nameserver],
        'store': store_dir, 'tls_dir': str(tls_dir),
        # the test nginx stands in for the site's nginx
        'reload_command': 'nginx -p %s/ -c %s/nginx.conf -e %s/error.log -s reload' % ((nginx.workdir,) * 3),
    }
    env = {'ALIBABA_CLOUD_ACCESS_KEY_ID': emulator.access_key_id, 'ALIBABA_CLOUD_ACCESS_KEY_SECRET': emulator.access_key_secret}
    used_before = used(emulator, emulator.dv_product)

    first = run(emulator, EXAMPLE, extra_vars, env=env).assert_ok()
    assert first.task('Purchase - stop early when the resource plan cannot cover them')['result']['remaining'] >= 2
    assert [c['action'] for c in first.task('Create the certificates and submit them to the CA (Quick Issue)')
            ['result']['certificates']] == ['create', 'create']
    assert used(emulator, emulator.dv_product) == used_before + 2
    statuses = [item['certificates'][0]['status']
                for item in first.task('Validate domain ownership and wait for the CA review')['result']['results']]
    assert statuses == ['issued', 'issued']
    assert_issued_and_verifies(emulator, store_dir, 'www', ['www.' + zone])
    assert_issued_and_verifies(emulator, store_dir, 'static', ['static.' + zone])
    for name in ('www', 'static'):
        with open(tls_dir / (name + '.crt')) as deployed, open(store_files(store_dir, name)['fullchain']) as stored:
            assert deployed.read() == stored.read()
        assert stat.S_IMODE(os.stat(tls_dir / (name + '.key')).st_mode) == 0o600
    assert first.task('Reload nginx')['status'] == 'changed'
    report = first.task('Report what is in the store')['result']['certificates']
    assert sorted(c['name'] for c in report) == ['static', 'www']
    assert all(c['days_remaining'] > 300 and not c['needs_renewal'] for c in report)

    creates_before = creates(emulator)
    second = run(emulator, EXAMPLE, extra_vars, env=env).assert_ok()
    assert second.recap['localhost']['changed'] == 0
    assert creates(emulator) == creates_before and used(emulator, emulator.dv_product) == used_before + 2
