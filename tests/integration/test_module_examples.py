# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module's EXAMPLES, exactly as ``ansible-doc`` renders them, is run by the real
ansible-playbook against Pebble, BIND9, nginx and the Alibaba Cloud emulator.

Only endpoints and this machine's paths change, through the one small table
SUBSTITUTIONS below; secrets come in as the ``vault_*`` extra vars the examples
name; the plays add module_defaults for the test ports and the environment
fallbacks (CERTFLOW_STORE_DIR, ...). The examples run as one user would run
them, module after module on one store: cert_quota, cert_request, (the user
adds the manual DNS records by hand), cert_validate, (a TLS endpoint serves the
www certificate), cert_info, cert_revoke. The assertions look at what really
happened: chains that verify to Pebble's root, DNS records and challenge files
gone, quota numbers of the emulator, Pebble's revocation status.
"""

import json
import os
import re
import secrets
import socket
import ssl
import subprocess
import threading

import pytest
import yaml

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.provider import AcmeProvider
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import ProviderContext
from ansible_collections.certflow.ssl.plugins.module_utils._store import Store
from tests.lib.playbook import run_playbook
from tests.lib.tools import tool

MODULES = ['cert_quota', 'cert_request', 'cert_validate', 'cert_info', 'cert_deploy', 'cert_revoke']

# What the examples say -> the test value that stands in for it (keys of PLACEHOLDERS and ExamplesRun.values).
# Applied in this order (ns1.example.com before example.com). Endpoints and paths only.
SUBSTITUTIONS = [
    ('https://acme-v02.api.letsencrypt.org/directory', 'acme_directory'),
    ('cas.aliyuncs.com', 'aliyun_endpoint'),
    ('ns1.example.com', 'dns_server'),
    ('acme-update', 'tsig_key_name'),
    ('203.0.113.10', 'loopback'),
    ('port: 443', 'tls_port_option'),
    ('example.com', 'zone'),
    ('/var/www/html', 'webroot'),
    ('/etc/certflow', 'store_dir'),
]
MAX_SUBSTITUTIONS = 10
# The vault variables the examples use; the tests give each a value.
VAULT_VARS = {'vault_tsig_secret', 'vault_aliyun_access_key_id', 'vault_aliyun_access_key_secret', 'vault_mail_private_key'}
# Nothing of the real world may be left once the table is applied.
REAL_WORLD = re.compile(r'letsencrypt|aliyuncs|example\.(com|net|org)|203\.0\.113\.|/etc/|/var/www', re.I)
# Test values of the same shape, for the checks that need no services.
PLACEHOLDERS = {'acme_directory': 'https://127.0.0.1:14000/dir', 'aliyun_endpoint': 'http://127.0.0.1:8080',
                'dns_server': '127.0.0.1', 'tsig_key_name': 'test-key', 'loopback': '127.0.0.1', 'tls_port_option': 'port: 8443',
                'zone': 'examples.certflow.test', 'webroot': '/tmp/webroot', 'store_dir': '/tmp/store'}
ALIYUN_PRODUCT = 'digicert-free-1-free'   # the resource plan the cert_quota example checks


_DOC_CACHE = {}


def ansible_doc_examples():
    """{module: EXAMPLES text} as ``ansible-doc --json`` renders it (computed once)."""
    if not _DOC_CACHE:
        done = subprocess.run([tool('ansible-doc'), '--json'] + ['certflow.ssl.' + module for module in MODULES],
                              capture_output=True, text=True, env=os.environ, check=False, timeout=120)
        assert done.returncode == 0, done.stderr
        docs = json.loads(done.stdout)
        _DOC_CACHE.update({module: docs['certflow.ssl.' + module]['examples'] for module in MODULES})
    return dict(_DOC_CACHE)


def substitute(text, values):
    for old, key in SUBSTITUTIONS:
        text = text.replace(old, str(values[key]))
    return text


# ------------------------------------------------------------------ static checks (no services)

def test_substitution_table_is_small_and_every_entry_is_used():
    examples = ansible_doc_examples()
    everything = '\n'.join(examples.values())
    assert len(SUBSTITUTIONS) <= MAX_SUBSTITUTIONS, 'the examples must run with only a few endpoint/path substitutions'
    assert set(PLACEHOLDERS) == {key for _old, key in SUBSTITUTIONS}
    for old, _key in SUBSTITUTIONS:
        assert old in everything, 'substitution %r matches no example any more: update SUBSTITUTIONS' % old
    assert set(re.findall(r'\bvault_\w+', everything)) == VAULT_VARS


@pytest.mark.parametrize('module', MODULES)
def test_examples_are_tasks_of_the_module_and_leave_nothing_real(module):
    text = substitute(ansible_doc_examples()[module], PLACEHOLDERS)
    tasks = yaml.safe_load(text)
    assert isinstance(tasks, list) and all(isinstance(task, dict) and task.get('name') for task in tasks)
    names = [task['name'] for task in tasks]
    assert len(set(names)) == len(names), 'task names must be unique: the test finds results by name'
    assert any('certflow.ssl.' + module in task for task in tasks)
    left = REAL_WORLD.search(text)
    assert left is None, 'an example still points at the real world after substitution: %r' % left.group(0)


# ------------------------------------------------------------------ running them

class TlsEndpoint:
    """A TLS server on loopback presenting one certificate chain (the 'load balancer')."""

    def __init__(self, fullchain, privkey):
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(fullchain, privkey)
        self._listener = socket.create_server(('127.0.0.1', 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while True:
            try:
                conn, _peer = self._listener.accept()
            except OSError:
                return      # closed
            conn.settimeout(10)
            try:
                with self._context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def stop(self):
        self._listener.close()
        self._thread.join(timeout=10)


class ExamplesRun:
    """Runs the examples of each module as a play, in workflow order, on one store."""

    def __init__(self, services, emulator, workdir):
        self.services = services
        self.emulator = emulator
        self.workdir = workdir
        self.store_dir = os.path.join(workdir, 'store')
        os.makedirs(self.store_dir, mode=0o700)
        self.playdir = os.path.join(workdir, 'plays')
        os.makedirs(os.path.join(self.playdir, 'files'))
        self.zone = 'examples-%s.%s' % (secrets.token_hex(3), services.bind.zone)
        self.trust_file = os.path.join(workdir, 'trusted-roots.pem')
        with open(self.trust_file, 'w') as handle:
            handle.write(services.pebble.roots_pem())
        self.values = {
            'acme_directory': services.pebble.directory_url,
            'aliyun_endpoint': emulator.endpoint,
            'dns_server': services.bind.host,
            'tsig_key_name': services.bind.tsig_name,
            'loopback': '127.0.0.1',
            'tls_port_option': None,     # set once the TLS endpoint runs
            'zone': self.zone,
            'webroot': services.web.webroot,
            'store_dir': self.store_dir,
        }
        assert set(self.values) == set(PLACEHOLDERS)
        self.mail_key = _crypto.private_key_to_pem(_crypto.generate_private_key('ec256'))
        self.extra_vars = {
            'vault_tsig_secret': services.bind.tsig_secret,
            'vault_aliyun_access_key_id': emulator.access_key_id,
            'vault_aliyun_access_key_secret': emulator.access_key_secret,
            'vault_mail_private_key': self.mail_key,
        }
        self.env = {
            'CERTFLOW_STORE_DIR': self.store_dir,
            'CERTFLOW_ACME_CA_BUNDLE': services.pebble.ca_bundle,
            'CERTFLOW_RFC2136_PORT': str(services.bind.port),
            'CERTFLOW_DNS_NAMESERVERS': services.bind.nameserver,
            # this machine's trust store: it trusts the test CA as real machines trust Let's Encrypt
            'SSL_CERT_FILE': self.trust_file,
        }
        self.results = {}
        self.tasks = {}

    def run(self, module):
        text = substitute(ansible_doc_examples()[module], self.values)
        tasks = yaml.safe_load(text)
        self.tasks[module] = tasks
        play = [{
            'name': 'EXAMPLES of certflow.ssl.%s' % module,
            'hosts': 'localhost',
            'gather_facts': False,
            'module_defaults': {
                'group/certflow.ssl.certflow': {'timeout': 120},
                # nginx serves the webroot on a test port instead of 80
                'certflow.ssl.cert_validate': {'http_check_port': self.services.web.http_port, 'propagation_timeout': 30},
                # the Alibaba Cloud settings an example leaves to module_defaults
                'certflow.ssl.cert_deploy': {'aliyun': {
                    'endpoint': self.emulator.endpoint, 'cdn_endpoint': self.emulator.endpoint,
                    'access_key_id': self.emulator.access_key_id, 'access_key_secret': self.emulator.access_key_secret}},
            },
            'tasks': tasks,
        }]
        path = os.path.join(self.playdir, '%s_examples.yml' % module)
        with open(path, 'w', encoding='utf-8') as handle:
            yaml.safe_dump(play, handle, allow_unicode=True, sort_keys=False)
        result = run_playbook(path, self.extra_vars, env=self.env).assert_ok()
        for task in tasks:
            record = result.task(task['name'])
            assert record['status'] in ('ok', 'changed'), record
        self.results[module] = result
        return result

    def task_result(self, module, name):
        return self.results[module].task(name)['result']

    def module_result(self, module, index):
        """The result of the index-th task of the module's examples that calls the module itself."""
        own = [task for task in self.tasks[module] if 'certflow.ssl.' + module in task]
        return self.task_result(module, own[index]['name'])

    def write_mail_csr(self):
        key = _crypto.load_private_key(self.mail_key)
        with open(os.path.join(self.playdir, 'files', 'mail.%s.csr' % self.zone), 'w') as handle:
            handle.write(_crypto.build_csr(key, ['mail.' + self.zone]))


@pytest.fixture(scope='module')
def examples(services, aliyun_emulator, tmp_path_factory):
    bind = services.bind
    run = ExamplesRun(services, aliyun_emulator, str(tmp_path_factory.mktemp('module-examples')))
    # www and api are proven with files: they must resolve, also once _acme-challenge records
    # below the test zone make it an empty non-terminal that the zone's wildcard no longer covers.
    wildcard = '*.%s. 5 A 127.0.0.1' % run.zone
    bind.nsupdate(['update add ' + wildcard])
    run.quota_before = aliyun_emulator.quota(ALIYUN_PRODUCT)
    endpoint = None
    added = []
    try:
        run.run('cert_quota')
        run.quota_after = aliyun_emulator.quota(ALIYUN_PRODUCT)

        run.write_mail_csr()
        run.run('cert_request')

        # the user adds the TXT records cert_request returned for mail, at "their DNS provider"
        mail = run.module_result('cert_request', 2)['certificates'][0]
        added = [(c['record_name'] + '.', c['record_value']) for c in mail['challenges']]
        bind.nsupdate(['update add %s 5 TXT "%s"' % record for record in added])
        run.run('cert_validate')
        bind.nsupdate(['update delete %s TXT "%s"' % record for record in added])
        added = []

        store = Store(run.store_dir)
        endpoint = TlsEndpoint(store.path('www', 'fullchain'), store.path('www', 'privkey'))
        run.values['tls_port_option'] = 'port: %d' % endpoint.port
        run.run('cert_info')

        # the account's cloud resources and a contact for the deployment jobs
        run.cloud = {
            'cdn_www': aliyun_emulator.add_cloud_resource('CDN', domain='www.' + run.zone),
            'slb': aliyun_emulator.add_cloud_resource('SLB', instance_id='lb-bp1o94dp5i6earr9g6d1l', port=443),
            'cdn_shop': aliyun_emulator.add_cloud_resource('CDN', domain='shop.' + run.zone),
            'alb': aliyun_emulator.add_cloud_resource('ALB', instance_id='alb-8ldmmc6hprzt2b1c4f', port=443),
            'waf': aliyun_emulator.add_cloud_resource('WAF', domain='api.' + run.zone),
        }
        if not aliyun_emulator.contacts:
            aliyun_emulator.add_contact()
        run.run('cert_deploy')

        run.run('cert_revoke')
        yield run
    finally:
        if endpoint is not None:
            endpoint.stop()
        if added:
            bind.nsupdate(['update delete %s TXT "%s"' % record for record in added])
        bind.nsupdate(['update delete ' + wildcard.replace(' 5 ', ' ')])


def verify_in_store(run, name, names):
    """The store's certificate for name: key 0600, chain verifies to Pebble's root, key matches, names."""
    store = Store(run.store_dir)
    for kind in ('privkey', 'cert', 'chain', 'fullchain'):
        assert os.path.isfile(store.path(name, kind)), (name, kind)
    assert oct(os.stat(store.path(name, 'privkey')).st_mode & 0o777) == '0o600'
    with open(store.path(name, 'fullchain')) as handle:
        certs = _crypto.load_certificates(handle.read())
    ok, reason = _crypto.verify_chain(certs[0], certs[1:], roots=_crypto.load_certificates(run.services.pebble.roots_pem()))
    assert ok, reason
    with open(store.path(name, 'privkey')) as handle:
        key_pem = handle.read()
    assert _crypto.cert_matches_key(certs[0], _crypto.load_private_key(key_pem))
    summary = _crypto.cert_summary(certs[0])
    assert sorted(summary['domains'] + summary['ip_addresses']) == sorted(names)
    return summary, key_pem


def test_cert_quota_examples(examples):
    local = examples.module_result('cert_quota', 0)
    assert (local['total'], local['remaining'], local['unlimited'], local['changed']) == (500, 500, False, False)
    plan = examples.module_result('cert_quota', 1)
    emulator = examples.quota_after
    assert examples.quota_before == emulator, 'checking the quota must not spend any'
    assert {key: plan[key] for key in ('product', 'total', 'used', 'issued', 'remaining', 'unlimited')} == {
        'product': ALIYUN_PRODUCT, 'total': emulator['total'], 'used': emulator['used'], 'issued': emulator['issued'],
        'remaining': emulator['total'] - emulator['used'], 'unlimited': False}
    assert plan['remaining'] >= 2
    shown = examples.task_result('cert_quota', examples.tasks['cert_quota'][2]['name'])['msg']
    assert shown.startswith('%d of %d certificates left' % (plan['remaining'], plan['total']))
    acme = examples.module_result('cert_quota', 2)
    assert acme['unlimited'] is True and acme['remaining'] is None and acme['total'] is None


def test_cert_request_examples(examples):
    zone = examples.zone
    shop = examples.module_result('cert_request', 0)['certificates']
    assert [(c['name'], c['status']) for c in shop] == [('shop', 'pending_validation')]
    assert shop[0]['domains'] == ['shop.' + zone, 'xn--bcher-kva.' + zone]
    assert shop[0]['domains_unicode'] == ['shop.' + zone, 'bücher.' + zone]
    assert {(c['type'], c['record_name']) for c in shop[0]['challenges']} == {
        ('dns-01', '_acme-challenge.shop.' + zone), ('dns-01', '_acme-challenge.xn--bcher-kva.' + zone)}

    batch = {c['name']: c for c in examples.module_result('cert_request', 1)['certificates']}
    assert sorted(batch) == ['api', 'wildcard', 'www']
    assert all(c['status'] == 'pending_validation' for c in batch.values())
    for name in ('www', 'api'):
        (challenge,) = batch[name]['challenges']
        assert challenge['type'] == 'http-01'
        assert challenge['url'] == 'http://%s.%s%s' % (name, zone, challenge['file_path'])
    assert batch['wildcard']['domains'] == ['*.' + zone, zone]
    assert {c['record_name'] for c in batch['wildcard']['challenges']} == {'_acme-challenge.' + zone}

    mail = examples.module_result('cert_request', 2)['certificates'][0]
    assert (mail['name'], mail['domains'], mail['status']) == ('mail', ['mail.' + zone], 'pending_validation')
    shown = examples.results['cert_request'].task_items(examples.tasks['cert_request'][3]['name'])
    wanted = ['%s. TXT %s' % (c['record_name'], c['record_value']) for c in mail['challenges']]
    assert [item['result']['msg'] for item in shown] == wanted

    staging = examples.module_result('cert_request', 3)['certificates'][0]
    assert staging['domains'] == ['staging.' + zone] and staging['ip_addresses'] == ['127.0.0.1']
    assert staging['status'] == 'pending_validation'
    assert sorted(c['type'] for c in staging['challenges']) == ['http-01', 'http-01']
    csr = _crypto.load_csr(Store(examples.store_dir).load_order('staging')['csr'])
    assert _crypto.key_type_of(csr.public_key()) == 'rsa2048'


def test_cert_validate_examples(examples):
    zone = examples.zone
    services = examples.services
    dns = {c['name']: c for c in examples.module_result('cert_validate', 0)['certificates']}
    http = {c['name']: c for c in examples.module_result('cert_validate', 1)['certificates']}
    manual = {c['name']: c for c in examples.module_result('cert_validate', 2)['certificates']}
    expected = {'shop': ['shop.' + zone, 'xn--bcher-kva.' + zone], 'wildcard': ['*.' + zone, zone],
                'www': ['www.' + zone], 'api': ['api.' + zone], 'mail': ['mail.' + zone]}
    validated = dict(dns, **http, **manual)
    assert {name: c['status'] for name, c in validated.items()} == {name: 'issued' for name in expected}
    keys = {}
    for name, names in expected.items():
        summary, keys[name] = verify_in_store(examples, name, names)
        assert validated[name]['serial'] == summary['serial']
    # mail was issued for the key the user brought
    assert _crypto.public_key_pem(_crypto.load_private_key(keys['mail'])) == \
        _crypto.public_key_pem(_crypto.load_private_key(examples.mail_key))
    # the records and files the examples created are gone again
    for name in ('_acme-challenge.shop.' + zone, '_acme-challenge.xn--bcher-kva.' + zone, '_acme-challenge.' + zone):
        assert services.bind.query_txt(name) == [], name
    requested = examples.module_result('cert_request', 1)['certificates']
    files = [c['file_path'] for entry in requested for c in entry['challenges'] if c['type'] == 'http-01']
    assert len(files) == 2
    assert not any(os.path.exists(os.path.join(services.web.webroot, path.lstrip('/'))) for path in files)
    shown = examples.results['cert_validate'].task_items(examples.tasks['cert_validate'][3]['name'])
    assert sorted(item['item']['name'] for item in shown) == sorted(expected)


def test_cert_info_examples(examples):
    zone = examples.zone
    store_serial = {name: verify_in_store(examples, name, names)[0]['serial']
                    for name, names in (('shop', ['shop.' + zone, 'xn--bcher-kva.' + zone]), ('www', ['www.' + zone]))}
    shop = examples.module_result('cert_info', 0)
    assert shop['serial'] == store_serial['shop']
    assert shop['domains_unicode'] == ['shop.' + zone, 'bücher.' + zone]
    assert (shop['key_matches'], shop['chain_valid'], shop['needs_renewal'], shop['key_type']) == (True, True, False, 'ec256')
    assert shop['days_remaining'] > 30
    live = examples.module_result('cert_info', 1)
    assert live['serial'] == store_serial['www'], 'the endpoint serves the www certificate from the store'
    assert live['domains'] == ['www.' + zone] and live['chain_valid'] is True
    assert live['protocol'] in ('TLSv1.2', 'TLSv1.3')
    everything = {c['name']: c for c in examples.module_result('cert_info', 2)['certificates']}
    assert sorted(everything) == ['api', 'mail', 'shop', 'wildcard', 'www'], 'staging has no certificate yet'
    assert everything['shop']['serial'] == store_serial['shop']
    # Pebble's certificates name no CRL: the check runs and says it cannot tell
    assert {c['revocation_status'] for c in everything.values()} <= {'good', 'unknown'}
    listed_due = examples.task_result('cert_info', examples.tasks['cert_info'][5]['name'])['msg']
    assert listed_due == []
    quick = {c['name']: c for c in examples.module_result('cert_info', 3)['certificates']}
    assert sorted(quick) == sorted(everything)
    assert all(quick[name]['serial'] == everything[name]['serial'] and quick[name]['renewal'] == everything[name]['renewal']
               for name in quick), 'detail: renewal decides as detail: full does'
    assert not any('chain_valid' in c or 'paths' in c or 'fingerprints' in c for c in quick.values())
    assert examples.task_result('cert_info', examples.tasks['cert_info'][-1]['name'])['msg'] == []


def test_cert_deploy_examples(examples):
    emulator, cloud = examples.emulator, examples.cloud
    www = examples.module_result('cert_deploy', 0)['certificates'][0]
    assert www['status'] == 'deployed' and www['uploaded'] is True
    assert emulator.bound_cert(cloud['cdn_www']) == emulator.bound_cert(cloud['slb']) == int(www['cloud_cert_id'])
    assert emulator.upload_serial(www['cloud_cert_id']) == www['serial']
    shop = examples.module_result('cert_deploy', 1)['certificates'][0]
    assert shop['status'] == 'deployed' and shop['job_id'] is None
    assert emulator.bound_cert(cloud['cdn_shop']) == int(shop['cloud_cert_id'])
    started = examples.module_result('cert_deploy', 2)['certificates']
    assert [(entry['name'], entry['status']) for entry in started] == [('www', 'pending'), ('api', 'pending')]
    # www was uploaded once, by the first example
    assert started[0]['uploaded'] is False and started[0]['cloud_cert_id'] == www['cloud_cert_id']
    assert all(entry['job_id'] for entry in started)


def test_cert_revoke_examples(examples):
    services = examples.services
    revoked = examples.module_result('cert_revoke', 0)
    shop_serial = examples.module_result('cert_info', 0)['serial']
    assert (revoked['changed'], revoked['status'], revoked['serial']) == (True, 'revoked', shop_serial)
    status = services.pebble.cert_status(shop_serial)
    assert status['Status'] == 'Revoked', status
    store = Store(examples.store_dir)
    assert store.load_order('shop')['status'] == 'revoked'
    assert services.pebble.cert_status(examples.module_result('cert_info', 1)['serial'])['Status'] == 'Valid'

    cancelled = examples.module_result('cert_revoke', 1)
    order = store.load_order('staging')
    assert (cancelled['changed'], cancelled['status'], cancelled['order_id']) == (True, 'cancelled', order['order_id'])
    assert order['status'] == 'cancelled'
    # at the CA: the order's authorizations were deactivated
    options = {'directory': services.pebble.directory_url, 'ca_bundle': services.pebble.ca_bundle}
    order['provider_data'].pop('challenges_read_at', None)
    with AcmeProvider(options, ProviderContext(store=store, timeout=60)) as acme:
        assert [c['status'] for c in acme.challenges(order)] == ['invalid', 'invalid']
