# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificate store: one 0700 folder per certificate name holding
privkey.pem (0600), cert.pem, chain.pem, fullchain.pem, order.json and archive/.

A key made for an order that is not issued yet waits in ``pending/`` and only
replaces ``privkey.pem`` when its certificate is installed, so a failed or
abandoned renewal never touches the files a server is using."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import datetime
import errno
import hashlib
import json
import os
import re
import shutil
import threading
import time

from ansible_collections.certflow.ssl.plugins.module_utils._common import (
    CertflowError,
    atomic_write,
    ensure_dir,
    flock_with_deadline,
    read_text,
)

KEY_MODE = 0o600
FILE_MODE = 0o644
DIR_MODE = 0o700

FILES = ('privkey', 'cert', 'chain', 'fullchain')
LOCK_DIR = '.locks'
PROOFS_FILE = 'proofs.json'
TEMP_PREFIX = '.tmp-'      # _common.atomic_write's temporary files
_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$')
_THREAD_LOCKS = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def default_store_dir():
    return os.environ.get('CERTFLOW_STORE_DIR') or os.path.join(os.path.expanduser('~'), '.certflow')


def check_name(name):
    if not isinstance(name, str) or not _NAME_RE.match(name) or '..' in name:
        raise CertflowError(
            'invalid certificate name %r: use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit' % (name,))
    return name


def name_for_domain(domain):
    """A store name derived from the first domain (``*.example.com`` -> ``wildcard.example.com``)."""
    if domain.startswith('*.'):
        return 'wildcard.' + domain[2:]
    return domain


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


class Store:
    """Access to one store directory. Nothing is created until something is written."""

    def __init__(self, root):
        self.root = os.path.abspath(os.path.expanduser(root))

    # -- layout ---------------------------------------------------------
    def cert_dir(self, name):
        return os.path.join(self.root, check_name(name))

    def path(self, name, kind):
        return os.path.join(self.cert_dir(name), '%s.pem' % kind)

    def paths(self, name):
        return dict((kind, self.path(name, kind)) for kind in FILES)

    def _pending_key_path(self, name):
        return os.path.join(self.cert_dir(name), 'pending', 'privkey.pem')

    def _order_path(self, name):
        return os.path.join(self.cert_dir(name), 'order.json')

    def names(self):
        """Names of every certificate folder in the store."""
        if not os.path.isdir(self.root):
            return []
        found = []
        for entry in sorted(os.listdir(self.root)):
            if _NAME_RE.match(entry) and os.path.isdir(os.path.join(self.root, entry)):
                if os.path.exists(os.path.join(self.root, entry, 'order.json')) or \
                        os.path.exists(os.path.join(self.root, entry, 'cert.pem')):
                    found.append(entry)
        return found

    def name_of_order(self, order_id):
        """The certificate whose order.json holds ``order_id``."""
        for name in self.names():
            order = self.load_order(name) or {}
            if order.get('order_id') == order_id:
                return name
        raise CertflowError('no certificate in %s has the order %s' % (self.root, order_id))

    def account_dir(self, key):
        """A private folder for a CA account (keyed by e.g. the ACME directory URL)."""
        digest = hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]
        ensure_dir(self.root, DIR_MODE)
        ensure_dir(os.path.join(self.root, '_accounts'), DIR_MODE)
        return ensure_dir(os.path.join(self.root, '_accounts', digest), DIR_MODE)

    def private_dir(self, label):
        """A private folder for a provider's own state (``_<label>``)."""
        ensure_dir(self.root, DIR_MODE)
        return ensure_dir(os.path.join(self.root, '_' + label), DIR_MODE)

    # -- reading --------------------------------------------------------
    def _read(self, path):
        try:
            return read_text(path)
        except IOError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise CertflowError('cannot read %s: %s' % (path, exc))

    def read(self, name, kind):
        return self._read(self.path(name, kind))

    def read_pending_key(self, name):
        return self._read(self._pending_key_path(name))

    def load_order(self, name):
        text = self._read(self._order_path(name))
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError as exc:
            raise CertflowError('order file %s is corrupt (%s); remove it to start a new order' % (self._order_path(name), exc))

    # -- writing --------------------------------------------------------
    def _ensure_cert_dir(self, name):
        ensure_dir(self.root, DIR_MODE)
        return ensure_dir(self.cert_dir(name), DIR_MODE)

    def save_order(self, name, order):
        self._ensure_cert_dir(name)
        order = dict(order)
        order['updated_at'] = _utcnow()
        order.setdefault('created_at', order['updated_at'])
        atomic_write(self._order_path(name), json.dumps(order, indent=2, sort_keys=True) + '\n', FILE_MODE)
        return order

    def load_proofs(self, name):
        """What validation put in place for ``name`` and has not removed yet
        (TXT records, challenge files), as saved by ``save_proofs``."""
        text = self._read(os.path.join(self.cert_dir(name), PROOFS_FILE))
        try:
            proofs = json.loads(text) if text else []
        except ValueError:
            proofs = []
        return proofs if isinstance(proofs, list) else []

    def save_proofs(self, name, proofs):
        """Written before a proof is put in place, so a run that dies (or
        returns with ``wait: false``) leaves a note for the run that removes it."""
        path = os.path.join(self.cert_dir(name), PROOFS_FILE)
        if proofs:
            self._ensure_cert_dir(name)
            atomic_write(path, json.dumps(proofs, indent=2, sort_keys=True) + '\n', FILE_MODE)
        elif os.path.exists(path):
            os.unlink(path)

    def save_pending_key(self, name, key_pem):
        self._ensure_cert_dir(name)
        ensure_dir(os.path.dirname(self._pending_key_path(name)), DIR_MODE)
        atomic_write(self._pending_key_path(name), key_pem, KEY_MODE)

    def discard_pending_key(self, name):
        """Forget a pending key whose order never reached the CA; remove the
        certificate folder too when that leaves it empty."""
        pending = self._pending_key_path(name)
        if os.path.exists(pending):
            os.unlink(pending)
        for folder in (os.path.dirname(pending), self.cert_dir(name)):
            try:
                os.rmdir(folder)
            except OSError:
                break

    def install(self, name, cert, chain, fullchain, key=None):
        """Make a newly issued certificate current: archive what is there,
        then replace each file atomically (key last but one, cert last, so a
        reader that sees the new cert also sees its key)."""
        self._ensure_cert_dir(name)
        self._archive_current(name)
        paths = self.paths(name)
        # One directory fsync, after the last rename, makes all four renames durable.
        atomic_write(paths['chain'], chain, FILE_MODE, sync_dir=False)
        atomic_write(paths['fullchain'], fullchain, FILE_MODE, sync_dir=False)
        if key is not None:
            atomic_write(paths['privkey'], key, KEY_MODE, sync_dir=False)
        atomic_write(paths['cert'], cert, FILE_MODE)
        pending = self._pending_key_path(name)
        if os.path.exists(pending):
            os.unlink(pending)
        return paths

    def _archive_current(self, name):
        paths = self.paths(name)
        if not os.path.exists(paths['cert']):
            return None
        stamp = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())
        archive_root = ensure_dir(os.path.join(self.cert_dir(name), 'archive'), DIR_MODE)
        target = os.path.join(archive_root, stamp)
        suffix = 1
        while os.path.exists(target):
            suffix += 1
            target = os.path.join(archive_root, '%s-%d' % (stamp, suffix))
        ensure_dir(target, DIR_MODE)
        for kind, path in paths.items():
            if os.path.exists(path):
                shutil.copy2(path, os.path.join(target, os.path.basename(path)))
                os.chmod(os.path.join(target, os.path.basename(path)), KEY_MODE if kind == 'privkey' else FILE_MODE)
        return target

    def archives(self, name):
        root = os.path.join(self.cert_dir(name), 'archive')
        if not os.path.isdir(root):
            return []
        return [os.path.join(root, entry) for entry in sorted(os.listdir(root))]

    # -- locking --------------------------------------------------------
    def lock(self, name, timeout=300.0):
        """Hold the lock of one certificate (see ``_lock``). Every write to
        the certificate's folder happens under it, so whoever holds it may
        remove the temporary files of a run that was killed mid-write."""
        return self._lock(check_name(name), name, timeout, sweep=self.cert_dir(name))

    def account_lock(self, key, timeout=300.0):
        """Hold the lock of one CA account, so parallel runs or threads
        register (and keep) a single account key."""
        digest = hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]
        return self._lock('_account-' + digest, 'the account for %s' % key, timeout)

    @contextlib.contextmanager
    def _lock(self, label, name, timeout, sweep=None):
        """Hold the lock of one certificate. flock is released by the kernel
        when a process dies, so a killed run never leaves it stuck; a thread
        lock on top keeps two threads of one process apart too. Lock files
        live in ``.locks/`` so that a run that fails early leaves no
        certificate folder behind."""
        ensure_dir(self.root, DIR_MODE)
        lock_dir = ensure_dir(os.path.join(self.root, LOCK_DIR), DIR_MODE)
        path = os.path.join(lock_dir, label + '.lock')
        with _THREAD_LOCKS_GUARD:
            thread_lock = _THREAD_LOCKS.setdefault(path, threading.Lock())
        if not thread_lock.acquire(timeout=timeout):
            raise CertflowError('certificate %s is locked by another task of this run' % name)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, KEY_MODE)
            try:
                flock_with_deadline(fd, timeout, '%s is locked by another run for more than %ss' % (name, timeout))
                if sweep:
                    _remove_temp_files(sweep)
                yield
            finally:
                os.close(fd)
        finally:
            thread_lock.release()


def _remove_temp_files(folder):
    """Remove the temporary files of atomic writes (``.tmp-*``) that a killed
    run left in a certificate folder: partial copies of keys and certificates."""
    for directory in (folder, os.path.join(folder, 'pending')):
        try:
            entries = os.listdir(directory)
        except OSError:
            continue
        for entry in entries:
            if entry.startswith(TEMP_PREFIX):
                try:
                    os.unlink(os.path.join(directory, entry))
                except OSError:
                    pass
