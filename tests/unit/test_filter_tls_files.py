# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tls_file_problems filter: which certificate, key and chain files the nginx and apache roles refuse, from
the results of their stat loop."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.certflow.ssl.plugins.filter.tls_files import tls_file_problems

SITE = {'name': 'www', 'certificate': '/tls/fullchain.pem', 'private_key': '/tls/privkey.pem', 'chain': ''}
USABLE = {'exists': True, 'isreg': True, 'size': 1200}


def result(key, **stat):
    return {'item': [SITE, key], 'stat': dict(USABLE, **stat)}


def test_usable_files_and_skipped_items_are_no_problem():
    skipped = {'item': [SITE, 'chain'], 'skipped': True}
    assert tls_file_problems([result('certificate'), result('private_key'), skipped]) == []


@pytest.mark.parametrize('stat', [{'exists': False}, {'isreg': False}, {'size': 0}])
def test_missing_irregular_or_empty_files_are_named(stat):
    if not stat.get('exists', True):
        stat = {'exists': False}
    assert tls_file_problems([result('certificate'), result('private_key', **stat)]) == [
        'site www: private_key file /tls/privkey.pem does not exist, is not a regular file or is empty']


def test_check_mode_forgives_only_files_that_do_not_exist_yet():
    missing = {'item': [SITE, 'certificate'], 'stat': {'exists': False}}
    assert tls_file_problems([missing], True) == []
    assert tls_file_problems([missing], False) == [
        'site www: certificate file /tls/fullchain.pem does not exist, is not a regular file or is empty']
    assert tls_file_problems([result('private_key', size=0)], True) == [
        'site www: private_key file /tls/privkey.pem does not exist, is not a regular file or is empty']


def test_wrong_input_type_fails_the_template():
    with pytest.raises(AnsibleFilterError):
        tls_file_problems({'results': []})
