# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``local`` CA provider: a CA kept on disk that validates like a public
CA (TXT record or file) or not at all (``validation: none``, internal names).

States: ``create_order`` -> ``pending_validation`` with challenges (or
``created`` when not submitted; ``submit()`` moves it on). ``ready(order,
challenge)`` performs the real check of that one challenge right away
(TXT at ``_acme-challenge.<name>`` on every authoritative server, or the file
at ``http://<name>/.well-known/pki-validation/<token>.txt``), bounded by
``context.timeout`` counted from when the provider was created; a failed check
marks the order ``failed`` with the reason in ``order['error']`` (it does not
raise, like a CA that answers "invalid" later). Once every challenge is valid
the order is ``processing`` and the next ``poll()`` signs the certificate:
``issued``. An order without challenges (``validation: none``) is issued by
the first ``poll()``.

Orders live in ``<path>/orders/<order_id>.json``, so another process (the
next module run) resumes them; the disk copy is authoritative and every call
refreshes the caller's dict from it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import os
import secrets
import time

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline
from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import REVOCATION_REASONS, CAProvider, excluded_ids
from ansible_collections.certflow.ssl.plugins.module_utils._ca.local.engine import (
    DEFAULT_INTERMEDIATE_NAME,
    DEFAULT_ROOT_NAME,
    LocalCA,
    iso,
    utcnow,
)

DEFAULTS = {
    'path': None,
    'key_type': 'ec256',
    'validity_days': 90,
    'quota': None,
    'crl_url': None,
    'nameservers': None,
    'http_port': None,
    'root_name': DEFAULT_ROOT_NAME,
    'intermediate_name': DEFAULT_INTERMEDIATE_NAME,
}
VALIDATIONS = ('dns', 'http', 'none')
OPEN_STATUSES = ('created', 'pending_validation', 'processing')
FILE_VALIDATION_DIR = '/.well-known/pki-validation/'
DNS_RECORD_PREFIX = '_acme-challenge.'
STORE_SUBDIR = '_local_ca'


def _settings(settings, context):
    merged = dict(DEFAULTS)
    merged.update(dict((key, value) for key, value in (settings or {}).items() if value is not None))
    if not merged['path']:
        store_root = getattr(getattr(context, 'store', None), 'root', None)
        if not store_root:
            raise CertflowError('local_ca.path is required when there is no certificate store (store_dir)')
        merged['path'] = os.path.join(store_root, STORE_SUBDIR)
    if merged['key_type'] not in _crypto.KEY_TYPES:
        raise CertflowError('local_ca.key_type %r is not one of %s' % (merged['key_type'], ', '.join(_crypto.KEY_TYPES)))
    for option, minimum in (('validity_days', 1), ('quota', 0), ('http_port', 1)):
        value = merged[option]
        if value is None:
            continue
        try:
            merged[option] = int(value)
        except (TypeError, ValueError):
            raise CertflowError('local_ca.%s must be a whole number, got %r' % (option, value))
        if merged[option] < minimum:
            raise CertflowError('local_ca.%s must be at least %d, got %r' % (option, minimum, value))
    if isinstance(merged['nameservers'], str):
        merged['nameservers'] = [entry.strip() for entry in merged['nameservers'].split(',') if entry.strip()]
    return merged


def _identifier_key(identifiers):
    return sorted((i['type'], i['value'].lower()) for i in identifiers)


def _url_host(identifier):
    if identifier['type'] == 'ip' and ':' in identifier['value']:
        return '[%s]' % identifier['value']
    return identifier['value']


def _new_challenge(identifier, validation):
    value = identifier['value']
    challenge = {
        'domain': value, 'type': None, 'record_name': None, 'record_type': None, 'record_value': None,
        'file_path': None, 'file_content': None, 'url': None, 'status': 'pending',
        'provider_data': {'id': secrets.token_hex(8), 'identifier': dict(identifier), 'error': None, 'validated_at': None},
    }
    if validation == 'dns':
        base = value[2:] if value.startswith('*.') else value
        challenge.update({'type': 'dns-01', 'record_name': DNS_RECORD_PREFIX + base, 'record_type': 'TXT',
                          'record_value': secrets.token_urlsafe(32)})
    else:
        file_path = '%s%s.txt' % (FILE_VALIDATION_DIR, secrets.token_hex(16))
        challenge.update({'type': 'http-01', 'file_path': file_path, 'file_content': secrets.token_urlsafe(32),
                          'url': 'http://%s%s' % (_url_host(identifier), file_path)})
    return challenge


class LocalCAProvider(CAProvider):
    """CA provider ``local`` (settings: the ``local_ca`` option)."""

    NAME = 'local'
    OPTION = 'local_ca'
    ARGUMENT_SPEC = dict(
        path=dict(type='path'),
        key_type=dict(type='str', choices=list(_crypto.KEY_TYPES), default='ec256'),
        validity_days=dict(type='int', default=90),
        quota=dict(type='int'),
        crl_url=dict(type='str'),
        root_name=dict(type='str'),
        intermediate_name=dict(type='str'),
    )
    # Internal names usually want no DNS record at all (see CAProvider.MISSING_DNS_PROVIDER_HINT).
    MISSING_DNS_PROVIDER_HINT = ('The local CA asks for a DNS TXT record for {name} (validation: dns, the default) and no DNS '
                                 'provider is set up: for internal names run certflow.ssl.cert_request with validation: none '
                                 '(the pending order follows it), or give cert_validate the {dns_provider} settings (or method: dns_manual)')

    @classmethod
    def settings_from(cls, options):
        """The local CA checks the proofs itself, where cert_validate would: it takes
        cert_validate's nameservers and http_check_port unless its settings name them."""
        settings = super(LocalCAProvider, cls).settings_from(options)
        if not settings.get('nameservers'):
            settings['nameservers'] = options.get('nameservers')
        if not settings.get('http_port'):
            settings['http_port'] = options.get('http_check_port')
        return settings

    def __init__(self, settings, context):
        super(LocalCAProvider, self).__init__(settings, context)
        self.settings = _settings(settings, context)
        self.ca = LocalCA(self.settings['path'], key_type=self.settings['key_type'], root_name=self.settings['root_name'],
                          intermediate_name=self.settings['intermediate_name'], crl_url=self.settings['crl_url'])
        # One budget for every validation this provider performs (the run's overall timeout).
        self._deadline = Deadline(float(getattr(context, 'timeout', None) or 300.0))

    # -- quota ----------------------------------------------------------
    def quota(self, product=None):
        """Certificates the CA may still issue; ``local_ca.quota`` None = unlimited."""
        issued = self.ca.issued_count()
        total = self.settings['quota']
        if total is None:
            return {'total': None, 'used': issued, 'issued': issued, 'remaining': None, 'unlimited': True}
        return {'total': total, 'used': issued, 'issued': issued, 'remaining': max(0, total - issued), 'unlimited': False}

    def _check_quota(self):
        total = self.settings['quota']
        if total is not None:
            issued = self.ca.issued_count()
            if issued >= total:
                raise CertflowError('local CA quota of %d certificates is used up (%d issued by %s); raise local_ca.quota to issue more'
                                    % (total, issued, self.ca.path), quota=total, issued=issued)

    # -- orders ---------------------------------------------------------
    def _load(self, order):
        """The disk copy of ``order``, copied into the caller's dict."""
        order_id = order.get('order_id') if isinstance(order, dict) else order
        stored = self.ca.load_order(order_id)
        if stored is None:
            raise CertflowError('order %s is not known to the local CA at %s' % (order_id, self.ca.path))
        if isinstance(order, dict):
            order.update(copy.deepcopy(stored))
        return stored

    def _save(self, stored, order=None):
        stored['provider_data']['updated_at'] = iso(utcnow())
        self.ca.save_order(stored)
        if order is not None:
            order.update(copy.deepcopy(stored))

    def find_order(self, request, exclude=()):
        """The newest open or issued order for the same names (an open one
        only when its validation method is the one asked for) that was made
        for this certificate name and no other store entry holds."""
        wanted = _identifier_key(request.identifiers)
        excluded = excluded_ids(exclude)
        candidates = []
        for order in self.ca.orders():
            if _identifier_key(order.get('identifiers') or []) != wanted or excluded(order.get('order_id')):
                continue
            made_for = order['provider_data'].get('name')
            if made_for and made_for != request.name:
                continue
            status = order.get('status')
            if status == 'issued' or (status in OPEN_STATUSES and order.get('validation') == request.validation):
                candidates.append(order)
        if not candidates:
            return None
        return max(candidates, key=lambda o: (o['provider_data'].get('created_ts') or 0, o['provider_data'].get('created_at') or ''))

    def holds(self, order):
        return super(LocalCAProvider, self).holds(order) and (order.get('provider_data') or {}).get('ca_path') == self.ca.path

    def create_order(self, request, csr_pem, submit=True, renews=None):
        # The request's names, validation and CSR were checked where it was built; left is what this CA offers.
        validation = request.validation
        if validation not in VALIDATIONS:
            raise CertflowError('the local CA validates with %s, not %r' % (', '.join(VALIDATIONS), validation))
        identifiers = [dict(i) for i in request.identifiers]
        if not csr_pem and submit:
            raise CertflowError('a CSR is needed to submit an order to the local CA')
        self._check_quota()
        self.ca.ensure()
        now = iso(utcnow())
        order = {
            'provider': self.name,
            'order_id': secrets.token_hex(12),
            'status': 'created',
            'identifiers': identifiers,
            'validation': validation,
            'csr': csr_pem,
            'challenges': [],
            'error': None,
            'provider_data': {'ca_path': self.ca.path, 'name': request.name, 'created_at': now, 'updated_at': now,
                              'created_ts': time.time(),   # orders one second apart still sort right
                              'submitted_at': None, 'serial': None, 'not_after': None, 'renews': renews},
        }
        if submit:
            self._submit(order)
        with self.ca.lock():
            self.ca.save_order(order)
        self.context.log('local CA: order %s for %s is %s' % (order['order_id'], ', '.join(i['value'] for i in identifiers), order['status']))
        return copy.deepcopy(order)

    def _submit(self, stored):
        stored['challenges'] = [] if stored['validation'] == 'none' else [
            _new_challenge(identifier, stored['validation']) for identifier in stored['identifiers']]
        stored['status'] = 'pending_validation'
        stored['provider_data']['submitted_at'] = iso(utcnow())

    def submit(self, order, csr_pem=None):
        """Submit a ``created`` order (made with ``submit=False``); returns the order."""
        with self.ca.lock():
            stored = self._load(order)
            if stored['status'] != 'created':
                order.update(copy.deepcopy(stored))
                return order
            if csr_pem:
                stored['csr'] = csr_pem
            if not stored.get('csr'):
                raise CertflowError('order %s has no CSR; it cannot be submitted' % stored['order_id'])
            self._submit(stored)
            self._save(stored, order)
        return order

    def challenges(self, order):
        return copy.deepcopy(self._load(order)['challenges'])

    # -- validation -----------------------------------------------------
    @staticmethod
    def _find_challenge(stored, challenge):
        wanted = (challenge.get('provider_data') or {}).get('id')
        for candidate in stored['challenges']:
            if wanted and candidate['provider_data']['id'] == wanted:
                return candidate
        for candidate in stored['challenges']:
            if not wanted and candidate['domain'] == challenge.get('domain') and candidate['type'] == challenge.get('type'):
                return candidate
        raise CertflowError('order %s has no challenge %s for %s' % (stored['order_id'], wanted or challenge.get('type'), challenge.get('domain')))

    def _verify(self, challenge):
        """Check one proof; return None when it is in place, else why not."""
        nameservers = self.settings['nameservers']
        # dnspython and the HTTP check only when a proof is checked: every module builds its
        # options from this class, an ACME run must not pay for them (docs/performance.md).
        from ansible_collections.certflow.ssl.plugins.module_utils._proofs.propagation import follow_cname, wait_for_txt
        from ansible_collections.certflow.ssl.plugins.module_utils._proofs.http_check import wait_for_http_file
        try:
            if challenge['type'] == 'dns-01':
                target = follow_cname(challenge['record_name'], nameservers)
                wait_for_txt(target, challenge['record_value'], self._deadline, nameservers=nameservers)
            else:
                wait_for_http_file(challenge['url'], challenge['file_content'], self._deadline, nameservers=nameservers,
                                   port=self.settings['http_port'])
        except CertflowError as exc:
            return exc.msg
        return None

    def ready(self, order, challenge):
        """Check the proof for ``challenge`` now (see the module docstring)."""
        stored = self._load(order)
        if stored['status'] in ('cancelled', 'revoked'):
            raise CertflowError('order %s is %s' % (stored['order_id'], stored['status']))
        if stored['status'] == 'created':
            raise CertflowError('order %s was not submitted yet' % stored['order_id'])
        if stored['status'] != 'pending_validation':
            return          # already decided: failed, processing or issued
        target = self._find_challenge(stored, challenge)
        if target['status'] == 'valid':
            return
        problem = self._verify(target)
        with self.ca.lock():
            stored = self._load(order)
            target = self._find_challenge(stored, target)
            if stored['status'] != 'pending_validation':
                return
            if problem is None:
                target['status'] = 'valid'
                target['provider_data']['validated_at'] = iso(utcnow())
                if all(c['status'] == 'valid' for c in stored['challenges']):
                    stored['status'] = 'processing'
            else:
                what = 'TXT record %s' % target['record_name'] if target['type'] == 'dns-01' else 'file %s' % target['url']
                message = 'local CA could not validate %s (%s): %s' % (target['domain'], what, problem)
                target['status'] = 'invalid'
                target['provider_data']['error'] = message
                stored['status'] = 'failed'
                stored['error'] = message
            self._save(stored, order)
        challenge.update(copy.deepcopy(target))
        self.context.log('local CA: challenge %s for %s is %s' % (target['type'], target['domain'], target['status']))

    # -- issuance -------------------------------------------------------
    def poll(self, order):
        """Look at the order once; sign the certificate when validation is complete."""
        stored = self._load(order)
        status = stored['status']
        if status == 'pending_validation':
            if any(c['status'] == 'invalid' for c in stored['challenges']):
                return self._advance(order, 'failed'), None
            if all(c['status'] == 'valid' for c in stored['challenges']):    # also: no challenges (validation none)
                status = 'processing'
        if status == 'processing':
            return self._advance(order, 'processing'), None
        return status, None

    def _advance(self, order, status):
        with self.ca.lock():
            stored = self._load(order)
            if stored['status'] not in OPEN_STATUSES:
                return stored['status']
            if status == 'failed':
                stored['status'] = 'failed'
                stored['error'] = stored.get('error') or 'a challenge is invalid'
            else:
                cert_pem, serial = self.ca.issue(stored['csr'], stored['order_id'], self.settings['validity_days'],
                                                 quota=self.settings['quota'])
                cert = _crypto.load_certificate(cert_pem)
                stored['status'] = 'issued'
                stored['error'] = None
                stored['provider_data'].update({'serial': serial, 'not_after': iso(cert.not_valid_after_utc),
                                                'issued_at': iso(utcnow())})
                self.context.log('local CA: issued serial %s for order %s' % (serial, stored['order_id']))
            self._save(stored, order)
            return stored['status']

    def fetch(self, order):
        stored = self._load(order)
        serial = stored['provider_data'].get('serial')
        if stored['status'] not in ('issued', 'revoked') or not serial:
            raise CertflowError('order %s of the local CA is %s, not issued' % (stored['order_id'], stored['status']))
        cert = self.ca.read_cert(serial)
        chain = self.ca.intermediate_pem()
        return {'cert': cert, 'chain': chain, 'fullchain': cert + chain, 'key': None}

    def renew(self, order, request, csr_pem, submit=True):
        """A new order for the same names; the old certificate stays valid."""
        order_id = order.get('order_id') if isinstance(order, dict) else None
        return self.create_order(request, csr_pem, submit=submit, renews=order_id)

    def cancel(self, order):
        with self.ca.lock():
            stored = self._load(order)
            if stored['status'] == 'cancelled':
                return False
            if stored['status'] in ('issued', 'revoked'):
                raise CertflowError('order %s of the local CA is %s; revoke the certificate instead of cancelling the order'
                                    % (stored['order_id'], stored['status']))
            stored['status'] = 'cancelled'
            stored['provider_data']['cancelled_at'] = iso(utcnow())
            self._save(stored, order)
        return True

    # -- revocation -----------------------------------------------------
    def revoke(self, cert_pem, reason='unspecified', key_pem=None, order=None):
        if reason not in REVOCATION_REASONS:
            raise CertflowError('revocation reason %r is not one of %s' % (reason, ', '.join(sorted(REVOCATION_REASONS))))
        cert = _crypto.load_certificate(cert_pem)
        serial = _crypto.cert_serial_hex(cert)
        if not self.ca.issued_here(cert):
            raise CertflowError('certificate serial %s (issuer %s) was not issued by the local CA at %s'
                                % (serial, cert.issuer.rfc4514_string(), self.ca.path))
        with self.ca.lock():
            revoked_now, entry = self.ca.revoke(cert, reason)
            order_id = entry.get('order_id') or (order or {}).get('order_id')
            try:
                stored = self.ca.load_order(order_id) if order_id else None
            except CertflowError:
                stored = None       # an order id of another CA: nothing of ours to mark
            if stored is not None and stored['provider_data'].get('serial') == serial and stored['status'] != 'revoked':
                stored['status'] = 'revoked'
                stored['provider_data']['revoked_at'] = entry['revoked_at']
                self._save(stored)
        if order is not None and order.get('order_id') == order_id:
            order['status'] = 'revoked'
        self.context.log('local CA: serial %s %s' % (serial, 'revoked' if revoked_now else 'was already revoked'))
        return revoked_now

    def revocation_status(self, cert_pem):
        """'good', 'revoked' or 'unknown' (not issued by this CA) for ``cert_info check_revocation: crl``."""
        return self.ca.status(_crypto.load_certificate(cert_pem))

    # -- the CA's public files -------------------------------------------
    def root_pem(self):
        """The root certificate to trust (also at ``<path>/root.pem``); creates the CA on first use."""
        self.ca.ensure()
        return self.ca.root_pem()

    def crl_pem(self):
        self.ca.ensure()
        return self.ca.crl_pem()
