# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""No secret in what ansible-playbook prints at -vvv, in order.json or in the
report, and the store keeps keys 0600 in 0700 folders.

A representative set of playbooks runs at -vvv against real services: ACME
with dns-01 (TSIG secret, from options and from the environment) and http-01
with a configured account key, then revocation; ACME with External Account
Binding; the local CA; Alibaba Cloud with Alibaba Cloud DNS; cert_info; and
playbooks/report.yml. Every secret those runs used (TSIG secret, EAB HMAC key,
account keys, every private key in the stores and the local CA, the AccessKey
secret) is then looked for in all of the output and in every non-key file.
The whole suite can be run at -vvv too: see tests/lib/secret_scan.py."""

import os
import stat

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from tests.lib.faults import batch_vars, check_issued, playbook, read
from tests.lib.playbook import run_playbook
from tests.lib.secret_scan import leaks, pem_fragments, secrets_in

AREA = 'Secrets'
REPORT_PLAYBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'playbooks', 'report.yml')
MASKED = ('VALUE_SPECIFIED_IN_NO_LOG_PARAMETER', '********')


class _Runs:
    """Every -vvv run of this module: label -> output."""

    def __init__(self):
        self.outputs = {}

    def run(self, label, name, extra, **kwargs):
        result = run_playbook(name, extra, verbosity=3, **kwargs)
        self.outputs[label] = result.output
        return result


@pytest.fixture(scope='module')
def runs(services, pebble_eab, aliyun_emulator, tmp_path_factory):
    """Run the representative playbooks once at -vvv; yields (runs, stores, secrets)."""
    base = tmp_path_factory.mktemp('secrets')
    stores = dict((label, str(base / label)) for label in ('acme', 'eab', 'local', 'aliyun'))
    for path in stores.values():
        os.makedirs(path, mode=0o700)
    account_key = _crypto.private_key_to_pem(_crypto.generate_private_key('ec256'))
    recorded = _Runs()

    extra = batch_vars(services, stores['acme'], [('sec-dns', 'dns'), ('sec-http', 'http')])
    extra['certflow_defaults']['acme']['account_key_content'] = account_key
    recorded.run('acme dns-01 + http-01, account key given', playbook('faults_batch.yml'), extra).assert_ok()

    from_env = batch_vars(services, stores['acme'], [('sec-env', 'dns')])
    from_env['certflow_defaults']['acme']['account_key_content'] = account_key
    del from_env['rfc2136_settings']['key_secret']
    recorded.run('TSIG secret from CERTFLOW_RFC2136_KEY_SECRET', playbook('faults_batch.yml'), from_env,
                 env={'CERTFLOW_RFC2136_KEY_SECRET': services.bind.tsig_secret}).assert_ok()

    recorded.run('revocation', playbook('single_task.yml'), dict(extra, module='cert_revoke', module_args={
        'name': 'sec-http', 'confirm': True})).assert_ok()
    recorded.run('cert_info of the store', playbook('single_task.yml'), dict(extra, module='cert_info', module_args={})).assert_ok()

    eab = batch_vars(services, stores['eab'], [('sec-eab', 'http')], directory=pebble_eab.directory_url, ca_bundle=pebble_eab.ca_bundle)
    eab['certflow_defaults']['acme'].update(eab_kid=pebble_eab.eab_kid, eab_hmac_key=pebble_eab.eab_hmac_key)
    recorded.run('ACME with External Account Binding', playbook('faults_batch.yml'), eab).assert_ok()

    local = batch_vars(services, stores['local'], [('sec-local', 'dns'), ('sec-local-http', 'http')])
    local['certflow_defaults'] = {'provider': 'local', 'store_dir': stores['local'], 'timeout': 60,
                                  'local_ca': {'path': str(base / 'local-ca')}}
    recorded.run('local CA', playbook('faults_batch.yml'), local).assert_ok()

    aliyun = batch_vars(services, stores['aliyun'], [('sec-aliyun', 'dns')], product=aliyun_emulator.dv_product,
                        dns_provider='alidns', alidns_settings={'endpoint': aliyun_emulator.endpoint})
    aliyun['certflow_defaults'] = {'provider': 'aliyun', 'store_dir': stores['aliyun'], 'timeout': 120,
                                   'aliyun': {'endpoint': aliyun_emulator.endpoint, 'access_key_id': aliyun_emulator.access_key_id,
                                              'access_key_secret': aliyun_emulator.access_key_secret}}
    recorded.run('Alibaba Cloud + Alibaba Cloud DNS', playbook('faults_batch.yml'), aliyun).assert_ok()

    report_dir = str(base / 'report')
    if os.path.exists(REPORT_PLAYBOOK):
        recorded.run('playbooks/report.yml', REPORT_PLAYBOOK, {
            'certflow_store_dir': stores['acme'], 'certflow_report_dir': report_dir, 'certflow_report_hosts': 'localhost',
            'certflow_report_check_revocation': 'none'}).assert_ok()

    secrets = secrets_in(str(base))
    secrets.update({services.bind.tsig_secret: 'TSIG secret', pebble_eab.eab_hmac_key: 'EAB HMAC key',
                    aliyun_emulator.access_key_secret: 'Alibaba Cloud AccessKey secret'})
    for line in pem_fragments(account_key):
        secrets[line] = 'configured ACME account key'
    return recorded, stores, secrets, report_dir, str(base)


def test_no_secret_in_any_output_at_vvv(runs, reliability):
    recorded, stores, secrets, _report_dir, _base = runs
    # the scan finds what it looks for: a private key of the store, and the TSIG secret
    assert leaks(read(os.path.join(stores['acme'], 'sec-dns', 'privkey.pem')), secrets)
    assert [source for source, _excerpt in leaks('x%sx' % next(s for s, src in secrets.items() if src == 'TSIG secret'), secrets)]
    kinds = sorted(set(source.split(' /')[0].split(' in ')[0] for source in secrets.values()))
    found = dict((label, leaks(output, secrets)) for label, output in recorded.outputs.items())
    for label, output in recorded.outputs.items():
        reliability.record(AREA, 'ansible-playbook -vvv: %s' % label, 'output searched for %d secrets (%s)' % (len(secrets), ', '.join(kinds)),
                           'no secret printed; no_log values masked',
                           'no secret found' if not found[label] else 'LEAKED: %s' % ', '.join(source for source, _e in found[label]))
    assert found == dict((label, []) for label in recorded.outputs)
    assert any(mark in recorded.outputs['acme dns-01 + http-01, account key given'] for mark in MASKED), 'no_log masking is expected at -vvv'


def test_store_modes_and_no_secret_in_state_files(runs, reliability):
    _recorded, stores, secrets, _report_dir, base = runs
    problems, checked = [], 0
    for root in list(stores.values()) + [os.path.join(base, 'local-ca')]:
        for folder, dirs, files in os.walk(root):
            for name in dirs:
                path = os.path.join(folder, name)
                if name != '.locks' and stat.S_IMODE(os.stat(path).st_mode) != 0o700:
                    problems.append('%s is %o' % (path, stat.S_IMODE(os.stat(path).st_mode)))
            for name in files:
                path = os.path.join(folder, name)
                with open(path, errors='replace') as handle:
                    text = handle.read()
                checked += 1
                mode = stat.S_IMODE(os.stat(path).st_mode)
                if 'PRIVATE KEY' in text or name.endswith('.key'):
                    if mode != 0o600:
                        problems.append('%s holds a key and is %o' % (path, mode))
                    continue
                if mode & 0o022:
                    problems.append('%s is writable by others (%o)' % (path, mode))
                for source, _excerpt in leaks(text, secrets):
                    problems.append('%s contains %s' % (path, source))
    reliability.record(AREA, 'store and local CA files', 'every folder and file of the ACME, EAB, local CA and Alibaba Cloud stores '
                       'and of the local CA (%d files)' % checked,
                       'keys and account keys 0600, folders 0700, no secret in order.json or any other file',
                       'as expected' if not problems else 'PROBLEMS: %s' % '; '.join(problems[:3]))
    assert problems == []
    for label in ('sec-dns', 'sec-env'):
        check_issued(stores['acme'], label, None)
    for label in ('sec-dns', 'sec-http', 'sec-env'):
        order = read(os.path.join(stores['acme'], label, 'order.json'))
        assert 'PRIVATE KEY' not in order


def test_no_secret_in_the_report_files(runs, reliability):
    _recorded, _stores, secrets, report_dir, _base = runs
    if not os.path.exists(REPORT_PLAYBOOK):
        pytest.skip('playbooks/report.yml is not there yet')
    written = sorted(os.listdir(report_dir))
    assert written, 'report.yml wrote nothing'
    problems = []
    for name in written:
        text = read(os.path.join(report_dir, name))
        if 'PRIVATE KEY' in text:
            problems.append('%s holds a private key' % name)
        problems += ['%s contains %s' % (name, source) for source, _excerpt in leaks(text, secrets)]
    assert 'sec-dns' in read(os.path.join(report_dir, 'certflow-report.json'))
    reliability.record(AREA, 'report.yml output', 'the files playbooks/report.yml wrote (%s)' % ', '.join(written),
                       'no key, no secret', 'as expected' if not problems else 'PROBLEMS: %s' % '; '.join(problems))
    assert problems == []
