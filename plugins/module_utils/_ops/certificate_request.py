# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turns module options (single mode or one ``certificates:`` entry merged
over the top-level defaults) into the normalised certificate spec that
providers and the workflow use."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, read_file
from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._store import check_name, name_for_domain


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


def load_csr_option(options):
    if options.get('csr_content'):
        return options['csr_content']
    if options.get('csr'):
        return read_file(options['csr'], 'CSR')
    return None


def load_key_option(options):
    if options.get('private_key_content'):
        return options['private_key_content']
    if options.get('private_key_src'):
        return read_file(options['private_key_src'], 'private key')
    return None


def build_spec(options):
    """Validate and normalise one certificate's options. Raises CertflowError
    naming the bad input before anything is written or sent."""
    csr_pem = load_csr_option(options)
    domains = list(options.get('domains') or [])
    ips = list(options.get('ip_addresses') or [])
    if csr_pem:
        csr = _crypto.load_csr(csr_pem)
        csr_domains, csr_ips = _crypto.csr_identifiers(csr)
        if not domains and not ips:
            domains, ips = list(csr_domains), list(csr_ips)
    ascii_domains, unicode_domains = _crypto.normalize_domains(domains) if domains else ([], [])
    ip_addresses = []
    for ip in ips:
        normalized = _crypto.normalize_ip(ip)
        if normalized not in ip_addresses:
            ip_addresses.append(normalized)
    if not ascii_domains and not ip_addresses:
        raise CertflowError('no names given: set domains (or ip_addresses, or a csr)')
    if csr_pem:
        csr_domains, csr_ips = _crypto.csr_identifiers(_crypto.load_csr(csr_pem))
        if sorted(csr_domains) != sorted(ascii_domains) or sorted(csr_ips) != sorted(ip_addresses):
            raise CertflowError('the CSR names (%s) differ from domains/ip_addresses (%s)' % (
                ', '.join(list(csr_domains) + list(csr_ips)), ', '.join(ascii_domains + ip_addresses)))
    validation = options.get('validation') or 'dns'
    wildcards = [d for d in ascii_domains if d.startswith('*.')]
    if wildcards and validation == 'http':
        raise CertflowError('wildcard name(s) %s need dns validation, not http' % ', '.join(wildcards))
    if ip_addresses and validation == 'dns':
        raise CertflowError('IP address(es) %s cannot be validated by dns; use validation: http' % ', '.join(ip_addresses))
    name = options.get('name') or name_for_domain((ascii_domains or ip_addresses)[0])
    check_name(name)
    return {
        'name': name,
        'domains': ascii_domains,
        'domains_unicode': unicode_domains,
        'ip_addresses': ip_addresses,
        'identifiers': [{'type': 'dns', 'value': d} for d in ascii_domains] + [{'type': 'ip', 'value': i} for i in ip_addresses],
        'validation': validation,
        'key_type': options.get('key_type') or 'ec256',
        'product': options.get('product'),
        'contact': options.get('contact') or {},
        'company': options.get('company') or {},
    }


def same_identifiers(order_or_cert_identifiers, spec):
    def key(identifiers):
        return sorted((i['type'], i['value']) for i in identifiers)
    return key(order_or_cert_identifiers) == key(spec['identifiers'])
