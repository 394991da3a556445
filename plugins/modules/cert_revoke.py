#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module cert_revoke: revoke a certificate or cancel a pending order."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cert_revoke
short_description: Revoke an issued certificate or cancel a pending order
version_added: 0.1.0
description:
  - Revocation is irreversible; browsers reject the certificate afterwards. It is only done with O(confirm=true)
    and never in check mode. A certificate that is already revoked gives C(changed=false).
  - O(state=cancelled) cancels an order that is not issued yet (at Alibaba Cloud this returns the quota).
author: certflow.ssl contributors (@certflow-ssl)
extends_documentation_fragment:
  - certflow.ssl.attributes
  - certflow.ssl.provider
attributes:
  check_mode:
    support: full
  diff_mode:
    support: partial
    details: The order status in the store before and after, when the certificate is named by O(name).
options:
  name:
    description: Name of the certificate in the store.
    type: str
  path:
    description: PEM file of the certificate to revoke.
    type: path
  content:
    description: PEM text of the certificate to revoke.
    type: str
  order_id:
    description: Order to cancel, by the CA's id, when it is not in the store.
    type: str
  reason:
    description: Revocation reason (RFC 5280).
    type: str
    choices: [unspecified, key_compromise, affiliation_changed, superseded, cessation_of_operation]
    default: unspecified
  state:
    description: V(revoked) revokes an issued certificate, V(cancelled) cancels a pending order.
    type: str
    choices: [revoked, cancelled]
    default: revoked
  confirm:
    description: Must be true to revoke; a guard against revoking by accident.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Revoke a certificate whose key leaked (irreversible, hence confirm)
  certflow.ssl.cert_revoke:
    provider: acme
    acme:
      directory: https://acme-v02.api.letsencrypt.org/directory
    name: shop
    reason: key_compromise
    confirm: true
  register: revoked

- name: Cancel an order that is still waiting for validation
  certflow.ssl.cert_revoke:
    provider: acme
    acme:
      directory: https://acme-v02.api.letsencrypt.org/directory
    name: staging
    state: cancelled
  register: cancelled
'''

RETURN = r'''
name:
  description: Name of the certificate in the store.
  returned: always
  type: str
serial:
  description: Serial number of the revoked certificate (hex).
  returned: when revoking
  type: str
status:
  description: V(revoked) or V(cancelled) (V(issued) in check mode, where nothing is revoked).
  returned: always
  type: str
order_id:
  description: The cancelled order.
  returned: when cancelling
  type: str
'''

from ansible_collections.certflow.ssl.plugins.module_utils._module import CertflowModule, provider_argument_spec
from ansible_collections.certflow.ssl.plugins.module_utils._ops.revoke import revoke


def main():
    argument_spec = dict(
        provider_argument_spec(),
        name=dict(type='str'),
        path=dict(type='path'),
        content=dict(type='str'),
        order_id=dict(type='str'),
        reason=dict(type='str', default='unspecified',
                    choices=['unspecified', 'key_compromise', 'affiliation_changed', 'superseded', 'cessation_of_operation']),
        state=dict(type='str', choices=['revoked', 'cancelled'], default='revoked'),
        confirm=dict(type='bool', default=False),
    )
    module = CertflowModule(
        argument_spec,
        supports_check_mode=True,
        required_one_of=[('name', 'path', 'content', 'order_id')],
        mutually_exclusive=[('name', 'path', 'content', 'order_id')],
    )
    module.run(lambda m: revoke(m.params, m.check_mode, diff=m.diff))


if __name__ == '__main__':
    main()
