# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run.certificate: one certificate's lock, its messages and warnings, its diff."""

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._run import Run
from ansible_collections.certflow.ssl.plugins.module_utils._store import Store


def _run(tmp_path, **kwargs):
    return Run({'store_dir': str(tmp_path)}, **kwargs)


def _lock_is_free(tmp_path, name):
    try:
        with Store(str(tmp_path)).lock(name, timeout=0.2):
            return True
    except CertflowError:
        return False


def test_the_lock_is_held_while_the_work_runs_and_not_in_check_mode(tmp_path):
    run = _run(tmp_path)
    with run.certificate('www') as cert:
        assert not _lock_is_free(tmp_path, 'www')
        result = cert.result({'changed': False}, 'create')
    assert result == {'changed': False}
    assert _lock_is_free(tmp_path, 'www')
    with _run(tmp_path, check_mode=True).certificate('www'):
        assert _lock_is_free(tmp_path, 'www')


def test_messages_and_warnings_belong_to_the_certificate(tmp_path, monkeypatch):
    warned = []
    monkeypatch.setattr('ansible_collections.certflow.ssl.plugins.module_utils._run.module_warning', warned.append)
    run = _run(tmp_path)
    with run.certificate('www') as cert:
        run.log('said once')
        run.log('said once')
        run.warn('look here')
        result = cert.result({'changed': True}, 'create')
    assert result == {'changed': True, 'messages': ['said once'], 'warnings': ['look here']}
    assert warned == ['www: look here']
    run.log('outside any certificate')       # nobody to keep it for
    run.warn('a module warning')
    assert warned == ['www: look here', 'a module warning']


def test_a_failure_keeps_the_messages(tmp_path):
    run = _run(tmp_path)
    with pytest.raises(CertflowError) as caught:
        with run.certificate('www'):
            run.log('order created')
            raise CertflowError('the CA said no')
    assert caught.value.details['messages'] == ['order created']
    assert _lock_is_free(tmp_path, 'www')


def test_diff_mode_notes_the_store_before_and_after_a_change(tmp_path):
    run = _run(tmp_path, diff=True)
    with run.certificate('www') as cert:
        cert.result({'changed': False}, 'create')
    assert run.diffs == []
    with run.certificate('www') as cert:
        run.store.save_order('www', {'status': 'pending_validation', 'order_id': 'o-1', 'identifiers': []})
        cert.result({'changed': True, 'status': 'pending_validation'}, 'create')
    (diff,) = run.diffs
    assert 'order: none\n' in diff['before'] and 'order: pending_validation (order o-1)\n' in diff['after']
    assert diff['before_header'].endswith('www (before)')


def test_check_mode_diff_predicts_the_order_line(tmp_path):
    run = _run(tmp_path, check_mode=True, diff=True)
    with run.certificate('www') as cert:
        cert.result({'changed': True}, 'revoke', predicted_status='revoked')
    (diff,) = run.diffs
    assert diff['after'].endswith('order: revoked (check mode: would revoke)\n')
