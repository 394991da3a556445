# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_info's choice of source: file, text, store name, live endpoint or the whole store."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


from ansible_collections.certflow.ssl.plugins.module_utils._ca import CA_PROVIDERS
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, read_file
from ansible_collections.certflow.ssl.plugins.module_utils._processes import split_map
from ansible_collections.certflow.ssl.plugins.module_utils._ops import describe as _inspect
from ansible_collections.certflow.ssl.plugins.module_utils._ops import renewal as _renewal
from ansible_collections.certflow.ssl.plugins.module_utils._ops.certificate_request import renew_before_ratio
from ansible_collections.certflow.ssl.plugins.module_utils._run import Run


def _revocation_lookup(run, order_provider):
    """A CA that keeps its own revocation index (a ``revocation_status`` method)
    answers from it, no URL needed: the order's CA, else the module's."""
    for name in (order_provider, run.params.get('provider')):
        if name in CA_PROVIDERS.names() and hasattr(CA_PROVIDERS.get(name), 'revocation_status'):
            return run.ca(dict(run.params, provider=name)).revocation_status
    return None


def _described_store(run, params, common, roots, names):
    """([(name, summary, certificate, order)], unreadable) for the certificates ``names``
    of the store. One damaged entry must not hide the others from the report: it is
    named in ``unreadable``, with why."""
    described, unreadable = [], []
    for name in names:
        try:
            order = run.store.load_order(name) or {}
            lookup = None
            if params['check_revocation'] == 'crl':
                lookup = _revocation_lookup(run, order.get('provider'))
            summary, cert = _inspect.from_store(run.store, name, order=order, missing_ok=True, roots_pem=roots,
                                                revocation_lookup=lookup, **common)
        except CertflowError as exc:
            run.warn('%s left out of the report: %s' % (name, exc.msg))
            unreadable.append({'name': name, 'error': exc.msg})
            continue
        if summary is not None:      # None: an order without a certificate yet
            described.append((name, summary, cert, order))
    return described, unreadable


def info(params, check_mode=False):
    """cert_info. In check mode the CA is not asked for its renewal advice (nor
    anything kept): the answers in the store are used, else the lifetime rule."""
    run = Run(params, check_mode=check_mode)
    try:
        detail = params.get('detail') or 'full'
        if detail == 'renewal' and (params['check_revocation'] != 'none' or params.get('private_key_src')):
            raise CertflowError('check_revocation and private_key_src need detail: full '
                                '(detail: renewal reports when a certificate is due, and checks nothing else)')
        common = dict(renew_before_days=params['renew_before_days'], check_revocation=params['check_revocation'],
                      ca_bundle=params.get('ca_bundle'), renew_before_ratio=renew_before_ratio(params), detail=detail)
        roots = read_file(params['ca_bundle'], 'CA bundle') if params.get('ca_bundle') else None
        key_pem = read_file(params['private_key_src'], 'private key') if params.get('private_key_src') else None
        if params.get('path') or params.get('content'):
            pem = params.get('content') or read_file(params['path'], 'certificate')
            lookup = _revocation_lookup(run, None) if params['check_revocation'] == 'crl' else None
            result = _inspect.describe(pem, key_pem=key_pem, roots_pem=roots, revocation_lookup=lookup, **common)
        elif params.get('name'):
            order = run.store.load_order(params['name']) or {}
            lookup = _revocation_lookup(run, order.get('provider')) if params['check_revocation'] == 'crl' else None
            result, cert = _inspect.from_store(run.store, params['name'], order=order, roots_pem=roots,
                                               revocation_lookup=lookup, **common)
            result = _renewal.advise_all(run, [(params['name'], result, cert, order)], params, ask=not check_mode)[0]
        elif params.get('host'):
            pem, protocol = _inspect.fetch_endpoint(params['host'], params['port'], params.get('server_name'))
            result = _inspect.describe(pem, **common)
            result['protocol'] = protocol
            if detail == 'full':
                trusted, problem = _inspect.endpoint_trusted(params['host'], params['port'], params.get('server_name'),
                                                             ca_bundle=params.get('ca_bundle'))
                result.update(chain_valid=trusted, chain_problem=problem, pem=pem)
        else:
            def listed(names):
                # The CA's advice for all of them: one renewalInfo GET each, concurrently, none within Retry-After.
                # Read first, then asked: overlapping the two only made the threads fight over the GIL.
                described, unreadable = _described_store(run, params, common, roots, names)
                return {'certificates': _renewal.advise_all(run, described, params, ask=not check_mode),
                        'unreadable': unreadable}
            parts = split_map(listed, run.store.names())
            return {'changed': False, 'store_dir': run.store.root,
                    'certificates': [_inspect.shaped(entry, detail) for part in parts for entry in part['certificates']],
                    'unreadable': [entry for part in parts for entry in part['unreadable']]}
        result = _inspect.shaped(result, detail)
        result['changed'] = False
        return result
    finally:
        run.close()
