# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-doc renders every module, and the documented options are the ones the module accepts."""

import json
import os
import subprocess

import pytest
import yaml

from tests.lib.tools import tool

MODULES = ['cert_quota', 'cert_request', 'cert_validate', 'cert_info', 'cert_deploy', 'cert_revoke']


@pytest.mark.parametrize('module', MODULES)
def test_ansible_doc_renders_with_examples_and_return(module):
    done = subprocess.run([tool('ansible-doc'), '--json', 'certflow.ssl.' + module], capture_output=True, text=True,
                          env=os.environ, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)['certflow.ssl.' + module]
    assert doc['doc']['short_description']
    assert doc['doc']['options']
    assert yaml.safe_load(doc['examples'])
    assert doc['return']
    assert 'WARNING' not in done.stderr, done.stderr


def test_runtime_groups_all_modules():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, 'meta', 'runtime.yml')) as handle:
        runtime = yaml.safe_load(handle)
    assert sorted(runtime['action_groups']['certflow']) == sorted(MODULES)
