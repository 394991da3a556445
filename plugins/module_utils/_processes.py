# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Work on many certificates spread over the machine's cores. Threads only
help while waiting for a server: parsing certificates, TLS records and JSON
run one thread at a time (the GIL), so a large store is cut into parts and
each part but the first goes to a forked process."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible.module_utils.common.warnings import get_warning_messages, warn as module_warning

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError

MAX_PROCESSES = 4
# Below this many items a part is not worth a process (a fork, and connections of its own).
MIN_PART = 200


def usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parts_for(count, cpus=None, min_part=MIN_PART):
    """How many parts ``count`` items are cut into (parts of at least ``min_part``)."""
    return max(1, min(MAX_PROCESSES, cpus or usable_cpus(), count // min_part))


def split_map(work, items, parts=None, child_done=None):
    """``[work(part) for part in parts of items]``, in the order of ``items``:
    the first part here, each other in a forked child that sends back its
    result (JSON) and its module warnings, which are warned here again.
    ``work`` must start no thread before it is called and return JSON-safe
    values; a CertflowError in a child is raised here, with its message.
    ``child_done()`` runs in each child after its part (what the module
    would do at its end: closing connections, a DNS host's session)."""
    items = list(items)
    count = parts_for(len(items)) if parts is None else max(1, min(parts, len(items)))
    if count < 2 or not hasattr(os, 'fork'):
        return [work(items)]
    size = -(-len(items) // count)
    slices = [items[start:start + size] for start in range(0, len(items), size)]
    children = [_fork(work, part, child_done) for part in slices[1:]]
    try:
        results = [work(slices[0])]
    finally:
        answers = [_collect(pid, read_fd) for pid, read_fd in children]
    for answer in answers:
        for message in answer.get('warnings', ()):
            module_warning(message)
    for answer in answers:
        if 'error' in answer:
            raise CertflowError(answer['error'])
        results.append(answer['result'])
    return results


def _json_default(value):
    # what the module's own JSON encoder would make of it (dates, for one)
    return value.isoformat() if hasattr(value, 'isoformat') else str(value)


def _fork(work, part, child_done):
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_fd)
        return pid, read_fd
    # The child: never returns, never runs the module's exit or cleanup (os._exit).
    os.close(read_fd)
    try:
        known = len(get_warning_messages())
        try:
            answer = {'result': work(part)}
        except CertflowError as exc:
            answer = {'error': exc.msg}
        finally:
            if child_done is not None:
                child_done()
        answer['warnings'] = list(get_warning_messages()[known:])
        data = json.dumps(answer, default=_json_default).encode('utf-8')
    except BaseException as exc:  # noqa: BLE001 - whatever it is, the parent must hear of it
        data = json.dumps({'error': 'a worker process failed: %s' % (exc,)}).encode('utf-8')
    try:
        with os.fdopen(write_fd, 'wb') as out:
            out.write(data)
    finally:
        os._exit(0)


def _collect(pid, read_fd):
    with os.fdopen(read_fd, 'rb') as source:
        data = source.read()
    _pid, status = os.waitpid(pid, 0)
    try:
        return json.loads(data.decode('utf-8'))
    except ValueError:
        return {'error': 'a worker process ended without an answer (wait status %d)' % status}
