# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's example inventory ("Roles, playbooks and inventory") is a real inventory:
the blocks in the README are the files of tests/integration/inventories/readme, Ansible reads
them into the groups the playbooks use, every value passes the argument spec of the role that
reads it, and site.yml, renew.yml, revoke.yml and report.yml pass --syntax-check with it."""

import json
import os
import subprocess

import pytest

from tests.lib.playbook import run_playbook
from tests.lib.readme import readme_block
from tests.lib.tools import tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INVENTORY = os.path.join(ROOT, 'tests', 'integration', 'inventories', 'readme')
FILES = ['hosts.yml', 'group_vars/all.yml', 'host_vars/web1.example.com.yml', 'host_vars/web2.example.com.yml']
# Which role reads the variables of which hosts (site.yml).
ROLES_OF = {'web1.example.com': ['certificate', 'deploy', 'nginx'], 'web2.example.com': ['certificate', 'deploy', 'apache']}


@pytest.mark.parametrize('name', FILES)
def test_readme_inventory_is_the_tested_inventory(name):
    with open(os.path.join(INVENTORY, name), encoding='utf-8') as handle:
        assert readme_block('inventory: ' + name) == handle.read()


def test_the_inventory_has_the_groups_of_the_playbooks():
    done = subprocess.run([tool('ansible-inventory'), '-i', INVENTORY, '--list'], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    assert listed['certflow_webservers']['children'] == ['certflow_nginx', 'certflow_apache']
    assert listed['certflow_nginx']['hosts'] == ['web1.example.com']
    assert listed['certflow_apache']['hosts'] == ['web2.example.com']
    hostvars = listed['_meta']['hostvars']
    for host in ROLES_OF:
        assert [c['name'] for c in hostvars[host]['certflow_certificates']] == ['www', 'shop']
    assert [c['name'] for c in hostvars['web1.example.com']['certflow_deploy_certificates']] == ['www', 'shop']
    assert [s['name'] for s in hostvars['web2.example.com']['certflow_apache_sites']] == ['shop']


VALIDATION_PLAY = """---
- name: Check the inventory against the role argument specs
  hosts: certflow_webservers
  gather_facts: false
  tasks:
    - name: Validate the role variables
      ansible.builtin.validate_argument_spec:
        argument_spec: "{{ spec }}"
        provided_arguments: "{{ dict(spec | list | select('in', vars) | zip(spec | list | select('in', vars) | map('extract', vars))) }}"
      vars:
        spec: "{{ (lookup('ansible.builtin.file', roles_dir ~ '/' ~ item ~ '/meta/argument_specs.yml') | from_yaml).argument_specs.main.options }}"
      loop: "{{ roles_of[inventory_hostname] }}"
"""


def test_every_value_passes_the_argument_spec_of_its_role(tmp_path):
    # The roles check their variables when they run; the same check, on every host of the
    # inventory, without connecting to any (validate_argument_spec runs on the control node).
    playbook = tmp_path / 'validate.yml'
    playbook.write_text(VALIDATION_PLAY)
    result = run_playbook(str(playbook), {'roles_dir': os.path.join(ROOT, 'roles'), 'roles_of': ROLES_OF,
                                          'vault_tsig_secret': 'not-a-real-secret'}, inventory=INVENTORY, timeout=300)
    result.assert_ok()
    checked = sorted((record['host'], record['item']) for record in result.items
                     if record['task'] == 'Validate the role variables' and record['status'] == 'ok')
    assert checked == sorted((host, role) for host, roles in ROLES_OF.items() for role in roles)


@pytest.mark.parametrize('name', ['site.yml', 'renew.yml', 'revoke.yml', 'report.yml'])
def test_the_playbooks_pass_syntax_check_with_it(name):
    done = subprocess.run([tool('ansible-playbook'), '-i', INVENTORY, '--syntax-check', os.path.join(ROOT, 'playbooks', name)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
