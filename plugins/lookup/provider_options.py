# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup certflow.ssl.provider_options: the modules' provider settings options, from the registries."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: provider_options
author: certflow.ssl contributors (@certflow-ssl)
version_added: 1.0.0
short_description: The module options that carry the settings of the CA or DNS providers
description:
  - Returns the names of the module options that carry the settings of every CA provider (O(_terms=ca), the
    options of the C(provider) choices) or DNS provider (O(_terms=dns), the options of the C(dns_provider) choices),
    as the collection's provider registries list them, or of every cloud deploy target (O(_terms=cloud), the options
    of M(certflow.ssl.cert_deploy)'s C(target) choices).
  - The C(certflow.ssl.certificate) and C(certflow.ssl.cloud) roles use it to pass each provider's settings on without
    naming a provider.
options:
  _terms:
    description: V(ca), V(dns) or V(cloud), one or more.
    type: list
    elements: str
    required: true
'''

EXAMPLES = r'''
- name: Which variables configure the CA providers
  ansible.builtin.debug:
    msg: "{{ query('certflow.ssl.provider_options', 'ca') | map('regex_replace', '^', 'certflow_') | list }}"
'''

RETURN = r'''
_raw:
  description: The option names, registry order, in the order the terms ask for them.
  type: list
  elements: str
'''

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.certflow.ssl.plugins.module_utils._ca import CA_PROVIDERS
from ansible_collections.certflow.ssl.plugins.module_utils._deploy import DEPLOY_TARGETS
from ansible_collections.certflow.ssl.plugins.module_utils._dns import DNS_PROVIDERS

_REGISTRIES = {'ca': CA_PROVIDERS, 'dns': DNS_PROVIDERS, 'cloud': DEPLOY_TARGETS}


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        options = []
        for term in terms:
            if term not in _REGISTRIES:
                raise AnsibleLookupError('provider_options: %r is not one of %s' % (term, ', '.join(sorted(_REGISTRIES))))
            options.extend(_REGISTRIES[term].settings_options())
        return options
