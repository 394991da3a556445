# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja2 filter iis_plan: what the iis role changes on a Windows host (imports, https bindings, superseded
certificates), computed from plain data so that it can be tested without Windows."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._crypto import cert_summary, load_certificate
from ansible_collections.certflow.ssl.plugins.module_utils._deps import require_packages


def _thumbprint(name, pem):
    """What Windows calls the certificate: the SHA-1 of its DER form, uppercase hex without colons."""
    try:
        require_packages('iis_plan')
        summary = cert_summary(load_certificate(pem, 'the certificate %s' % name))
    except CertflowError as exc:
        raise AnsibleFilterError('iis_plan: %s' % exc.msg) from exc
    return summary['fingerprints']['sha1'].replace(':', '').upper()


def _binding_key(ip, port, hostname):
    """IIS compares sites, addresses and host names without case."""
    return ('%s:%s:%s' % (ip, port, hostname or '')).lower()


def _is_true(value):
    return str(value).lower() in ('true', '1')


def _serves(have, thumbprint, store):
    return (str(have.get('protocol') or '').lower() == 'https'
            and str(have.get('certificate_hash') or '').upper() == thumbprint
            and str(have.get('certificate_store_name') or '').lower() == store
            and _is_true(have.get('use_sni', False)))


def iis_plan(sites, certificate_pems, current_sites, store_name):
    """The plan of the iis role.

    ``sites`` are the resolved sites ({name, certificate, hostnames, port, ip, ...}), ``certificate_pems`` maps each
    certificate name to the PEM text of its certificate, ``current_sites`` is microsoft.iis.website_info's ``site``
    list and ``store_name`` the certificate store the role imports into.

    Returns ``thumbprints`` ({certificate name: thumbprint}), ``sites`` ([{name, exists, certificate, thumbprint, add,
    rebind, unchanged}], each binding in the shape of microsoft.iis.website's bindings.add entries) and ``superseded``
    (thumbprints in the store that a binding used before and nothing uses afterwards)."""
    if not isinstance(sites, list) or not isinstance(certificate_pems, dict) or not isinstance(current_sites, list):
        raise AnsibleFilterError('iis_plan expects the sites (list), the certificate PEMs (dict) and the current sites (list)')
    store = str(store_name).lower()
    thumbprints = {name: _thumbprint(name, pem) for name, pem in sorted(certificate_pems.items())}
    current = {str(site['name']).lower(): site for site in current_sites}
    managed_keys = set()
    planned = []
    replaced = []
    for site in sites:
        existing = current.get(str(site['name']).lower(), {})
        bindings = {_binding_key(binding['ip'], binding['port'], binding.get('hostname')): binding
                    for binding in existing.get('bindings') or []}
        if site['certificate'] not in thumbprints:
            raise AnsibleFilterError('iis_plan: no certificate PEM for %s of site %s' % (site['certificate'], site['name']))
        thumbprint = thumbprints[site['certificate']]
        plan = {'name': site['name'], 'exists': bool(existing), 'certificate': site['certificate'], 'thumbprint': thumbprint,
                'add': [], 'rebind': [], 'unchanged': []}
        for hostname in site['hostnames']:
            key = _binding_key(site['ip'], site['port'], hostname)
            managed_keys.add(key)
            wanted = {'ip': site['ip'], 'port': int(site['port']), 'hostname': hostname, 'protocol': 'https', 'use_sni': True,
                      'certificate_hash': thumbprint, 'certificate_store_name': store_name}
            have = bindings.get(key)
            if have is None:
                plan['add'].append(wanted)
            elif _serves(have, thumbprint, store):
                plan['unchanged'].append(wanted)
            else:
                plan['rebind'].append(wanted)
                if have.get('certificate_hash') and str(have.get('certificate_store_name') or '').lower() == store:
                    replaced.append(have['certificate_hash'].upper())
        planned.append(plan)
    # A replaced certificate stays while any binding the role does not manage still uses it.
    still_used = set(thumbprints.values())
    for site in current_sites:
        for binding in site.get('bindings') or []:
            if _binding_key(binding['ip'], binding['port'], binding.get('hostname')) not in managed_keys and binding.get('certificate_hash'):
                still_used.add(binding['certificate_hash'].upper())
    superseded = []
    for thumbprint in replaced:
        if thumbprint not in still_used and thumbprint not in superseded:
            superseded.append(thumbprint)
    return {'thumbprints': thumbprints, 'sites': planned, 'superseded': superseded}


class FilterModule(object):
    def filters(self):
        return {'iis_plan': iis_plan}
