# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry of CA providers: the ``provider`` option value -> class, and the
option that carries its settings. Adding a provider is one new file plus one
entry in each of the two places below.

A provider's file is imported when it is first used, so a run pays only for
the providers (and their libraries) it uses: an ACME run never loads the
Alibaba Cloud client, an Alibaba Cloud run never loads dnspython for nothing."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# provider name -> the option that carries its settings
CA_PROVIDERS = {
    'acme': 'acme',
    'aliyun': 'aliyun',
    'local': 'local_ca',
}


def ca_provider_class(name):
    """The class of CA provider ``name`` (one of CA_PROVIDERS)."""
    if name == 'acme':
        from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.provider import AcmeProvider
        return AcmeProvider
    if name == 'aliyun':
        from ansible_collections.certflow.ssl.plugins.module_utils._ca.aliyun import AliyunProvider
        return AliyunProvider
    if name == 'local':
        from ansible_collections.certflow.ssl.plugins.module_utils._ca.local.provider import LocalCAProvider
        return LocalCAProvider
    raise KeyError(name)
