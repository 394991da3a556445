# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME problem documents (RFC 7807 / RFC 8555 section 6.7), Retry-After, and the CertflowErrors made from them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import email.utils

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError

ERROR_NS = 'urn:ietf:params:acme:error:'
BAD_NONCE = ERROR_NS + 'badNonce'
RATE_LIMITED = ERROR_NS + 'rateLimited'
ALREADY_REVOKED = ERROR_NS + 'alreadyRevoked'
ALREADY_REPLACED = ERROR_NS + 'alreadyReplaced'
ACCOUNT_DOES_NOT_EXIST = ERROR_NS + 'accountDoesNotExist'
ORDER_NOT_READY = ERROR_NS + 'orderNotReady'
MALFORMED = ERROR_NS + 'malformed'
UNAUTHORIZED = ERROR_NS + 'unauthorized'
BAD_PUBLIC_KEY = ERROR_NS + 'badPublicKey'
TRANSIENT_PROBLEMS = (BAD_NONCE, RATE_LIMITED, ERROR_NS + 'serverInternal')


def parse_retry_after(value, now=None):
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP-date
    (RFC 9110 section 10.2.3). None when absent or unparsable; never negative."""
    if value is None:
        return None
    value = str(value).strip()
    if not value:
        return None
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return max(0.0, (when - now).total_seconds())


def retry_after_of(response):
    """The Retry-After of an answer in seconds, or None."""
    return parse_retry_after(response.headers.get('Retry-After'))


def problem_message(problem, url, http_status=None):
    """One readable line for an RFC 7807 problem document returned for ``url``,
    naming the problem type, its detail and every subproblem."""
    ptype = problem.get('type') or 'about:blank'
    detail = problem.get('detail') or problem.get('title') or 'no detail given'
    status = http_status or problem.get('status')
    text = 'ACME server refused %s: %s: %s' % (url, ptype, detail)
    if status:
        text += ' (HTTP %s)' % status
    parts = []
    for sub in problem.get('subproblems') or []:
        if not isinstance(sub, dict):
            continue
        ident = sub.get('identifier') or {}
        label = ident.get('value') or '?'
        parts.append('%s: %s: %s' % (label, sub.get('type') or 'about:blank', sub.get('detail') or 'no detail given'))
    if parts:
        text += '; subproblems: ' + '; '.join(parts)
    return text


def problem_of(response):
    """The problem document of an error response, or a synthetic one."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and (data.get('type') or data.get('detail')):
        return data
    body = (response.text or '').strip().replace('\n', ' ')
    if len(body) > 200:
        body = body[:200] + '...'
    detail = '%s %s%s' % (response.status_code, response.reason or '', (': ' + body) if body else '')
    return {'type': 'about:blank', 'detail': detail}


def problem_type(error):
    """The ACME problem type a CertflowError was made from, or None."""
    return error.details.get('problem_type')


def problem_error(problem, url, response=None):
    """The CertflowError for a problem the server answered ``url`` with; says
    how long the server asks to wait when it is busy or rate limiting."""
    status = response.status_code if response is not None else None
    msg = problem_message(problem, url, status)
    retry_after = retry_after_of(response) if response is not None else None
    if retry_after is not None and (status in (429, 503) or problem.get('type') == RATE_LIMITED):
        msg += '; the server asks to retry after %d seconds' % int(retry_after)
    return CertflowError(msg, url=url, http_status=status, problem_type=problem.get('type'))


def unreachable_error(url, exc, deadline):
    """The CertflowError for a server that could not be reached (or did not answer in time)."""
    if getattr(exc, 'timeout', False) and deadline.expired():
        return CertflowError('timed out after %ss (option timeout) waiting for ACME server %s to answer: %s'
                             % (int(round(deadline.seconds)), url, exc), url=url)
    return CertflowError('cannot reach ACME server %s: %s' % (url, exc), url=url)
