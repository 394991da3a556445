# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Patterns that check values which become names, paths or config lines are
full matches (issue 12, item 5): a trailing newline is not accepted."""

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto

from ansible_collections.certflow.ssl.plugins.module_utils._ca.local import engine as _local_ca_store
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import orders as acme_orders
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._proofs import propagation


@pytest.mark.parametrize('domain', ['a\n.example.com', 'example.com\n', 'example\n.com', '\nexample.com', 'exa\tmple.com'])
def test_domain_with_a_control_character_is_refused(domain):
    with pytest.raises(CertflowError, match='control character') as caught:
        _crypto.normalize_domain(domain)
    assert repr(domain) in caught.value.msg


def test_domain_surrounding_spaces_are_still_stripped():
    assert _crypto.normalize_domain('  www.example.com. ') == ('www.example.com', 'www.example.com')


@pytest.mark.parametrize('token', ['abc\n', 'abc\ndef', '\nabc'])
def test_acme_token_with_a_newline_is_unusable(token):
    assert not acme_orders._TOKEN_RE.match(token)


def test_acme_token_pattern_still_takes_real_tokens():
    assert acme_orders._TOKEN_RE.match('LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0')


def test_local_ca_order_id_with_a_newline_is_not_an_order(tmp_path):
    assert not _local_ca_store._ORDER_ID.match('0123456789abcdef01234567\n')


@pytest.mark.parametrize('entry', [['ns1\n.example.com'], [('127.0.0.1', '53\n')], ['[::1]:53\nx']])
def test_nameserver_with_a_newline_is_refused(entry):
    with pytest.raises(CertflowError, match='nameserver'):
        propagation.parse_nameservers(entry)
