#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module cert_request: create or renew certificate orders."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cert_request
short_description: Create a certificate order at a CA, or renew one that is due
version_added: 0.1.0
description:
  - Makes a private key and CSR (or takes yours), creates the order at the CA and returns what the CA
    needs to see to validate each name (a TXT record or a file).
  - Idempotent; a certificate that is current and not due for renewal is left alone,
    and an order that is still pending is resumed rather than created twice.
  - Renews a certificate when it is due (the CA's suggested window, else O(renew_before_ratio) of its lifetime,
    or O(renew_before_days) when set); the current files are only replaced once the
    new certificate is issued (see M(certflow.ssl.cert_validate)).
  - Unicode (internationalized) domain names are converted to Punycode (UTS 46) and returned both ways.
author: certflow.ssl contributors (@certflow-ssl)
extends_documentation_fragment:
  - certflow.ssl.attributes
  - certflow.ssl.provider
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
    description: Name of the certificate in the store. Defaults to the first domain (V(wildcard.example.com) for V(*.example.com)).
    type: str
  domains:
    description:
      - DNS names for the certificate, Unicode or Punycode; V(*.example.com) for a wildcard.
      - An IPv4 or IPv6 address among them is taken as one of O(ip_addresses).
    type: list
    elements: str
  ip_addresses:
    description:
      - IP addresses for the certificate (needs O(validation=http); ACME IP identifiers, RFC 8738).
      - They go into the subjectAltName only, never into the subject's common name. A certificate with only an
        IPv6 address and no O(name) is stored under the address with V(-) for V(:) (V(::1) as V(0--1)).
    type: list
    elements: str
  key_type:
    description: Type of the private key to make.
    type: str
    choices: [ec256, ec384, rsa2048, rsa3072, rsa4096]
    default: ec256
  reuse_key:
    description: Keep the current private key on renewal instead of making a new one (by default every renewal gets a fresh key).
    type: bool
    default: false
  profile:
    description:
      - Certificate profile of the CA (ACME profiles, for example V(classic), V(tlsserver) or V(shortlived) at Let's Encrypt).
      - Checked against the profiles the ACME directory lists (C(meta.profiles)) before any order is made; the error names
        the offered ones. Sent as C(profile) in newOrder and kept with the certificate in the store.
      - Unset, no profile is sent (the CA's default) and a renewal keeps the profile the certificate was ordered with.
        A certificate whose profile differs from the one set here is replaced by a new one, like a changed list of names.
      - Only for the V(acme) provider; the other providers refuse it.
    type: str
  csr:
    description: Path of your own CSR (PEM). Its names are used when O(domains) is not given and must equal them when it is.
    type: path
  csr_content:
    description: Your own CSR as PEM text.
    type: str
  private_key_src:
    description: Path of your own private key (PEM) to use instead of making one; must match O(csr) when both are given.
    type: path
  private_key_content:
    description: Your own private key as PEM text.
    type: str
  validation:
    description:
      - How the CA checks that you control the names.
      - V(dns) a TXT record, V(http) a file on the web server, V(email) mail to the domain's contacts (OV/EV),
        V(none) no check (local CA, internal names only).
      - ACME only, V(dns_account) (dns-account-01) a TXT record at the account's own name
        C(_<label>._acme-challenge.<name>), so that several accounts or tools can validate one name at once;
        V(dns_persist) (dns-persist-01) one long-lived TXT record C(_validation-persist.<name>) bound to the account,
        set once and then reused with no DNS change per order (C(policy=wildcard) in it when a wildcard is asked for).
    type: str
    choices: [dns, dns_account, dns_persist, http, email, none]
    default: dns
  product:
    description: Product code or certificate type at the CA, for example an Alibaba Cloud package product.
    type: str
  contact:
    description: Applicant contact sent to CAs that need one (Alibaba Cloud, OV/EV).
    type: dict
    suboptions:
      name:
        description: Name.
        type: str
      email:
        description: E-mail address.
        type: str
      phone:
        description: Phone number.
        type: str
  company:
    description: Organization for OV/EV certificates.
    type: dict
    suboptions:
      name:
        description: Registered company name.
        type: str
      department:
        description: Department.
        type: str
      country:
        description: Two-letter country code.
        type: str
      state:
        description: State or province.
        type: str
      city:
        description: City.
        type: str
      address:
        description: Street address.
        type: str
  quick_issue:
    description: Submit the request (or the renewal) to the CA right away (true), or only create the certificate order (false).
    type: bool
    default: true
  renew_before_days:
    description:
      - Renew a certificate when it expires within this many days.
      - When unset, the CA's suggested window decides (ACME Renewal Information, see O(acme.ari)), else
        O(renew_before_ratio).
    type: int
  renew_before_ratio:
    description:
      - Without the CA's advice (and without O(renew_before_days)), renew when less than this share of the
        certificate's lifetime is left, so 6-day and 90-day certificates both renew in time.
      - Between 0 and 1; when unset one third (about 2 days of a 6-day certificate, 30 of a 90-day one).
    type: float
  force:
    description: Start a new order even if the current certificate is valid or an order is pending.
    type: bool
    default: false
  certificates:
    description:
      - Batch mode, a list of certificates each with any of the per-certificate options above
        (O(name), O(domains), O(validation), O(provider), O(acme), ...); top-level options are their defaults.
      - One failing entry does not stop the others; the task fails at the end naming the failed ones.
    type: list
    elements: dict
  concurrency:
    description:
      - Certificates handled at the same time in batch mode.
      - A batch of 100 or more is split between up to one process per CPU (at most four), this number shared between them.
    type: int
    default: 4
notes:
  - Runs on the control node or any host with network access to the CA; no files are written in check mode.
seealso:
  - module: certflow.ssl.cert_validate
  - module: certflow.ssl.cert_info
'''

EXAMPLES = r'''
- name: Order a certificate for two names, one of them Unicode (sent to the CA as xn--bcher-kva.example.com)
  certflow.ssl.cert_request:
    provider: acme
    acme:
      directory: https://acme-v02.api.letsencrypt.org/directory
      account_email: hostmaster@example.com
    name: shop
    domains:
      - shop.example.com
      - bücher.example.com
    validation: dns
  register: shop

- name: Order several certificates at once, proven with files on the web server, the wildcard with DNS
  certflow.ssl.cert_request:
    provider: acme
    acme:
      directory: https://acme-v02.api.letsencrypt.org/directory
    validation: http
    certificates:
      - name: www
        domains: [www.example.com]
      - name: api
        domains: [api.example.com]
      - name: wildcard
        domains: ["*.example.com", example.com]
        validation: dns
  register: batch

- name: Order with your own CSR and private key, made by another tool
  certflow.ssl.cert_request:
    provider: acme
    acme:
      directory: https://acme-v02.api.letsencrypt.org/directory
    name: mail
    csr_content: "{{ lookup('ansible.builtin.file', 'files/mail.example.com.csr') }}"
    private_key_content: "{{ vault_mail_private_key }}"
    validation: dns
  register: mail

- name: Show the TXT records to add at your DNS provider (then run cert_validate with method dns_manual)
  ansible.builtin.debug:
    msg: "{{ item.record_name }}. TXT {{ item.record_value }}"
  loop: "{{ mail.certificates[0].challenges }}"
  loop_control:
    label: "{{ item.domain }}"

- name: Order an RSA certificate for a name and an IP address, renewed 20 days before it expires
  certflow.ssl.cert_request:
    provider: acme
    acme:
      directory: https://acme-v02.api.letsencrypt.org/directory
    name: staging
    domains: [staging.example.com]
    ip_addresses: [203.0.113.10]
    key_type: rsa2048
    validation: http
    renew_before_days: 20
  register: staging
'''

RETURN = r'''
certificates:
  description: One entry per certificate (also in single mode).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name in the store.
      type: str
      sample: shop
    domains:
      description: The names in ASCII (Punycode) form.
      type: list
      elements: str
      sample: [shop.example.com, xn--bcher-kva.example.com]
    domains_unicode:
      description: The same names in Unicode form.
      type: list
      elements: str
      sample: [shop.example.com, bücher.example.com]
    ip_addresses:
      description: IP addresses in the certificate.
      type: list
      elements: str
    status:
      description: V(created), V(pending_validation), V(processing), V(issued) or V(failed).
      type: str
      sample: pending_validation
    action:
      description: What the task did, V(none), V(create), V(renew), V(resumed), V(submit), V(fetched) or V(recreate) (an open order
        not yet validated replaced by one for the validation asked for now).
      type: str
    order_id:
      description: The CA's order id (ACME order URL).
      type: str
    profile:
      description: The certificate profile asked for (or kept from the stored certificate).
      type: str
      returned: when a profile is set
    challenges:
      description: What to put in place for each name while the order waits for validation.
      type: list
      elements: dict
      contains:
        domain:
          description: The name being validated (ASCII).
          type: str
        domain_unicode:
          description: The name in Unicode form.
          type: str
        type:
          description: Challenge type, for example V(dns-01) or V(http-01).
          type: str
        record_name:
          description: Name of the TXT record to add.
          type: str
        record_type:
          description: V(TXT).
          type: str
        record_value:
          description: Value of the TXT record.
          type: str
        file_path:
          description: URL path of the file to serve.
          type: str
        file_content:
          description: Content of that file.
          type: str
        url:
          description: Full URL where the CA will look for the file.
          type: str
        status:
          description: Challenge status at the CA.
          type: str
    not_after:
      description: Expiry of the current certificate (ISO 8601), when there is one.
      type: str
    days_remaining:
      description: Days until the current certificate expires.
      type: int
    serial:
      description: Serial number of the current certificate (hex).
      type: str
    renewal_time:
      description: When the current certificate is due for renewal (ISO 8601 UTC), when there is one.
      type: str
    renewal_source:
      description:
        - What set RV(certificates[].renewal_time) - V(ari) (the CA's suggested window), V(ratio)
          (O(renew_before_ratio) of the lifetime) or V(days) (O(renew_before_days)).
      type: str
    renewal_window:
      description: The CA's suggested renewal window C({start, end}) (ISO 8601 UTC), or null without one.
      type: dict
    explanation_url:
      description: Where the CA explains its suggested window (for example after an incident), or null.
      type: str
    renewal:
      description:
        - When the certificate is due and what decided it, as one object C({source, window_start, window_end, renew_at,
          explanation_url}); see RV(certflow.ssl.cert_info#module:renewal).
      type: dict
    paths:
      description: Where the files are (or will be) in the store.
      type: dict
      contains:
        privkey:
          description: Private key (mode 0600).
          type: str
        cert:
          description: Certificate.
          type: str
        chain:
          description: Intermediate certificates.
          type: str
        fullchain:
          description: Certificate followed by the intermediates.
          type: str
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
    CertflowModule, KEY_TYPES, ca_settings_options, provider_argument_spec)
from ansible_collections.certflow.ssl.plugins.module_utils._ops.batch import request_all

CERTIFICATE_OPTIONS = dict(
    name=dict(type='str'),
    domains=dict(type='list', elements='str'),
    ip_addresses=dict(type='list', elements='str'),
    key_type=dict(type='str', choices=KEY_TYPES, default='ec256'),
    reuse_key=dict(type='bool', default=False),
    profile=dict(type='str'),
    csr=dict(type='path'),
    csr_content=dict(type='str'),
    private_key_src=dict(type='path', no_log=False),
    private_key_content=dict(type='str', no_log=True),
    validation=dict(type='str', choices=['dns', 'dns_account', 'dns_persist', 'http', 'email', 'none'], default='dns'),
    product=dict(type='str'),
    contact=dict(type='dict', options=dict(name=dict(type='str'), email=dict(type='str'), phone=dict(type='str'))),
    company=dict(type='dict', options=dict(name=dict(type='str'), department=dict(type='str'), country=dict(type='str'),
                                           state=dict(type='str'), city=dict(type='str'), address=dict(type='str'))),
    quick_issue=dict(type='bool', default=True),
    renew_before_days=dict(type='int'),
    renew_before_ratio=dict(type='float'),
    force=dict(type='bool', default=False),
)


def main():
    shared = provider_argument_spec()
    argument_spec = dict(shared, **CERTIFICATE_OPTIONS)
    per_entry = dict(CERTIFICATE_OPTIONS, provider=shared['provider'])
    for option in ca_settings_options():
        per_entry[option] = shared[option]
    argument_spec.update(concurrency=dict(type='int', default=4))
    module = CertflowModule(
        argument_spec,
        entry_options=per_entry,
        supports_check_mode=True,
        mutually_exclusive=[('domains', 'certificates'), ('csr', 'csr_content'), ('private_key_src', 'private_key_content')],
        required_one_of=[('domains', 'ip_addresses', 'csr', 'csr_content', 'certificates')],
    )
    module.run(lambda m: request_all(m.params, m.check_mode, diff=m.diff))


if __name__ == '__main__':
    main()
