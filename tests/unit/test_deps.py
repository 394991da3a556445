# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A missing third-party library is one clear message naming the package to install."""

import importlib.util

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.certflow.ssl.plugins.filter.idn import to_punycode
from ansible_collections.certflow.ssl.plugins.module_utils import _deps
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError


def without(monkeypatch, *hidden):
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name in hidden else real(name, *args, **kwargs)

    monkeypatch.setattr(_deps.importlib.util, 'find_spec', find_spec)


def test_nothing_missing_here():
    assert _deps.missing_packages() == []
    _deps.require_packages('cert_info')


def test_missing_packages_are_named_by_their_pip_names(monkeypatch):
    without(monkeypatch, 'dns', 'idna')
    assert _deps.missing_packages() == ['dnspython', 'idna']
    with pytest.raises(CertflowError) as raised:
        _deps.require_packages('to_punycode')
    assert raised.value.msg == ('to_punycode needs the Python packages dnspython, idna where it runs; '
                                'install them (pip install dnspython idna)')


def test_a_filter_turns_it_into_a_filter_error(monkeypatch):
    without(monkeypatch, 'idna')
    with pytest.raises(AnsibleFilterError, match='pip install idna'):
        to_punycode('bücher.example')
