# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry of CA providers: the ``provider`` option value -> class, and the
option that carries its settings. Adding a provider is one new file plus one
line here."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import AcmeProvider
from ansible_collections.certflow.ssl.plugins.module_utils._ca.aliyun import AliyunProvider
from ansible_collections.certflow.ssl.plugins.module_utils._ca.local import LocalCAProvider

CA_PROVIDERS = {
    'acme': (AcmeProvider, 'acme'),
    'aliyun': (AliyunProvider, 'aliyun'),
    'local': (LocalCAProvider, 'local_ca'),
}
