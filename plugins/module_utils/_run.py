# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one module run shares between its certificates: the store, check
mode, the overall deadline and the provider instances (one per worker thread
and settings, so each worker keeps its own keep-alive connection and nonce)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext

from ansible.module_utils.common.warnings import warn as module_warning

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline
from ansible_collections.certflow.ssl.plugins.module_utils._ca import CA_PROVIDERS
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import ProviderContext
from ansible_collections.certflow.ssl.plugins.module_utils._ops import diff as _diff
from ansible_collections.certflow.ssl.plugins.module_utils._dns import DNS_PROVIDERS
from ansible_collections.certflow.ssl.plugins.module_utils._store import Store, default_store_dir


def _settings_key(settings):
    return json.dumps(settings, sort_keys=True, default=str)


class Run:
    def __init__(self, params, check_mode=False, diff=False):
        self.params = params
        self.check_mode = check_mode
        self.diff = diff
        self.diffs = []         # diff mode: one before/after per certificate changed (see _ops/diff.py)
        self.timeout = float(params.get('timeout') or 600)
        self.deadline = Deadline(self.timeout)
        self.store = Store(params.get('store_dir') or default_store_dir())
        self._local = threading.local()
        self._all = []
        self._guard = threading.Lock()
        self._shared = {}       # what the per-thread provider instances share (see ProviderContext.shared)

    def context(self):
        return ProviderContext(store=self.store, check_mode=self.check_mode, timeout=self.deadline.remaining() or 1.0, log=self.log,
                               warn=self.warn, shared=self._shared)

    # Providers are per thread and a thread works on one certificate at a time, so what
    # they say inside ``certificate(name)`` belongs to that certificate.
    def _current(self):
        return getattr(self._local, 'certificate', None)

    def log(self, msg):
        current = self._current()
        if current is not None and msg not in current.messages:
            current.messages.append(msg)

    def warn(self, msg):
        current = self._current()
        if current is not None:
            if msg in current.warnings:
                return
            current.warnings.append(msg)
            module_warning('%s: %s' % (current.name, msg))
        else:
            module_warning(msg)

    @contextmanager
    def certificate(self, name):
        """The work on one certificate: ``with run.certificate(name) as cert: ...
        return cert.result(entry, would)``. Holds its lock (the store entry is
        shared with other runs; check mode only reads and takes none), collects
        what is logged and warned for it and, in diff mode, notes its store state."""
        lock = nullcontext() if self.check_mode else self.store.lock(name, timeout=self.deadline.remaining() or 1.0)
        with lock:
            self._local.certificate = current = CertificateWork(self, name)
            try:
                yield current
            except CertflowError as exc:
                # The warnings are module warnings already; a failure keeps the rest of the story.
                if current.messages:
                    exc.details.setdefault('messages', current.messages)
                raise
            finally:
                self._local.certificate = None

    def _cached(self, registry, name, options):
        provider_class = registry.get(name)
        settings = provider_class.settings_from(options)
        cache = getattr(self._local, registry.option, None)
        if cache is None:
            cache = {}
            setattr(self._local, registry.option, cache)
        key = (name, _settings_key(settings))
        if key not in cache:
            instance = provider_class(settings, self.context())
            cache[key] = instance
            with self._guard:
                self._all.append(instance)
        return cache[key]

    def add_diff(self, entry):
        with self._guard:
            self.diffs.append(entry)

    def ca(self, options):
        """The CA provider for one certificate's options (``provider`` and its dict)."""
        return self._cached(CA_PROVIDERS, options.get('provider') or CA_PROVIDERS.default, options)

    def dns(self, options, name):
        return self._cached(DNS_PROVIDERS, name, options)

    def close(self):
        for instance in self._all:
            try:
                instance.close()
            except Exception:  # noqa: BLE001 - closing must not hide the real result
                pass


class CertificateWork:
    """What ``Run.certificate`` notes for one certificate while its work runs."""

    def __init__(self, run, name):
        self.run = run
        self.name = name
        self.messages = []
        self.warnings = []
        self._before = _diff.store_state(run.store, name) if run.diff else None

    def result(self, entry, would, predicted_status=None):
        """The certificate's result ``entry`` with its messages and warnings and,
        when it changed something in diff mode, its store diff noted in the run
        (check mode: what it ``would`` do, as ``predicted_status``)."""
        if self._before is not None and entry.get('changed'):
            if self.run.check_mode:
                after = _diff.predicted_state(self._before, predicted_status or entry.get('status'), entry.get('action') or would,
                                              profile=entry.get('profile'))
            else:
                after = _diff.store_state(self.run.store, self.name)
            self.run.add_diff(_diff.entry(self.run.store, self.name, self._before, after))
        for key in ('messages', 'warnings'):
            notes = getattr(self, key)
            if notes:
                entry[key] = notes
        return entry


def run_batch(run, items, work, concurrency):
    """Apply ``work(item)`` to every item with at most ``concurrency`` threads.

    Returns results in input order. One failing item does not stop the others:
    its CertflowError (or any exception) becomes ``{'status': 'failed', 'error': msg}``
    merged over ``item['fallback']``.
    """
    def guarded(item):
        try:
            return work(item)
        except CertflowError as exc:
            failed = dict(item.get('fallback') or {})
            failed.update({'status': 'failed', 'error': exc.msg, 'changed': failed.get('changed', False)})
            if exc.details.get('messages'):
                failed['messages'] = exc.details['messages']
            return failed
        except Exception as exc:  # noqa: BLE001 - one entry's bug must not lose the others' results
            failed = dict(item.get('fallback') or {})
            failed.update({'status': 'failed', 'error': '%s: %s' % (type(exc).__name__, exc), 'changed': False})
            return failed

    workers = max(1, min(int(concurrency or 1), len(items)))
    if workers == 1:
        return [guarded(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(guarded, items))
