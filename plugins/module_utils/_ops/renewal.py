# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When a stored certificate is due for renewal: the CA's suggested window
(ACME Renewal Information) when the CA that issued it gives one, else its
lifetime (``renew_before_ratio``), or ``renew_before_days`` when set.

The CA's answer is kept in the certificate's ``renewal.json`` with the time
picked inside the window and when the CA may be asked again (its
Retry-After), so the decision is the same on every run and the CA is not
asked again before then."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import random
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca import CA_PROVIDERS
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import CAProvider
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError

# An answer the CA could not give (or gave broken) is not asked for again
# before this (RFC 9773 section 4.3.3: a long-term error); the lifetime rule decides meanwhile.
ERROR_RETRY_AFTER = 6 * 3600.0
ARI_WORKERS = 8         # renewalInfo GETs at once per process when cert_info lists the store (one keep-alive pool each)
_RANDOM = random.SystemRandom()


def _iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _parse(text):
    try:
        return datetime.datetime.fromisoformat(str(text).replace('Z', '+00:00')).astimezone(datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def _now(now):
    return now or datetime.datetime.now(datetime.timezone.utc)


def provider_for(run, options, order):
    """The CA provider that issued the stored certificate, set up from
    ``options``; None when the options do not reach that CA (another CA or
    ACME directory, or no settings for it), so that no other CA is asked."""
    name = (order or {}).get('provider')
    if not name or name not in CA_PROVIDERS.names() or CA_PROVIDERS.get(name).renewal_info is CAProvider.renewal_info:
        return None     # a CA that gives no advice is not even set up
    try:
        provider = run.ca(dict(options, provider=name))
    except CertflowError:
        return None
    return provider if provider.holds(order) else None


def _cached(store, name, serial):
    record = store.load_renewal(name)
    if not record or record.get('serial') != serial:
        return None     # none yet, damaged, or about the certificate this one replaced
    return record


def _ask(provider, cert, serial, cached, now):
    """A fresh record from the CA's answer, None when the CA gives no advice."""
    try:
        answer = provider.renewal_info(cert)
    except CertflowError as exc:
        return {'serial': serial, 'error': exc.msg, 'checked_at': _iso(now),
                'next_check': _iso(now + datetime.timedelta(seconds=ERROR_RETRY_AFTER))}
    if answer is None:
        return None
    window = {'start': _iso(answer['start']), 'end': _iso(answer['end'])}
    chosen = (cached or {}).get('renewal_time')
    if (cached or {}).get('window') != window or _parse(chosen) is None:
        # A uniformly random moment of the window spreads the renewals of many clients, as the CA asks.
        span = (answer['end'] - answer['start']).total_seconds()
        chosen = _iso(answer['start'] + datetime.timedelta(seconds=_RANDOM.uniform(0, span)))
    return {'serial': serial, 'cert_id': answer['cert_id'], 'window': window, 'renewal_time': chosen,
            'explanation_url': answer.get('explanation_url'), 'checked_at': _iso(now),
            'next_check': _iso(now + datetime.timedelta(seconds=answer['retry_after']))}


class _Advice:
    """The renewal advice of one stored certificate, under way: the kept answer
    read and whether the CA is to be asked again (no answer kept, its
    Retry-After over, or a revocation the kept answer predates)."""

    def __init__(self, store, name, summary, cert, revoked, renew_before_days, now):
        self.store, self.name, self.summary, self.cert, self.revoked, self.now = store, name, summary, cert, revoked, now
        # Asked for explicitly; and an expired certificate is not asked about (RFC 9773 4.3).
        decided = renew_before_days is not None or summary['expired']
        self.cached = None if decided else _cached(store, name, summary['serial'])
        cached = self.cached
        self.stale = not decided and (cached is None or (_parse(cached.get('next_check')) or now) <= now
                                      or (revoked and not cached.get('revoked')))

    def apply(self, provider, save, warn):
        """The summary with the advice applied; ``provider`` is asked when the
        kept answer is stale (None: the kept answer is used, if any)."""
        summary, record = self.summary, self.cached
        if provider is not None and self.stale:
            record = _ask(provider, self.cert, summary['serial'], self.cached, self.now)
            if record is not None:
                record['revoked'] = bool(self.revoked)
            if record is not None and save:
                try:
                    self.store.save_renewal(self.name, record)
                except (CertflowError, OSError) as exc:
                    warn('the renewal information could not be kept in the store (%s); the CA is asked again next run'
                         % getattr(exc, 'msg', exc))
        if not record:
            return summary
        if record.get('error'):
            warn('%s; renewing by the lifetime rule (due %s) until the CA is asked again after %s'
                 % (record['error'], summary['renewal_time'], record.get('next_check')))
            return summary
        renewal_time = _parse(record.get('renewal_time'))
        if renewal_time is None or not isinstance(record.get('window'), dict):
            return summary
        summary.update(renewal_window=dict(record['window']), renewal_time=_iso(renewal_time), renewal_source='ari',
                       needs_renewal=self.now >= renewal_time, explanation_url=record.get('explanation_url'))
        summary['renewal'] = _crypto.renewal_view(summary)
        return summary


def advise(store, name, summary, cert, provider, renew_before_days=None, now=None, save=True, warn=None, revoked=False):
    """``summary`` (``_crypto.cert_summary`` of the stored certificate, its
    lifetime rule applied) with the CA's advice applied when there is any:
    ``renewal_window``, ``renewal_time``, ``renewal_source`` ``ari``,
    ``needs_renewal``, ``explanation_url``. ``cert``: the certificate (PEM or
    loaded); ``provider``: the CA that issued it (None: only a kept answer is
    used); ``save``: keep a new answer; ``revoked``: the store knows it was revoked, so an answer kept from before is asked again."""
    advice = _Advice(store, name, summary, cert, revoked, renew_before_days, _now(now))
    return advice.apply(provider, save, warn or (lambda msg: None))


def advise_all(run, items, options, now=None, save=True, ask=True):
    """``advise`` for many stored certificates at once: ``items`` are (name,
    summary, certificate, order). The answers kept are read and applied here;
    only the certificates whose answer is stale go to ARI_WORKERS threads that
    ask the CA (each thread with its own provider on the run's shared
    connection pool); ``ask=False``: only the answers kept in the store are used."""
    now = _now(now)
    advices = [(_Advice(run.store, name, summary, cert, (order or {}).get('status') == 'revoked',
                        options.get('renew_before_days'), now), order) for name, summary, cert, order in items]

    def finish(advice, provider):
        return advice.apply(provider, save, lambda msg: run.warn('%s: %s' % (advice.name, msg)))

    results = [None] * len(advices)
    to_ask = []
    for index, (advice, _order) in enumerate(advices):
        if ask and advice.stale:
            to_ask.append(index)
        else:
            results[index] = finish(advice, None)

    def asked(index):
        advice, order = advices[index]
        return finish(advice, provider_for(run, options, order))
    if len(to_ask) < 2:
        answers = [asked(index) for index in to_ask]
    else:
        with ThreadPoolExecutor(max_workers=min(ARI_WORKERS, len(to_ask))) as pool:
            answers = list(pool.map(asked, to_ask))
    for index, summary in zip(to_ask, answers):
        results[index] = summary
    return results
