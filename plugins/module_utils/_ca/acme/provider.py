# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ACME (RFC 8555) CA provider: the CAProvider seam mapped onto the client (transport), account, orders and revoke files of this package."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import renewal_info as _ari
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import revoke as _revoke
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.account import AcmeAccount
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.client import AcmeClient
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.errors import ALREADY_REPLACED, problem_type
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.orders import CHALLENGE_TYPES, NOT_LISTED, AcmeOrders
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import CAProvider, ProviderContext
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError


class AcmeProvider(CAProvider):
    """RFC 8555 client behind the CAProvider seam."""

    NAME = 'acme'
    OPTION = 'acme'
    ARGUMENT_SPEC = dict(
        directory=dict(type='str', fallback=CAProvider.env('CERTFLOW_ACME_DIRECTORY')),
        account_key_src=dict(type='path', no_log=False, fallback=CAProvider.env('CERTFLOW_ACME_ACCOUNT_KEY_SRC')),
        account_key_content=dict(type='str', no_log=True, fallback=CAProvider.env('CERTFLOW_ACME_ACCOUNT_KEY_CONTENT')),
        account_email=dict(type='str', fallback=CAProvider.env('CERTFLOW_ACME_ACCOUNT_EMAIL')),
        eab_kid=dict(type='str', fallback=CAProvider.env('CERTFLOW_ACME_EAB_KID')),
        eab_hmac_key=dict(type='str', no_log=True, fallback=CAProvider.env('CERTFLOW_ACME_EAB_HMAC_KEY')),
        ca_bundle=dict(type='path', fallback=CAProvider.env('CERTFLOW_ACME_CA_BUNDLE')),
        validate_certs=dict(type='bool', default=True),
        preferred_chain=dict(type='str'),
        ari=dict(type='bool', default=True, fallback=CAProvider.env('CERTFLOW_ACME_ARI')),
    )

    PROFILES = True

    def __init__(self, settings, context=None):
        super(AcmeProvider, self).__init__(settings, context or ProviderContext())
        self.client = AcmeClient(self.settings, self.context)
        self.directory_url = self.client.directory_url
        self.account = AcmeAccount(self.settings, self.context, self.client)
        self.orders = AcmeOrders(self.settings, self.context, self.account)

    # ------------------------------------------------------------ seam: cheap
    def quota(self, product=None):
        return {'unlimited': True, 'total': None, 'used': None, 'issued': None, 'remaining': None}

    def find_order(self, request, exclude=()):
        # ACME has no portable "list my orders"; the store's order.json is how
        # the workflow finds and resumes an order.
        return None

    def close(self):
        self.client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    @property
    def account_url(self):
        """The account URL (registers or looks the account up when needed)."""
        return self.account.ensure()

    # ---------------------------------------------------------------- orders
    def check_request(self, request):
        """A profile the directory does not list fails here, before any order, naming the ones it does."""
        if request.profile is None:
            return
        offered = self.orders.profiles()
        if not offered:
            raise CertflowError('profile %r was asked for, but the ACME server %s lists no profiles (meta.profiles): '
                                'leave profile unset' % (request.profile, self.directory_url))
        if request.profile not in offered:
            raise CertflowError('profile %r is not offered by the ACME server %s; it offers: %s' % (
                request.profile, self.directory_url,
                ', '.join('%s (%s)' % (name, offered[name]) if offered[name] else name for name in sorted(offered))))

    def holds(self, order):
        return super(AcmeProvider, self).holds(order) and (order.get('provider_data') or {}).get('directory') == self.directory_url

    def create_order(self, request, csr_pem, submit=True):
        # The request's names and validation were checked where it was built; left is what ACME offers.
        if request.validation not in CHALLENGE_TYPES:
            raise CertflowError("the acme provider validates with 'dns', 'dns_account', 'dns_persist' or 'http', not %r" % request.validation)
        order = {'provider': self.name, 'order_id': None, 'status': 'created', 'identifiers': [dict(i) for i in request.identifiers],
                 'validation': request.validation, 'csr': csr_pem, 'challenges': [], 'error': None, 'profile': request.profile,
                 'provider_data': {'directory': self.directory_url}}
        if not submit:
            return order
        return self.submit(order)

    def submit(self, order):
        """newOrder for an order kept locally (``quick_issue: false``); ACME orders
        cost nothing, so creating one is the submission."""
        return self.orders.submit(order)

    def challenges(self, order):
        return self.orders.challenges(order)

    def ready(self, order, challenge):
        self.orders.ready(order, challenge)

    def poll(self, order):
        return self.orders.poll(order)

    def fetch(self, order):
        return self.orders.fetch(order)

    def cancel(self, order):
        return self.orders.cancel(order)

    # ---------------------------------------------------------------- ARI (RFC 9773)
    def _ari_cert_id(self, cert_pem):
        """The CertID to ask about or replace, or None when ARI is off or the CA offers none."""
        if self.settings.get('ari') is False or not isinstance(self.client.directory().get('renewalInfo'), str):
            return None
        return _ari.cert_id(cert_pem)

    def renewal_info(self, cert):
        if self.settings.get('ari') is False:
            return None
        certid = _ari.cert_id(cert)
        if certid is None:
            if not isinstance(self.client.directory().get('renewalInfo'), str):
                return None
            raise CertflowError('the certificate has no Authority Key Identifier to ask the CA about')
        return _ari.fetch(self.client, certid)

    def renew(self, order, request, csr_pem, submit=True):
        cert_pem = self.context.store.read(request.name, 'cert') if self.context.store else None
        certid = self._ari_cert_id(cert_pem) if cert_pem and submit else None
        if certid is None:
            return self.create_order(request, csr_pem, submit=submit)
        provider_data = order.get('provider_data') or {}
        if provider_data.get('replacing') == certid:
            # A run that sent this replacing order died before keeping its answer.
            resumed = self._resume_replacing(request, csr_pem, certid)
            if resumed:
                return resumed
        # Noted before the CA hears of it, so that a run that dies on the way resumes that order.
        self.context.store.save_order(request.name, dict(order, provider_data=dict(provider_data, replacing=certid)))
        new_order = self.create_order(request, csr_pem, submit=False)
        new_order['provider_data']['replaces'] = certid
        try:
            return self.submit(new_order)
        except CertflowError as exc:
            if exc.details.get('http_status') is not None:
                # Refused, so no order was made: a renewal must not fail over a hint that RFC 9773 makes
                # optional (Pebble, for one, cannot find a certificate whose serial needs a leading zero byte).
                why = 'says certificate %s was replaced already' if problem_type(exc) == ALREADY_REPLACED \
                    else 'refused an order that replaces certificate %s'
                self.context.warn('the CA %s (%s); ordering without replaces' % (why % certid, exc.msg))
                del new_order['provider_data']['replaces']
                return self.submit(new_order)
            # No answer: the CA may have made the order all the same.
            resumed = self._resume_replacing(request, csr_pem, certid)
            if resumed:
                return resumed
            raise

    def _resume_replacing(self, request, csr_pem, certid):
        listed = self.orders.find_listed_order(lambda data: data.get('replaces') == certid)
        if listed in (None, NOT_LISTED):
            return None
        order_url, data = listed
        self.context.log('resuming order %s, which already replaces certificate %s' % (order_url, certid))
        new_order = self.create_order(request, csr_pem, submit=False)
        new_order['provider_data']['replaces'] = certid
        return self.orders.adopt(new_order, order_url, data)

    def revoke(self, cert_pem, reason='unspecified', key_pem=None, order=None):
        return _revoke.revoke(self.account, cert_pem, reason=reason, key_pem=key_pem)
