# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seam every CA provider implements.

Modules and the workflow speak only to this interface and to the store, never
to a provider's wire format.

Data shapes (plain dicts so that they serialise straight into ``order.json``;
nothing secret is ever put into them):

request -- one certificate as the user asked for it: an
``_ops.certificate_request.CertificateRequest``, built (normalised and
checked) once where the options are read. Providers take it as it is and
read its attributes; they never normalise the names again::

    request.name = 'www'
    request.domains = ['xn--bcher-kva.example', ...]      # ASCII (A-labels)
    request.domains_unicode = ['bücher.example', ...]
    request.ip_addresses = ['192.0.2.1']
    request.identifiers = [{'type': 'dns'|'ip', 'value': '...'}]   # the order's identifiers
    request.validation = 'dns'|'dns_account'|'dns_persist'|'http'|'email'|'none'
    request.product, request.contact, request.company, request.key_type
    request.profile = 'shortlived' or None     # a certificate profile of the CA (ACME profiles)

order -- what a CA knows about one request::

    {'provider': 'acme', 'order_id': '<url or id>', 'status': STATUS,
     'identifiers': [{'type': 'dns'|'ip', 'value': '...'}],
     'validation': 'dns', 'csr': '<PEM>', 'challenges': [challenge, ...],
     'error': None or 'message', 'provider_data': {...}}

challenge -- one proof of control the CA asks for::

    {'domain': 'example.com', 'type': 'dns-01'|'dns-account-01'|'dns-persist-01'|'http-01'|'email'|'none',
     'record_name': '_acme-challenge.example.com', 'record_type': 'TXT',
     'record_value': '...', 'file_path': '/.well-known/acme-challenge/TOKEN',
     'file_content': '...', 'url': 'http://example.com/.well-known/...',
     'status': 'pending'|'valid'|'invalid', 'provider_data': {...}}

    A long-lived record (dns-persist-01) also has ``'persistent': True`` and
    ``'issuer_domain_names'``: what the CA accepts in its record besides
    ``record_value`` (the one we create). It is created when missing and
    never removed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._providers import Provider


# The validations proven by a TXT record (a DNS provider or the manual DNS flow places it).
DNS_VALIDATIONS = ('dns', 'dns_account', 'dns_persist')

STATUSES = ('created', 'pending_validation', 'processing', 'issued', 'failed', 'revoked', 'cancelled')

REVOCATION_REASONS = {
    # RFC 5280 CRLReason codes
    'unspecified': 0,
    'key_compromise': 1,
    'affiliation_changed': 3,
    'superseded': 4,
    'cessation_of_operation': 5,
}


class ProviderContext:
    """What a provider may use from the run that created it."""

    def __init__(self, store=None, check_mode=False, timeout=300.0, log=None, shared=None, warn=None):
        self.store = store          # _store.Store or None
        self.check_mode = check_mode
        self.timeout = timeout
        # log: what happened (kept in the certificate's result as ``messages``);
        # warn: what the user must know or act on (a module warning as well).
        self.log = log or (lambda msg: None)
        self.warn = warn or self.log
        # A dict the providers of one run (one instance per worker thread) may
        # keep shared state in, e.g. the ACME directory and nonce pool; None: nothing shared.
        self.shared = shared


def excluded_ids(exclude):
    """``find_order``'s ``exclude`` as a test ``excluded(order_id)`` that
    collects the ids on its first use only: ``exclude`` is a collection of
    order ids or a function returning one. Collecting them reads every other
    store entry; done for every certificate of a batch that is quadratic in
    the store's size, for an answer needed only when the CA has an order
    for the same names."""
    held = []

    def excluded(order_id):
        if not held:
            held.append(exclude() if callable(exclude) else exclude)
        return order_id in held[0]
    return excluded


class CAProvider(Provider):
    """Base class of CA providers. Subclasses describe themselves (NAME, OPTION,
    ARGUMENT_SPEC, see _providers.Provider) and implement the methods;
    ``settings`` is what ``settings_from`` made of the module options: the
    provider's dict option with defaults applied, plus what it takes from the rest."""

    # What cert_validate adds to the DNS provider's error when an order of this CA waits for
    # a DNS record and no DNS provider is set up ({name}, {dns_provider}); None: nothing.
    MISSING_DNS_PROVIDER_HINT = None
    # Whether the CA knows certificate profiles (``profile`` of cert_request); one that does not refuses the option.
    PROFILES = False

    def __init__(self, settings, context):
        self.settings = settings or {}
        self.context = context

    def quota(self, product=None):
        """Return {'total', 'used', 'issued', 'remaining', 'unlimited'}."""
        raise NotImplementedError

    def holds(self, order):
        """Whether an order in the store was made by this CA (not another
        provider, ACME directory or local CA), so that it can be resumed here."""
        return order.get('provider') == self.name

    def check_request(self, request):
        """Refuse, before any key, order or file is made, what this CA cannot give
        ``request`` (names and validation were checked where it was built)."""
        if request.profile is not None and not self.PROFILES:
            raise CertflowError('profile %r: the %s provider has no certificate profiles (profile is for ACME CAs that list them)'
                                % (request.profile, self.name))

    def find_order(self, request, exclude=()):
        """An existing pending or issued order for the same names, or None.
        ``exclude``: order ids other store entries hold, never to be taken
        over (one order, one key: sharing it gives one entry a certificate
        without its key, and revoking one revokes the other); or a function
        returning them, called only once an order for the same names is
        found (see ``excluded_ids``)."""
        return None

    def create_order(self, request, csr_pem, submit=True):
        """Create (and, when ``submit``, submit) an order for ``request``; return an
        order dict (its identifiers and validation the request's) with status
        ``created`` or ``pending_validation`` and its challenges."""
        raise NotImplementedError

    def submit(self, order):
        """Send an order created with ``submit=False`` to the CA; return the
        order, now ``pending_validation`` with its challenges."""
        raise NotImplementedError

    def challenges(self, order):
        """Refresh and return the order's challenges for its validation method."""
        return order.get('challenges', [])

    def ready(self, order, challenge):
        """Tell the CA the proof for ``challenge`` is in place."""

    def poll(self, order):
        """Look at the order once. Return ``(status, retry_after)`` where
        ``retry_after`` is the seconds the CA asked us to wait, or None. Updates
        ``order`` in place (status, error). Finalisation happens here when the CA
        needs it (ACME: order ``ready`` -> finalize with ``order['csr']``)."""
        raise NotImplementedError

    def fetch(self, order):
        """Return {'cert': PEM, 'chain': PEM, 'fullchain': PEM, 'key': PEM or None}."""
        raise NotImplementedError

    def renew(self, order, request, csr_pem, submit=True):
        """Start the renewal of an issued order; return the new order (``created``,
        kept with us, when not ``submit``: quick_issue false holds for renewals too)."""
        return self.create_order(request, csr_pem, submit=submit)

    def cancel(self, order):
        """Cancel a pending order. Return True when something changed."""
        raise NotImplementedError

    def revoke(self, cert_pem, reason='unspecified', key_pem=None, order=None):
        """Revoke an issued certificate. Return True when it was revoked now,
        False when the CA says it was already revoked."""
        raise NotImplementedError

    def renewal_info(self, cert):
        """When the CA suggests renewing this certificate it issued (PEM text or loaded):
        {'cert_id', 'start', 'end' (aware datetimes), 'explanation_url',
        'retry_after' (seconds until it may be asked again)}; None when the CA
        gives no such advice (the lifetime rule decides). A broken answer
        raises CertflowError."""
        return None

    def close(self):
        """Release connections."""
