# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Issue 12, item 16: code nothing calls and hooks only tests used stay out of the
product (the tests keep their own helpers: test_acme_provider.connection_count)."""

import os

import pytest

PLUGINS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'plugins')
GONE = ['def _keep_nonce(', 'def refresh_crl(', 'def serial_for_order(', "'terms_agreed'", 'METHOD_FOR_VALIDATION',
        'def connection_count(', 'def chain_pem(', 'PER_CERTIFICATE_OPTIONS', 'must be a dict, got']


def _sources():
    for folder, _dirs, files in os.walk(PLUGINS):
        for name in files:
            if name.endswith('.py'):
                path = os.path.join(folder, name)
                with open(path, encoding='utf-8') as handle:
                    yield os.path.relpath(path, PLUGINS), handle.read()


@pytest.mark.parametrize('needle', GONE)
def test_dead_code_and_test_hooks_are_gone(needle):
    assert [path for path, text in _sources() if needle in text] == []
