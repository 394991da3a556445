# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole collection is clean under ansible-lint's production profile, and
the Python code under ruff (ruff.toml)."""

import os
import subprocess

from tests.lib.tools import tool, tool_env

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_ansible_lint_production_profile():
    # The whole collection, with .ansible-lint (production profile, offline, modules of optional collections mocked).
    # (ansible-lint runs ansible-playbook and ansible-galaxy by name: tool_env puts the virtualenv's first on PATH)
    done = subprocess.run([tool('ansible-lint'), '--nocolor'],
                          cwd=ROOT, env=tool_env(), capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Profile 'production' was required, and it passed" in done.stdout + done.stderr


def test_ruff():
    done = subprocess.run([tool('ruff'), 'check', 'plugins', 'tests', 'bench'], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
