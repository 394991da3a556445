# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The check every filter plugin's doc file passes: its sections, its name, an example that uses the filter
and that is YAML, and ansible-doc rendering it without an error."""

import os
import subprocess

import yaml

from tests.lib.tools import tool

FILTER_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'plugins', 'filter')


def check_filter_doc(filter_name):
    with open(os.path.join(FILTER_DIR, filter_name + '.yml')) as handle:
        doc = yaml.safe_load(handle)
    assert set(doc) == {'DOCUMENTATION', 'EXAMPLES', 'RETURN'}
    assert doc['DOCUMENTATION']['name'] == filter_name
    assert all(isinstance(line, str) for line in doc['DOCUMENTATION']['description'])
    assert 'certflow.ssl.%s' % filter_name in doc['EXAMPLES']
    yaml.safe_load(doc['EXAMPLES'])
    result = subprocess.run([tool('ansible-doc'), '-t', 'filter', 'certflow.ssl.' + filter_name], capture_output=True, text=True,
                            timeout=120, env=dict(os.environ, ANSIBLE_NOCOLOR='1'), check=False)
    assert result.returncode == 0 and 'ERROR' not in result.stderr, result.stderr
    return result
