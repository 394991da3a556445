# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Atomic writes, deadlines, polling with back-off and the rule for URLs from outside."""

import os
import stat

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils._common import (
    CertflowError, Deadline, atomic_write, backoff, is_url, wait_until)


def test_atomic_write_sets_mode_and_leaves_no_temp_files(tmp_path):
    target = tmp_path / 'key.pem'
    atomic_write(str(target), 'secret', 0o600)
    assert target.read_text() == 'secret'
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    atomic_write(str(target), b'again', 0o600)
    assert target.read_bytes() == b'again'
    assert sorted(os.listdir(tmp_path)) == ['key.pem']


def test_atomic_write_failure_keeps_old_file(tmp_path):
    target = tmp_path / 'cert.pem'
    target.write_text('old')
    with pytest.raises(TypeError):
        atomic_write(str(target), 12345)
    assert target.read_text() == 'old'
    assert sorted(os.listdir(tmp_path)) == ['cert.pem']


def test_backoff_grows_and_caps():
    intervals = backoff(initial=0.1, factor=2, maximum=0.5)
    assert [next(intervals) for _step in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_wait_until_honours_retry_after_and_deadline():
    clock = FakeClock()
    deadline = Deadline(10, clock=clock)
    calls = []

    def check():
        calls.append(clock.now)
        return (len(calls) == 3, 2)

    assert wait_until(check, deadline, 'thing', sleep=clock.sleep) is True
    assert calls == [0.0, 2.0, 4.0]


def test_wait_until_times_out_with_a_message():
    clock = FakeClock()
    deadline = Deadline(1, clock=clock)
    with pytest.raises(CertflowError, match='timed out after 1s waiting for the CA'):
        wait_until(lambda: False, deadline, 'the CA', sleep=clock.sleep)


@pytest.mark.parametrize('value, ok', [
    ('https://ca.example/acme/order/1', True),
    ('http://127.0.0.1:14000/list-orderz/1?page=2', True),
    ('https://ca.example/a b', False),              # white space
    ('https://ca.example/\x00', False),             # control character
    ('https://ca.example/\u00e9', False),           # not ASCII
    ('ftp://ca.example/x', False),
    ('javascript:alert(1)', False),
    ('https://', False),
    ('https://' + 'a' * 2001, False),
    (None, False),
    (['https://ca.example/'], False),
])
def test_one_rule_decides_what_a_url_from_outside_may_be(value, ok):
    assert is_url(value) is ok
