# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME orders: newOrder, authorizations and challenges (as the seam's dicts), ready, poll, finalize, failures, the certificate, cancel."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re
import time

try:
    from cryptography.x509.oid import NameOID
except ImportError:  # reported by the module wrapper (module_utils/_deps.py)
    pass

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import jws as _jws
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.client import json_object
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.errors import (
    ERROR_NS, MALFORMED, ORDER_NOT_READY, TRANSIENT_PROBLEMS, problem_type, retry_after_of)
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, is_url
from ansible_collections.certflow.ssl.plugins.module_utils._proofs import dns_records

CHALLENGES_FRESH_FOR = 300.0  # challenges read this recently (by create_order) are used without reading them again
CHALLENGE_TYPES = {'dns': 'dns-01', 'http': 'http-01', 'dns_account': 'dns-account-01', 'dns_persist': 'dns-persist-01'}
PERSIST = 'dns-persist-01'
ORDER_STATUSES = {'pending': 'pending_validation', 'ready': 'processing', 'processing': 'processing',
                  'valid': 'issued', 'invalid': 'failed'}
_TOKEN_RE = re.compile(r'\A[A-Za-z0-9_-]+\Z')
GONE_AUTHZ_STATUSES = ('invalid', 'deactivated', 'expired', 'revoked')
PEM_CHAIN = 'application/pem-certificate-chain'
# Looking for the order a lost newOrder answer made: the account's order list is read this
# far (pages), and only its last orders are looked at (a CA lists new orders last, and the
# lost one is minutes old at most; an account of a big store has thousands).
ORDER_LIST_PAGES = 20
ORDERS_LOOKED_AT = 50
NOT_LISTED = object()         # find_listed_order: the CA keeps no list of the account's orders


def alternate_links(response):
    """URLs of every ``Link: <...>;rel="alternate"`` header (several may be sent)."""
    return response.link_urls('alternate')


def _issuer_cn(cert):
    attrs = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    return attrs[0].value if attrs else ''


def _identifier_host(identifier):
    if identifier.get('type') == 'ip' and ':' in identifier.get('value', ''):
        return '[%s]' % identifier['value']
    return identifier.get('value')


def challenge_error(domain, challenge):
    """Why the CA refused a challenge, naming the domain and challenge type."""
    problem = challenge.get('error') or {}
    return 'validation of %s failed (%s): %s: %s' % (
        domain, challenge.get('type'), problem.get('type', 'about:blank'), problem.get('detail', 'no detail given'))


def _remember(order, data):
    provider_data = order['provider_data']
    for field, key in (('finalize', 'finalize_url'), ('authorizations', 'authorizations'),
                       ('certificate', 'certificate_url'), ('expires', 'expires')):
        if data.get(field):
            provider_data[key] = data[field]


def _all_readied(order):
    challenges = order.get('challenges') or []
    return bool(challenges) and all(
        c.get('status') in ('valid', 'processing') or (c.get('provider_data') or {}).get('readied') for c in challenges)


def _status_of(order, data):
    status = data.get('status')
    if status not in ORDER_STATUSES:
        raise CertflowError('ACME order %s has an unknown status %r' % (order.get('order_id'), status))
    if status == 'pending' and _all_readied(order):
        return 'processing'
    return ORDER_STATUSES[status]


def _share_wildcard_policy(challenges):
    """An order for a name and its wildcard (example.com, *.example.com) has one
    dns-persist-01 record for both: the wildcard's, with policy=wildcard."""
    wildcard_values = dict((c['record_name'], c['record_value']) for c in challenges
                           if c.get('persistent') and c['domain'].startswith('*.'))
    for challenge in challenges:
        if challenge.get('persistent') and challenge['record_name'] in wildcard_values:
            challenge['record_value'] = wildcard_values[challenge['record_name']]
    return challenges


def _chain_of(response, url):
    return _crypto.load_certificates(response.text, 'the certificate chain from %s' % url)


class AcmeOrders:
    """The order side of the seam for one account (AcmeAccount) of one directory."""

    def __init__(self, settings, context, account):
        self.settings = settings
        self.context = context
        self.account = account
        self.client = account.client

    def _get_resource(self, url):
        """POST-as-GET of a JSON resource; returns (data, response)."""
        response = self.account.post(url, None)
        return json_object(response, url), response

    def profiles(self):
        """The directory's ``meta.profiles`` ({name: description}); {} when it lists none."""
        profiles = (self.client.directory().get('meta') or {}).get('profiles')
        if not isinstance(profiles, dict):
            return {}
        return dict((name, description if isinstance(description, str) else '') for name, description in profiles.items()
                    if isinstance(name, str))

    # ------------------------------------------------------------ orders and challenges
    def submit(self, order):
        """newOrder for an order kept locally (``quick_issue: false``); ACME orders
        cost nothing, so creating one is the submission."""
        order_url, data = self._new_order(order)
        return self.adopt(order, order_url, data)

    def adopt(self, order, order_url, data):
        """``order`` (made here) as the CA's order ``order_url`` whose object is
        ``data``: its URLs, challenges and status (after newOrder, or an order
        found at the CA that a lost answer or a stopped run never told us about)."""
        validation = order['validation']
        order['order_id'] = order_url
        order['provider_data'].update({'order_url': order_url, 'account_url': self.account.url})
        _remember(order, data)
        order['challenges'] = _share_wildcard_policy([self._challenge_from(authz, authz_url, validation)
                                                      for authz_url, authz in self._authorizations(order)])
        order['provider_data']['challenges_read_at'] = time.time()
        order['status'] = _status_of(order, data)
        if order['status'] == 'failed':
            order['error'] = self._failure(order, data)
        return order

    def _new_order(self, order):
        """newOrder for ``order``: (order URL, order object). When the answer is lost
        on the way (the CA may have made the order), the account's order list is
        searched before newOrder is sent again, so that one request never leaves a
        second pending order behind (RFC 8555 7.1.2.1)."""
        url = self.client.directory()['newOrder']
        payload = {'identifiers': order['identifiers']}
        if order.get('profile'):
            payload['profile'] = order['profile']
        replaces = order['provider_data'].get('replaces')     # ARI (RFC 9773): the certificate this order renews
        if replaces:
            payload['replaces'] = replaces
        found = []

        def answer_lost():
            try:
                found[:] = [self._order_made_before(order)]
            except CertflowError as exc:
                # Not the CA's verdict on the order: whether it was made is unknown (no http_status).
                raise CertflowError('the answer to newOrder at %s was lost and the account\'s orders could not be read: %s'
                                    % (url, exc.msg), url=url)
            return found[0] is not None
        response = self.account.post(url, payload, on_lost=answer_lost)
        if response is None:
            order_url, data = found[0]
            self.client.warn('the answer to newOrder was lost; resuming the order %s the ACME server had made of it' % order_url)
            return order_url, data
        order_url = response.headers.get('Location')
        if not order_url:
            raise CertflowError('ACME server sent no order URL (Location) from %s' % url, url=url)
        data = json_object(response, url)
        if order.get('profile') and data.get('profile') not in (None, order['profile']):
            self.client.warn('profile %s was asked for, but the ACME server made the order %s under profile %r'
                             % (order['profile'], order_url, data.get('profile')))
        return order_url, data

    def _order_made_before(self, order):
        """(URL, object) of a pending or ready order of this account for exactly the
        order's identifiers (and profile, when it asks for one), the newest one
        when there are several; None when there is none or the CA lists no orders."""
        wanted = sorted((i['type'], i['value']) for i in order['identifiers'])

        def same(data):
            identifiers = sorted((i.get('type'), i.get('value')) for i in data.get('identifiers') or [] if isinstance(i, dict))
            return identifiers == wanted and (not order.get('profile') or data.get('profile') == order['profile'])
        listed = self.find_listed_order(same)
        if listed is NOT_LISTED:
            self.client.warn('the answer to newOrder was lost and the ACME server lists no orders of the account; '
                             'asking again may leave the first order pending at the CA until it expires')
            return None
        return listed

    def find_listed_order(self, matches):
        """(URL, object) of the newest of the account's orders that still wait for
        proofs or the CSR (pending, ready) and ``matches(object)``; None when there is
        none, NOT_LISTED when the CA lists no orders. Reads the account's order list
        (RFC 8555 7.1.2.1, pages followed up to ORDER_LIST_PAGES) and the last
        ORDERS_LOOKED_AT orders in it. Only an order still waiting is worth finding:
        a finalized one was made from a CSR (and key) that is gone."""
        account, _response = self._get_resource(self.account.ensure())
        list_url = account.get('orders')
        if not is_url(list_url):
            return NOT_LISTED
        urls, page_url, pages = [], list_url, 0
        while page_url and pages < ORDER_LIST_PAGES:
            page, response = self._get_resource(page_url)
            urls.extend(u for u in page.get('orders') or [] if is_url(u))
            pages += 1
            page_url = next(iter(response.link_urls('next')), None)
        best = None
        for order_url in urls[-ORDERS_LOOKED_AT:]:
            data, _response = self._get_resource(order_url)
            if data.get('status') not in ('pending', 'ready') or not matches(data):
                continue
            if best is None or str(data.get('expires') or '') > str(best[1].get('expires') or ''):
                best = (order_url, data)
        return best

    def _authorizations(self, order):
        """[(authz_url, authz), ...] freshly read."""
        result = []
        for authz_url in order['provider_data'].get('authorizations') or []:
            authz, _response = self._get_resource(authz_url)
            result.append((authz_url, authz))
        return result

    def _challenge_from(self, authz, authz_url, validation):
        identifier = authz.get('identifier') or {}
        value = identifier.get('value', '')
        domain = '*.' + value if authz.get('wildcard') and not value.startswith('*.') else value
        base = value[2:] if value.startswith('*.') else value
        wanted = CHALLENGE_TYPES[validation]
        authz_status = authz.get('status')
        offered = authz.get('challenges') or []
        chosen = next((c for c in offered if c.get('type') == wanted), None)
        entry = {'domain': domain, 'type': wanted, 'record_name': None, 'record_type': None, 'record_value': None,
                 'file_path': None, 'file_content': None, 'url': None, 'status': None, 'error': None,
                 'provider_data': {'challenge_url': None, 'authz_url': authz_url, 'identifier_type': identifier.get('type')}}
        if chosen is None:
            if authz_status == 'valid':
                entry['status'] = 'valid'   # authorised earlier (the CA reuses the authorization)
                return entry
            if authz_status in GONE_AUTHZ_STATUSES:
                entry['status'] = 'invalid'
                entry['error'] = 'authorization for %s is %s' % (domain, authz_status)
                return entry
            raise CertflowError('ACME server offers no %s challenge for %s (offered: %s)' % (
                wanted, domain, ', '.join(c.get('type', '?') for c in offered) or 'none'))
        entry['provider_data']['challenge_url'] = chosen.get('url')
        if authz_status == 'valid':
            entry['status'] = 'valid'
        elif authz_status in GONE_AUTHZ_STATUSES:
            entry['status'] = 'invalid'
        else:
            entry['status'] = chosen.get('status') or 'pending'
        if chosen.get('error'):
            entry['error'] = challenge_error(domain, chosen)
        if wanted == PERSIST:
            entry.update(self._persist_record(chosen, base, domain, bool(authz.get('wildcard'))))
            return entry
        token = chosen.get('token') or ''
        if not _TOKEN_RE.match(token):
            raise CertflowError('ACME server sent an unusable %s token for %s' % (wanted, domain))
        key_auth = _jws.key_authorization(token, self.account.jwk)
        if wanted == 'dns-01':
            entry.update({'record_name': '_acme-challenge.' + base, 'record_type': 'TXT',
                          'record_value': _jws.dns01_txt_value(key_auth)})
        elif wanted == 'dns-account-01':
            # The same digest as dns-01, at a name of this account's own.
            entry.update({'record_name': dns_records.account_record_name(self.account.ensure(), base), 'record_type': 'TXT',
                          'record_value': _jws.dns01_txt_value(key_auth)})
        else:
            path = '/.well-known/acme-challenge/' + token
            entry.update({'file_path': path, 'file_content': key_auth,
                          'url': 'http://%s%s' % (_identifier_host(identifier), path)})
        return entry

    def _persist_record(self, chosen, base, domain, wildcard):
        """The dns-persist-01 record: bound to this account, for the first issuer the CA names."""
        account_url = self.account.ensure()
        offered_account = chosen.get('accounturi')
        if offered_account is not None and offered_account != account_url:
            raise CertflowError('ACME server asks for a dns-persist-01 record of %s bound to account %r, but this account is %s'
                                % (domain, offered_account, account_url))
        issuers = chosen.get('issuer-domain-names')
        if not isinstance(issuers, list) or not issuers:
            raise CertflowError('ACME server sent a dns-persist-01 challenge for %s without issuer-domain-names' % domain)
        issuers = [dns_records.check_issuer_name(name) for name in issuers]
        return {'record_name': dns_records.persist_record_name(base), 'record_type': 'TXT',
                'record_value': dns_records.persist_value(issuers[0], account_url, wildcard),
                'persistent': True, 'issuer_domain_names': issuers}

    def challenges(self, order):
        provider_data = order.get('provider_data') or {}
        read_at = provider_data.get('challenges_read_at')
        if order.get('challenges') and read_at and 0 <= time.time() - read_at < CHALLENGES_FRESH_FOR:
            # create_order read every authorization moments ago and nothing was
            # asked of the CA since (cert_request, then cert_validate at once):
            # reading them all again would only repeat that answer.
            return order['challenges']
        validation = order.get('validation') or 'http'
        readied = dict((c['provider_data'].get('challenge_url'), c['provider_data'].get('readied'))
                       for c in order.get('challenges') or [] if c.get('provider_data'))
        fresh = []
        for authz_url, authz in self._authorizations(order):
            entry = self._challenge_from(authz, authz_url, validation)
            if readied.get(entry['provider_data']['challenge_url']):
                entry['provider_data']['readied'] = True
            fresh.append(entry)
        fresh = _share_wildcard_policy(fresh)
        order['challenges'] = fresh
        order.setdefault('provider_data', {})['challenges_read_at'] = time.time()
        return fresh

    def ready(self, order, challenge):
        order.get('provider_data', {}).pop('challenges_read_at', None)   # the challenges change from here on
        if challenge.get('status') in ('valid', 'processing', 'invalid'):
            return
        url = (challenge.get('provider_data') or {}).get('challenge_url')
        if not url:
            raise CertflowError('challenge for %s has no URL; refresh the order first' % challenge.get('domain'))
        try:
            response = self.account.post(url, {})
            data = json_object(response, url)
        except CertflowError as exc:
            # Told already (e.g. an earlier run crashed after telling the CA):
            # the CA refuses a second "ready"; that is fine when it is under way.
            if problem_type(exc) != MALFORMED:
                raise
            data, _response = self._get_resource(url)
            if data.get('status') not in ('processing', 'valid', 'invalid'):
                raise
        status = data.get('status') or 'processing'
        for target in [challenge] + [c for c in order.get('challenges') or []
                                     if (c.get('provider_data') or {}).get('challenge_url') == url]:
            target['status'] = 'processing' if status == 'pending' else status
            target.setdefault('provider_data', {})['readied'] = True
            if data.get('error'):
                target['error'] = challenge_error(target.get('domain'), data)

    # ------------------------------------------------------------ poll and finalize
    def poll(self, order):
        provider_data = order['provider_data']
        provider_data.pop('challenges_read_at', None)
        order_url = provider_data.get('order_url') or order.get('order_id')
        if not order_url:
            raise CertflowError('order has no ACME order URL; it was never submitted')
        data, response = self._get_resource(order_url)
        retry_after = retry_after_of(response)
        _remember(order, data)
        if data.get('status') == 'ready' and not self.context.check_mode:
            data, retry_after = self._finalize(order, data, retry_after)
            if data is None:
                return order['status'], None
        status = _status_of(order, data)
        order['status'] = status
        if status == 'failed':
            order['error'] = self._failure(order, data)
        return status, retry_after

    def _finalize(self, order, data, retry_after):
        url = order['provider_data'].get('finalize_url')
        if not url:
            raise CertflowError('ACME order %s has no finalize URL' % order.get('order_id'))
        if not order.get('csr'):
            raise CertflowError('ACME order %s is ready but the order has no CSR to finalize with' % order.get('order_id'))
        payload = {'csr': _jws.b64u(_crypto.csr_to_der(order['csr']))}
        try:
            response = self.account.post(url, payload)
        except CertflowError as exc:
            ptype = problem_type(exc)
            if ptype == ORDER_NOT_READY:
                return data, retry_after
            if (ptype or '').startswith(ERROR_NS) and ptype not in TRANSIENT_PROBLEMS:
                # The CA's verdict on this CSR (badCSR, unauthorized names ...): the order cannot be issued.
                order['status'] = 'failed'
                order['error'] = exc.msg
                return None, None
            raise
        finalized = json_object(response, url)
        _remember(order, finalized)
        return finalized, retry_after_of(response)

    def _failure(self, order, data):
        """A message for an invalid order: every failed challenge of its
        authorizations (domain + challenge type + problem type + detail), else
        the order's own error."""
        parts = []
        validation = order.get('validation') or 'http'
        try:
            pairs = self._authorizations(order)
        except CertflowError as exc:
            pairs = []
            parts.append('the authorizations could not be read (%s)' % exc.msg)
        fresh = []
        for authz_url, authz in pairs:
            identifier = authz.get('identifier') or {}
            domain = ('*.' if authz.get('wildcard') else '') + identifier.get('value', '?')
            failed = [c for c in authz.get('challenges') or [] if c.get('error')]
            for challenge in failed:
                parts.append(challenge_error(domain, challenge))
            if authz.get('status') not in ('valid', 'pending') and not failed:
                parts.append('authorization for %s is %s' % (domain, authz.get('status')))
            try:
                fresh.append(self._challenge_from(authz, authz_url, validation))
            except CertflowError:
                pass
        if fresh:
            order['challenges'] = _share_wildcard_policy(fresh)
        problem = data.get('error')
        if isinstance(problem, dict) and not any(problem.get('detail', '\0') in part for part in parts):
            parts.insert(0, '%s: %s' % (problem.get('type', 'about:blank'), problem.get('detail', 'no detail given')))
        return 'ACME order %s is invalid: %s' % (order.get('order_id'), '; '.join(parts) or 'the CA gave no reason')

    # ------------------------------------------------------------ certificate
    def fetch(self, order):
        provider_data = order['provider_data']
        cert_url = provider_data.get('certificate_url')
        if not cert_url:
            status, _retry = self.poll(order)
            cert_url = provider_data.get('certificate_url')
            if not cert_url:
                raise CertflowError('ACME order %s is not issued yet (status %s)' % (order.get('order_id'), status))
        response = self.account.post(cert_url, None, accept=PEM_CHAIN)
        certs = _chain_of(response, cert_url)
        preferred = self.settings.get('preferred_chain')
        if preferred and _issuer_cn(certs[-1]) != preferred:
            for alt_url in alternate_links(response):
                alt_certs = _chain_of(self.account.post(alt_url, None, accept=PEM_CHAIN), alt_url)
                if _issuer_cn(alt_certs[-1]) == preferred:
                    certs = alt_certs
                    provider_data['chain_url'] = alt_url
                    break
            else:
                self.client.warn('no alternate chain ends at issuer %r; using the default chain' % preferred)
        pems = [_crypto.cert_to_pem(cert) for cert in certs]
        return {'cert': pems[0], 'chain': ''.join(pems[1:]), 'fullchain': ''.join(pems), 'key': None}

    # ------------------------------------------------------------ cancel
    def cancel(self, order):
        order.get('provider_data', {}).pop('challenges_read_at', None)
        changed = False
        for authz_url, authz in self._authorizations(order):
            if authz.get('status') == 'pending':
                self.account.post(authz_url, {'status': 'deactivated'})
                changed = True
        if changed:
            order['status'] = 'cancelled'
        return changed
