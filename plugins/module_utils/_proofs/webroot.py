# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Place and remove file-validation challenge files in a local web root."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import re
import tempfile
import threading

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError

DIR_MODE = 0o755    # the web server must be able to traverse them
FILE_MODE = 0o644   # ... and read the file: challenge content is public by design
# Where a CA may have us put a file: ACME http-01 and the pki-validation folder
# (Alibaba Cloud, the local CA), one file name that is a token. A path the CA
# chose freely could name the site's index.html or .htaccess.
CHALLENGE_PATH = re.compile(r'/?\.well-known/(?:acme-challenge|pki-validation)/[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}')
# More than any challenge file holds; a bigger file there is not ours.
MAX_CONTENT = 65536

# Directories write_challenge created in this process, so that
# remove_challenge removes those (once empty) and never a directory that was
# there before. Shared by every challenge file: the first write creates
# .well-known/acme-challenge, the last removal takes it away.
_created_dirs = set()
# Workers of one batch write and remove files in the same directories: one at a
# time, so a removal never takes away a directory another worker is writing into.
_dirs_lock = threading.Lock()


def challenge_path(webroot, file_path):
    """Absolute path of ``file_path`` (the URL path, e.g.
    '/.well-known/acme-challenge/TOKEN') inside ``webroot``; refuses a path
    that would leave the web root."""
    if not webroot:
        raise CertflowError('webroot is empty')
    parts = [part for part in file_path.replace('\\', '/').split('/') if part not in ('', '.')]
    if not parts:
        raise CertflowError('challenge file path %r names no file' % file_path)
    if '..' in parts or '\x00' in file_path:
        raise CertflowError('challenge file path %r escapes the webroot %s' % (file_path, webroot))
    check_challenge_path(file_path)
    root = os.path.abspath(webroot)
    path = os.path.join(root, *parts)
    if os.path.commonpath([root, path]) != root:
        raise CertflowError('challenge file path %r escapes the webroot %s' % (file_path, webroot))
    return path


def check_challenge_path(file_path):
    """Refuse a challenge file path outside the two challenge folders."""
    if not isinstance(file_path, str) or not CHALLENGE_PATH.fullmatch(file_path):
        raise CertflowError('challenge file path %r refused: challenge files go only under /.well-known/acme-challenge/ '
                            'or /.well-known/pki-validation/ (one file name of letters, digits, ".", "_" and "-")'
                            % (file_path,), path=file_path)
    return file_path


def read_small(path):
    """The content of the file at ``path`` (None when missing; MAX_CONTENT bytes at most)."""
    try:
        with open(path, 'rb') as handle:
            return handle.read(MAX_CONTENT + 1).decode('utf-8', 'replace')
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise CertflowError('cannot read %s: %s' % (path, exc.strerror or exc), path=path)


def _link_new(path, content):
    """Put ``content`` at ``path`` atomically and only if nothing is there:
    a temp file linked into place, which fails when the name exists (rename
    would replace it)."""
    fd, tmp = tempfile.mkstemp(prefix='.certflow-', dir=os.path.dirname(path))
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(content.encode('utf-8'))
        os.link(tmp, path)
    finally:
        os.unlink(tmp)


def write_challenge(webroot, file_path, content, same_ok=False):
    """Write ``content`` to ``file_path`` under ``webroot`` (atomically, mode
    0644), creating missing directories (0755). Returns the absolute path.

    A file already there is never replaced: with ``same_ok`` (the caller noted
    it as its own, from an interrupted run) one with this very content is
    taken as written; anything else is refused, naming the file."""
    path = challenge_path(webroot, file_path)
    root = os.path.abspath(webroot)
    if not os.path.isdir(root):
        raise CertflowError('webroot %s does not exist or is not a directory' % webroot)
    with _dirs_lock:
        created = []
        directory = os.path.dirname(path)
        missing = []
        while directory != root and not os.path.isdir(directory):
            missing.append(directory)
            directory = os.path.dirname(directory)
        try:
            for directory in reversed(missing):
                try:
                    os.mkdir(directory, DIR_MODE)
                except OSError as exc:
                    # Another run made it a moment ago: theirs to remove.
                    if exc.errno != errno.EEXIST or not os.path.isdir(directory):
                        raise
                    continue
                os.chmod(directory, DIR_MODE)    # mkdir's mode is filtered by the umask
                created.append(directory)
            # No fsync: the web server reads it from the page cache; after a crash it is not wanted.
            _link_new(path, content)
        except FileExistsError:
            if not (same_ok and read_small(path) == content):
                raise CertflowError('challenge file %s already exists and was not written by certflow for this order: '
                                    'it is neither overwritten nor removed; move it away and run again' % path, path=path)
        except OSError as exc:
            raise CertflowError('cannot write challenge file %s: %s' % (path, exc.strerror or exc), path=path)
        finally:
            _created_dirs.update(created)
    return path


def remove_challenge(webroot, file_path, created_dirs=None, content=None):
    """Remove the challenge file, then those of its parent directories below
    ``webroot`` that write_challenge created (``created_dirs``, default: the
    ones it created in this process) and that are now empty. A missing file is
    not an error. With ``content``, a file holding anything else is not ours
    (replaced since) and is refused. Returns the path."""
    path = challenge_path(webroot, file_path)
    with _dirs_lock:
        if content is not None:
            found = read_small(path)
            if found is not None and found != content:
                raise CertflowError('%s does not hold the challenge certflow wrote there; left in place' % path, path=path)
        try:
            os.unlink(path)
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                raise CertflowError('cannot remove challenge file %s: %s' % (path, exc.strerror or exc), path=path)
        ours = _created_dirs if created_dirs is None else set(os.path.abspath(d) for d in created_dirs)
        root = os.path.abspath(webroot)
        directory = os.path.dirname(path)
        while directory != root and directory in ours:
            try:
                os.rmdir(directory)
            except OSError:
                break       # not empty: another challenge file is still there
            _created_dirs.discard(directory)
            directory = os.path.dirname(directory)
    return path
