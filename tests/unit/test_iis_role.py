# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iis role without Windows: its plan (the certflow.ssl.iis_plan filter, tested on its own in
test_filter_iis_plan.py) through ansible-playbook on localhost; the options it passes checked against the documentation of
the installed ansible.windows and microsoft.iis; and ansible-playbook --syntax-check of a play
that uses the role, with those collections on the collection path (only for these tests: the
collection itself does not depend on them)."""

import glob
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import pytest
import yaml

from ansible_collections.certflow.ssl.plugins.filter.iis_plan import iis_plan
from tests.lib.iis_data import STORE, binding, make_certificate, pem, site, windows_thumbprint
from tests.lib.playbook import run_playbook
from tests.lib.tools import tool

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLE = os.path.join(REPO, 'roles', 'iis')
# ansible.windows and microsoft.iis come with the "ansible" package on PyPI; only what the tests need
# is unpacked from it, into a cache outside the repository.
WINDOWS_COLLECTIONS = os.environ.get('CERTFLOW_WINDOWS_COLLECTIONS',
                                     os.path.join(os.path.expanduser('~'), '.cache', 'certflow', 'windows-collections'))
ANSIBLE_PACKAGE = os.environ.get('CERTFLOW_WINDOWS_ANSIBLE_PACKAGE', 'ansible==12.3.0')
NEEDED_COLLECTIONS = ('ansible/windows', 'microsoft/iis')


@pytest.fixture(scope='module')
def certs():
    return {name: make_certificate(name + '.example.com') for name in ('shop', 'old', 'other')}


# --------------------------------------------------------------------------- the plan through ansible-playbook

def test_plan_through_ansible_matches_the_filter(certs, tmp_path):
    """The role's plan.yml on localhost (no Windows module runs): the lookup of the PEM files in the
    store and the iis_plan filter give the same plan as the filter called from Python."""
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
    assert plan == iis_plan([site()], {'shop': pem(certs['shop'][0])}, current, STORE)
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
    rendered = iis_plan([site()], {'shop': pem(make_certificate('x.example.com')[0])}, [], STORE)['sites'][0]['add'][0]
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
