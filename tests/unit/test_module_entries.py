# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CertflowModule's batch entries: checked, unset options dropped (they come back in the
task result's invocation for every entry), and merged over the top level as before."""

import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.certflow.ssl.plugins.module_utils._module import CertflowModule, provider_argument_spec
from ansible_collections.certflow.ssl.plugins.module_utils._ops.certificate_request import entries

ENTRY_OPTIONS = dict(
    name=dict(type='str'),
    domains=dict(type='list', elements='str'),
    key_type=dict(type='str', choices=['ec256', 'rsa2048']),
    contact=dict(type='dict', options=dict(name=dict(type='str'), email=dict(type='str'))),
)


def _module(monkeypatch, args):
    monkeypatch.setattr(basic, '_ANSIBLE_ARGS', to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args})))
    monkeypatch.setattr(basic, '_ANSIBLE_PROFILE', 'legacy', raising=False)
    spec = dict(provider_argument_spec(), **ENTRY_OPTIONS)
    return CertflowModule(spec, entry_options=dict(ENTRY_OPTIONS, acme=spec['acme']))


def test_entries_keep_only_what_was_set(monkeypatch):
    module = _module(monkeypatch, {
        'key_type': 'rsa2048',
        'acme': {'directory': 'https://ca.example/dir'},
        'certificates': [{'name': 'a', 'domains': ['a.example'], 'contact': {'email': 'x@example.com'},
                          'acme': {'account_email': 'ops@example.com'}}],
    })
    entry = module.params['certificates'][0]
    assert entry == {'name': 'a', 'domains': ['a.example'], 'contact': {'email': 'x@example.com'},
                     'acme': {'account_email': 'ops@example.com'}}
    merged = entries(module.params)[0]
    assert merged['key_type'] == 'rsa2048'                      # inherited from the top level
    assert merged['acme']['directory'] == 'https://ca.example/dir'
    assert merged['acme']['account_email'] == 'ops@example.com'


def test_a_wrong_entry_still_fails_naming_it(monkeypatch):
    with pytest.raises(SystemExit):
        _module(monkeypatch, {'certificates': [{'name': 'a', 'key_type': 'dsa'}]})
