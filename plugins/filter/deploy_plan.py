# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja2 filters deploy_entries and deploy_plan: what the deploy role copies to a host, from plain data.

deploy_entries resolves certflow_deploy_certificates against the role-wide defaults; deploy_plan compares
those entries with the files the host has (ansible.builtin.find) and the store's checksums, and says which
certificates change, which files a rollback puts back or removes, and which endpoints are checked when."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

# Keys of an entry that fall back to the role-wide certflow_deploy_<key> of the same name.
ROLE_WIDE_KEYS = ('owner', 'group', 'dir_mode', 'key_mode', 'cert_mode', 'verify', 'pfx_encryption')
PLAN_KEYS = ('pending', 'replacing', 'fix', 'verify', 'deferred', 'backups', 'created')


def _require(value, kind, what, name):
    if not isinstance(value, kind):
        raise AnsibleFilterError('%s expects %s, got %s' % (name, what, type(value).__name__))


def deploy_entries(certificates, store_dir, defaults, only=None):
    """Every entry of ``certificates`` (certflow_deploy_certificates) named in ``only`` (all when None), with each
    key it leaves out taken from ``defaults`` ({'dest_dir': ..., 'owner': ..., ...}, the role-wide variables
    without their certflow_deploy_ prefix) and the folder of its files in the store ``store_dir``."""
    _require(certificates, list, 'a list of entries', 'deploy_entries')
    _require(defaults, dict, 'the role defaults as a dict', 'deploy_entries')
    resolved = []
    for entry in certificates:
        _require(entry, dict, 'entries that are dicts', 'deploy_entries')
        if only is not None and entry['name'] not in only:
            continue
        result = {key: entry.get(key, defaults[key]) for key in ROLE_WIDE_KEYS}
        notify = entry.get('notify', defaults['notify'])
        result.update({
            'name': entry['name'],
            'source': '%s/%s' % (store_dir, entry['name']),
            'dest': entry.get('dest', '%s/%s' % (defaults['dest_dir'], entry['name'])),
            'endpoints': entry.get('endpoints', []),
            'pfx': boolean(entry.get('pfx', defaults['pfx']), strict=False),
            'notify': list(notify) if isinstance(notify, list) else [notify],
        })
        resolved.append(result)
    return resolved


def _wanted_files(entry, kinds, store_checksums):
    """The files the entry puts on the host: path, mode and the SHA-1 the store has (None for the PFX, whose bytes
    differ on every build)."""
    files = []
    for kind in kinds:
        source = '%s/%s' % (entry['source'], kind['file'])
        if source not in store_checksums:
            raise AnsibleFilterError('deploy_plan: no checksum of %s in the store checksums' % source)
        files.append({'path': '%s/%s' % (entry['dest'], kind['file']), 'mode': entry[kind['mode_key']], 'checksum': store_checksums[source]})
    if entry['pfx']:
        files.append({'path': '%s/%s.pfx' % (entry['dest'], entry['name']), 'mode': entry['key_mode'], 'checksum': None})
    return files


def _content_differs(wanted, current):
    return current is None or (wanted['checksum'] is not None and current.get('checksum') != wanted['checksum'])


def _metadata_differs(entry, wanted, current):
    return (current.get('mode') != wanted['mode'] or (entry['owner'] and current.get('pw_name') != entry['owner'])
            or (entry['group'] and current.get('gr_name') != entry['group']))


def _endpoint_targets(entry, serial, first):
    return [{'name': entry['name'], 'host': endpoint['host'], 'port': int(endpoint.get('port', 443)),
             'server_name': endpoint.get('server_name', endpoint['host']), 'serial': serial, 'first': first}
            for endpoint in entry['endpoints']]


def deploy_plan(entries, host_files, store_checksums, store_certificates, kinds, web_server_topics):
    """What changes on the host for the resolved ``entries``.

    ``host_files`` are ansible.builtin.find's files of the certificate folders, ``store_checksums`` maps each store
    file to its SHA-1, ``store_certificates`` is cert_info's certificates list of the store (name and serial),
    ``kinds`` the role's __deploy_kinds and ``web_server_topics`` the handler topics of the web server roles.

    Returns pending (names whose content changes: backed up, reloaded, verified), replacing (those of them the host
    had a certificate of), fix (names whose files only need owner, group or mode corrected), backups and created
    (the files a rollback puts back or removes; a file whose content does not change is not rewritten), verify
    (endpoints checked right after the reload) and deferred (endpoints of a first deployment, checked once the web
    server roles of the play have configured the site)."""
    _require(entries, list, 'a list of resolved entries', 'deploy_plan')
    have = {found['path']: found for found in host_files}
    serials = {certificate['name']: str(certificate['serial']).lower() for certificate in store_certificates}
    plan = {key: [] for key in PLAN_KEYS}
    for entry in entries:
        files = _wanted_files(entry, kinds, store_checksums)
        content = any(_content_differs(wanted, have.get(wanted['path'])) for wanted in files)
        if not content:
            if any(_metadata_differs(entry, wanted, have[wanted['path']]) for wanted in files):
                plan['fix'].append(entry['name'])
            continue
        plan['pending'].append(entry['name'])
        replacing = '%s/cert.pem' % entry['dest'] in have
        if replacing:
            plan['replacing'].append(entry['name'])
        for wanted in files:
            current = have.get(wanted['path'])
            if current is None:
                plan['created'].append({'name': entry['name'], 'path': wanted['path']})
            elif wanted['checksum'] is None or current.get('checksum') != wanted['checksum']:
                plan['backups'].append({'name': entry['name'], 'path': wanted['path']})
        if entry['verify'] == 'never' or not entry['endpoints']:
            continue
        if entry['name'] not in serials:
            raise AnsibleFilterError('deploy_plan: the store has no certificate %s to check its endpoints against' % entry['name'])
        # A first deployment is checked too, but after the web server roles of the play have configured the
        # site, unless no role of this collection reloads it (then it already is).
        deferred = entry['verify'] == 'auto' and not replacing and bool(set(entry['notify']) & set(web_server_topics))
        plan['deferred' if deferred else 'verify'].extend(_endpoint_targets(entry, serials[entry['name']], not replacing))
    return plan


class FilterModule(object):
    def filters(self):
        return {
            'deploy_entries': deploy_entries,
            'deploy_plan': deploy_plan,
        }
