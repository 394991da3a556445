# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_info's choice of source: file, text, store name, live endpoint or the whole store."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


from ansible_collections.certflow.ssl.plugins.module_utils._ca import CA_PROVIDERS
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, read_file
from ansible_collections.certflow.ssl.plugins.module_utils._ops import describe as _inspect
from ansible_collections.certflow.ssl.plugins.module_utils._ops import renewal as _renewal
from ansible_collections.certflow.ssl.plugins.module_utils._ops.certificate_request import renew_before_fraction
from ansible_collections.certflow.ssl.plugins.module_utils._run import Run


def _revocation_lookup(run, order_provider):
    """A CA that keeps its own revocation index (a ``revocation_status`` method)
    answers from it, no URL needed: the order's CA, else the module's."""
    for name in (order_provider, run.params.get('provider')):
        if name in CA_PROVIDERS.names() and hasattr(CA_PROVIDERS.get(name), 'revocation_status'):
            return run.ca(dict(run.params, provider=name)).revocation_status
    return None


def _renewal_item(run, name, described, order):
    """What _renewal.advise_all takes for one certificate of the store."""
    return (name, described, run.store.read(name, 'cert'), order)


def info(params):
    run = Run(params)
    try:
        common = dict(renew_before_days=params['renew_before_days'], check_revocation=params['check_revocation'],
                      ca_bundle=params.get('ca_bundle'), renew_before_fraction=renew_before_fraction(params))
        roots = read_file(params['ca_bundle'], 'CA bundle') if params.get('ca_bundle') else None
        key_pem = read_file(params['private_key_src'], 'private key') if params.get('private_key_src') else None
        if params.get('path') or params.get('content'):
            pem = params.get('content') or read_file(params['path'], 'certificate')
            lookup = _revocation_lookup(run, None) if params['check_revocation'] == 'crl' else None
            result = _inspect.describe(pem, key_pem=key_pem, roots_pem=roots, revocation_lookup=lookup, **common)
        elif params.get('name'):
            order = run.store.load_order(params['name']) or {}
            lookup = _revocation_lookup(run, order.get('provider')) if params['check_revocation'] == 'crl' else None
            result = _inspect.from_store(run.store, params['name'], roots_pem=roots, revocation_lookup=lookup, **common)
            result = _renewal.advise_all(run, [_renewal_item(run, params['name'], result, order)], params)[0]
        elif params.get('host'):
            pem, protocol = _inspect.fetch_endpoint(params['host'], params['port'], params.get('server_name'))
            result = _inspect.describe(pem, **common)
            trusted, problem = _inspect.endpoint_trusted(params['host'], params['port'], params.get('server_name'),
                                                         ca_bundle=params.get('ca_bundle'))
            result.update(chain_valid=trusted, chain_problem=problem, protocol=protocol, pem=pem)
        else:
            certificates, unreadable = [], []
            for name in run.store.names():
                # One damaged entry must not hide the others from the report: it is named, with why.
                try:
                    cert_pem = run.store.read(name, 'cert')
                    if cert_pem is None:
                        continue        # an order without a certificate yet
                    order = run.store.load_order(name) or {}
                    lookup = None
                    if params['check_revocation'] == 'crl':
                        lookup = _revocation_lookup(run, order.get('provider'))
                    described = _inspect.from_store(run.store, name, order=order, roots_pem=roots, revocation_lookup=lookup, **common)
                    certificates.append((name, described, cert_pem, order))
                except CertflowError as exc:
                    run.warn('%s left out of the report: %s' % (name, exc.msg))
                    unreadable.append({'name': name, 'error': exc.msg})
            # The CA's advice for all of them at once: one renewalInfo GET each, concurrently, none within Retry-After.
            certificates = _renewal.advise_all(run, certificates, params)
            return {'changed': False, 'certificates': certificates, 'unreadable': unreadable, 'store_dir': run.store.root}
        result['changed'] = False
        return result
    finally:
        run.close()
