# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja2 filters certificate_entry_problems, certificate_validate_options and certificate_webroot_targets: how the
certificate role reads its certflow_certificates entries (what it refuses, what cert_validate gets, where
challenge files go on web hosts). The entries may hold secrets, so the results name entries, never values."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.certflow.ssl.plugins.module_utils._store import is_valid_name

# Any of these makes an entry say what to certify.
_NAME_KEYS = ('domains', 'ip_addresses', 'csr', 'csr_content')


def _entries(certificates, filter_name):
    if not isinstance(certificates, list) or not all(isinstance(entry, dict) for entry in certificates):
        raise AnsibleFilterError('%s expects certflow_certificates (a list of dicts)' % filter_name)
    return certificates


def _method(entry, defaults):
    return entry.get('method', entry.get('validation', defaults['validation']))


def certificate_entry_problems(certificates):
    """One message per entry whose name is not a plain folder name or that names nothing to certify (types, choices
    and unknown keys are checked by the role's argument spec)."""
    problems = []
    for entry in _entries(certificates, 'certificate_entry_problems'):
        name = entry.get('name')
        if not (is_valid_name(name)) or not any(entry.get(key) for key in _NAME_KEYS):
            problems.append("entry %s of certflow_certificates is not valid: it needs a name (1-128 letters, digits, '.', '_', '-',"
                            " starting with a letter or digit)"
                            ' and domains (or ip_addresses or a csr)' % ('(no name)' if name in (None, '') else name))
    return problems


def certificate_validate_options(certificates, validate_keys, defaults):
    """The per-certificate options of cert_validate: the entry's keys in ``validate_keys``, the method (the entry's
    method, else its validation, else the role-wide one) and a webroot only for file validation on the control node
    (no web hosts), where cert_validate writes the files itself.

    ``defaults`` holds the role-wide ``validation``, ``webroot`` and ``webroot_hosts``."""
    result = []
    for entry in _entries(certificates, 'certificate_validate_options'):
        method = _method(entry, defaults)
        options = {key: value for key, value in entry.items() if key in validate_keys}
        options['method'] = method
        hosts = entry.get('webroot_hosts', defaults['webroot_hosts'])
        webroot = entry.get('webroot', defaults['webroot'])
        options.pop('webroot', None)
        if method == 'http' and not hosts and webroot:
            options['webroot'] = webroot
        result.append(options)
    return result


def certificate_webroot_targets(certificates, defaults):
    """{name: {hosts, webroot}} of the entries with file validation on web hosts: the role copies their challenge
    files there. An empty webroot is kept, so that the role can say which entries lack one."""
    targets = {}
    for entry in _entries(certificates, 'certificate_webroot_targets'):
        hosts = entry.get('webroot_hosts', defaults['webroot_hosts'])
        if _method(entry, defaults) == 'http' and hosts:
            targets[entry['name']] = {'hosts': hosts, 'webroot': entry.get('webroot', defaults['webroot'])}
    return targets


class FilterModule(object):
    def filters(self):
        return {
            'certificate_entry_problems': certificate_entry_problems,
            'certificate_validate_options': certificate_validate_options,
            'certificate_webroot_targets': certificate_webroot_targets,
        }
