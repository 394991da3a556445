# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the cloud deploy target options (one section per target in _deploy/)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  target:
    description:
      - The cloud the certificates go to.
      - V(aliyun) is Alibaba Cloud Certificate Management Service (uploads and deployment jobs) and CDN, configured with
        O(aliyun).
    type: str
    choices: [aliyun]
    default: aliyun
  aliyun:
    description:
      - Settings of the Alibaba Cloud target. The same dict as the CA provider's O(certflow.ssl.cert_request#module:aliyun)
        (so one C(module_defaults) entry serves both), plus O(aliyun.cdn_endpoint) and O(aliyun.contact_ids).
    type: dict
    suboptions:
      access_key_id:
        description: AccessKey ID. Falls back to E(ALIBABA_CLOUD_ACCESS_KEY_ID).
        type: str
      access_key_secret:
        description: AccessKey secret. Falls back to E(ALIBABA_CLOUD_ACCESS_KEY_SECRET). Never printed.
        type: str
      security_token:
        description:
          - STS security token for temporary credentials. Falls back to E(ALIBABA_CLOUD_SECURITY_TOKEN).
          - Never sent to an C(http://) endpoint.
        type: str
      endpoint:
        description:
          - Certificate Management Service endpoint, a host name or a full URL with scheme and port.
          - Default U(https://cas.aliyuncs.com) for region V(cn-hangzhou), U(https://cas.ap-southeast-1.aliyuncs.com) for
            V(ap-southeast-1).
        type: str
      region:
        description:
          - Where the account's certificates live. V(cn-hangzhou) (the default) for a China-site (aliyun.com) account,
            V(ap-southeast-1) for an international-site (alibabacloud.com) account.
          - Picks the CAS endpoint when O(aliyun.endpoint) is unset and is the C(CertRegion) of CDN bindings. A CDN
            binding in the wrong region fails naming this option. Any other value is refused.
        type: str
      product:
        description: Not used by cert_deploy (the CA provider's default product code); accepted so one dict serves every module.
        type: str
      cdn_endpoint:
        description: CDN API endpoint (host name or URL) for O(resources[].method=direct). Default U(https://cdn.aliyuncs.com).
        type: str
      contact_ids:
        description:
          - Certificate Management Service contacts a deployment job notifies (C(ListContact) ids).
          - Default the first contact of the account; the task fails when the account has none.
        type: list
        elements: int
      ca_bundle:
        description: CA certificates (PEM file) used to verify the endpoints.
        type: path
      validate_certs:
        description: Verify the endpoints' TLS certificates. When false (and no O(aliyun.ca_bundle)), every run warns.
        type: bool
        default: true
'''
