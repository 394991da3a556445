# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every task file of a role is reached: from its role (include_tasks / import_tasks) or from a
playbook (tasks_from). A task file nobody includes any more is a check that silently stopped
running (the apache key match was lost that way once, in a refactoring)."""

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = os.path.join(ROOT, 'roles')
_INCLUDE = re.compile(r'(?:include_tasks|import_tasks):\s*(?:file:\s*)?["\']?([\w./{}\s|~\'"-]+?)["\']?\s*$', re.M)
_TASKS_FROM = re.compile(r'tasks_from:\s*["\']?([\w.-]+)', re.M)


def _yaml_files(*roots):
    for root in roots:
        yield from glob.glob(os.path.join(root, '**', '*.yml'), recursive=True)


def _references():
    """(role, task file name) pairs named by include_tasks/import_tasks inside a role, and task file names
    named by tasks_from anywhere (playbooks, roles, tests' playbooks)."""
    included, tasks_from = set(), set()
    for path in _yaml_files(ROLES):
        role = os.path.relpath(path, ROLES).split(os.sep)[0]
        with open(path) as handle:
            text = handle.read()
        for match in _INCLUDE.finditer(text):
            included.add((role, os.path.basename(match.group(1).strip())))
    for path in _yaml_files(ROLES, os.path.join(ROOT, 'playbooks'), os.path.join(ROOT, 'tests')):
        with open(path) as handle:
            for match in _TASKS_FROM.finditer(handle.read()):
                name = match.group(1)
                tasks_from.add(name if name.endswith('.yml') else name + '.yml')
    return included, tasks_from


TASK_FILES = sorted((os.path.basename(os.path.dirname(os.path.dirname(path))), os.path.basename(path))
                    for path in glob.glob(os.path.join(ROLES, '*', 'tasks', '*.yml'))
                    if os.path.basename(path) != 'main.yml')


@pytest.mark.parametrize('role,task_file', TASK_FILES, ids=['%s/%s' % pair for pair in TASK_FILES])
def test_task_file_is_included(role, task_file):
    included, tasks_from = _references()
    assert (role, task_file) in included or task_file in tasks_from, \
        'roles/%s/tasks/%s is included by nothing (include_tasks, import_tasks or tasks_from)' % (role, task_file)


def test_the_check_finds_the_task_files():
    assert len(TASK_FILES) >= 20
