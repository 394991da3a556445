# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run the real ansible-playbook against localhost and collect each task's result."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

from tests.lib.tools import tool

CALLBACK_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'callback_plugins')
# Called with every PlaybookResult (tests/lib/secret_scan.py collects -vvv output through it).
OBSERVERS = []


class PlaybookResult:
    """Outcome of one ansible-playbook run: rc, output, recorded task results and the recap."""

    def __init__(self, argv, rc, stdout, stderr, records):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.output = stdout + ('\n--- stderr ---\n' + stderr if stderr else '')
        self.tasks = [record for record in records if record.get('type') == 'task']
        self.items = [record for record in records if record.get('type') == 'item']
        self.recap = {}
        for record in records:
            if record.get('type') == 'recap':
                self.recap = record['recap']

    def task(self, name, host=None):
        """The last recorded result of the task called name (on host, if given)."""
        for record in reversed(self.tasks):
            if record['task'] == name and (host is None or record['host'] == host):
                return record
        known = sorted({record['task'] for record in self.tasks})
        raise KeyError('no task result named %r; recorded tasks: %s' % (name, known))

    def task_items(self, name):
        """The per-item results of the looped task called name, in order."""
        return [record for record in self.items if record['task'] == name]

    def failed_tasks(self):
        return [record for record in self.tasks if record['status'] in ('failed', 'unreachable') and not record.get('ignore_errors')]

    def assert_ok(self):
        if self.rc != 0:
            raise AssertionError('ansible-playbook failed with rc %d: %s\n%s' % (self.rc, ' '.join(self.argv), self.output))
        return self

    def __repr__(self):
        return '<PlaybookResult rc=%d tasks=%d>' % (self.rc, len(self.tasks))


def run_playbook(playbook, extra_vars=None, check=False, diff=False, verbosity=None, env=None, timeout=600, cwd=None,
                 inventory=None, limit=None):
    """Run ansible-playbook on localhost (local connection, this Python), or on the hosts of
    ``inventory`` (optionally ``limit``-ed), and return a PlaybookResult.

    extra_vars go in as a JSON file (-e @file), so any value type survives. env adds to (or
    overrides) the environment; ANSIBLE_COLLECTIONS_PATH comes from os.environ (tests/conftest.py).
    verbosity None: CERTFLOW_TEST_VERBOSITY from the environment (e.g. 3 to run every playbook with -vvv).
    """
    if verbosity is None:
        verbosity = int(os.environ.get('CERTFLOW_TEST_VERBOSITY') or 0)
    workdir = tempfile.mkdtemp(prefix='certflow-playbook-')
    try:
        if inventory is None:
            inventory = os.path.join(workdir, 'inventory.ini')
            with open(inventory, 'w') as handle:
                handle.write('localhost ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
        records_path = os.path.join(workdir, 'records.jsonl')
        argv = [tool('ansible-playbook'), '-i', inventory]
        if extra_vars:
            vars_path = os.path.join(workdir, 'extra_vars.json')
            with open(vars_path, 'w') as handle:
                json.dump(extra_vars, handle)
            argv += ['-e', '@' + vars_path]
        if limit:
            argv += ['--limit', limit]
        if check:
            argv.append('--check')
        if diff:
            argv.append('--diff')
        if verbosity:
            argv.append('-' + 'v' * int(verbosity))
        argv.append(os.path.abspath(playbook))

        run_env = dict(os.environ)
        run_env.update({
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_FORCE_COLOR': '0',
            'ANSIBLE_CALLBACKS_ENABLED': 'certflow_recorder',
            'ANSIBLE_CALLBACK_PLUGINS': CALLBACK_DIR,
            'ANSIBLE_HOST_KEY_CHECKING': 'False',
            'ANSIBLE_RETRY_FILES_ENABLED': 'False',
            'ANSIBLE_LOCALHOST_WARNING': 'False',
            'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'False',
            'ANSIBLE_PIPELINING': 'True',
            'CERTFLOW_RECORDER_FILE': records_path,
        })
        run_env.update({key: str(value) for key, value in (env or {}).items()})
        try:
            completed = subprocess.run(argv, cwd=cwd or os.path.dirname(os.path.abspath(playbook)), env=run_env,
                                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as error:
            raise AssertionError('ansible-playbook did not finish within %ss: %s\n%s\n%s'
                                 % (timeout, ' '.join(argv), _text(error.stdout), _text(error.stderr)))
        result = PlaybookResult(argv, completed.returncode, completed.stdout, completed.stderr, _read_records(records_path))
        for observer in OBSERVERS:
            observer(result)
        return result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def changed_tasks(result, host=None):
    """(host, task name) of every task that reported changed."""
    return [(record['host'], record['task']) for record in result.tasks
            if record['status'] == 'changed' and (host is None or record['host'] == host)]


def _read_records(path):
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _text(data):
    if isinstance(data, bytes):
        return data.decode('utf-8', 'replace')
    return data or ''
