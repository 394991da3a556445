#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module cert_info: describe certificates in files, the store or on live endpoints."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cert_info
short_description: Describe a certificate (file, text, store or live endpoint) or every certificate in the store
version_added: 0.1.0
description:
  - Reports subject, issuer, serial, fingerprints, validity, days remaining, whether and when it is due for renewal
    (for a certificate of the store from the CA's suggested window, ACME Renewal Information, when there is one),
    names (ASCII and Unicode), key type, whether the chain verifies, whether the key matches and, when asked,
    the revocation status by OCSP or CRL.
  - Give one of O(path), O(content), O(name) or O(host); with none of them every certificate of O(store_dir) is listed.
author: certflow.ssl contributors (@certflow-ssl)
extends_documentation_fragment:
  - certflow.ssl.attributes
  - certflow.ssl.provider
attributes:
  check_mode:
    support: full
    details: In check mode the CA is not asked for its renewal window; the answer kept in the store is used, else the lifetime rule.
  diff_mode:
    support: none
options:
  path:
    description: PEM file holding the certificate, optionally followed by its chain.
    type: path
  content:
    description: PEM text holding the certificate, optionally followed by its chain.
    type: str
  name:
    description: Name of a certificate in the store.
    type: str
  host:
    description: Connect to this TLS endpoint and describe the certificate it presents.
    type: str
  port:
    description: Port of O(host).
    type: int
    default: 443
  server_name:
    description: SNI name sent to O(host); defaults to O(host).
    type: str
  private_key_src:
    description: Private key file to compare with the certificate (O(path) and O(content) mode).
    type: path
  renew_before_days:
    description:
      - A certificate expiring within this many days is reported with RV(needs_renewal=true).
      - When unset, the CA's suggested window decides for a certificate of the store (ACME Renewal Information,
        asked with the O(acme) settings when they reach the CA that issued it, else as last kept), else O(renew_before_ratio).
    type: int
  renew_before_ratio:
    description: Without the CA's advice, report RV(needs_renewal=true) once less than this share of the lifetime is left (default one third).
    type: float
  check_revocation:
    description: Look up revocation by V(ocsp) or V(crl), or not at all (V(none)).
    type: str
    choices: [none, ocsp, crl]
    default: none
  ca_bundle:
    description: Trusted roots (PEM) used to verify the chain and the endpoint, and to reach OCSP/CRL servers over HTTPS.
    type: path
  detail:
    description:
      - V(full) describes each certificate completely and checks its chain and key.
      - V(renewal) reports only what decides its renewal (serial, names, validity, RV(needs_renewal) and the
        RV(renewal) object, without the flat C(renewal_*) copies of it), from the certificate alone - no chain, key or
        revocation check, and for the store no C(paths). It is the quick check of a large store; the CA's
        renewal window (ACME Renewal Information) is asked for as with V(full).
      - V(renewal) cannot be combined with O(check_revocation) or O(private_key_src).
    type: str
    choices: [full, renewal]
    default: full
'''

EXAMPLES = r'''
- name: Describe a certificate in the store
  certflow.ssl.cert_info:
    name: shop
  register: shop

- name: Show its names and when it expires
  ansible.builtin.debug:
    msg: "{{ shop.domains_unicode | join(', ') }}: expires {{ shop.not_after }} ({{ shop.days_remaining }} days), renewal due: {{ shop.needs_renewal }}"

- name: Check what the load balancer serves for www.example.com (TLS handshake with SNI)
  certflow.ssl.cert_info:
    host: 203.0.113.10
    port: 443
    server_name: www.example.com
  register: live

- name: Fail unless it is trusted and not due for renewal
  ansible.builtin.assert:
    that:
      - live.chain_valid
      - not live.needs_renewal
    fail_msg: "serial {{ live.serial }} from {{ live.issuer }}: trusted {{ live.chain_valid }}, expires {{ live.not_after }}"

- name: Every certificate in the store, with a revocation check by CRL
  certflow.ssl.cert_info:
    store_dir: /etc/certflow
    check_revocation: crl
  register: all_certs

- name: List the certificates due for renewal
  ansible.builtin.debug:
    msg: "{{ all_certs.certificates | selectattr('needs_renewal') | map(attribute='name') | list }}"
- name: Which certificates of a large store are due, by the CA's renewal window (nothing else checked)
  certflow.ssl.cert_info:
    store_dir: /etc/certflow
    detail: renewal
    provider: acme
    acme:
      directory: https://acme-v02.api.letsencrypt.org/directory
  register: renewal_check
- name: Name them, with when each is due
  ansible.builtin.debug:
    msg: "{{ renewal_check.certificates | selectattr('needs_renewal') | map(attribute='name') | list }}"
'''

RETURN = r'''
subject:
  description: Subject (RFC 4514).
  returned: when one certificate is described, with O(detail=full)
  type: str
issuer:
  description: Issuer (RFC 4514).
  returned: when one certificate is described, with O(detail=full)
  type: str
serial:
  description: Serial number, lowercase hex.
  returned: when one certificate is described
  type: str
fingerprints:
  description: SHA-256 and SHA-1 fingerprints.
  returned: when one certificate is described, with O(detail=full)
  type: dict
not_before:
  description: Start of validity (ISO 8601 UTC).
  returned: when one certificate is described
  type: str
not_after:
  description: End of validity (ISO 8601 UTC).
  returned: when one certificate is described
  type: str
days_remaining:
  description: Whole days until it expires (negative once expired).
  returned: when one certificate is described
  type: int
needs_renewal:
  description: Whether it is due for renewal, that is RV(renewal_time) has come.
  returned: when one certificate is described
  type: bool
renewal_time:
  description:
    - When it is due (ISO 8601 UTC) - a random moment of the CA's RV(renewal_window), kept in the store so that it
      stays the same between runs; else when O(renew_before_ratio) of the lifetime is left, or O(renew_before_days) before expiry.
  returned: when one certificate is described, with O(detail=full) (O(detail=renewal) gives them in RV(renewal) only)
  type: str
renewal_source:
  description:
    - What set RV(renewal_time) - V(ari) (the CA's suggested window), V(ratio) (O(renew_before_ratio) of the lifetime)
      or V(days) (O(renew_before_days)).
  returned: when one certificate is described, with O(detail=full) (O(detail=renewal) gives them in RV(renewal) only)
  type: str
renewal_window:
  description: The CA's suggested renewal window (ACME Renewal Information), or null without one.
  returned: when one certificate is described, with O(detail=full) (O(detail=renewal) gives them in RV(renewal) only)
  type: dict
  contains:
    start:
      description: Start of the window (ISO 8601 UTC).
      type: str
    end:
      description: End of the window (ISO 8601 UTC); in the past when the CA asks to renew at once (a revoked certificate).
      type: str
explanation_url:
  description: Where the CA explains its window (for example after an incident), or null.
  returned: when one certificate is described, with O(detail=full) (O(detail=renewal) gives them in RV(renewal) only)
  type: str
renewal:
  description:
    - When the certificate is due and what decided it, as one object.
    - The same facts as the flat C(renewal_time), C(renewal_source), C(renewal_window) and C(explanation_url).
  returned: when one certificate is described
  type: dict
  contains:
    source:
      description: V(ari) (the CA's suggested window), V(ratio) (a share of the lifetime left) or V(days) (days before expiry).
      type: str
    window_start:
      description: Start of the CA's suggested window (ISO 8601 UTC), or null without one.
      type: str
    window_end:
      description: End of the CA's suggested window (ISO 8601 UTC), or null without one.
      type: str
    renew_at:
      description: When it is due (ISO 8601 UTC); inside the window, a moment kept so that every run agrees.
      type: str
    explanation_url:
      description: Where the CA explains its window, or null.
      type: str
domains:
  description: DNS names (ASCII).
  returned: when one certificate is described
  type: list
  elements: str
domains_unicode:
  description: DNS names in Unicode form.
  returned: when one certificate is described, with O(detail=full)
  type: list
  elements: str
ip_addresses:
  description: IP addresses.
  returned: when one certificate is described
  type: list
  elements: str
key_type:
  description: Key type, for example V(ec256) or V(rsa2048).
  returned: when one certificate is described, with O(detail=full)
  type: str
chain_valid:
  description: Whether the chain verifies (signatures, names and validity; and O(ca_bundle) roots when given).
  returned: when one certificate is described, with O(detail=full)
  type: bool
chain_problem:
  description: Why the chain does not verify (null when it does).
  returned: when one certificate is described, with O(detail=full)
  type: str
pem:
  description: The certificate the endpoint served, PEM.
  returned: when O(host) is given, with O(detail=full)
  type: str
key_matches:
  description: Whether the private key matches, or null when no key was available.
  returned: when one certificate is described, with O(detail=full)
  type: bool
revocation_status:
  description: V(good), V(revoked), V(unknown), or null when not checked.
  returned: when one certificate is described, with O(detail=full)
  type: str
protocol:
  description: TLS version negotiated with the endpoint.
  returned: with O(host)
  type: str
certificates:
  description:
    - Every certificate of the store, each with the keys above plus C(name), C(status), C(provider)
      and (with O(detail=full)) C(paths).
  returned: when only O(store_dir) is given
  type: list
  elements: dict
unreadable:
  description:
    - Store entries left out of RV(certificates) because they could not be read (a link, a damaged C(order.json)), with why.
    - Each is also a module warning; the other certificates are still reported.
  returned: when only O(store_dir) is given
  type: list
  elements: dict
  contains:
    name:
      description: The certificate's name in the store.
      type: str
    error:
      description: What is wrong, naming the file.
      type: str
'''

from ansible_collections.certflow.ssl.plugins.module_utils._module import CertflowModule, provider_argument_spec
from ansible_collections.certflow.ssl.plugins.module_utils._ops.info import info


def main():
    argument_spec = dict(
        provider_argument_spec(),
        path=dict(type='path'),
        content=dict(type='str'),
        name=dict(type='str'),
        host=dict(type='str'),
        port=dict(type='int', default=443),
        server_name=dict(type='str'),
        private_key_src=dict(type='path', no_log=False),
        renew_before_days=dict(type='int'),
        renew_before_ratio=dict(type='float'),
        check_revocation=dict(type='str', choices=['none', 'ocsp', 'crl'], default='none'),
        ca_bundle=dict(type='path'),
        detail=dict(type='str', choices=['full', 'renewal'], default='full'),
    )
    module = CertflowModule(
        argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[('path', 'content', 'name', 'host')],
    )
    module.run(lambda m: info(m.params, check_mode=m.check_mode))


if __name__ == '__main__':
    main()
