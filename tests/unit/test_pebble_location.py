# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tests and the benchmark run the current Pebble (../shared/pebble/bin/pebble or
PEBBLE_BIN) and say so clearly when it is missing: never Debian's 2.4 from PATH."""

import os

import pytest

from tests.lib import services


def test_default_is_the_shared_current_pebble(monkeypatch):
    monkeypatch.delenv('PEBBLE_BIN', raising=False)
    path = services.pebble_binary()
    assert path.endswith(os.path.join('shared', 'pebble', 'bin', 'pebble'))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(path)))) == os.path.dirname(repo)


def test_a_missing_pebble_is_named_and_not_replaced_by_one_on_path(monkeypatch, tmp_path):
    fake = tmp_path / 'pebble'
    fake.write_text('#!/bin/sh\n')
    fake.chmod(0o755)
    monkeypatch.setenv('PATH', str(tmp_path) + os.pathsep + os.environ.get('PATH', ''))   # a pebble on PATH is not used
    monkeypatch.setenv('PEBBLE_BIN', str(tmp_path / 'missing' / 'pebble'))
    assert str(tmp_path / 'missing' / 'pebble') in services.missing_binaries()
    with pytest.raises(services.ServiceError, match=r'Pebble is not at .*missing/pebble.*\.\./shared/pebble.*PEBBLE_BIN'):
        services.start_pebble(str(tmp_path / 'work'), 53, 80)
