# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry of DNS providers: the ``dns_provider`` option value -> class, and
the option that carries its settings."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._dns.alidns import AlidnsProvider
from ansible_collections.certflow.ssl.plugins.module_utils._dns.manual import ManualProvider
from ansible_collections.certflow.ssl.plugins.module_utils._dns.rfc2136 import Rfc2136Provider

DNS_PROVIDERS = {
    'rfc2136': (Rfc2136Provider, 'rfc2136'),
    'alidns': (AlidnsProvider, 'alidns'),
    'manual': (ManualProvider, None),
}
