# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Diff mode: what a run changes in the store for one certificate, as text.

Only public facts go in (serial, names, dates, public key fingerprint, order
status): a diff is printed in the clear, so no key material is ever read into it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto


def store_state(store, name):
    """The facts diff mode compares, as an ordered list of (label, text)."""
    cert_pem = store.read(name, 'cert')
    if cert_pem:
        cert = _crypto.load_certificate(cert_pem)
        summary = _crypto.cert_summary(cert)
        certificate = 'serial %s, %s, valid until %s' % (
            summary['serial'], ', '.join(summary['domains_unicode'] + summary['ip_addresses']), summary['not_after'])
        chain = store.read(name, 'chain') or ''
        chain_text = '%d certificate(s)' % chain.count('-----BEGIN CERTIFICATE-----')
        key_text = '%s, public key sha256 %s' % (summary['key_type'], _crypto.public_key_fingerprint(cert))
    else:
        certificate, chain_text, key_text = 'none', 'none', 'none'
    order = store.load_order(name)
    if order:
        order_text = '%s%s%s' % (order.get('status'), ' (order %s)' % order['order_id'] if order.get('order_id') else '',
                                 _profile_text(order.get('profile')))
    else:
        order_text = 'none'
    pending = 'present' if store.read_pending_key(name) else 'none'
    return [('certificate', certificate), ('chain', chain_text), ('private key', key_text),
            ('key for the open order', pending), ('order', order_text)]


def predicted_state(before, status, would, profile=None):
    """The state a check-mode run would leave: only the order line is known."""
    after = list(before)
    after[-1] = ('order', '%s (check mode: would %s)%s' % (status, would, _profile_text(profile)))
    return after


def _profile_text(profile):
    return ', profile %s' % profile if profile else ''


def render(state):
    return ''.join('%s: %s\n' % (label, text) for label, text in state)


def entry(store, name, before, after):
    return {
        'before_header': '%s (before)' % store.cert_dir(name),
        'after_header': '%s (after)' % store.cert_dir(name),
        'before': render(before),
        'after': render(after),
    }
