# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_processes.split_map: work on a large store cut into parts, each part but
the first in a forked process; the results come back in order, with the
children's warnings, and a child's failure is this process's failure."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible.module_utils import _internal as ansible_internal
from ansible.module_utils.common import warnings as ansible_warnings

from ansible_collections.certflow.ssl.plugins.module_utils import _processes
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError


def test_parts_follow_the_cpus_and_the_amount_of_work():
    assert _processes.parts_for(10, cpus=8) == 1
    assert _processes.parts_for(_processes.MIN_PART * 2, cpus=8) == 2
    assert _processes.parts_for(100000, cpus=2) == 2
    assert _processes.parts_for(100000, cpus=64) == _processes.MAX_PROCESSES
    assert _processes.parts_for(100000, cpus=1) == 1


def test_results_come_back_in_order_and_each_part_ran_in_its_own_process():
    items = list(range(10))
    results = _processes.split_map(lambda part: {'pid': os.getpid(), 'items': part}, items, parts=3)
    assert [item for result in results for item in result['items']] == items
    assert results[0]['pid'] == os.getpid()
    pids = {result['pid'] for result in results}
    assert len(pids) == 3, 'the other parts ran in forked children'


def test_a_small_amount_of_work_stays_in_this_process():
    results = _processes.split_map(lambda part: [os.getpid()] * len(part), [1, 2, 3])
    assert results == [[os.getpid()] * 3]


def test_a_childs_warnings_are_warned_here(monkeypatch):
    def work(part):
        for item in part:
            ansible_warnings.warn('warned about %s' % item)
        return part
    # as in a module run (another test may have loaded controller code, which makes warn() print instead)
    monkeypatch.setattr(ansible_internal, 'is_controller', False)
    known = len(ansible_warnings.get_warning_messages())
    forwarded = []
    monkeypatch.setattr(_processes, 'module_warning', forwarded.append)
    _processes.split_map(work, ['first', 'second'], parts=2)
    assert any('warned about first' in message for message in ansible_warnings.get_warning_messages()[known:])
    assert len(forwarded) == 1 and 'warned about second' in forwarded[0], 'the child warned it, this process warns it again'


def _raise_certflow_error():
    raise CertflowError('bad entry in the second part')


def _die():
    os._exit(3)


def _raise_key_error():
    raise KeyError('odd')


@pytest.mark.parametrize('fail, message', [
    (_raise_certflow_error, 'bad entry in the second part'),    # a CertflowError keeps its message
    (_die, 'ended without an answer'),                          # a child that dies is an error, not a missing part
    (_raise_key_error, 'worker process failed'),                # an unexpected exception is reported
], ids=['certflow-error', 'child-dies', 'unexpected-exception'])
def test_a_failure_in_a_child_is_raised_here(fail, message):
    def work(part):
        if 'second' in part:
            fail()
        return part
    with pytest.raises(CertflowError, match=message):
        _processes.split_map(work, ['first', 'second'], parts=2)


def test_a_large_answer_does_not_block_the_pipe():
    # far more than a pipe holds: the child waits on its write until this process reads
    results = _processes.split_map(lambda part: ['x' * 1000] * len(part), list(range(400)), parts=2)
    assert sum(len(result) for result in results) == 400


class _FakeRun:
    def __init__(self):
        self.diffs = []
        self.closed_in = []

    def close(self):
        self.closed_in.append(os.getpid())


def test_a_large_batch_is_split_with_its_diffs_and_concurrency_shared(monkeypatch):
    from ansible_collections.certflow.ssl.plugins.module_utils._ops import batch
    monkeypatch.setattr(_processes, 'usable_cpus', lambda: 2)
    run = _FakeRun()
    items = [{'options': {'name': 'cert-%03d' % index}, 'fallback': {}} for index in range(2 * batch.BATCH_MIN_PART)]
    seen_workers = []

    def work(run_, options):
        run_.diffs.append({'before_header': options['name']})
        seen_workers.append(options['name'])
        return {'name': options['name'], 'pid': os.getpid(), 'changed': True}
    results = batch._in_parts(run, items, work, concurrency=4)
    assert [result['name'] for result in results] == [item['options']['name'] for item in items]
    assert len({result['pid'] for result in results}) == 2
    assert sorted(entry['before_header'] for entry in run.diffs) == [item['options']['name'] for item in items]
    assert run.closed_in == [], 'the child closed its own run; this one is closed by its caller'


def test_a_batch_with_concurrency_one_stays_in_one_process():
    from ansible_collections.certflow.ssl.plugins.module_utils._ops import batch
    items = [{'options': {'name': 'c%d' % index}, 'fallback': {}} for index in range(4 * batch.BATCH_MIN_PART)]
    results = batch._in_parts(_FakeRun(), items, lambda run_, options: {'pid': os.getpid()}, concurrency=1)
    assert {result['pid'] for result in results} == {os.getpid()}
