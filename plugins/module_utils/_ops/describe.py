# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_info: describe a certificate from a file, text, the store or a live
TLS endpoint, with chain, key and revocation checks."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import socket
import ssl

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ops import revocation_check as _revocation


def describe(pem, renew_before_days=None, key_pem=None, roots_pem=None, check_revocation='none', ca_bundle=None,
             revocation_lookup=None, renew_before_ratio=None, detail='full'):
    """Summary of the first certificate of ``pem`` (PEM text, or certificates
    already loaded), its chain (the rest of ``pem``) checked, the key compared
    and revocation looked up when asked; ``detail='renewal'``: only what
    decides its renewal (``_crypto.renewal_summary``), nothing checked."""
    certs = _crypto.load_certificates(pem)
    leaf, chain = certs[0], certs[1:]
    if detail == 'renewal':
        return _crypto.renewal_summary(leaf, renew_before_days=renew_before_days, renew_before_ratio=renew_before_ratio)
    info = _crypto.cert_summary(leaf, renew_before_days=renew_before_days, renew_before_ratio=renew_before_ratio)
    roots = _crypto.load_certificates(roots_pem) if roots_pem else None
    ok, reason = _crypto.verify_chain(leaf, chain, roots=roots)
    info['chain_valid'] = ok
    info['chain_problem'] = reason or None
    info['key_matches'] = None
    if key_pem:
        info['key_matches'] = _crypto.cert_matches_key(leaf, _crypto.load_private_key(key_pem))
    info['revocation_status'] = None
    if check_revocation and check_revocation != 'none':
        issuer = chain[0] if chain else None
        info['revocation_status'] = _revocation.status(leaf, issuer, check_revocation, ca_bundle=ca_bundle,
                                                       lookup=revocation_lookup)
    return info


def from_store(store, name, order=None, missing_ok=False, detail='full', **kwargs):
    """(``describe`` of a stored certificate, the certificate itself, loaded).
    ``order``: its order.json when the caller read it already; ``missing_ok``:
    (None, None) for an order that has no certificate yet instead of an error;
    ``detail='renewal'``: the leaf alone is read (cert.pem), and no key."""
    if detail == 'renewal':
        pem = store.read(name, 'cert') or store.read(name, 'fullchain')
    else:
        pem = store.read(name, 'fullchain') or store.read(name, 'cert')
    if not pem:
        if missing_ok:
            return None, None
        raise CertflowError('no certificate named %s in %s' % (name, store.root))
    # Loaded once: the summary, the chain check and the CA's renewal advice all use these objects.
    certs = _crypto.load_certificates(pem, 'the stored certificate %s' % name)
    order = (store.load_order(name) if order is None else order) or {}
    info = describe(certs, key_pem=None if detail == 'renewal' else store.read(name, 'privkey'), detail=detail, **kwargs)
    info.update({'name': name, 'status': order.get('status', 'issued'), 'provider': order.get('provider')})
    if detail != 'renewal':
        info['paths'] = store.paths(name)
        if order.get('status') == 'revoked' and info['revocation_status'] in (None, 'unknown'):
            info['revocation_status'] = 'revoked'
    return info, certs[0]


# What detail: full also returns flat, for playbooks written before the ``renewal`` object.
FLAT_RENEWAL_KEYS = ('renewal_time', 'renewal_source', 'renewal_window', 'explanation_url')


def shaped(summary, detail):
    """The summary as cert_info returns it: with ``detail='renewal'`` the renewal facts once, in ``renewal``."""
    if detail == 'renewal':
        for key in FLAT_RENEWAL_KEYS:
            summary.pop(key, None)
    return summary


def fetch_endpoint(host, port=443, server_name=None, timeout=10.0):
    """The PEM certificate an endpoint presents (with SNI), and whether its
    chain verifies against the system trust store (``ca_bundle`` ignored here)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            with context.wrap_socket(sock, server_hostname=server_name or host) as tls:
                der = tls.getpeercert(binary_form=True)
                protocol = tls.version()
    except (OSError, ssl.SSLError) as exc:
        raise CertflowError('cannot get the certificate of %s:%s (SNI %s): %s' % (host, port, server_name or host, exc))
    return ssl.DER_cert_to_PEM_cert(der), protocol


def endpoint_trusted(host, port, server_name, ca_bundle=None, timeout=10.0):
    context = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            with context.wrap_socket(sock, server_hostname=server_name or host):
                return True, None
    except ssl.SSLCertVerificationError as exc:
        return False, exc.verify_message or str(exc)
    except (OSError, ssl.SSLError) as exc:
        return False, str(exc)
