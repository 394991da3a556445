# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_request for one certificate: keep what is current, resume what is
pending, otherwise make a key and CSR and create (or renew) the order."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ops import renewal as _renewal
from ansible_collections.certflow.ssl.plugins.module_utils._ops.results import certificate_entry, current_certificate
from ansible_collections.certflow.ssl.plugins.module_utils._ops.validate import install_issued

OPEN_STATUSES = ('created', 'pending_validation', 'processing')


def _covers(summary, request, order):
    """Whether the current certificate is the one asked for: its names, and its profile when one is asked for."""
    have = set(summary['domains']) | set(summary['ip_addresses'])
    return have == set(request.domains) | set(request.ip_addresses) and request.profile in (None, _certificate_profile(order))


def _certificate_profile(order):
    """The profile the current certificate was ordered with: its order's, or, while a newer
    order is open, the one that order recorded from the order before it."""
    order = order or {}
    return order.get('profile') if order.get('status') == 'issued' else order.get('certificate_profile')


def _orders_of_others(store, name):
    """Order ids the other store entries hold: a certificate with the same
    names under another name (``example.com.`` and ``EXAMPLE.COM``) must get
    its own order, key and serial, never the other's."""
    held = set()
    for other in store.names():
        if other == name:
            continue
        try:
            order = store.load_order(other) or {}
        except CertflowError:
            continue        # an unreadable entry is reported when that certificate is run
        if order.get('order_id'):
            held.add(str(order['order_id']))
    return held


def _key_and_csr(run, request):
    """Return (key_pem or None, csr_pem) for a new order."""
    key_pem = request.key_pem
    key = _crypto.load_private_key(key_pem) if key_pem else None
    if request.csr is not None:
        if key is not None and not _crypto.csr_matches_key(request.csr, key):
            raise CertflowError('the CSR for %s was not made with the given private key' % request.name)
        return key_pem, request.csr_pem
    if key is None and request.reuse_key:
        current_key = run.store.read(request.name, 'privkey')
        if current_key:
            key_pem = current_key
            key = _crypto.load_private_key(current_key)
    if key is None:
        key = _crypto.generate_private_key(request.key_type)
        key_pem = _crypto.private_key_to_pem(key)
    return key_pem, _crypto.build_csr(key, request.domains, request.ip_addresses)


def request_certificate(run, request):
    """Hold the certificate's lock for the whole decision, so two runs on one
    store never both create an order for the same name."""
    with run.certificate(request.name) as cert:
        return cert.result(_request(run, request), 'create')


def _request(run, request):
    store = run.store
    name = request.name
    force = request.force
    summary = current_certificate(store, name, request.renew_before_days, request.renew_before_ratio)
    order = store.load_order(name)
    entry = request.entry_fields()
    if summary and not force:
        summary = _renewal.advise(store, name, summary, store.read(name, 'cert'),
                                  _renewal.provider_for(run, request.options, order),
                                  renew_before_days=request.renew_before_days, save=not run.check_mode, warn=run.warn,
                                  revoked=(order or {}).get('status') == 'revoked')

    if not force and summary and _covers(summary, request, order) and not summary['needs_renewal'] \
            and (order or {}).get('status') != 'revoked':
        return certificate_entry(entry, store, 'issued', order, summary, changed=False, action='none')
    if summary and request.profile not in (None, _certificate_profile(order)):
        run.log('profile %s asked for, the certificate has %s: a new certificate is ordered'
                % (request.profile, _certificate_profile(order) or 'none'))

    submit = request.submit
    provider = run.ca(request.options)
    if order and provider.holds(order):
        request.inherit_profile(order)
        entry = request.entry_fields()
    provider.check_request(request)
    # An open order made at another CA (or ACME directory) is left to expire there: a new one is made here.
    if not force and order and order.get('status') in OPEN_STATUSES and request.has_identifiers(order['identifiers']) \
            and order.get('profile') == request.profile and provider.holds(order):
        if order.get('validation') != request.validation and order['status'] in ('created', 'pending_validation'):
            return _follow_validation(run, provider, request, order, summary)
        if order['status'] == 'created' and submit:
            # The order was created with quick_issue: false; now it is submitted.
            if run.check_mode:
                return certificate_entry(entry, store, 'pending_validation', order, summary, changed=True, action='submit')
            order = store.save_order(name, provider.submit(order))
            return certificate_entry(entry, store, order['status'], order, summary, changed=True, action='submit')
        return certificate_entry(entry, store, order['status'], order, summary, changed=False, action='resumed')

    if not order and not force:
        found = provider.find_order(request, exclude=lambda: _orders_of_others(store, name))
        if found:
            # An order the CA already has for these names (a run that stopped
            # after creating it, or another machine): never pay for a second one.
            if run.check_mode:
                return certificate_entry(entry, store, found['status'], found, summary, changed=found['status'] == 'issued',
                                         action='resumed')
            found.update({'name': name, 'validation': found.get('validation') or request.validation,
                          'domains_unicode': request.domains_unicode}, **request.renewal_rule())
            found = store.save_order(name, found)
            if found['status'] == 'issued':
                summary = install_issued(run, provider, found, name)
                return certificate_entry(entry, store, 'issued', found, summary, changed=True, action='fetched')
            return certificate_entry(entry, store, found['status'], found, summary, changed=False, action='resumed')

    renewing = summary is not None and order is not None and order.get('status') == 'issued'
    if renewing and not force and summary['renewal_source'] == 'ari' and summary['needs_renewal']:
        why = 'the CA suggests renewing between %s and %s' % (summary['renewal_window']['start'], summary['renewal_window']['end'])
        if summary['explanation_url']:
            run.warn('%s; it explains why at %s' % (why, summary['explanation_url']))
        else:
            run.log(why)
    if run.check_mode:
        status = 'pending_validation' if submit else 'created'
        return certificate_entry(entry, store, status, None, summary, changed=True, action='renew' if renewing else 'create')

    key_pem, csr_pem = _key_and_csr(run, request)
    # The key is kept before the CA hears of the order, so a run that dies just
    # after the CA accepted it can still install the certificate later.
    if key_pem:
        store.save_pending_key(name, key_pem)
    try:
        if renewing:
            new_order = provider.renew(order, request, csr_pem, submit=submit)
        else:
            new_order = provider.create_order(request, csr_pem, submit=submit)
    except Exception:
        if key_pem:
            store.discard_pending_key(name)
        raise
    # The provider made the order from the request (names, validation, CSR); the store adds its own bookkeeping.
    new_order.update({'name': name, 'own_key': bool(key_pem), 'domains_unicode': request.domains_unicode,
                      'certificate_profile': _certificate_profile(order) if summary else None}, **request.renewal_rule())
    new_order = store.save_order(name, new_order)
    return certificate_entry(entry, store, new_order['status'], new_order, summary, changed=True,
                             action='renew' if renewing else 'create')


def _follow_validation(run, provider, request, order, summary):
    """The validation asked for changed while the order waits for its proofs (a
    first run on the default dns, then validation: none for an internal name):
    the order is replaced by one for the new validation, with the same key and
    CSR; the old one is withdrawn at the CA so that it is not left to expire."""
    store, name, entry = run.store, request.name, request.entry_fields()
    status = 'pending_validation' if request.submit else 'created'
    if run.check_mode:
        return certificate_entry(entry, store, status, order, summary, changed=True, action='recreate')
    if order['status'] != 'created':
        try:
            provider.cancel(order)
        except CertflowError as exc:
            run.warn('the %s order %s could not be withdrawn at the CA (%s); it is left to expire there'
                     % (order.get('validation'), order.get('order_id'), exc.msg))
    csr_pem = order.get('csr')
    key_pem = store.read_pending_key(name)
    if not csr_pem:
        key_pem, csr_pem = _key_and_csr(run, request)
        if key_pem:
            store.save_pending_key(name, key_pem)
    order = dict(order, status='cancelled')
    store.save_order(name, order)       # a failure below leaves no open order of the old validation behind
    new_order = provider.create_order(request, csr_pem, submit=request.submit)
    new_order.update({'name': name, 'own_key': bool(key_pem) or bool(order.get('own_key')), 'domains_unicode': request.domains_unicode,
                      'certificate_profile': order.get('certificate_profile')}, **request.renewal_rule())
    run.log('the %s order %s was replaced by a %s order %s' % (order.get('validation'), order.get('order_id'),
                                                               request.validation, new_order.get('order_id')))
    new_order = store.save_order(name, new_order)
    return certificate_entry(entry, store, new_order['status'], new_order, summary, changed=True, action='recreate')
