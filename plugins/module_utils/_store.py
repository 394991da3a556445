# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificate store: one 0700 folder per certificate name holding
privkey.pem (0600), cert.pem, chain.pem, fullchain.pem, order.json and archive/.

A key made for an order that is not issued yet waits in ``pending/`` and only
replaces ``privkey.pem`` when its certificate is installed, so a failed or
abandoned renewal never touches the files a server is using.

Links: the root (``store_dir``) is what the user configured, so it may be a
symbolic link to the folder they chose. Nothing below it may be one: a
certificate folder, ``pending/``, ``archive/``, ``.locks/`` or any file in
them that is a link is refused with an error naming it, never read, written
or copied through (a link would let whoever can write the store redirect a
0600 key, or a lock file, anywhere the run may write). Files are opened with
O_NOFOLLOW and folders checked with lstat.

``order.json`` and ``proofs.json`` are checked for their structure when they
are read: a damaged or hostile file fails with its path and what is wrong,
not deep inside a provider."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import datetime
import errno
import hashlib
import ipaddress
import json
import os
import re
import stat
import threading
import time

from ansible_collections.certflow.ssl.plugins.module_utils._common import (
    URL_PATTERN,
    CertflowError,
    atomic_write,
    ensure_dir,
    flock_with_deadline,
)
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import STATUSES

KEY_MODE = 0o600
FILE_MODE = 0o644
DIR_MODE = 0o700

FILES = ('privkey', 'cert', 'chain', 'fullchain')
LOCK_DIR = '.locks'
PROOFS_FILE = 'proofs.json'
RENEWAL_FILE = 'renewal.json'
CLOUD_FILE = 'cloud.json'
TEMP_PREFIX = '.tmp-'      # _common.atomic_write's temporary files
_NAME_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]{0,127}')
_IP_NAME_RE = re.compile(r'[0-9a-f][0-9a-f.-]{0,44}')   # name_for_ip: hex digits, '.' (IPv4) and '-' (for ':')
_THREAD_LOCKS = {}
_THREAD_LOCKS_GUARD = threading.Lock()


def default_store_dir():
    return os.environ.get('CERTFLOW_STORE_DIR') or os.path.join(os.path.expanduser('~'), '.certflow')


def check_name(name):
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or '..' in name:
        raise CertflowError(
            'invalid certificate name %r: use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit' % (name,))
    return name


def is_valid_name(name):
    """check_name as a yes/no answer (for the roles' test and filters)."""
    try:
        check_name(name)
    except CertflowError:
        return False
    return True


def name_for_domain(domain):
    """A store name derived from the first domain (``*.example.com`` -> ``wildcard.example.com``)."""
    if domain.startswith('*.'):
        return 'wildcard.' + domain[2:]
    return domain


def name_for_ip(address):
    """A store name derived from a normalised IP address: IPv4 as it is, IPv6
    with '-' for ':' (no valid store name has a ':'), and a leading '::'
    written '0::' as the same address may be (``::1`` -> ``0--1``)."""
    try:
        normalised = str(ipaddress.ip_address(address)) == address
    except ValueError:
        normalised = False
    name = address.replace(':', '-') if normalised else ''
    if name.startswith('-'):
        name = '0' + name
    if not _IP_NAME_RE.fullmatch(name):
        raise CertflowError('%r is not a normalised IP address to name a certificate after' % (address,))
    return check_name(name)


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


# An order id becomes a URL to call (ACME) or a file name (the local CA) or an
# API parameter (Alibaba Cloud): a CA's http(s) URL or a plain token, nothing else.
_ORDER_ID_RE = re.compile(URL_PATTERN + r'|[A-Za-z0-9][A-Za-z0-9._-]{0,127}')
# Identifiers are stored normalised (A-labels, lowercase; see _crypto.normalize_domain).
_DNS_IDENTIFIER_RE = re.compile(r'(?:\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*')
_TEXT = (str, type(None))
# order.json field -> the JSON types it may have (missing fields are fine: older files, provider differences)
_ORDER_FIELDS = {
    'provider': (str,), 'name': (str,), 'validation': _TEXT, 'csr': _TEXT, 'error': _TEXT, 'serial': _TEXT,
    'own_key': (bool,), 'created_at': _TEXT, 'updated_at': _TEXT, 'provider_data': (dict, type(None)),
    'profile': _TEXT, 'certificate_profile': _TEXT,
    'renew_before_days': (int, type(None)), 'renew_before_ratio': (float, int, type(None)),
}
_CHALLENGE_TEXT = ('domain', 'type', 'record_name', 'record_type', 'record_value', 'file_path', 'file_content', 'url',
                   'status', 'error')
_JSON_TYPES = {str: 'a string', bool: 'true/false', int: 'a number', float: 'a number', list: 'a list',
               dict: 'an object', type(None): 'null'}


def _kind(value):
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _order_problem(order):
    """What is wrong with the structure of a loaded order.json, or None."""
    if not isinstance(order, dict):
        return 'expected a JSON object, found %s' % _kind(order)
    for field, types in sorted(_ORDER_FIELDS.items()):
        if field in order and not isinstance(order[field], types):
            return '%r must be %s, found %s' % (field, ' or '.join(_JSON_TYPES[t] for t in types), _kind(order[field]))
    if order.get('status') not in STATUSES:
        return "'status' must be one of %s, found %r" % (', '.join(STATUSES), order.get('status'))
    days, ratio = order.get('renew_before_days'), order.get('renew_before_ratio')
    if isinstance(days, bool) or (days is not None and days < 0):
        return "'renew_before_days' must be a number of days (0 or more), found %r" % (days,)
    if isinstance(ratio, bool) or (ratio is not None and not 0 < ratio < 1):
        return "'renew_before_ratio' must be a share of the lifetime between 0 and 1, found %r" % (ratio,)
    order_id = order.get('order_id')
    if order_id is not None and not (isinstance(order_id, str) and _ORDER_ID_RE.fullmatch(order_id)):
        return "'order_id' %r is neither a CA's http(s) URL nor a plain id (letters, digits, '.', '_', '-')" % (order_id,)
    identifiers = order.get('identifiers', [])
    if not isinstance(identifiers, list):
        return "'identifiers' must be a list, found %s" % _kind(identifiers)
    for index, identifier in enumerate(identifiers):
        problem = _identifier_problem(identifier)
        if problem:
            return "'identifiers'[%d] %s" % (index, problem)
    if not isinstance(order.get('domains_unicode', []), list) or \
            not all(isinstance(name, str) for name in order.get('domains_unicode', [])):
        return "'domains_unicode' must be a list of strings"
    challenges = order.get('challenges', [])
    if not isinstance(challenges, list):
        return "'challenges' must be a list, found %s" % _kind(challenges)
    for index, challenge in enumerate(challenges):
        if not isinstance(challenge, dict):
            return "'challenges'[%d] must be an object, found %s" % (index, _kind(challenge))
        for field in _CHALLENGE_TEXT:
            if not isinstance(challenge.get(field), _TEXT):
                return "'challenges'[%d].%s must be a string or null, found %s" % (index, field, _kind(challenge[field]))
        if not isinstance(challenge.get('provider_data'), (dict, type(None))):
            return "'challenges'[%d].provider_data must be an object, found %s" % (index, _kind(challenge['provider_data']))
    return None


def _identifier_problem(identifier):
    if not isinstance(identifier, dict):
        return 'must be an object {type, value}, found %s' % _kind(identifier)
    kind, value = identifier.get('type'), identifier.get('value')
    if not isinstance(value, str):
        return "value must be a string, found %s" % _kind(value)
    if kind == 'dns':
        if len(value) > 253 or not _DNS_IDENTIFIER_RE.fullmatch(value):
            return 'is not a normalised domain name: %r' % (value,)
    elif kind == 'ip':
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return 'is not an IP address: %r' % (value,)
        if '%' in value:
            return 'is not an IP address without zone: %r' % (value,)
    else:
        return "type must be 'dns' or 'ip', found %r" % (kind,)
    return None


def _proofs_problem(proofs):
    if not isinstance(proofs, list):
        return 'expected a JSON list, found %s' % _kind(proofs)
    for index, proof in enumerate(proofs):
        if not isinstance(proof, dict):
            return 'entry %d must be an object, found %s' % (index, _kind(proof))
        if proof.get('type') not in ('dns', 'file'):
            return "entry %d: 'type' must be 'dns' or 'file', found %r" % (index, proof.get('type'))
        for field, value in sorted(proof.items()):
            if not isinstance(value, str):
                return 'entry %d: %r must be a string, found %s' % (index, field, _kind(value))
    return None


_HEX_RE = re.compile(r'[0-9a-f]{1,64}')
_CLOUD_ID_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}')
_CLOUD_FIELDS = {
    'upload': {'serial': _HEX_RE, 'fingerprint': _HEX_RE, 'cloud_cert_id': _CLOUD_ID_RE, 'name': _CLOUD_ID_RE},
    'job': {'job_id': _CLOUD_ID_RE, 'cloud_cert_id': _CLOUD_ID_RE, 'serial': _HEX_RE},
}


def _cloud_record_problem(record, kind, where):
    if not isinstance(record, dict):
        return '%s must be an object, found %s' % (where, _kind(record))
    for field, pattern in sorted(_CLOUD_FIELDS[kind].items()):
        value = record.get(field)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            return '%s: %r must match %s, found %r' % (where, field, pattern.pattern, value)
    return None


def _cloud_problem(data):
    """cloud.json: {target: {'uploads': [upload, ...], 'job': job or null}}; every id and serial full-matched."""
    if not isinstance(data, dict):
        return 'expected a JSON object, found %s' % _kind(data)
    for target, state in sorted(data.items()):
        if not _NAME_RE.fullmatch(target) or not isinstance(state, dict):
            return 'target %r must name an object' % (target,)
        uploads = state.get('uploads', [])
        if not isinstance(uploads, list):
            return '%s.uploads must be a list' % target
        for index, upload in enumerate(uploads):
            problem = _cloud_record_problem(upload, 'upload', '%s.uploads[%d]' % (target, index))
            if problem:
                return problem
        job = state.get('job')
        if job is not None:
            problem = _cloud_record_problem(job, 'job', '%s.job' % target)
            if problem:
                return problem
            resources = job.get('resources')
            if not isinstance(resources, list) or not all(isinstance(item, str) and _CLOUD_ID_RE.fullmatch(item) for item in resources):
                return '%s.job.resources must be a list of resource ids' % target
    return None


def _json_text(value):
    # One line: json's C encoder does not indent, and the indenting one in Python cost
    # more than the rest of a store write.
    return json.dumps(value, sort_keys=True) + '\n'


def _link_error(path, root):
    return CertflowError('%s is a symbolic link; the certificate store does not follow links below its root (%s): '
                         'replace it with a real file or folder, or remove it' % (path, root))


class Store:
    """Access to one store directory. Nothing is created until something is written."""

    def __init__(self, root):
        self.root = os.path.abspath(os.path.expanduser(root))
        self._root_prefix = os.path.join(self.root, '')

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
        """Names of every certificate folder in the store. A link in the
        place of a folder is listed too, so that reading it fails with its name
        instead of the certificate silently missing from a report."""
        if not os.path.isdir(self.root):
            return []
        found = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if not _NAME_RE.fullmatch(entry.name) or '..' in entry.name:
                    continue
                if entry.is_symlink():
                    found.append(entry.name)
                elif entry.is_dir(follow_symlinks=False) and (os.path.lexists(os.path.join(entry.path, 'order.json'))
                                                              or os.path.lexists(os.path.join(entry.path, 'cert.pem'))):
                    found.append(entry.name)
        return sorted(found)

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
        return self._ensure_dir(os.path.join(self.root, '_accounts', digest))

    # -- no links below the root ----------------------------------------
    def _check_below_root(self, path):
        """Refuse ``path`` when it, or a folder between the root and it, is
        a symbolic link (or a folder on the way is something else). Returns
        whether ``path`` exists."""
        # Paths here are built by joining checked names onto the root: cut the root off
        # (relpath costs more than the lstat calls below); anything else goes the long way.
        relative = path[len(self._root_prefix):] if path.startswith(self._root_prefix) else os.path.relpath(path, self.root)
        if not relative or any(part in ('', os.curdir, os.pardir) for part in relative.split(os.sep)):
            relative = os.path.relpath(path, self.root)
        if relative == os.curdir:
            return os.path.isdir(self.root)
        current = self.root
        parts = relative.split(os.sep)
        for index, part in enumerate(parts):
            current = os.path.join(current, part)
            try:
                info = os.lstat(current)
            except FileNotFoundError:
                return False
            except OSError as exc:
                raise CertflowError('cannot look at %s: %s' % (current, exc.strerror or exc))
            if stat.S_ISLNK(info.st_mode):
                raise _link_error(current, self.root)
            if index < len(parts) - 1 and not stat.S_ISDIR(info.st_mode):
                raise CertflowError('%s in the certificate store is not a folder' % current)
        return True

    def _ensure_dir(self, path, mode=DIR_MODE):
        """``path`` (below the root) as a real folder with ``mode``, created
        if missing; a link in its place is refused, never followed."""
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise CertflowError('the certificate store %s is not a folder' % self.root)
        ensure_dir(self.root, mode)
        current = self.root
        for part in os.path.relpath(path, self.root).split(os.sep):
            if part == os.curdir:
                break
            current = os.path.join(current, part)
            try:
                os.mkdir(current, mode)
            except FileExistsError:
                pass
            try:
                fd = os.open(current, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
            except OSError as exc:
                # Linux answers ENOTDIR rather than ELOOP for a link opened with O_DIRECTORY | O_NOFOLLOW
                if exc.errno == errno.ELOOP or os.path.islink(current):
                    raise _link_error(current, self.root)
                if exc.errno == errno.ENOTDIR:
                    raise CertflowError('%s in the certificate store is not a folder' % current)
                raise CertflowError('cannot open folder %s: %s' % (current, exc.strerror or exc))
            try:
                if stat.S_IMODE(os.fstat(fd).st_mode) != mode:
                    os.fchmod(fd, mode)
            finally:
                os.close(fd)
        return path

    def _write(self, path, data, mode, sync_dir=True):
        """Atomic write of a file below the root (its folder must exist): the
        rename would replace a link rather than write through it, but a link
        there means someone tampered with the store, so it is refused."""
        self._check_below_root(path)
        atomic_write(path, data, mode, sync_dir=sync_dir)

    def _unlink(self, path):
        """Remove a file below the root if it is there (a link is refused, not removed)."""
        if self._check_below_root(path):
            os.unlink(path)

    # -- reading --------------------------------------------------------
    def _read(self, path):
        """Text of a file below the root, or None when it is missing."""
        if not self._check_below_root(os.path.dirname(path)):
            return None
        try:
            # O_NONBLOCK: a FIFO put in a file's place must not hang the run.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return None
            if exc.errno == errno.ELOOP:
                raise _link_error(path, self.root)
            raise CertflowError('cannot read %s: %s' % (path, exc.strerror or exc))
        with os.fdopen(fd, 'rb') as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise CertflowError('%s in the certificate store is not a regular file' % path)
            data = handle.read()
        try:
            return data.decode('utf-8')
        except UnicodeDecodeError as exc:
            raise CertflowError('%s is not text (%s)' % (path, exc))

    def read(self, name, kind):
        return self._read(self.path(name, kind))

    def read_pending_key(self, name):
        return self._read(self._pending_key_path(name))

    def _load_json(self, path, what, problem_of):
        text = self._read(path)
        if text is None:
            return None
        try:
            data = json.loads(text)
        except ValueError as exc:
            problem = 'not JSON (%s)' % exc
        else:
            problem = problem_of(data)
        if problem:
            raise CertflowError('%s %s is corrupt: %s. Remove it %s' % (what, path, problem, _REMOVE_HINT[what]))
        return data

    def load_order(self, name):
        """The order of certificate ``name`` (None if there is none), its structure checked."""
        return self._load_json(self._order_path(name), 'order file', _order_problem)

    # -- writing --------------------------------------------------------
    def _ensure_cert_dir(self, name):
        return self._ensure_dir(self.cert_dir(name))

    def save_order(self, name, order):
        self._ensure_cert_dir(name)
        order = dict(order)
        order['updated_at'] = _utcnow()
        order.setdefault('created_at', order['updated_at'])
        self._write(self._order_path(name), _json_text(order), FILE_MODE)
        return order

    def load_proofs(self, name):
        """What validation put in place for ``name`` and has not removed yet
        (TXT records, challenge files), as saved by ``save_proofs``: a list
        of objects of strings, checked for that shape (a damaged file fails
        rather than the proofs it noted being forgotten)."""
        return self._load_json(os.path.join(self.cert_dir(name), PROOFS_FILE), 'proofs file', _proofs_problem) or []

    def save_proofs(self, name, proofs):
        """Written before a proof is put in place, so a run that dies (or
        returns with ``wait: false``) leaves a note for the run that removes it."""
        path = os.path.join(self.cert_dir(name), PROOFS_FILE)
        if proofs:
            self._ensure_cert_dir(name)
            self._write(path, _json_text(proofs), FILE_MODE)
        else:
            self._unlink(path)

    def load_renewal(self, name):
        """The renewal advice kept for ``name`` (see _ops/renewal.py), or None
        when there is none or it is damaged: it is only a cache of the CA's answer."""
        try:
            return self._load_json(os.path.join(self.cert_dir(name), RENEWAL_FILE), 'renewal file',
                                   lambda data: None if isinstance(data, dict) else 'expected a JSON object')
        except CertflowError:
            return None

    def save_renewal(self, name, data):
        self._ensure_cert_dir(name)
        path = os.path.join(self.cert_dir(name), RENEWAL_FILE)
        self._check_below_root(path)
        # Atomic but not fsynced: a cache lost in a crash only means asking the CA again.
        atomic_write(path, _json_text(data), FILE_MODE, durable=False, sync_dir=False)

    def load_cloud(self, name):
        """What cert_deploy uploaded and started for ``name`` ({target: {uploads, job}}),
        its structure checked (a damaged file fails: it is what says which uploads are ours)."""
        return self._load_json(os.path.join(self.cert_dir(name), CLOUD_FILE), 'cloud file', _cloud_problem) or {}

    def save_cloud(self, name, data):
        problem = _cloud_problem(data)
        if problem:
            raise CertflowError('refusing to save a cloud deployment state for %s: %s' % (name, problem))
        self._ensure_cert_dir(name)
        self._write(os.path.join(self.cert_dir(name), CLOUD_FILE), _json_text(data), FILE_MODE)

    def save_pending_key(self, name, key_pem):
        self._ensure_dir(os.path.dirname(self._pending_key_path(name)))
        self._write(self._pending_key_path(name), key_pem, KEY_MODE)

    def _drop_pending_key(self, name):
        """Remove the pending key and then ``pending/`` (a renewal leaves no empty folder)."""
        pending = self._pending_key_path(name)
        self._unlink(pending)
        try:
            os.rmdir(os.path.dirname(pending))
        except OSError:
            pass    # missing, or holds something that is not ours to remove

    def discard_pending_key(self, name):
        """Forget a pending key whose order never reached the CA; remove the
        certificate folder too when that leaves it empty."""
        self._drop_pending_key(name)
        try:
            os.rmdir(self.cert_dir(name))
        except OSError:
            pass

    def install(self, name, cert, chain, fullchain, key=None):
        """Make a newly issued certificate current: archive what is there,
        then replace each file atomically (key last but one, cert last, so a
        reader that sees the new cert also sees its key)."""
        self._ensure_cert_dir(name)
        self._archive_current(name)
        paths = self.paths(name)
        # One directory fsync, after the last rename, makes all four renames durable.
        self._write(paths['chain'], chain, FILE_MODE, sync_dir=False)
        self._write(paths['fullchain'], fullchain, FILE_MODE, sync_dir=False)
        if key is not None:
            self._write(paths['privkey'], key, KEY_MODE, sync_dir=False)
        self._write(paths['cert'], cert, FILE_MODE)
        self._drop_pending_key(name)
        return paths

    def _archive_current(self, name):
        """Copy the current files into ``archive/<time>/``. Every file is read
        (O_NOFOLLOW) before anything is written, so a link among them fails the
        install before it has changed anything."""
        current = dict((kind, self.read(name, kind)) for kind in FILES)
        if current['cert'] is None:
            return None
        archive_root = self._ensure_dir(os.path.join(self.cert_dir(name), 'archive'))
        stamp = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())
        target, suffix = os.path.join(archive_root, stamp), 1
        while True:
            try:
                os.mkdir(target, DIR_MODE)      # a fresh folder: nothing in it can be a link
                break
            except FileExistsError:
                suffix += 1
                target = os.path.join(archive_root, '%s-%d' % (stamp, suffix))
        for kind, text in current.items():
            if text is not None:
                atomic_write(os.path.join(target, '%s.pem' % kind), text, KEY_MODE if kind == 'privkey' else FILE_MODE,
                             sync_dir=False)
        return target

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
        lock_dir = self._ensure_dir(os.path.join(self.root, LOCK_DIR))
        path = os.path.join(lock_dir, label + '.lock')
        with _THREAD_LOCKS_GUARD:
            thread_lock = _THREAD_LOCKS.setdefault(path, threading.Lock())
        if not thread_lock.acquire(timeout=timeout):
            raise CertflowError('certificate %s is locked by another task of this run' % name)
        try:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, KEY_MODE)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise _link_error(path, self.root)
                raise CertflowError('cannot open the lock file %s: %s' % (path, exc.strerror or exc))
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise CertflowError('lock file %s is not a regular file' % path)
                flock_with_deadline(fd, timeout, '%s is locked by another run for more than %ss' % (name, timeout))
                if sweep:
                    self._remove_temp_files(sweep)
                yield
            finally:
                os.close(fd)
        finally:
            thread_lock.release()

    def _remove_temp_files(self, folder):
        """Remove the temporary files of atomic writes (``.tmp-*``) that a killed
        run left in a certificate folder: partial copies of keys and certificates."""
        for directory in (folder, os.path.join(folder, 'pending')):
            if not self._check_below_root(directory):
                continue
            for entry in os.listdir(directory):
                if entry.startswith(TEMP_PREFIX):
                    try:
                        os.unlink(os.path.join(directory, entry))
                    except OSError:
                        pass


_REMOVE_HINT = {
    'order file': 'to forget the order (cert_request then makes a new one)',
    'proofs file': 'once the TXT records and challenge files it lists are gone',
    'renewal file': 'to ask the CA again',
    'cloud file': 'to forget the cloud uploads (cert_deploy then finds them again by fingerprint, but no longer removes them)',
}
