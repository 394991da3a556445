# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry of CA providers, chosen by the ``provider`` option. Each provider
class says its name, its settings option and their argument spec (see
_providers.Provider); adding a provider is one new file plus one line below."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._providers import ProviderRegistry


def _load():
    # One line per provider, imported on first use (see ProviderRegistry).
    from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.provider import AcmeProvider
    from ansible_collections.certflow.ssl.plugins.module_utils._ca.aliyun import AliyunProvider
    from ansible_collections.certflow.ssl.plugins.module_utils._ca.local.provider import LocalCAProvider
    return (AcmeProvider, AliyunProvider, LocalCAProvider)


CA_PROVIDERS = ProviderRegistry('provider', 'acme', _load)


def ca_provider_class(name):
    """The class of CA provider ``name``; CertflowError for an unknown one."""
    return CA_PROVIDERS.get(name)
