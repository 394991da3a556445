# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_revoke: revoke an issued certificate or cancel a pending order.
Revocation cannot be undone, so it needs ``confirm`` and never happens in
check mode."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, read_file
from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._run import Run

PENDING = ('created', 'pending_validation', 'processing')
# A failed order (validation refused) can still hold authorizations or, at Alibaba Cloud, quota.
CANCELLABLE = PENDING + ('failed',)


def _load_target(run, params):
    """(cert_pem or None, key_pem or None, order or None) of what is named."""
    if params.get('name'):
        order = run.store.load_order(params['name'])
        cert_pem = run.store.read(params['name'], 'cert')
        if order is None and cert_pem is None:
            raise CertflowError('no certificate or order named %s in %s' % (params['name'], run.store.root))
        return cert_pem, run.store.read(params['name'], 'privkey'), order
    if params.get('path'):
        return read_file(params['path'], 'certificate'), None, None
    if params.get('content'):
        return params['content'], None, None
    return None, None, {'order_id': params['order_id'], 'provider': params['provider'], 'status': 'pending_validation'}


def revoke(params, check_mode, diff=False):
    if params['state'] == 'revoked' and not params.get('confirm'):
        raise CertflowError('revocation cannot be undone: set confirm: true to revoke')
    run = Run(params, check_mode=check_mode, diff=diff)
    try:
        if not params.get('name'):
            return _revoke(run, params, check_mode)
        would = 'revoke' if params['state'] == 'revoked' else 'cancel'
        with run.certificate(params['name']) as cert:
            result = cert.result(_revoke(run, params, check_mode), would, predicted_status=params['state'])
        if run.diffs:
            result['diff'] = run.diffs[0]
        return result
    finally:
        run.close()


def _revoke(run, params, check_mode):
    cert_pem, key_pem, order = _load_target(run, params)
    result = {'name': params.get('name'), 'changed': False}
    if params['state'] == 'cancelled':
        return _cancel(run, params, order, result)
    if not cert_pem:
        raise CertflowError('nothing to revoke: %s has no issued certificate (use state: cancelled for a pending order)'
                            % (params.get('name') or params.get('order_id')))
    cert = _crypto.load_certificate(cert_pem)
    serial = _crypto.cert_serial_hex(cert)
    result.update(serial=serial, status='revoked')
    if order and order.get('status') == 'revoked' and order.get('serial') in (None, serial):
        return result
    if check_mode:
        result.update(changed=True, status='issued', msg='would revoke serial %s' % serial)
        return result
    provider_name = (order or {}).get('provider') or params['provider']
    provider = run.ca(dict(params, provider=provider_name))
    changed = provider.revoke(_crypto.cert_to_pem(cert), params['reason'], key_pem=key_pem, order=order)
    result['changed'] = bool(changed)
    if order is not None and params.get('name'):
        order.update(status='revoked', serial=serial, revocation_reason=params['reason'])
        run.store.save_order(params['name'], order)
    return result


def _cancel(run, params, order, result):
    if order is None:
        raise CertflowError('no order to cancel')
    if order.get('status') == 'cancelled':
        result['status'] = 'cancelled'
        return result
    if order.get('status') not in CANCELLABLE:
        raise CertflowError('the order for %s is %s; only a pending or failed order can be cancelled (revoke an issued certificate)'
                            % (params.get('name') or order.get('order_id'), order.get('status')))
    result.update(status='cancelled', order_id=order.get('order_id'), changed=True)
    if run.check_mode:
        return result
    provider = run.ca(dict(params, provider=order.get('provider') or params['provider']))
    provider.cancel(order)
    order['status'] = 'cancelled'
    if params.get('name'):
        run.store.save_order(params['name'], order)
    return result
