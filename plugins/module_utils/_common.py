# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces every part of the collection shares: the error type, atomic file
writes, deadlines and back-off polling."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import os
import re
import tempfile
import time


class CertflowError(Exception):
    """The one error type of the collection.

    Modules turn it into ``fail_json(msg=..., **details)``; everything below the
    modules raises it (or lets it be raised) with a message a user can act on.
    """

    def __init__(self, msg, **details):
        super(CertflowError, self).__init__(msg)
        self.msg = msg
        self.details = details


# What a URL from outside (a CA's answer, the store) must be before it is asked, kept or shown:
# http(s), printable ASCII without white space, of a sane length.
URL_PATTERN = r'https?://[\x21-\x7e]{1,2000}'
_URL_RE = re.compile(URL_PATTERN)


def is_url(value):
    return isinstance(value, str) and _URL_RE.fullmatch(value) is not None


def ensure_dir(path, mode=0o700):
    """Create ``path`` (and parents) with ``mode``; tighten it if it exists."""
    if not os.path.isdir(path):
        os.makedirs(path, mode, exist_ok=True)  # another worker may create it at the same moment
    if (os.stat(path).st_mode & 0o777) != mode:
        os.chmod(path, mode)
    return path


def atomic_write(path, data, mode=0o644, durable=True, sync_dir=True):
    """Write ``data`` to ``path`` so readers see the old or the new file, never
    a partial one: temp file in the same directory, fsync, chmod, rename, fsync
    of the directory.

    ``durable=False`` skips both fsyncs, for files nobody needs after a crash
    (challenge files); the rename keeps the write atomic all the same.
    ``sync_dir=False`` leaves the directory's fsync to the caller's last write
    into the same directory, which makes every rename before it durable too."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', dir=directory)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if durable and sync_dir:
        _fsync_dir(directory)


def _fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_text(path):
    with open(path, 'r') as handle:
        return handle.read()


def read_file(path, what):
    """Text of a file named in an option; CertflowError naming ``what`` and the path."""
    try:
        return read_text(path)
    except (IOError, OSError) as exc:
        raise CertflowError('cannot read %s %s: %s' % (what, path, exc.strerror or exc))


def flock_with_deadline(fd, timeout, message):
    """Take an exclusive flock on ``fd``, polling with back-off until
    ``timeout``; then fail with ``message``. The kernel drops the lock when the
    holder dies, so a killed run never leaves a stale lock."""
    end = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except (IOError, OSError) as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        if time.monotonic() >= end:
            raise CertflowError(message)
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


class Deadline:
    """An overall time budget shared by every wait of one operation."""

    def __init__(self, seconds, clock=time.monotonic):
        self._clock = clock
        self.seconds = seconds
        self.end = clock() + seconds

    def remaining(self):
        return max(0.0, self.end - self._clock())

    def expired(self):
        return self._clock() >= self.end


def backoff(initial=0.05, factor=1.6, maximum=2.0):
    """Intervals for polling: start fast (servers often answer within tens of
    milliseconds), grow geometrically, cap so a slow step is not overslept."""
    delay = initial
    while True:
        yield delay
        delay = min(maximum, delay * factor)


def wait_until(check, deadline, what, initial=0.05, maximum=2.0, sleep=time.sleep, first=None):
    """Call ``check()`` until it returns a true value, with back-off, within
    ``deadline``.

    ``check`` may return a tuple ``(done, hint)`` where ``hint`` is a number of
    seconds the server asked us to wait (Retry-After); the hint is honoured but
    never beyond the deadline. ``first``: seconds to wait before the first
    call (a server that was told something a moment ago has not finished yet).
    Raises CertflowError naming ``what`` on timeout.
    """
    intervals = backoff(initial=initial, maximum=maximum)
    if first:
        sleep(min(first, max(deadline.remaining(), 0.01)))
    while True:
        result = check()
        hint = None
        if isinstance(result, tuple):
            result, hint = result
        if result:
            return result
        if deadline.expired():
            raise CertflowError('timed out after %ss waiting for %s' % (deadline.seconds, what))
        delay = next(intervals)
        if hint is not None:
            delay = max(delay, float(hint))
        sleep(min(delay, max(deadline.remaining(), 0.01)))
