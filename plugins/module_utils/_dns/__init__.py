# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry of DNS providers: the ``dns_provider`` option value -> class, and
the option that carries its settings."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

# provider name -> the option that carries its settings (None: it has none).
# Each provider's file is imported on first use (see _ca/__init__.py).
DNS_PROVIDERS = {
    'rfc2136': 'rfc2136',
    'alidns': 'alidns',
    'manual': None,
}


def dns_provider_class(name):
    """The class of DNS provider ``name`` (one of DNS_PROVIDERS)."""
    if name == 'rfc2136':
        from ansible_collections.certflow.ssl.plugins.module_utils._dns.rfc2136 import Rfc2136Provider
        return Rfc2136Provider
    if name == 'alidns':
        from ansible_collections.certflow.ssl.plugins.module_utils._dns.alidns import AlidnsProvider
        return AlidnsProvider
    if name == 'manual':
        from ansible_collections.certflow.ssl.plugins.module_utils._dns.manual import ManualProvider
        return ManualProvider
    raise KeyError(name)
