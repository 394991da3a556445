# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry of cloud deploy targets, chosen by cert_deploy's ``target`` option
(see _ca/__init__.py: one line per target, the classes describe themselves).
AWS Certificate Manager or Azure Key Vault would each be one more file and line."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._providers import ProviderRegistry


def _load():
    # One line per target, imported on first use (see ProviderRegistry).
    from ansible_collections.certflow.ssl.plugins.module_utils._deploy.aliyun_cas import AliyunCasTarget
    return (AliyunCasTarget,)


DEPLOY_TARGETS = ProviderRegistry('target', 'aliyun', _load)
