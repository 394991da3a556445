#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module cert_validate: prove control of the names, wait for the CA, install the certificate."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cert_validate
short_description: Prove control of the names of an order, wait for the CA and install the issued certificate
version_added: 0.1.0
description:
  - Takes an order made by M(certflow.ssl.cert_request) from the store and completes it.
  - O(method=dns) creates the TXT records through O(dns_provider), O(method=dns_manual) expects you to have added them,
    O(method=http) checks (and with O(webroot) writes) the challenge files, O(method=email) waits for the CA (OV/EV).
  - O(method=dns_account) (ACME dns-account-01) creates the TXT record at this ACME account's own name
    C(_<label>._acme-challenge.<name>), so several accounts or tools can validate one name at once; removed afterwards
    like O(method=dns).
  - O(method=dns_persist) (ACME dns-persist-01) creates the long-lived record C(_validation-persist.<name>) bound to the
    ACME account, only when no record that serves is there yet, and never removes it (a warning says when it was
    created; RV(certificates[].persistent_records) lists it). Later orders then make no DNS change. With
    O(method=dns_manual) for such an order the record to create is returned by M(certflow.ssl.cert_request) and named
    exactly in the failure when it is missing or wrong.
  - Before telling the CA, checks that each TXT record is visible on every authoritative name server of its zone
    (following an C(_acme-challenge) CNAME) or that each file is served at its URL (unless O(precheck=false)).
  - Creates TXT records only at C(_acme-challenge.<name>), C(_<label>._acme-challenge.<name>),
    C(_validation-persist.<name>) or C(_dnsauth.<name>) and files only under
    C(/.well-known/acme-challenge/) or C(/.well-known/pki-validation/); a file already there is never overwritten
    or removed. What the CA asks for elsewhere is refused, naming it.
  - Waits for the CA's review with back-off, then writes key, certificate, chain and full chain into the store
    atomically, keeping the previous ones in C(archive/). Nothing is replaced unless the new certificate matches
    the key and its chain verifies. Records and files it created are removed afterwards.
  - With O(wait=false) it returns V(processing) at once; run it again later (another job, even another machine
    sharing the store) to resume the same order. That is how multi-day OV/EV reviews are scheduled.
author: certflow.ssl contributors (@certflow-ssl)
extends_documentation_fragment:
  - certflow.ssl.attributes
  - certflow.ssl.provider
  - certflow.ssl.dns
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The certificate and order in the store before and after, per certificate changed (serial, names, dates,
        public key fingerprint, order status; never key material).
      - In check mode the order line says what would be done.
options:
  name:
    description: Name of the certificate in the store.
    type: str
  order_id:
    description: The CA's order id (as returned by M(certflow.ssl.cert_request)); the certificate in the store with that order is validated.
    type: str
  domains:
    description: The certificate's domains; its name is derived from the first one when O(name) is not given.
    type: list
    elements: str
  method:
    description:
      - How to prove control. Defaults to the order's O(certflow.ssl.cert_request#module:validation).
    type: str
    choices: [dns, dns_account, dns_persist, dns_manual, http, email, none]
  webroot:
    description:
      - Local directory served as the document root of every name; for O(method=http) the challenge files are
        written below it and removed afterwards.
    type: path
  http_check_port:
    description: Port used to check that challenge files are served (default the URL's port, 80).
    type: int
  precheck:
    description:
      - Check from this host that each TXT record or challenge file can be seen before telling the CA.
      - Set V(false) when this host cannot reach the public web address (hairpin NAT, a CDN in front) or the
        authoritative name servers (outgoing DNS blocked); the CA is then told at once and a warning says so.
    type: bool
    default: true
  wait:
    description: Wait for the CA to issue. With false, return after telling the CA.
    type: bool
    default: true
  cleanup:
    description:
      - Remove the TXT records and files this task created.
      - The run that finishes an order also removes what earlier runs created for it (noted in the store), whatever
        its own O(method), given the DNS settings and O(webroot) they need; what it cannot remove is named in a warning.
    type: bool
    default: true
  certificates:
    description:
      - Batch mode, a list of entries each with any per-certificate option (O(name), O(method), O(dns_provider),
        O(rfc2136), O(webroot), ...); top-level options are their defaults.
    type: list
    elements: dict
  concurrency:
    description:
      - Certificates handled at the same time in batch mode.
      - A batch of 100 or more is split between up to one process per CPU (at most four), this number shared between them.
    type: int
    default: 4
seealso:
  - module: certflow.ssl.cert_request
'''

EXAMPLES = r'''
- name: Validate through RFC 2136 dynamic DNS (BIND), wait for the CA and install the certificates
  certflow.ssl.cert_validate:
    provider: acme
    acme:
      directory: https://acme-v02.api.letsencrypt.org/directory
    method: dns
    dns_provider: rfc2136
    rfc2136:
      server: ns1.example.com
      key_name: acme-update
      key_secret: "{{ vault_tsig_secret }}"
    certificates:
      - name: shop
      - name: wildcard
  register: dns_validated

- name: Validate with files written into the local web root of www.example.com and api.example.com
  certflow.ssl.cert_validate:
    provider: acme
    acme:
      directory: https://acme-v02.api.letsencrypt.org/directory
    method: http
    webroot: /var/www/html
    # This host cannot reach the sites through their public address (a CDN in front): let the CA look.
    precheck: false
    certificates:
      - name: www
      - name: api
  register: http_validated

- name: Validate the TXT records you added by hand, once every authoritative name server shows them
  certflow.ssl.cert_validate:
    provider: acme
    acme:
      directory: https://acme-v02.api.letsencrypt.org/directory
    name: mail
    method: dns_manual
  register: manual_validated

- name: Show what was installed
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.status }}, expires {{ item.not_after }}, key {{ item.paths.privkey }}"
  loop: "{{ dns_validated.certificates + http_validated.certificates + manual_validated.certificates }}"
  loop_control:
    label: "{{ item.name }}"
'''

RETURN = r'''
certificates:
  description: One entry per certificate, as returned by M(certflow.ssl.cert_request), with the new status.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name in the store.
      type: str
    domains:
      description: The names in ASCII (Punycode) form.
      type: list
      elements: str
    domains_unicode:
      description: The names in Unicode form.
      type: list
      elements: str
    ip_addresses:
      description: IP addresses in the certificate.
      type: list
      elements: str
    status:
      description: V(processing), V(issued) or V(failed).
      type: str
      sample: issued
    order_id:
      description: The CA's order id.
      type: str
    challenges:
      description: Challenges still open (empty once issued).
      type: list
      elements: dict
    persistent_records:
      description:
        - The dns-persist-01 records this run relied on (O(method=dns_persist) or V(dns_manual) for such an order).
          They stay in place on purpose; delete one yourself to withdraw the permission it gives the ACME account.
      type: list
      elements: dict
      returned: when the order asked for a dns-persist-01 record
      contains:
        name:
          description: Where the record is (after any CNAME).
          type: str
        type:
          description: Always V(TXT).
          type: str
        value:
          description: The record's value, C(<issuer domain name>; accounturi=<account URL>) (and C(; policy=wildcard)).
          type: str
        created:
          description: Whether this run created it (false when it was in place already or is yours to create).
          type: bool
    not_after:
      description: Expiry of the installed certificate (ISO 8601).
      type: str
    days_remaining:
      description: Days until it expires.
      type: int
    serial:
      description: Serial number of the installed certificate (hex).
      type: str
    renewal_time:
      description:
        - When the installed certificate is due for renewal (ISO 8601 UTC); see M(certflow.ssl.cert_info).
        - By the rule M(certflow.ssl.cert_request) was given for the order (O(certflow.ssl.cert_request#module:renew_before_days),
          O(certflow.ssl.cert_request#module:renew_before_ratio)) when the CA gives no advice.
      type: str
    renewal_source:
      description:
        - What set RV(certificates[].renewal_time) - V(ari) (the CA's suggested window),
          V(ratio) (O(certflow.ssl.cert_request#module:renew_before_ratio) of the lifetime)
          or V(days) (O(certflow.ssl.cert_request#module:renew_before_days)).
      type: str
    renewal_window:
      description: The CA's suggested renewal window C({start, end}), asked right after issuance, or null.
      type: dict
    explanation_url:
      description: Where the CA explains its window, or null.
      type: str
    renewal:
      description:
        - When the certificate is due and what decided it, as one object C({source, window_start, window_end, renew_at,
          explanation_url}); see RV(certflow.ssl.cert_info#module:renewal).
      type: dict
    paths:
      description: Paths of privkey, cert, chain and fullchain in the store.
      type: dict
    error:
      description: Why this entry failed (batch mode).
      type: str
      returned: on failure of the entry
    warnings:
      description:
        - What the user must know about this certificate (a fallback taken, a proof that could not be removed).
        - Each is also a module warning, prefixed with the certificate's name.
      type: list
      elements: str
      returned: when there is something to say
    messages:
      description: What happened on the way (retries, orders resumed, accounts created), for the record.
      type: list
      elements: str
      returned: when a provider said something
'''

from ansible_collections.certflow.ssl.plugins.module_utils._module import (
    CertflowModule, ca_settings_options, dns_argument_spec, dns_settings_options, provider_argument_spec)
from ansible_collections.certflow.ssl.plugins.module_utils._ops.batch import validate_all

CERTIFICATE_OPTIONS = dict(
    name=dict(type='str'),
    order_id=dict(type='str'),
    domains=dict(type='list', elements='str'),
    method=dict(type='str', choices=['dns', 'dns_account', 'dns_persist', 'dns_manual', 'http', 'email', 'none']),
    webroot=dict(type='path'),
    http_check_port=dict(type='int'),
)


def main():
    shared = dict(provider_argument_spec(), **dns_argument_spec())
    argument_spec = dict(shared, **CERTIFICATE_OPTIONS)
    per_entry = dict(CERTIFICATE_OPTIONS)
    for option in ca_settings_options() + ['dns_provider'] + dns_settings_options() + ['nameservers']:
        per_entry[option] = shared[option]
    argument_spec.update(
        precheck=dict(type='bool', default=True),
        wait=dict(type='bool', default=True),
        cleanup=dict(type='bool', default=True),
        concurrency=dict(type='int', default=4),
    )
    module = CertflowModule(
        argument_spec,
        entry_options=per_entry,
        supports_check_mode=True,
        mutually_exclusive=[('name', 'certificates'), ('order_id', 'certificates')],
        required_one_of=[('name', 'domains', 'order_id', 'certificates')],
    )
    module.run(lambda m: validate_all(m.params, m.check_mode, diff=m.diff))


if __name__ == '__main__':
    main()
