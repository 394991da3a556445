# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every filter plugin the roles use has a doc file that ansible-doc renders, and every filter a plugin file
offers has one."""

import glob
import importlib
import os

import pytest

from tests.lib.filter_docs import FILTER_DIR, check_filter_doc
ROLE_FILTERS = ['deploy_entries', 'deploy_plan', 'deploy_refusals', 'deploy_unserved', 'iis_plan', 'tls_file_problems',
                'certificate_entry_problems', 'certificate_validate_options', 'certificate_webroot_targets']


def offered_filters():
    names = set()
    for path in glob.glob(os.path.join(FILTER_DIR, '*.py')):
        plugin = importlib.import_module('ansible_collections.certflow.ssl.plugins.filter.' + os.path.basename(path)[:-3])
        names.update(plugin.FilterModule().filters())
    return names


def test_every_filter_has_a_doc_file():
    documented = {os.path.basename(path)[:-4] for path in glob.glob(os.path.join(FILTER_DIR, '*.yml'))}
    assert offered_filters() == documented
    assert set(ROLE_FILTERS) <= documented


@pytest.mark.parametrize('filter_name', ROLE_FILTERS)
def test_doc_file_and_ansible_doc(filter_name):
    result = check_filter_doc(filter_name)
    assert 'WARNING' not in result.stderr, result.stderr
