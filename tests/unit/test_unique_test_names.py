# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test folders have no __init__.py, so pytest imports test files by their base name:
two files of one name in different folders stop the whole suite with "import file mismatch"."""

import collections
import os

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_test_file_names_are_unique_across_folders():
    seen = collections.defaultdict(list)
    for folder, dirs, files in os.walk(TESTS):
        dirs[:] = [d for d in dirs if d not in ('output', '__pycache__')]
        for name in files:
            if name.startswith('test_') and name.endswith('.py'):
                seen[name].append(os.path.relpath(folder, TESTS))
    assert {name: where for name, where in seen.items() if len(where) > 1} == {}
