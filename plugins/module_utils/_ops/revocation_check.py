# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Revocation status of a certificate by OCSP or by its CRL."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from urllib.parse import unquote, urlparse

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp
except ImportError:  # reported by the module wrapper (module_utils/_deps.py)
    pass

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils import _crypto


def _http_get(url, ca_bundle, data=None, headers=None):
    import requests  # only needed when a lookup is asked for
    verify = ca_bundle or True
    try:
        if data is None:
            response = requests.get(url, timeout=15, verify=verify, headers=headers)
        else:
            response = requests.post(url, data=data, timeout=15, verify=verify, headers=headers)
    except requests.RequestException as exc:
        raise CertflowError('cannot reach %s: %s' % (url, exc))
    if response.status_code != 200:
        raise CertflowError('%s answered HTTP %s' % (url, response.status_code))
    return response.content


def _load_crl(data):
    try:
        return x509.load_der_x509_crl(data)
    except ValueError:
        try:
            return x509.load_pem_x509_crl(data)
        except ValueError:
            raise CertflowError('the CRL is neither DER nor PEM')


def crl_status(cert, crl_bytes):
    crl = _load_crl(crl_bytes)
    return 'revoked' if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None else 'good'


def _read_crl_url(url, ca_bundle):
    if url.startswith('file://'):
        try:
            with open(unquote(urlparse(url).path), 'rb') as handle:
                return handle.read()
        except (IOError, OSError) as exc:
            raise CertflowError('cannot read CRL %s: %s' % (url, exc))
    return _http_get(url, ca_bundle)


def status(cert, issuer, method, ca_bundle=None, lookup=None):
    """'good', 'revoked' or 'unknown'. ``lookup(cert)`` answers first when a
    provider knows the status itself (the local CA's index)."""
    if lookup is not None:
        answer = lookup(cert)
        if answer in ('good', 'revoked'):
            return answer
    summary = _crypto.cert_summary(cert)
    if method == 'crl':
        urls = summary.get('crl_urls') or []
        if not urls:
            return 'unknown'
        return crl_status(cert, _read_crl_url(urls[0], ca_bundle))
    if method == 'ocsp':
        urls = summary.get('ocsp_urls') or []
        if not urls or issuer is None:
            return 'unknown'
        request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
        body = _http_get(urls[0], ca_bundle, data=request.public_bytes(serialization.Encoding.DER),
                         headers={'Content-Type': 'application/ocsp-request'})
        response = ocsp.load_der_ocsp_response(body)
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            return 'unknown'
        return {ocsp.OCSPCertStatus.GOOD: 'good', ocsp.OCSPCertStatus.REVOKED: 'revoked'}.get(response.certificate_status, 'unknown')
    raise CertflowError('check_revocation must be none, ocsp or crl, not %r' % method)
