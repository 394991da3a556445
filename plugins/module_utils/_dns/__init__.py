# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry of DNS providers, chosen by the ``dns_provider`` option (see
_ca/__init__.py: one line per provider, the classes describe themselves)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._providers import ProviderRegistry


def _load():
    # One line per provider, imported on first use (see ProviderRegistry).
    from ansible_collections.certflow.ssl.plugins.module_utils._dns.rfc2136 import Rfc2136Provider
    from ansible_collections.certflow.ssl.plugins.module_utils._dns.alidns import AlidnsProvider
    from ansible_collections.certflow.ssl.plugins.module_utils._dns.dns_lexicon import LexiconProvider
    from ansible_collections.certflow.ssl.plugins.module_utils._dns.manual import ManualProvider
    return (Rfc2136Provider, AlidnsProvider, LexiconProvider, ManualProvider)


DNS_PROVIDERS = ProviderRegistry('dns_provider', 'rfc2136', _load)


def dns_provider_class(name):
    """The class of DNS provider ``name``; CertflowError for an unknown one."""
    return DNS_PROVIDERS.get(name)
