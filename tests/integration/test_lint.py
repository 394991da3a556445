# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole collection is clean under ansible-lint's production profile, and
the Python code under ruff (ruff.toml)."""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tool(name):
    path = shutil.which(name)
    if not path:
        pytest.fail('%s is not installed; run `make test` (requirements-dev.txt)' % name, pytrace=False)
    return path


def test_ansible_lint_production_profile():
    # The whole collection, with .ansible-lint (production profile, offline, modules of optional collections mocked).
    done = subprocess.run([_tool('ansible-lint'), '--nocolor'],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Profile 'production' was required, and it passed" in done.stdout + done.stderr


def test_ruff():
    done = subprocess.run([_tool('ruff'), 'check', 'plugins', 'tests', 'bench'], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
