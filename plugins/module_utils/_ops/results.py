# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``certificates:`` entries that cert_request and cert_validate return."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto

PUBLIC_CHALLENGE_KEYS = ('domain', 'type', 'status', 'record_name', 'record_type', 'record_value',
                         'file_path', 'file_content', 'url')


def public_challenges(order):
    result = []
    for challenge in (order or {}).get('challenges') or []:
        entry = dict((key, challenge.get(key)) for key in PUBLIC_CHALLENGE_KEYS)
        entry['domain_unicode'] = _crypto.from_punycode(challenge['domain']) if challenge.get('domain') else None
        result.append(entry)
    return result


def current_certificate(store, name, renew_before_days=None, renew_before_ratio=None):
    """Summary of the certificate in the store (the lifetime rule applied, see
    _ops/renewal.py for the CA's advice), or None when there is none."""
    pem = store.read(name, 'cert')
    if not pem:
        return None
    return _crypto.cert_summary(_crypto.load_certificate(pem), renew_before_days=renew_before_days,
                                renew_before_ratio=renew_before_ratio)


def certificate_entry(spec, store, status, order=None, summary=None, changed=False, **extra):
    entry = {
        'name': spec['name'],
        'domains': list(spec['domains']),
        'domains_unicode': list(spec['domains_unicode']),
        'ip_addresses': list(spec['ip_addresses']),
        'status': status,
        'order_id': (order or {}).get('order_id'),
        'challenges': public_challenges(order) if status in ('created', 'pending_validation', 'processing') else [],
        'not_after': summary['not_after'] if summary else None,
        'days_remaining': summary['days_remaining'] if summary else None,
        'serial': summary['serial'] if summary else None,
        'renewal_time': summary['renewal_time'] if summary else None,
        'renewal_source': summary['renewal_source'] if summary else None,
        'renewal_window': summary['renewal_window'] if summary else None,
        'explanation_url': summary['explanation_url'] if summary else None,
        'renewal': summary['renewal'] if summary else None,
        'paths': store.paths(spec['name']),
        'changed': changed,
    }
    if spec.get('profile'):
        entry['profile'] = spec['profile']
    entry.update(extra)
    return entry
