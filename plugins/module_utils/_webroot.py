# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Place and remove file-validation challenge files in a local web root."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import os
import threading

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, atomic_write

DIR_MODE = 0o755    # the web server must be able to traverse them
FILE_MODE = 0o644   # ... and read the file: challenge content is public by design

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
    root = os.path.abspath(webroot)
    path = os.path.join(root, *parts)
    if os.path.commonpath([root, path]) != root:
        raise CertflowError('challenge file path %r escapes the webroot %s' % (file_path, webroot))
    return path


def write_challenge(webroot, file_path, content):
    """Write ``content`` to ``file_path`` under ``webroot`` (atomically, mode
    0644), creating missing directories (0755). Returns the absolute path."""
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
            # The web server reads it from the page cache; after a crash it is not wanted.
            atomic_write(path, content, FILE_MODE, durable=False)
        except OSError as exc:
            raise CertflowError('cannot write challenge file %s: %s' % (path, exc.strerror or exc), path=path)
        finally:
            _created_dirs.update(created)
    return path


def remove_challenge(webroot, file_path, created_dirs=None):
    """Remove the challenge file, then those of its parent directories below
    ``webroot`` that write_challenge created (``created_dirs``, default: the
    ones it created in this process) and that are now empty. A missing file is
    not an error. Returns the path."""
    path = challenge_path(webroot, file_path)
    with _dirs_lock:
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
