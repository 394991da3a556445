# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only aggregate callback: append every task result as a JSON line to $CERTFLOW_RECORDER_FILE."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = '''
    name: certflow_recorder
    type: aggregate
    short_description: record task results as JSON lines for the certflow.ssl tests
    description:
      - Appends one JSON object per task result (and per loop item) to the file named by
        the environment variable C(CERTFLOW_RECORDER_FILE), plus the play recap at the end.
    requirements:
      - enable in configuration
'''

import json
import os

from ansible.plugins.callback import CallbackBase


def _plain(value):
    """Turn a result into JSON-safe plain data (tagged strings and odd types become str)."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'certflow_recorder'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get('CERTFLOW_RECORDER_FILE')

    def _write(self, record):
        if not self._path:
            return
        with open(self._path, 'a') as handle:
            handle.write(json.dumps(_plain(record), sort_keys=True) + '\n')

    def _record(self, result, status, is_item=False, ignore_errors=False):
        # ansible-core 2.19 offers .result/.task/.host; older versions only the underscored names.
        data = dict(result.result if hasattr(result, 'result') else result._result)
        task = result.task if hasattr(result, 'task') else result._task
        host = result.host if hasattr(result, 'host') else result._host
        if status == 'ok' and data.get('changed'):
            status = 'changed'
        # 2.19 moves warnings and the exception out of the result dict.
        for name in ('warnings', 'exception'):
            extra = getattr(result, name, None)
            if extra and name not in data:
                data[name] = extra
        record = {
            'type': 'item' if is_item else 'task',
            'task': result.task_name or task.get_name(),
            'action': task.action,
            'host': host.get_name(),
            'status': status,
            'ignore_errors': bool(ignore_errors),
            'result': data,
        }
        if is_item:
            record['item'] = data.get(data.get('ansible_loop_var', 'item'))
        self._write(record)

    def v2_runner_on_ok(self, result):
        self._record(result, 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, 'failed', ignore_errors=ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._record(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._record(result, 'unreachable')

    def v2_runner_item_on_ok(self, result):
        self._record(result, 'ok', is_item=True)

    def v2_runner_item_on_failed(self, result):
        self._record(result, 'failed', is_item=True)

    def v2_runner_item_on_skipped(self, result):
        self._record(result, 'skipped', is_item=True)

    def v2_playbook_on_stats(self, stats):
        recap = {}
        for host in sorted(stats.processed.keys()):
            recap[host] = stats.summarize(host)
        self._write({'type': 'recap', 'recap': recap})
