# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turns module options (single mode or one ``certificates:`` entry merged
over the top-level defaults) into the one CertificateRequest that the
request path and the CA providers use."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import DNS_VALIDATIONS
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, read_file
from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._store import check_name, name_for_domain, name_for_ip

# A profile name goes into newOrder and order.json as it is: printable ASCII without spaces.
_PROFILE_RE = re.compile(r'[\x21-\x7e]{1,128}')


def entries(params):
    """The list of per-certificate option dicts: each ``certificates`` entry
    over the top-level options, or the top-level options alone."""
    batch = params.get('certificates')
    if not batch:
        return [dict(params)]
    # Each entry was checked against the module's entry options already (CertflowModule).
    result = []
    for entry in batch:
        merged = dict(params)
        merged.pop('certificates', None)
        for key, value in entry.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                nested = dict(merged[key])
                nested.update((k, v) for k, v in value.items() if v is not None)
                merged[key] = nested
            elif value is not None:
                merged[key] = value
        result.append(merged)
    names = [e.get('name') for e in result if e.get('name')]
    duplicates = sorted(set(n for n in names if names.count(n) > 1))
    if duplicates:
        raise CertflowError('certificates: the name(s) %s appear more than once' % ', '.join(duplicates))
    return result


_NOT_READ = object()


class CertificateRequest:
    """One certificate as asked for, built once from its options (single mode
    or one ``certificates:`` entry): its names normalised and checked, its CSR
    read and parsed, its private key option (read once, when needed), and what the request path
    decides with. Every CA provider takes it as it is (see ``_ca/base.py``).
    Raises CertflowError naming the bad input before anything is written or sent."""

    def __init__(self, options):
        self.options = options      # the entry's module options: provider settings, proofs, ...
        self.csr_pem = _read_option(options, 'csr_content', 'csr', 'CSR')
        self.csr = _crypto.load_csr(self.csr_pem) if self.csr_pem else None
        self._key_pem = _NOT_READ
        domains, ips = _split_names(options.get('domains'))
        ips += list(options.get('ip_addresses') or [])
        if self.csr is not None:
            csr_domains, csr_ips = _crypto.csr_identifiers(self.csr)
            if not domains and not ips:
                domains, ips = list(csr_domains), list(csr_ips)
        self.domains, self.domains_unicode = _crypto.normalize_domains(domains) if domains else ([], [])
        self.ip_addresses = []
        for ip in ips:
            normalized = _crypto.normalize_ip(ip)
            if normalized not in self.ip_addresses:
                self.ip_addresses.append(normalized)
        if not self.domains and not self.ip_addresses:
            raise CertflowError('no names given: set domains (or ip_addresses, or a csr)')
        if self.csr is not None and (sorted(csr_domains) != sorted(self.domains) or sorted(csr_ips) != sorted(self.ip_addresses)):
            raise CertflowError('the CSR names (%s) differ from domains/ip_addresses (%s)' % (
                ', '.join(list(csr_domains) + list(csr_ips)), ', '.join(self.domains + self.ip_addresses)))
        self.validation = options.get('validation') or 'dns'
        wildcards = [d for d in self.domains if d.startswith('*.')]
        if wildcards and self.validation == 'http':
            raise CertflowError('wildcard name(s) %s need dns validation, not http' % ', '.join(wildcards))
        if self.ip_addresses and self.validation in DNS_VALIDATIONS:
            raise CertflowError('IP address(es) %s cannot be validated by %s; use validation: http' % (', '.join(self.ip_addresses), self.validation))
        # The names are normalised already: the first one names the store entry unless a name is given.
        self.name = check_name(options.get('name') or (name_for_domain(self.domains[0]) if self.domains else name_for_ip(self.ip_addresses[0])))
        self.identifiers = [{'type': 'dns', 'value': d} for d in self.domains] + [{'type': 'ip', 'value': i} for i in self.ip_addresses]
        self.key_type = options.get('key_type') or 'ec256'
        self.product = options.get('product')
        self.contact = options.get('contact') or {}
        self.company = options.get('company') or {}
        # None: the CA's advice (ARI) decides, else the lifetime ratio (see _ops/renewal.py)
        self.renew_before_days = options.get('renew_before_days')
        self.renew_before_ratio = renew_before_ratio(options)
        self.force = bool(options.get('force'))
        self.submit = options.get('quick_issue', True) is not False     # quick_issue: false keeps a new order with us
        self.reuse_key = bool(options.get('reuse_key'))
        self.profile = _profile_of(options.get('profile'))

    def renewal_rule(self):
        """The renewal rule asked for, kept with the order so that cert_validate
        reports the new certificate's renewal time by the same rule."""
        return {'renew_before_days': self.renew_before_days, 'renew_before_ratio': self.renew_before_ratio}

    @property
    def key_pem(self):
        """The PEM of the private key option, or None. Read on first use, as
        only a new order needs it: a certificate that is current, or check
        mode, does not fail on a key file it would not use."""
        if self._key_pem is _NOT_READ:
            self._key_pem = _read_option(self.options, 'private_key_content', 'private_key_src', 'private key')
        return self._key_pem

    def has_identifiers(self, identifiers):
        """Whether an order's (or certificate's) identifiers are the ones asked for, in any order."""
        return sorted((i['type'], i['value']) for i in identifiers) == sorted((i['type'], i['value']) for i in self.identifiers)

    def inherit_profile(self, order):
        """No profile asked for: the one the certificate was ordered with (order.json) is kept for its renewal."""
        if self.profile is None and order and order.get('profile'):
            self.profile = order['profile']

    def entry_fields(self):
        """The names a result entry shows (see results.certificate_entry)."""
        return {'name': self.name, 'domains': self.domains, 'domains_unicode': self.domains_unicode,
                'ip_addresses': self.ip_addresses, 'profile': self.profile}


def _split_names(names):
    """``domains`` as (DNS names, IP addresses): an address among the domains is an IP identifier (RFC 8738)."""
    names = list(names or [])
    ips = [name for name in names if _crypto.is_ip_address(name)]
    return [name for name in names if name not in ips], ips


def _profile_of(value):
    if value is None:
        return None
    if not isinstance(value, str) or not _PROFILE_RE.fullmatch(value):
        raise CertflowError('profile %r is not a profile name (1-128 printable characters, no spaces)' % (value,))
    return value


def renew_before_ratio(options):
    """The ``renew_before_ratio`` option checked (0 < x < 1), or None when unset."""
    ratio = options.get('renew_before_ratio')
    if ratio is not None and not 0 < ratio < 1:
        raise CertflowError('renew_before_ratio must be between 0 and 1 (a share of the lifetime), not %r' % (ratio,))
    return ratio


def _read_option(options, content_option, path_option, what):
    """The PEM text of a ``*_content`` option, or of the file its path option names, or None."""
    if options.get(content_option):
        return options[content_option]
    if options.get(path_option):
        return read_file(options[path_option], what)
    return None


def certificate_name(options):
    """The store name of a certificate: ``name``, else made from its first
    domain (ASCII) or IP address; None without any. Raises CertflowError for
    a name that is not a domain or an address."""
    if options.get('name'):
        return options['name']
    domains, ips = _split_names(options.get('domains'))
    if domains:
        return name_for_domain(_crypto.normalize_domain(domains[0])[0])
    ips += list(options.get('ip_addresses') or [])
    if ips:
        return name_for_ip(_crypto.normalize_ip(ips[0]))
    return None


def store_name(options):
    """The store name an entry's certificate has, or None when its names are
    too broken to say: a failed batch entry is labelled with the name the user
    finds in the store, not as it was typed."""
    try:
        return certificate_name(options)
    except CertflowError:
        return None
