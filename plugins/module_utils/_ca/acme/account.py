# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ACME account: its key (given, or generated into the store 0600), registration (with EAB), the store's account cache, the contact."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import threading

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import jws as _jws
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.client import json_object
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.errors import (
    ACCOUNT_DOES_NOT_EXIST, BAD_PUBLIC_KEY, MALFORMED, UNAUTHORIZED, problem_type)
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, atomic_write, read_text

ACCOUNT_KEY_FILE = 'account.key'
ACCOUNT_FILE = 'account.json'
DEFAULT_ACCOUNT_KEY_TYPE = 'ec256'
EAB_PROBLEMS = (UNAUTHORIZED, MALFORMED, BAD_PUBLIC_KEY)   # what a CA answers a wrong EAB kid / HMAC key with


class AcmeAccount:
    """The account one provider signs with. ``settings``: the ``acme:`` option
    (account_key_src/_content, account_email, eab_kid/eab_hmac_key)."""

    def __init__(self, settings, context, client):
        self.settings = settings
        self.context = context
        self.client = client
        self.directory_url = client.directory_url
        self.key = None
        self.jwk = None
        self.url = None
        self.from_cache = False
        self._dir = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------ signed requests
    def post(self, url, payload, accept=None, resend=True):
        """A POST signed with the account (kid); registers again, once, when the
        server no longer knows the account URL the store's cache gave."""
        reregistered = []

        def signer():
            self.ensure()
            return self.key, self.url

        def account_gone(problem):
            if problem.get('type') != ACCOUNT_DOES_NOT_EXIST or not self.from_cache or reregistered:
                return False
            self.client.warn('ACME account %s is unknown to the server; registering again' % self.url)
            reregistered.append(True)
            with self._lock:
                self.url = None
                self.from_cache = False
                self._register()
            return True
        return self.client.post(url, payload, signer, accept=accept, on_problem=account_gone, resend=resend)

    def post_with_key(self, url, payload, key=None):
        """A POST signed with ``key`` (default: the account key) carrying its public key (jwk), not the account URL."""
        return self.client.post(url, payload, lambda: (key or self.load_key(), None))

    # ------------------------------------------------------------ the key
    def load_key(self):
        with self._lock:
            if self.key is not None:
                return self.key
            src = self.settings.get('account_key_src')
            content = self.settings.get('account_key_content')
            if src:
                path = os.path.expanduser(src)
                try:
                    pem = read_text(path)
                except (IOError, OSError) as exc:
                    raise CertflowError('cannot read acme.account_key_src %s: %s' % (path, exc.strerror or exc))
                key = _crypto.load_private_key(pem)
            elif content:
                key = _crypto.load_private_key(content)
            else:
                key = self._store_key()
            _jws.algorithm(key)  # refuses key types ACME cannot sign with, with a clear message
            self.key = key
            self.jwk = _jws.jwk(key)
            return key

    def has_configured_key(self):
        """Whether a key is given or stored already (revocation does not create an account for nothing)."""
        if self.settings.get('account_key_src') or self.settings.get('account_key_content'):
            return True
        if self.context.store is None or self.context.check_mode:
            return False
        return os.path.exists(os.path.join(self._store_dir(), ACCOUNT_KEY_FILE))

    def _store_dir(self):
        if self._dir is None:
            self._dir = self.context.store.account_dir(self.directory_url)
        return self._dir

    def _store_key(self):
        if self.context.store is None:
            raise CertflowError('no account key: set acme.account_key_src or a store_dir')
        if self.context.check_mode:
            raise CertflowError('no account key: in check mode the ACME account is not created; set acme.account_key_src or run without check mode')
        path = os.path.join(self._store_dir(), ACCOUNT_KEY_FILE)
        if os.path.exists(path):
            try:
                return _crypto.load_private_key(read_text(path))
            except CertflowError as exc:
                raise CertflowError('the stored ACME account key %s cannot be used: %s' % (path, exc.msg))
        key = _crypto.generate_private_key(DEFAULT_ACCOUNT_KEY_TYPE)
        atomic_write(path, _crypto.private_key_to_pem(key), 0o600)
        self.client.log('created ACME account key %s' % path)
        return key

    # ------------------------------------------------------------ the account URL
    def contact(self):
        email_address = self.settings.get('account_email')
        return ['mailto:%s' % email_address] if email_address else []

    def _read_cache(self):
        if self.context.store is None or self.context.check_mode:
            return None
        path = os.path.join(self._store_dir(), ACCOUNT_FILE)
        try:
            data = json.loads(read_text(path))
        except (IOError, OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get('thumbprint') != _jws.thumbprint(self.jwk):
            return None
        if data.get('directory') != self.directory_url or not data.get('url'):
            return None
        return data

    def _write_cache(self):
        if self.context.store is None or self.context.check_mode:
            return
        data = {'url': self.url, 'directory': self.directory_url,
                'thumbprint': _jws.thumbprint(self.jwk), 'contact': self.contact()}
        atomic_write(os.path.join(self._store_dir(), ACCOUNT_FILE), json.dumps(data, indent=2, sort_keys=True) + '\n', 0o600)

    def ensure(self):
        """Load the key and find the account URL: from the store's account.json,
        else by newAccount (which returns the existing account for a known key)."""
        with self._lock:
            if self.url:
                return self.url
            if self.context.store is None or self.context.check_mode:
                return self._find_or_register()
            # Workers of one batch (and parallel runs) share the store's account:
            # only one of them may generate its key and register it.
            with self.context.store.account_lock(self.directory_url, timeout=max(self.client.deadline.remaining(), 1.0)):
                return self._find_or_register()

    def _find_or_register(self):
        self.load_key()
        cached = self._read_cache()
        if cached:
            self.url = cached['url']
            self.from_cache = True
            if cached.get('contact') != self.contact() and self.settings.get('account_email'):
                self._update_contact()
            return self.url
        self._register()
        return self.url

    def _register(self):
        directory = self.client.directory()
        url = directory['newAccount']
        meta = directory.get('meta') or {}
        eab_kid, eab_hmac_key = self.settings.get('eab_kid'), self.settings.get('eab_hmac_key')
        if bool(eab_kid) != bool(eab_hmac_key):
            raise CertflowError('external account binding needs both acme.eab_kid and acme.eab_hmac_key')
        if meta.get('externalAccountRequired') and not eab_kid:
            raise CertflowError('ACME server %s requires external account binding: set acme.eab_kid and acme.eab_hmac_key '
                                '(from your CA account)' % self.directory_url)
        if self.context.check_mode:
            payload = {'onlyReturnExisting': True}
        else:
            payload = {'termsOfServiceAgreed': True}
            if self.contact():
                payload['contact'] = self.contact()
            if eab_kid:
                payload['externalAccountBinding'] = _jws.eab_jws(self.key, eab_kid, eab_hmac_key, url)
        try:
            response = self.post_with_key(url, payload, key=self.key)
        except CertflowError as exc:
            if eab_kid and problem_type(exc) in EAB_PROBLEMS:
                raise CertflowError('%s (check acme.eab_kid and acme.eab_hmac_key)' % exc.msg, **exc.details)
            raise
        account_url = response.headers.get('Location')
        if not account_url:
            raise CertflowError('ACME server sent no account URL (Location) from %s' % url, url=url)
        data = json_object(response, url)
        status = data.get('status', 'valid')
        if status != 'valid':
            raise CertflowError('the ACME account %s is %s; use another account key' % (account_url, status), url=account_url)
        self.url = account_url
        self.from_cache = False
        self.client.log('ACME account %s (%s)' % (account_url, 'created' if response.status_code == 201 else 'existing'))
        self._write_cache()

    def _update_contact(self):
        if self.context.check_mode:
            return
        self.post(self.url, {'contact': self.contact()})
        self._write_cache()
