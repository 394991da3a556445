# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME revocation (RFC 8555 section 7.6): signed by the account, or by the certificate's own key."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

try:
    from cryptography.hazmat.primitives.serialization import Encoding
except ImportError:  # reported by the module wrapper (module_utils/_deps.py)
    pass

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import jws as _jws
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.errors import ALREADY_REVOKED, UNAUTHORIZED, problem_type
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import REVOCATION_REASONS
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError


def _certificate_key(cert, key_pem):
    cert_key = _crypto.load_private_key(key_pem)
    if not _crypto.cert_matches_key(cert, cert_key):
        raise CertflowError('the private key given for revocation does not belong to the certificate (serial %s)'
                            % _crypto.cert_serial_hex(cert))
    return cert_key


def revoke(account, cert_pem, reason='unspecified', key_pem=None):
    """revokeCert for ``cert_pem`` with ``account`` (an AcmeAccount). True when
    revoked now, False when the CA says it was revoked already. Without an
    account key of its own, or when the account may not revoke it, the
    certificate's key (``key_pem``) signs the request."""
    if reason not in REVOCATION_REASONS:
        raise CertflowError('unknown revocation reason %r; choose one of %s' % (reason, ', '.join(sorted(REVOCATION_REASONS))))
    cert = _crypto.load_certificate(cert_pem, 'the certificate to revoke')
    payload = {'certificate': _jws.b64u(cert.public_bytes(Encoding.DER)), 'reason': REVOCATION_REASONS[reason]}
    url = account.client.directory().get('revokeCert')
    if not url:
        raise CertflowError('ACME server %s offers no revokeCert' % account.directory_url)
    try:
        if key_pem and not account.has_configured_key():
            account.post_with_key(url, payload, key=_certificate_key(cert, key_pem))
        else:
            try:
                account.post(url, payload)
            except CertflowError as exc:
                # The account did not issue this certificate: its own key may still revoke it.
                if not key_pem or problem_type(exc) != UNAUTHORIZED:
                    raise
                account.client.warn('the ACME account may not revoke this certificate; signing with the certificate key')
                account.post_with_key(url, payload, key=_certificate_key(cert, key_pem))
    except CertflowError as exc:
        if problem_type(exc) == ALREADY_REVOKED:
            return False
        raise
    return True
