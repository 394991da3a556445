# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TXT records of the account-bound ACME DNS challenges: where they go and
what they hold.

dns-account-01 (draft-ietf-acme-dns-account-label): the dns-01 digest at
``_<label>._acme-challenge.<domain>``, ``<label>`` the lowercase base32 (no
padding) of the first 10 bytes of SHA-256(account URL), so every account has
its own name and several can validate one domain at once.

dns-persist-01 (draft-ietf-acme-dns-persist): one long-lived record at
``_validation-persist.<domain>`` holding an RFC 8659 issue-value,
``<issuer-domain-name>; accounturi=<account URL>`` (``; policy=wildcard``
to cover wildcards too, optional ``persistUntil=<unix time>``).

The issuer domain names and the account URL come from the CA: they go into a
record only after a full match here."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import re
import time

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError

ACCOUNT_PREFIX = '_acme-challenge'
PERSIST_PREFIX = '_validation-persist'
# RFC 8659 issuer-domain-name: LDH labels, at least two.
ISSUER_NAME = re.compile(r'(?=.{1,253}\Z)(?:(?!-)[A-Za-z0-9-]{1,63}(?<!-)\.)+(?!-)[A-Za-z0-9-]{1,63}(?<!-)')
# An ACME account URL as it may stand in an issue-value: https, then only
# characters RFC 8659 allows in a value (no space, ';', quote or backslash).
ACCOUNT_URL = re.compile(r'https://[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?/[A-Za-z0-9._~/%!$&\'()*+,=:@-]{0,1024}')
_VALUE_CHARS = re.compile(r'[\x21-\x3a\x3c-\x7e]*')


def check_account_url(url):
    if not isinstance(url, str) or not ACCOUNT_URL.fullmatch(url):
        raise CertflowError('ACME account URL %r refused: it does not fit in a DNS record (an https URL of plain characters)'
                            % (url,))
    return url


def check_issuer_name(name):
    if not isinstance(name, str) or not ISSUER_NAME.fullmatch(name):
        raise CertflowError('issuer domain name %r from the CA refused: not a DNS name' % (name,))
    return name


def account_label(account_url):
    """The account's label of dns-account-01: base32 of SHA-256(URL)[:10], lowercase."""
    digest = hashlib.sha256(check_account_url(account_url).encode('ascii')).digest()
    return base64.b32encode(digest[:10]).decode('ascii').lower()


def account_record_name(account_url, domain):
    return '_%s.%s.%s' % (account_label(account_url), ACCOUNT_PREFIX, domain)


def persist_record_name(domain):
    return '%s.%s' % (PERSIST_PREFIX, domain)


def persist_value(issuer, account_url, wildcard=False):
    """The issue-value we create: the first issuer the CA accepts, our account, and the wildcard policy only when asked for."""
    value = '%s; accounturi=%s' % (check_issuer_name(issuer), check_account_url(account_url))
    return value + '; policy=wildcard' if wildcard else value


def parse_issue_value(text):
    """(issuer, {tag: value}) of an RFC 8659 issue-value, tags lowercase (the
    issuer as written: CAs compare it exactly);
    raises ValueError (with the reason) for one the CA would find malformed."""
    parts = text.split(';')
    issuer = parts[0].strip(' \t')
    if not issuer:
        raise ValueError('no issuer domain name')
    params = {}
    for part in parts[1:]:
        tag, sep, value = part.strip(' \t').partition('=')
        tag, value = tag.strip(' \t'), value.strip(' \t')
        if not sep or not tag or not _VALUE_CHARS.fullmatch(value):
            raise ValueError('malformed parameter %r' % part.strip())
        if tag.lower() in params:
            raise ValueError('duplicate parameter %r' % tag)
        params[tag.lower()] = value
    return issuer, params


def persist_problem(text, wanted, issuers, now=None):
    """None when the record ``text`` authorises what the issue-value ``wanted``
    (our own, see persist_value) asks for at a CA accepting ``issuers``; else
    why not, for the message that names the record to create."""
    issuer, want = parse_issue_value(wanted)
    try:
        found_issuer, params = parse_issue_value(text)
    except ValueError as exc:
        return 'malformed (%s)' % exc
    if found_issuer not in (issuers or [issuer]):
        return 'for another CA (%s)' % found_issuer
    if params.get('accounturi') != want['accounturi']:
        return 'for another account (accounturi=%s)' % (params.get('accounturi') or 'missing')
    if want.get('policy') == 'wildcard' and (params.get('policy') or '').lower() != 'wildcard':
        return 'without policy=wildcard, which a wildcard name needs'
    until = params.get('persistuntil')
    if until is not None:
        if not re.fullmatch(r'-?[0-9]{1,19}', until):
            return 'malformed (persistUntil=%s)' % until
        if int(until) < (time.time() if now is None else now):
            return 'expired (persistUntil=%s)' % until
    return None
