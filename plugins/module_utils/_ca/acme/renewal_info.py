# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME Renewal Information (RFC 9773): the CertID of a certificate, the
renewalInfo answer (suggested window, explanationURL, Retry-After) checked,
and the order that already replaces a certificate, found in the account's
order list."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import re

try:
    from cryptography import x509
except ImportError:  # reported by the module wrapper (module_utils/_deps.py)
    pass

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.errors import retry_after_of
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, is_url

# RFC 9773 section 4.3: without Retry-After (or after a long-term error) ask again in six
# hours; a value below a minute or above a day is read as a minute or a day.
DEFAULT_RETRY_AFTER = 6 * 3600.0
MIN_RETRY_AFTER = 60.0
MAX_RETRY_AFTER = 86400.0
_RFC3339_RE = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)', re.IGNORECASE)
_CERT_ID_RE = re.compile(r'[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+')


def _b64url(data):
    return base64.urlsafe_b64encode(data).decode('ascii').rstrip('=')


def cert_id(cert):
    """The ARI CertID of a certificate (PEM or x509): base64url of its Authority
    Key Identifier's keyIdentifier, '.', base64url of the DER serial's content
    octets (a leading zero byte when the top bit is set). None without an AKI."""
    cert = _crypto.load_certificate(cert)
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return None
    if not aki.key_identifier:
        return None
    serial = cert.serial_number
    return '%s.%s' % (_b64url(aki.key_identifier), _b64url(serial.to_bytes(serial.bit_length() // 8 + 1, 'big')))


def clamp_retry_after(seconds):
    if seconds is None:
        return DEFAULT_RETRY_AFTER
    return min(MAX_RETRY_AFTER, max(MIN_RETRY_AFTER, float(seconds)))


def _timestamp(value, field):
    if not isinstance(value, str) or not _RFC3339_RE.fullmatch(value):
        raise ValueError('suggestedWindow.%s is not an RFC 3339 time: %r' % (field, value))
    text = value.upper().replace('Z', '+00:00')
    # fromisoformat takes at most 6 fractional digits; Go servers send up to 9
    text = re.sub(r'(\.\d{6})\d+', r'\1', text)
    return datetime.datetime.fromisoformat(text).astimezone(datetime.timezone.utc)


def parse_answer(data):
    """(start, end, explanation_url) of a renewalInfo object; ValueError naming
    what is wrong. A window whose end is not after its start is invalid (section 4.2)."""
    if not isinstance(data, dict):
        raise ValueError('the answer is not a JSON object')
    window = data.get('suggestedWindow')
    if not isinstance(window, dict):
        raise ValueError('it has no suggestedWindow object')
    start, end = _timestamp(window.get('start'), 'start'), _timestamp(window.get('end'), 'end')
    if end <= start:
        raise ValueError('suggestedWindow ends (%s) before it starts (%s)' % (window.get('end'), window.get('start')))
    explanation = data.get('explanationURL')
    if not is_url(explanation):
        explanation = None      # optional; a value that is no http(s) URL is not shown to anyone
    return start, end, explanation


def fetch(client, certid):
    """The renewal information of ``certid`` at the client's directory:
    {'cert_id', 'start', 'end', 'explanation_url', 'retry_after'}, or None when
    the directory offers no renewalInfo. A broken answer raises CertflowError."""
    base = client.directory().get('renewalInfo')
    if not isinstance(base, str) or not base:
        return None
    if not _CERT_ID_RE.fullmatch(certid or ''):
        raise CertflowError('no usable ARI CertID (%r)' % (certid,))
    url = base.rstrip('/') + '/' + certid
    response = client.get(url)
    try:
        data = response.json()
    except ValueError:
        data = None
    try:
        start, end, explanation = parse_answer(data)
    except ValueError as exc:
        raise CertflowError('the renewal information from %s is not usable: %s' % (url, exc), url=url)
    return {'cert_id': certid, 'start': start, 'end': end, 'explanation_url': explanation,
            'retry_after': clamp_retry_after(retry_after_of(response))}
