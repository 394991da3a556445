# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy role, run by the real ansible-playbook from a certificate store to a private nginx and
apache2 on loopback ports (with the nginx and apache roles for the sites and the reload handlers),
checked with real TLS handshakes: first deployment, replacement with backup, refusal of a key that
does not match or a chain that does not verify, rollback when the endpoint keeps the old certificate
or the server rejects its configuration, and the PFX bundle."""

import contextlib
import hashlib
import os
import shutil
import ssl
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.lib.playbook import changed_tasks, run_playbook

from tests.lib.webservers import ServerPair, TestPKI, eventually, handshake, serial_of, server_pair_workdir

HERE = os.path.dirname(os.path.abspath(__file__))

PLAYBOOKS = os.path.join(HERE, 'playbooks')
INVENTORY = os.path.join(HERE, 'inventories', 'deploy')
KINDS = ('privkey', 'cert', 'chain', 'fullchain')
HOSTS = ('web-nginx', 'web-apache')


# --------------------------------------------------------------------------- the store and the servers

def put_in_store(store_dir, name, server_cert, privkey_from=None, chain_pem=None):
    """Write a certificate into the store layout (privkey, cert, chain, fullchain); optionally with
    another certificate's key or another chain, to test the refusals."""
    folder = os.path.join(store_dir, name)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    with open(server_cert.fullchain, 'rb') as handle:
        fullchain = handle.read()
    leaf = x509.load_pem_x509_certificates(fullchain)[0].public_bytes(serialization.Encoding.PEM)
    with open(server_cert.chain, 'rb') as handle:
        chain = handle.read()
    if chain_pem is not None:
        chain = chain_pem
    with open((privkey_from or server_cert).privkey, 'rb') as handle:
        key = handle.read()
    files = {'privkey': key, 'cert': leaf, 'chain': chain, 'fullchain': leaf + chain}
    for kind, data in files.items():
        path = os.path.join(folder, kind + '.pem')
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if kind == 'privkey' else 0o644), 'wb') as handle:
            handle.write(data)


def digest(path):
    with open(path, 'rb') as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def hex_serial(number):
    """A serial as cert_info spells it: lowercase hex padded to whole bytes."""
    text = '%x' % number
    return '0' + text if len(text) % 2 else text


class Bench(ServerPair):
    """Both servers, the PKI, the store and the extra vars of inventories/deploy."""

    def __init__(self, workdir):
        super(Bench, self).__init__(workdir)
        self.workdir = workdir
        self.pki = TestPKI(os.path.join(workdir, 'tls'))
        self.other_pki = TestPKI(os.path.join(workdir, 'other-tls'))
        self.store_dir = os.path.join(workdir, 'store')
        os.makedirs(self.store_dir, mode=0o700)
        self.deploy_root = os.path.join(workdir, 'deploy')
        self.docroot = os.path.join(workdir, 'www')
        os.makedirs(self.docroot)
        with open(os.path.join(self.docroot, 'index.html'), 'w') as handle:
            handle.write('certflow deploy test\n')
        os.chmod(self.docroot, 0o755)

    def extra_vars(self, **nginx_changes):
        servers = self.server_settings({kind: os.path.join(self.workdir, 'challenges-' + kind) for kind in ('nginx', 'apache')})
        servers['nginx'].update(nginx_changes)
        return {'certflow_test': dict(servers, store_dir=self.store_dir, deploy_root=self.deploy_root, docroot=self.docroot,
                                      verify_retries=4)}

    def run(self, limit=None, check=False, diff=False, **nginx_changes):
        return run_playbook(os.path.join(PLAYBOOKS, 'deploy_webservers.yml'), self.extra_vars(**nginx_changes), inventory=INVENTORY,
                            limit=limit, timeout=300, check=check, diff=diff)

    def deployed(self, host, kind='cert'):
        return os.path.join(self.deploy_root, host, 'www', kind + '.pem')

    def deployed_digests(self):
        return {(host, kind): digest(self.deployed(host, kind)) for host in HOSTS for kind in KINDS}

    def served(self, kind, version=ssl.TLSVersion.TLSv1_3):
        return handshake(self.ports[kind][0], 'www.test', version, self.pki.ca_path)[1]

    def wait_served(self, kind, serial):
        def check():
            served = self.served(kind)
            assert served == serial, '%s serves %x, expected %x' % (kind, served, serial)
        eventually(check)


@contextlib.contextmanager
def running(bench_class, prefix):
    """A started bench_class (Bench or a subclass) in a fresh work directory; stopped and removed afterwards."""
    workdir = server_pair_workdir(prefix)
    bench = bench_class(workdir)
    try:
        bench.start()
        yield bench
    finally:
        bench.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope='module')
def bench():
    with running(Bench, 'certflow-deploy-') as started:
        yield started


# --------------------------------------------------------------------------- tests (in order: each builds on the last)

def test_first_deployment_is_served_with_safe_modes_and_is_idempotent(bench):
    first = bench.pki.issue('v1', ['www.test'])
    put_in_store(bench.store_dir, 'www', first)
    result = bench.run().assert_ok()
    for kind in ('nginx', 'apache'):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            bench_version, serial = handshake(bench.ports[kind][0], 'www.test', version, bench.pki.ca_path)
            assert serial == first.serial, kind
            assert bench_version == {'TLSv1_2': 'TLSv1.2', 'TLSv1_3': 'TLSv1.3'}[version.name]
    for host in HOSTS:
        for kind in KINDS:
            path = bench.deployed(host, kind)
            info = os.stat(path)
            assert stat.S_IMODE(info.st_mode) == (0o600 if kind == 'privkey' else 0o644), path
            assert (info.st_uid, info.st_gid) == (0, 0), path
            assert digest(path) == digest(os.path.join(bench.store_dir, 'www', kind + '.pem')), path
            assert not os.path.exists(path + '.certflow-previous'), 'a first deployment has nothing to back up'
    # the role does not check a first deployment itself (verify=auto): the nginx and apache roles configure its site
    # afterwards, and site.yml checks it at the end of the play (test_deploy_lifecycle.py)
    assert not [record for record in result.tasks if record['task'] == 'Ask each endpoint for its certificate (TLS with SNI)'
                and record['status'] != 'skipped']

    again = bench.run().assert_ok()
    assert changed_tasks(again) == []
    assert all(recap['changed'] == 0 for recap in again.recap.values()), again.recap


def test_replacement_reloads_checks_the_endpoint_and_removes_its_backup(bench):
    before = {host: serial_of(bench.deployed(host)) for host in HOSTS}
    second = bench.pki.issue('v2', ['www.test'])
    put_in_store(bench.store_dir, 'www', second)
    # Check mode first: the replacement is announced, nothing is copied, nothing reloaded.
    files = bench.deployed_digests()
    checked = bench.run(check=True, diff=True).assert_ok()
    assert any(record['status'] == 'changed' for record in checked.task_items('Copy key, certificate, chain and full chain'))
    assert bench.deployed_digests() == files
    assert all(not os.path.exists(bench.deployed(host) + '.certflow-previous') for host in HOSTS)
    for kind in ('nginx', 'apache'):
        assert bench.served(kind) == before['web-' + kind]
    result = bench.run().assert_ok()
    # Without --diff no file contents are printed.
    assert not any(item['result'].get('diff') for item in result.task_items('Copy key, certificate, chain and full chain'))
    for kind in ('nginx', 'apache'):
        assert bench.served(kind) == second.serial
    for host in HOSTS:
        assert serial_of(bench.deployed(host)) == second.serial
        # the copies are kept only until the new certificate is served: no old private key stays behind
        assert not any(os.path.exists(bench.deployed(host, kind) + '.certflow-previous') for kind in KINDS)
    checks = result.task_items('Ask each endpoint for its certificate (TLS with SNI)')
    assert sorted(item['host'] for item in checks) == sorted(HOSTS)
    assert all(int(item['result']['serial'], 16) == second.serial for item in checks)


def test_key_that_does_not_match_is_refused_before_copying(bench):
    before = bench.deployed_digests()
    third = bench.pki.issue('v3', ['www.test'])
    put_in_store(bench.store_dir, 'www', third, privkey_from=bench.pki.issue('stranger', ['www.test']))
    result = bench.run(limit='web-nginx')
    assert result.rc != 0
    assert 'the private key %s/www/privkey.pem does not belong to the certificate' % bench.store_dir in result.output
    assert 'Nothing was copied' in result.output
    assert bench.deployed_digests() == before
    assert bench.served('nginx') == serial_of(bench.deployed('web-nginx'))


def test_chain_that_does_not_verify_is_refused(bench):
    before = bench.deployed_digests()
    with open(bench.other_pki.ca_path, 'rb') as handle:
        foreign_ca = handle.read()
    put_in_store(bench.store_dir, 'www', bench.pki.issue('v3b', ['www.test']), chain_pem=foreign_ca)
    result = bench.run(limit='web-nginx')
    assert result.rc != 0
    assert 'the chain in %s/www/fullchain.pem does not verify' % bench.store_dir in result.output
    assert bench.deployed_digests() == before


def test_endpoint_that_keeps_the_old_certificate_is_rolled_back(bench):
    previous = bench.deployed_digests()
    old_serial = serial_of(bench.deployed('web-nginx'))
    fourth = bench.pki.issue('v4', ['www.test'])
    put_in_store(bench.store_dir, 'www', fourth)
    # nginx "reloads" without reading anything: it keeps serving the old certificate.
    result = bench.run(limit='web-nginx', reload_command='true')
    assert result.rc != 0
    assert result.recap['web-nginx']['failures'] == 1 and result.recap['web-nginx']['rescued'] == 1
    message = result.task('Report the failed deployment', host='web-nginx')['result']['msg']
    assert 'deploying www to web-nginx failed' in message
    assert 'serves serial %s, not the new certificate of www (serial %s)' % (hex_serial(old_serial), hex_serial(fourth.serial)) in message
    assert 'previous certificate files were restored' in message
    assert bench.deployed_digests() == previous
    assert bench.served('nginx') == old_serial


def test_configuration_the_server_rejects_is_rolled_back_and_the_next_run_catches_up(bench):
    previous = bench.deployed_digests()
    old_serial = serial_of(bench.deployed('web-apache'))
    broken = os.path.join(bench.apache.sites_dir, 'zz-someone-elses-broken.conf')
    with open(broken, 'w') as handle:
        handle.write('CertflowNoSuchDirective on\n')
    try:
        fifth = bench.pki.issue('v5', ['www.test'])
        put_in_store(bench.store_dir, 'www', fifth)
        result = bench.run(limit='web-apache')
        assert result.rc != 0
        message = result.task('Report the failed deployment', host='web-apache')['result']['msg']
        assert 'deploying www to web-apache failed (Test the Apache configuration before the reload' in message
        assert 'CertflowNoSuchDirective' in message
        assert 'previous certificate files were restored' in message
        assert bench.deployed_digests() == previous
        assert bench.apache.process.running()
        assert bench.served('apache') == old_serial
    finally:
        os.unlink(broken)

    # Both hosts are behind the store now; an ordinary run brings them up to date.
    bench.run().assert_ok()
    bench.wait_served('nginx', fifth.serial)
    bench.wait_served('apache', fifth.serial)
    for host in HOSTS:
        assert serial_of(bench.deployed(host)) == fifth.serial


def test_pfx_holds_key_certificate_and_chain(bench, tmp_path):
    dest = tmp_path / 'dest'
    extra = {'store_dir': bench.store_dir, 'dest_dir': str(dest), 'pfx_password': 's3cret-Pfx', 'pfx_encryption': 'legacy'}
    result = run_playbook(os.path.join(PLAYBOOKS, 'deploy_pfx.yml'), extra).assert_ok()
    assert 's3cret-Pfx' not in result.output
    pfx = dest / 'www' / 'www.pfx'
    assert stat.S_IMODE(os.stat(pfx).st_mode) == 0o600
    dump = subprocess.run(['openssl', 'pkcs12', '-in', str(pfx), '-nodes', '-passin', 'pass:s3cret-Pfx'],
                          capture_output=True, text=True, check=True).stdout
    certs = x509.load_pem_x509_certificates(dump.encode())
    assert certs[0].serial_number == serial_of(os.path.join(bench.store_dir, 'www', 'cert.pem'))
    assert len(certs) == 2, 'certificate and chain'
    assert 'PRIVATE KEY' in dump
    info = subprocess.run(['openssl', 'pkcs12', '-in', str(pfx), '-info', '-noout', '-passin', 'pass:s3cret-Pfx'],
                          capture_output=True, text=True, check=True).stderr
    assert '3DES' in info or 'pbeWithSHA1And3-KeyTripleDES-CBC' in info, info

    again = run_playbook(os.path.join(PLAYBOOKS, 'deploy_pfx.yml'), extra).assert_ok()
    assert again.recap['localhost']['changed'] == 0
