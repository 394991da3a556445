# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The programs the tests run, found where `make test` puts them, never only on someone's PATH.

The suite's own tools (ansible-playbook, ansible-doc, ansible-galaxy, ansible-lint, ruff) come
from the virtualenv of the Python that runs the tests; the system's (nginx, openssl) from the
Debian packages `make test` installs, /usr/sbin included. A missing tool fails the test that
needs it: a skip would let a machine without it pass the suite without running those tests.
"""

import os
import shutil
import sys

import pytest

VENV_BIN = os.path.dirname(sys.executable)
SYSTEM_PATH = os.pathsep.join(['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'])


def tool(name):
    """Absolute path of a console script of the suite (requirements-dev.txt): next to this Python
    first, else on PATH (ansible-test runs the units with a Python of its own)."""
    beside = os.path.join(VENV_BIN, name)
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found is None:
        pytest.fail('%s is not installed next to %s nor on PATH; run `make test` (requirements-dev.txt)'
                    % (name, sys.executable), pytrace=False)
    return found


def system_tool(name):
    """Absolute path of a program from the Debian packages `make test` installs (sbin included)."""
    found = shutil.which(name, path=os.pathsep.join([os.environ.get('PATH', ''), SYSTEM_PATH]))
    if found is None:
        pytest.fail('%s is not installed; run `make test` (it installs the Debian packages the tests use)' % name, pytrace=False)
    return found


def tool_env(base=None, **extra):
    """An environment in which a tool that starts other tools by name (ansible-lint runs
    ansible-playbook and ansible-galaxy) finds the virtualenv's first."""
    env = dict(os.environ if base is None else base, **extra)
    env['PATH'] = os.pathsep.join([VENV_BIN, env.get('PATH') or SYSTEM_PATH])
    return env
