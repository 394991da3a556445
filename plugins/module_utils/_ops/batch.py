# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Single and batch mode of cert_request and cert_validate: one entry per
certificate, bounded concurrency, and one result whatever happened to each."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._ca import CA_PROVIDERS
from ansible_collections.certflow.ssl.plugins.module_utils._dns import DNS_PROVIDERS
from ansible_collections.certflow.ssl.plugins.module_utils._ops.request import request_certificate
from ansible_collections.certflow.ssl.plugins.module_utils._run import Run, run_batch
from ansible_collections.certflow.ssl.plugins.module_utils._ops.certificate_request import CertificateRequest, certificate_name, entries, store_name
from ansible_collections.certflow.ssl.plugins.module_utils._store import check_name
from ansible_collections.certflow.ssl.plugins.module_utils._ops.validate import validate_certificate
from ansible_collections.certflow.ssl.plugins.module_utils._processes import parts_for, split_map

# A batch is split between processes from twice this many certificates on (each costs ~20 ms of CPU).
BATCH_MIN_PART = 50


def _finish(run, results, single):
    changed = any(r.get('changed') for r in results)
    failed = [r for r in results if r.get('status') == 'failed' and r.get('error')]
    if failed:
        if single:
            raise CertflowError(failed[0]['error'], certificates=results, changed=changed)
        raise CertflowError('%d of %d certificates failed: %s' % (
            len(failed), len(results), '; '.join('%s: %s' % (r.get('name'), r['error']) for r in failed)),
            certificates=results, changed=changed)
    result = {'changed': changed, 'certificates': results}
    if run.diffs:
        result['diff'] = sorted(run.diffs, key=lambda entry: entry['before_header'])
    return result


def _execute(params, check_mode, diff, work):
    run = Run(params, check_mode=check_mode, diff=diff)
    try:
        items = []
        for index, options in enumerate(entries(params)):
            items.append({'options': options, 'fallback': {'name': store_name(options) or 'certificates[%d]' % index}})
        single = not params.get('certificates')
        if single:
            # In single mode an error is the task's error, with nothing to merge.
            return _finish(run, [work(run, items[0]['options'])], single)
        return _finish(run, _in_parts(run, items, work, params.get('concurrency')), single)
    finally:
        run.close()


def _in_parts(run, items, work, concurrency):
    """run_batch over ``items``; a large batch split between processes (see
    _processes), the concurrency asked for shared between them, so as many
    certificates as before are under way at once."""
    concurrency = max(1, int(concurrency or 1))
    parts = min(concurrency, parts_for(len(items), min_part=BATCH_MIN_PART))

    def part(share):
        results = run_batch(run, share, lambda item: work(run, item['options']), -(-concurrency // parts))
        return {'results': results, 'diffs': run.diffs}
    done = split_map(part, items, parts=parts, child_done=run.close)
    run.diffs = [entry for answer in done for entry in answer['diffs']]
    return [result for answer in done for result in answer['results']]


def _request_one(run, options):
    return request_certificate(run, CertificateRequest(options))


def _validate_one(run, options):
    name = options.get('name')
    if not name and options.get('order_id'):
        name = run.store.name_of_order(options['order_id'])
    if not name and options.get('domains'):
        name = certificate_name({'domains': options['domains']})
    if not name:
        raise CertflowError('name, domains or order_id is required to validate a certificate')
    check_name(name)
    _check_method(run, name, options)
    return validate_certificate(run, name, options)


# The methods that can answer what an order of each validation asks for.
_METHODS_OF = {'dns': ('dns', 'dns_manual'), 'dns_account': ('dns_account', 'dns_manual'), 'dns_persist': ('dns_persist', 'dns_manual'),
               'http': ('http',)}


def _check_method(run, name, options):
    """Say what to run when the proofs an order waits for cannot be given: another
    method than the order's validation (the order follows cert_request's
    validation while it is not validated), or validation dns without any DNS
    provider set up at a CA that says what to do then (the local CA: internal
    names want no DNS record)."""
    order = run.store.load_order(name) or {}
    if order.get('status') != 'pending_validation':
        return
    validation = order.get('validation') or 'dns'
    method = options.get('method')
    if method and method not in _METHODS_OF.get(validation, (method,)):
        wanted = 'dns' if method == 'dns_manual' else method
        raise CertflowError('the order for %s waits for %s validation but method is %s: run certflow.ssl.cert_request for %s '
                            'with validation: %s first (an order not yet validated follows it), then cert_validate again'
                            % (name, validation, method, name, wanted))
    ca_class = CA_PROVIDERS.classes().get(order.get('provider')) if isinstance(order.get('provider'), str) else None
    hint = ca_class.MISSING_DNS_PROVIDER_HINT if ca_class else None
    if not hint or validation != 'dns' or (method or 'dns') != 'dns':
        return
    dns_provider = options.get('dns_provider') or DNS_PROVIDERS.default
    try:
        run.dns(options, dns_provider)
    except CertflowError as exc:
        raise CertflowError('%s. %s' % (exc.msg, hint.format(name=name, dns_provider=dns_provider)))


def request_all(params, check_mode, diff=False):
    return _execute(params, check_mode, diff, _request_one)


def validate_all(params, check_mode, diff=False):
    return _execute(params, check_mode, diff, _validate_one)
