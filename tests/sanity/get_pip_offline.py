# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stands in for the get-pip.py that ansible-test downloads from a host CI
cannot reach: it installs pip with the interpreter's own ensurepip, then the
pip version ansible-test asked for from the package index pip is set up for."""

import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
environment = dict(os.environ)
# ensurepip points PIP_CONFIG_FILE at /dev/null; the machine's pip configuration
# (index, CA bundle) must apply to the real install.
environment.pop('PIP_CONFIG_FILE', None)
arguments = [argument for argument in sys.argv[1:] if argument not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + arguments, env=environment)
