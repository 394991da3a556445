# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iis role without Windows: what it computes (thumbprints, the microsoft.iis.website bindings,
the superseded certificates) rendered from roles/iis/templates/plan.json.j2 with plain Jinja2 and
through ansible-playbook on localhost; the options it passes checked against the documentation of
the installed ansible.windows and microsoft.iis; and ansible-playbook --syntax-check of a play
that uses the role, with those collections on the collection path (only for these tests: the
collection itself does not depend on them)."""

import datetime
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import jinja2
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.certflow.ssl.plugins.filter.cert_info import cert_info
from tests.lib.playbook import run_playbook
from tests.lib.tools import tool

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = os.path.join(REPO, 'roles', 'iis')
PLAN_TEMPLATE = os.path.join(ROLE, 'templates', 'plan.json.j2')
# ansible.windows and microsoft.iis come with the "ansible" package on PyPI; only what the tests need
# is unpacked from it, into a cache outside the repository.
WINDOWS_COLLECTIONS = os.environ.get('CERTFLOW_WINDOWS_COLLECTIONS',
                                     os.path.join(os.path.expanduser('~'), '.cache', 'certflow', 'windows-collections'))
ANSIBLE_PACKAGE = os.environ.get('CERTFLOW_WINDOWS_ANSIBLE_PACKAGE', 'ansible==12.3.0')
NEEDED_COLLECTIONS = ('ansible/windows', 'microsoft/iis')
STORE = 'WebHosting'


# --------------------------------------------------------------------------- certificates

def make_certificate(common_name):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def windows_thumbprint(cert):
    """What Windows shows as the thumbprint: SHA-1 of the DER certificate, uppercase hex."""
    return hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()  # noqa: S324 - a thumbprint, not security


@pytest.fixture(scope='module')
def certs():
    return {name: make_certificate(name + '.example.com') for name in ('shop', 'old', 'other')}


# --------------------------------------------------------------------------- rendering plan.json.j2

def render_plan(sites, pems, current_sites, store_name=STORE):
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.filters['certflow.ssl.cert_info'] = cert_info
    with open(PLAN_TEMPLATE) as handle:
        template = environment.from_string(handle.read())
    return json.loads(template.render(__iis_sites=sites, __iis_certificate_pems=pems, __iis_current_sites=current_sites,
                                      __iis_store_name=store_name))


def site(name='Shop', certificate='shop', hostnames=('shop.example.com', 'www.shop.example.com'), port=443, ip='*'):
    return {'name': name, 'certificate': certificate, 'hostnames': list(hostnames), 'port': port, 'ip': ip}


def binding(hostname, thumbprint=None, store='My', port=443, ip='*', protocol='https', use_sni=True):
    return {'ip': ip, 'port': port, 'hostname': hostname, 'protocol': protocol, 'use_sni': use_sni, 'use_ccs': 'false',
            'certificate_hash': thumbprint or '', 'certificate_store_name': store if thumbprint else ''}


def test_thumbprint_is_the_sha1_of_the_der_certificate_like_windows_and_openssl(certs, tmp_path):
    cert = certs['shop'][0]
    plan = render_plan([site()], {'shop': pem(cert)}, [])
    assert plan['thumbprints'] == {'shop': windows_thumbprint(cert)}
    path = tmp_path / 'cert.pem'
    path.write_text(pem(cert))
    openssl = subprocess.run(['openssl', 'x509', '-in', str(path), '-noout', '-fingerprint', '-sha1'],
                             capture_output=True, text=True, check=True).stdout
    assert openssl.strip().split('=', 1)[1].replace(':', '').upper() == plan['thumbprints']['shop']


def test_new_site_gets_one_sni_binding_per_host_name(certs):
    cert = certs['shop'][0]
    plan = render_plan([site(port=8443, ip='10.0.0.5')], {'shop': pem(cert)}, [])
    (shop,) = plan['sites']
    assert shop['exists'] is False and shop['rebind'] == [] and shop['unchanged'] == []
    assert shop['add'] == [
        {'ip': '10.0.0.5', 'port': 8443, 'hostname': hostname, 'protocol': 'https', 'use_sni': True,
         'certificate_hash': windows_thumbprint(cert), 'certificate_store_name': STORE}
        for hostname in ('shop.example.com', 'www.shop.example.com')]
    assert plan['superseded'] == []


def test_bindings_that_already_use_the_certificate_change_nothing(certs):
    thumbprint = windows_thumbprint(certs['shop'][0])
    current = [{'name': 'shop', 'bindings': [binding('SHOP.example.com', thumbprint.lower(), store='webhosting'),
                                             binding('www.shop.example.com', thumbprint, store=STORE)]}]
    plan = render_plan([site()], {'shop': pem(certs['shop'][0])}, current)
    (shop,) = plan['sites']
    assert shop['exists'] is True, 'site names and host names compare without case, as IIS does'
    assert (shop['add'], shop['rebind'], len(shop['unchanged'])) == ([], [], 2)
    assert plan['superseded'] == []


def test_renewed_certificate_rebinds_and_supersedes_the_old_one(certs):
    old, new = windows_thumbprint(certs['old'][0]), windows_thumbprint(certs['shop'][0])
    current = [{'name': 'Shop', 'bindings': [binding('shop.example.com', old, store=STORE), binding('www.shop.example.com', old, store=STORE),
                                             binding('shop.example.com', protocol='http', port=80)]}]
    plan = render_plan([site()], {'shop': pem(certs['shop'][0])}, current)
    (shop,) = plan['sites']
    assert shop['add'] == []
    assert [entry['hostname'] for entry in shop['rebind']] == ['shop.example.com', 'www.shop.example.com']
    assert all(entry['certificate_hash'] == new and entry['use_sni'] is True for entry in shop['rebind'])
    assert plan['superseded'] == [old]


def test_binding_without_sni_or_over_http_on_the_https_port_is_rebound(certs):
    new = windows_thumbprint(certs['shop'][0])
    current = [{'name': 'Shop', 'bindings': [binding('shop.example.com', new, store=STORE, use_sni=False),
                                             binding('www.shop.example.com', protocol='http')]}]
    plan = render_plan([site()], {'shop': pem(certs['shop'][0])}, current)
    assert [entry['hostname'] for entry in plan['sites'][0]['rebind']] == ['shop.example.com', 'www.shop.example.com']
    assert plan['superseded'] == [], 'the certificate stays: it is the new one'


def test_old_certificate_still_used_elsewhere_or_in_another_store_is_kept(certs):
    old, other = windows_thumbprint(certs['old'][0]), windows_thumbprint(certs['other'][0])
    current = [
        {'name': 'Shop', 'bindings': [binding('shop.example.com', old, store=STORE), binding('www.shop.example.com', other, store='My')]},
        {'name': 'Legacy', 'bindings': [binding('legacy.example.com', old, store=STORE)]},
    ]
    plan = render_plan([site()], {'shop': pem(certs['shop'][0])}, current)
    assert len(plan['sites'][0]['rebind']) == 2
    # "old" still serves legacy.example.com; "other" lives in My, which this role does not manage.
    assert plan['superseded'] == []


def test_two_sites_share_one_certificate_and_drop_the_same_old_one_once(certs):
    old = windows_thumbprint(certs['old'][0])
    current = [{'name': 'A', 'bindings': [binding('a.example.com', old, store=STORE)]},
               {'name': 'B', 'bindings': [binding('b.example.com', old, store=STORE)]}]
    sites = [site('A', hostnames=['a.example.com']), site('B', hostnames=['b.example.com'])]
    plan = render_plan(sites, {'shop': pem(certs['shop'][0])}, current)
    assert [len(entry['rebind']) for entry in plan['sites']] == [1, 1]
    assert plan['superseded'] == [old]


# --------------------------------------------------------------------------- the same through ansible-playbook

def test_plan_through_ansible_matches_plain_jinja(certs, tmp_path):
    """The role's plan.yml on localhost (no Windows module runs): the lookup of the PEM files in the
    store, the template and from_json give the same plan as above."""
    store = tmp_path / 'store'
    (store / 'shop').mkdir(parents=True)
    (store / 'shop' / 'cert.pem').write_text(pem(certs['shop'][0]))
    old = windows_thumbprint(certs['old'][0])
    current = [{'name': 'Shop', 'bindings': [binding('shop.example.com', old, store=STORE)]}]
    playbook = tmp_path / 'plan.yml'
    playbook.write_text(yaml.safe_dump([{
        'name': 'Compute the IIS plan', 'hosts': 'localhost', 'gather_facts': False,
        'tasks': [
            {'name': 'Plan', 'ansible.builtin.include_role': {'name': 'certflow.ssl.iis', 'tasks_from': 'plan.yml'},
             'vars': {'__iis_sites': [site()], '__iis_store': str(store), '__iis_current_sites': current}},
            {'name': 'Show the plan', 'ansible.builtin.debug': {'var': '__iis_plan'}},
        ],
    }]))
    result = run_playbook(str(playbook)).assert_ok()
    plan = result.task('Show the plan')['result']['__iis_plan']
    assert plan == render_plan([site()], {'shop': pem(certs['shop'][0])}, current)
    assert plan['superseded'] == [old]
    assert plan['sites'][0]['add'][0]['hostname'] == 'www.shop.example.com'


def test_missing_website_without_physical_path_fails_clearly(certs, tmp_path):
    store = tmp_path / 'store'
    (store / 'shop').mkdir(parents=True)
    (store / 'shop' / 'cert.pem').write_text(pem(certs['shop'][0]))
    playbook = tmp_path / 'plan.yml'
    playbook.write_text(yaml.safe_dump([{
        'name': 'Compute the IIS plan', 'hosts': 'localhost', 'gather_facts': False,
        'tasks': [{'name': 'Plan', 'ansible.builtin.include_role': {'name': 'certflow.ssl.iis', 'tasks_from': 'plan.yml'},
                   'vars': {'__iis_sites': [site('Nowhere')], '__iis_store': str(store), '__iis_current_sites': []}}],
    }]))
    result = run_playbook(str(playbook))
    assert result.rc != 0
    assert 'the IIS website(s) Nowhere do not exist on localhost; set physical_path' in result.output


# --------------------------------------------------------------------------- against the real Windows collections

@pytest.fixture(scope='module')
def windows_collections():
    """A collection path holding ansible.windows and microsoft.iis (unpacked from PyPI's ansible once)."""
    root = os.path.join(WINDOWS_COLLECTIONS, 'ansible_collections')
    if not all(os.path.exists(os.path.join(root, name, 'MANIFEST.json')) for name in NEEDED_COLLECTIONS):
        with tempfile.TemporaryDirectory() as download:
            fetched = subprocess.run([sys.executable, '-m', 'pip', 'download', '--no-deps', '--quiet', '-d', download, ANSIBLE_PACKAGE],
                                     capture_output=True, text=True, timeout=600, check=False)
            if fetched.returncode != 0:
                pytest.fail('cannot download %s from PyPI for ansible.windows and microsoft.iis: %s'
                            % (ANSIBLE_PACKAGE, fetched.stderr[-2000:]), pytrace=False)
            (wheel,) = glob.glob(os.path.join(download, 'ansible-*.whl'))
            prefixes = tuple('ansible_collections/%s/' % name for name in NEEDED_COLLECTIONS)
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(WINDOWS_COLLECTIONS, [member for member in archive.namelist() if member.startswith(prefixes)])
    return WINDOWS_COLLECTIONS


def module_options(windows_collections, module):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([os.environ['ANSIBLE_COLLECTIONS_PATH'], windows_collections]))
    done = subprocess.run([tool('ansible-doc'), '--json', module], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)[module]['doc']['options']


def role_tasks():
    """Every task of the role (blocks flattened)."""
    found = []

    def walk(tasks):
        for task in tasks or []:
            for section in ('block', 'rescue', 'always'):
                walk(task.get(section))
            found.append(task)
    for path in sorted(glob.glob(os.path.join(ROLE, 'tasks', '*.yml'))):
        with open(path) as handle:
            walk(yaml.safe_load(handle))
    return found


def test_the_role_uses_only_documented_options_of_the_windows_modules(windows_collections):
    used = {}
    for task in role_tasks():
        for key, value in task.items():
            if key.startswith(('ansible.windows.', 'microsoft.iis.')):
                used.setdefault(key, []).append(value or {})
    assert set(used) >= {'ansible.windows.win_certificate_store', 'ansible.windows.win_certificate_info', 'ansible.windows.win_copy',
                         'ansible.windows.win_file', 'microsoft.iis.website', 'microsoft.iis.website_info'}
    for module, calls in used.items():
        options = module_options(windows_collections, module)
        for call in calls:
            unknown = set(call) - set(options)
            assert not unknown, '%s has no option(s) %s' % (module, ', '.join(sorted(unknown)))
    # The bindings the plan renders are exactly microsoft.iis.website's bindings.add entries.
    add = module_options(windows_collections, 'microsoft.iis.website')['bindings']['suboptions']['add']['suboptions']
    rendered = render_plan([site()], {'shop': pem(make_certificate('x.example.com')[0])}, [])['sites'][0]['add'][0]
    assert set(rendered) <= set(add), set(rendered) - set(add)
    store_options = module_options(windows_collections, 'ansible.windows.win_certificate_store')
    assert {'store_name', 'store_location', 'key_storage', 'key_exportable', 'file_type', 'password', 'thumbprint'} <= set(store_options)
    assert 'machine' in store_options['key_storage']['choices']


def test_syntax_check_with_the_windows_collections(windows_collections, tmp_path):
    playbook = tmp_path / 'iis.yml'
    playbook.write_text(yaml.safe_dump([{
        'name': 'Bind the shop certificate on IIS', 'hosts': 'windows', 'gather_facts': False,
        'roles': [{'role': 'certflow.ssl.iis', 'vars': {'certflow_iis_sites': [site()]}}],
    }]))
    # The syntax check has no Windows hosts in its inventory (ansible-test makes a missing group an error).
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join([os.environ['ANSIBLE_COLLECTIONS_PATH'], windows_collections]),
               ANSIBLE_HOST_PATTERN_MISMATCH='ignore')
    done = subprocess.run([tool('ansible-playbook'), '-i', 'localhost,', '--syntax-check', str(playbook)], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # Every task file is loaded as well (the role includes them dynamically).
    for path in sorted(glob.glob(os.path.join(ROLE, 'tasks', '*.yml'))):
        tasks_playbook = tmp_path / ('tasks-%s.yml' % os.path.basename(path))
        load = {'name': 'Load', 'hosts': 'windows', 'gather_facts': False,
                'tasks': [{'name': 'Tasks', 'ansible.builtin.import_tasks': path}]}
        tasks_playbook.write_text(yaml.safe_dump([load]))
        done = subprocess.run([tool('ansible-playbook'), '-i', 'localhost,', '--syntax-check', str(tasks_playbook)], capture_output=True,
                              text=True, env=env, timeout=120, check=False)
        assert done.returncode == 0, '%s: %s%s' % (path, done.stdout, done.stderr)
