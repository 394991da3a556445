#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module cert_quota: report the certificate quota bought from a CA."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cert_quota
short_description: Report how many certificates a CA account may still issue
version_added: 0.1.0
description:
  - The purchase step of the workflow. Alibaba Cloud reports the certificate packages bought; the local CA
    reports O(local_ca.quota); ACME CAs have no quota and report RV(unlimited=true).
  - Fails early, before any order is made, when fewer than O(min_remaining) are left.
author: certflow.ssl contributors (@certflow-ssl)
extends_documentation_fragment:
  - certflow.ssl.attributes
  - certflow.ssl.provider
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  product:
    description: Product (certificate type) whose quota to report, for example an Alibaba Cloud product code.
    type: str
  min_remaining:
    description: Fail when fewer certificates than this are left.
    type: int
    default: 0
'''

EXAMPLES = r'''
- name: Make sure the internal (local) CA, capped at 500 certificates, can still issue ten
  certflow.ssl.cert_quota:
    provider: local
    local_ca:
      quota: 500
    min_remaining: 10
  register: local_quota

- name: Make sure the Alibaba Cloud resource plan still covers two certificates
  certflow.ssl.cert_quota:
    provider: aliyun
    aliyun:
      endpoint: cas.aliyuncs.com
      access_key_id: "{{ vault_aliyun_access_key_id }}"
      access_key_secret: "{{ vault_aliyun_access_key_secret }}"
    product: digicert-free-1-free
    min_remaining: 2
  register: plan

- name: Show what is left of the resource plan
  ansible.builtin.debug:
    msg: "{{ plan.remaining }} of {{ plan.total }} certificates left ({{ plan.issued }} issued)"

- name: An ACME CA such as Let's Encrypt sets no quota (unlimited is true, remaining is null)
  certflow.ssl.cert_quota:
    provider: acme
    acme:
      directory: https://acme-v02.api.letsencrypt.org/directory
  register: acme_quota
'''

RETURN = r'''
total:
  description: Certificates bought (null when unlimited).
  returned: always
  type: int
used:
  description: Certificates used (null when unknown).
  returned: always
  type: int
issued:
  description: Certificates issued (null when unknown).
  returned: always
  type: int
remaining:
  description: Certificates that can still be issued (null when unlimited).
  returned: always
  type: int
unlimited:
  description: Whether the CA sets no quota (ACME).
  returned: always
  type: bool
product:
  description: The product (certificate type) the quota is for.
  returned: when O(provider=aliyun)
  type: str
'''

from ansible_collections.certflow.ssl.plugins.module_utils._module import CertflowModule, provider_argument_spec
from ansible_collections.certflow.ssl.plugins.module_utils._ops.quota import check_quota


def main():
    argument_spec = dict(
        provider_argument_spec(),
        product=dict(type='str'),
        min_remaining=dict(type='int', default=0),
    )
    module = CertflowModule(argument_spec, supports_check_mode=True)
    module.run(lambda m: check_quota(m.params))


if __name__ == '__main__':
    main()
