# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark-only aggregate callback: append the wall time of every task to $CERTFLOW_BENCH_TIMES."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
    name: bench_timer
    type: aggregate
    short_description: record how long each task took, for bench/bench.py
    description:
      - Appends one JSON line per finished task (name, status, seconds from task start to result)
        to the file named by the environment variable C(CERTFLOW_BENCH_TIMES).
    requirements:
      - enable in configuration
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'bench_timer'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get('CERTFLOW_BENCH_TIMES')
        self._started = {}

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started[task._uuid] = time.monotonic()

    def _done(self, result, status):
        task = result.task if hasattr(result, 'task') else result._task
        started = self._started.get(task._uuid)
        if not self._path or started is None:
            return
        with open(self._path, 'a') as handle:
            handle.write(json.dumps({'task': task.get_name(), 'status': status, 'seconds': time.monotonic() - started}) + '\n')

    def v2_runner_on_ok(self, result, **kwargs):
        self._done(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False, **kwargs):
        self._done(result, 'failed')
