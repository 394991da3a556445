# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificate store: layout, modes, atomic install, archive, locks."""

import multiprocessing
import os
import stat
import time

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._store import Store, check_name, name_for_domain
from tests.lib.store_files import archives


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_nothing_is_created_until_written(tmp_path):
    store = Store(str(tmp_path / 'store'))
    assert store.load_order('www') is None
    assert store.read('www', 'cert') is None
    assert store.names() == []
    assert not (tmp_path / 'store').exists()


def test_install_modes_and_archive(tmp_path):
    store = Store(str(tmp_path / 'store'))
    store.save_pending_key('www', 'KEY1')
    assert mode(os.path.join(store.cert_dir('www'), 'pending', 'privkey.pem')) == 0o600
    store.install('www', cert='CERT1', chain='CHAIN1', fullchain='FULL1', key='KEY1')
    assert mode(store.root) == 0o700 and mode(store.cert_dir('www')) == 0o700
    assert mode(store.path('www', 'privkey')) == 0o600
    assert mode(store.path('www', 'cert')) == 0o644
    assert not os.path.exists(os.path.join(store.cert_dir('www'), 'pending', 'privkey.pem'))
    assert archives(store.root, 'www') == []

    store.install('www', cert='CERT2', chain='CHAIN2', fullchain='FULL2', key='KEY2')
    assert store.read('www', 'cert') == 'CERT2' and store.read('www', 'privkey') == 'KEY2'
    archived = archives(store.root, 'www')
    assert len(archived) == 1
    with open(os.path.join(archived[0], 'cert.pem')) as handle:
        assert handle.read() == 'CERT1'
    assert mode(os.path.join(archived[0], 'privkey.pem')) == 0o600
    store.install('www', cert='CERT3', chain='C', fullchain='F', key='K')
    assert len(archives(store.root, 'www')) == 2


def test_pending_key_does_not_touch_current_key(tmp_path):
    store = Store(str(tmp_path))
    store.install('www', cert='CERT1', chain='', fullchain='FULL1', key='KEY1')
    store.save_pending_key('www', 'KEY2')
    assert store.read('www', 'privkey') == 'KEY1'
    assert store.read_pending_key('www') == 'KEY2'


def test_order_round_trip_and_corrupt_order(tmp_path):
    store = Store(str(tmp_path))
    saved = store.save_order('www', {'status': 'pending_validation', 'order_id': 'x'})
    assert saved['created_at'] and saved['updated_at']
    assert store.load_order('www')['order_id'] == 'x'
    assert store.names() == ['www']
    with open(os.path.join(store.cert_dir('www'), 'order.json'), 'w') as handle:
        handle.write('{broken')
    with pytest.raises(CertflowError, match='corrupt'):
        store.load_order('www')


@pytest.mark.parametrize('bad', ['', '../x', 'a/b', '_private', '.hidden', 'x' * 200, 'sp ace'])
def test_bad_names_are_refused(bad):
    with pytest.raises(CertflowError, match='invalid certificate name'):
        check_name(bad)


def test_name_for_wildcard():
    assert name_for_domain('*.example.com') == 'wildcard.example.com'
    assert name_for_domain('www.example.com') == 'www.example.com'


def _hold_lock(root, started, seconds):
    with Store(root).lock('www'):
        started.set()
        time.sleep(seconds)


def test_lock_excludes_other_processes_and_is_freed_when_holder_dies(tmp_path):
    root = str(tmp_path)
    started = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(root, started, 30))
    holder.start()
    assert started.wait(10)
    with pytest.raises(CertflowError, match='locked'):
        with Store(root).lock('www', timeout=0.3):
            pass
    holder.kill()
    holder.join()
    with Store(root).lock('www', timeout=2):
        pass
