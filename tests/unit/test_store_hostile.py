# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile input to the certificate store (issue 12, items 5, 8, 11, 20):
names checked with a full match, no link followed below the store root,
order.json and proofs.json checked for their structure, no empty pending/
left behind."""

import json
import os
import stat

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._store import Store, check_name

ORDER = {'provider': 'local', 'order_id': '0123456789abcdef01234567', 'status': 'pending_validation',
         'identifiers': [{'type': 'dns', 'value': 'www.example.com'}, {'type': 'ip', 'value': '192.0.2.1'}],
         'challenges': [{'domain': 'www.example.com', 'type': 'none', 'status': 'pending', 'provider_data': {}}]}


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def secret_file(tmp_path, text='SECRET KEY\n', file_mode=0o600):
    path = tmp_path / 'outside' / 'secret.pem'
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    os.chmod(str(path), file_mode)
    return str(path)


# ------------------------------------------------------------ item 5: full matches

@pytest.mark.parametrize('name', ['x\n', 'www\n', 'a\nb'])
def test_name_with_a_newline_is_refused(name):
    with pytest.raises(CertflowError, match='invalid certificate name'):
        check_name(name)


def test_store_lists_no_folder_whose_name_ends_in_a_newline(tmp_path):
    os.makedirs(str(tmp_path / 'x\n'))
    (tmp_path / 'x\n' / 'cert.pem').write_text('CERT')
    assert Store(str(tmp_path)).names() == []


# ------------------------------------------------------------ item 8: links

def store_with_linked_folder(tmp_path, file_name, text):
    """A store whose folder ``www`` is a link to a folder outside holding ``file_name``."""
    store = Store(str(tmp_path / 'store'))
    target = tmp_path / 'elsewhere'
    target.mkdir()
    (target / file_name).write_text(text)
    os.makedirs(store.root)
    os.symlink(str(target), os.path.join(store.root, 'www'))
    return store, target


def test_linked_certificate_folder_is_refused_for_reads_and_writes(tmp_path):
    store, target = store_with_linked_folder(tmp_path, 'cert.pem', 'NOT OURS')
    for action in (lambda: store.read('www', 'cert'), lambda: store.load_order('www'),
                   lambda: store.save_pending_key('www', 'KEY'), lambda: store.save_order('www', ORDER),
                   lambda: store.install('www', 'C', 'CH', 'F', key='K')):
        with pytest.raises(CertflowError, match='symbolic link') as caught:
            action()
        assert os.path.join(store.root, 'www') in caught.value.msg
    assert sorted(os.listdir(str(target))) == ['cert.pem']
    assert (target / 'cert.pem').read_text() == 'NOT OURS'


def test_linked_certificate_folder_is_refused_by_the_lock_sweep(tmp_path):
    store, target = store_with_linked_folder(tmp_path, '.tmp-precious', 'keep')
    with pytest.raises(CertflowError, match='symbolic link'):
        with store.lock('www', timeout=1):
            pass
    assert (target / '.tmp-precious').read_text() == 'keep'


@pytest.mark.parametrize('victim_exists', [False, True])
def test_linked_lock_file_is_refused_and_its_target_untouched(tmp_path, victim_exists):
    store = Store(str(tmp_path / 'store'))
    victim = str(tmp_path / 'victim')
    if victim_exists:
        secret_file(tmp_path)
        victim = str(tmp_path / 'outside' / 'secret.pem')
    os.makedirs(os.path.join(store.root, '.locks'))
    os.symlink(victim, os.path.join(store.root, '.locks', 'www.lock'))
    with pytest.raises(CertflowError, match='symbolic link') as caught:
        with store.lock('www', timeout=1):
            pass
    assert 'www.lock' in caught.value.msg
    if victim_exists:
        assert open(victim).read() == 'SECRET KEY\n' and mode(victim) == 0o600
    else:
        assert not os.path.lexists(victim)


def test_linked_lock_folder_is_refused(tmp_path):
    store = Store(str(tmp_path / 'store'))
    (tmp_path / 'locks-elsewhere').mkdir()
    os.makedirs(store.root)
    os.symlink(str(tmp_path / 'locks-elsewhere'), os.path.join(store.root, '.locks'))
    with pytest.raises(CertflowError, match='symbolic link'):
        with store.lock('www', timeout=1):
            pass
    assert os.listdir(str(tmp_path / 'locks-elsewhere')) == []


@pytest.mark.parametrize('kind', ['chain', 'privkey', 'fullchain', 'cert'])
def test_install_refuses_a_linked_current_file_and_copies_nothing(tmp_path, kind):
    store = Store(str(tmp_path / 'store'))
    store.install('www', cert='CERT1', chain='CHAIN1', fullchain='FULL1', key='KEY1')
    secret = secret_file(tmp_path)
    os.unlink(store.path('www', kind))
    os.symlink(secret, store.path('www', kind))
    with pytest.raises(CertflowError, match='symbolic link') as caught:
        store.install('www', cert='CERT2', chain='CHAIN2', fullchain='FULL2', key='KEY2')
    assert store.path('www', kind) in caught.value.msg
    assert open(secret).read() == 'SECRET KEY\n' and mode(secret) == 0o600
    assert not os.path.exists(os.path.join(store.cert_dir('www'), 'archive')) or \
        all(not files for _folder, _dirs, files in os.walk(os.path.join(store.cert_dir('www'), 'archive')))
    if kind != 'cert':
        assert store.read('www', 'cert') == 'CERT1'


@pytest.mark.parametrize('what', ['pending', 'archive'])
def test_linked_subfolder_is_refused(tmp_path, what):
    store = Store(str(tmp_path / 'store'))
    store.install('www', cert='CERT1', chain='CHAIN1', fullchain='FULL1', key='KEY1')
    target = tmp_path / 'elsewhere'
    target.mkdir()
    os.symlink(str(target), os.path.join(store.cert_dir('www'), what))
    with pytest.raises(CertflowError, match='symbolic link'):
        if what == 'pending':
            store.save_pending_key('www', 'KEY2')
        else:
            store.install('www', cert='CERT2', chain='CHAIN2', fullchain='FULL2', key='KEY2')
    assert os.listdir(str(target)) == []


@pytest.mark.parametrize('file_name', ['order.json', 'proofs.json', 'pending/privkey.pem'])
def test_linked_file_is_not_read(tmp_path, file_name):
    store = Store(str(tmp_path / 'store'))
    store.save_pending_key('www', 'KEY')
    secret = secret_file(tmp_path, text='[]')
    path = os.path.join(store.cert_dir('www'), file_name)
    if os.path.exists(path):
        os.unlink(path)
    os.symlink(secret, path)
    with pytest.raises(CertflowError, match='symbolic link'):
        {'order.json': store.load_order, 'proofs.json': store.load_proofs,
         'pending/privkey.pem': store.read_pending_key}[file_name]('www')


def test_fifo_in_place_of_a_file_does_not_hang(tmp_path):
    store = Store(str(tmp_path / 'store'))
    store.save_order('www', ORDER)
    os.unlink(os.path.join(store.cert_dir('www'), 'order.json'))
    os.mkfifo(os.path.join(store.cert_dir('www'), 'order.json'))
    with pytest.raises(CertflowError, match='not a regular file'):
        store.load_order('www')


def test_a_linked_root_is_followed(tmp_path):
    """The root is the user's choice (store_dir): a link there is fine."""
    real = tmp_path / 'real-store'
    real.mkdir()
    os.symlink(str(real), str(tmp_path / 'store'))
    store = Store(str(tmp_path / 'store'))
    store.install('www', cert='CERT1', chain='CHAIN1', fullchain='FULL1', key='KEY1')
    assert (real / 'www' / 'cert.pem').read_text() == 'CERT1'
    with store.lock('www', timeout=1):
        pass


# ------------------------------------------------------------ item 11: order.json and proofs.json structure

BAD_ORDERS = [
    ('not-json', '{broken', 'not JSON'),
    ('a-list', '[1, 2]', 'expected a JSON object, found a list'),
    ('a-string', '"order"', 'expected a JSON object, found a string'),
    ('identifiers-a-string', dict(ORDER, identifiers='www.example.com'), "'identifiers' must be a list"),
    ('identifier-not-object', dict(ORDER, identifiers=['www.example.com']), "'identifiers'[0] must be an object"),
    ('identifier-newline', dict(ORDER, identifiers=[{'type': 'dns', 'value': 'a\n.example.com'}]), 'not a normalised domain'),
    ('identifier-bad-type', dict(ORDER, identifiers=[{'type': 'email', 'value': 'x'}]), "type must be 'dns' or 'ip'"),
    ('status-unknown', dict(ORDER, status='pwned'), "'status' must be one of"),
    ('status-number', dict(ORDER, status=3), "'status' must be one of"),
    ('order-id-newline', dict(ORDER, order_id='0123456789abcdef01234567\n'), "'order_id'"),
    ('order-id-path', dict(ORDER, order_id='../../etc/passwd'), "'order_id'"),
    ('order-id-number', dict(ORDER, order_id=7), "'order_id'"),
    ('challenges-dict', dict(ORDER, challenges={'a': 1}), "'challenges' must be a list"),
    ('challenge-field-number', dict(ORDER, challenges=[{'file_path': 5}]), "'challenges'[0].file_path"),
    ('provider-data-list', dict(ORDER, provider_data=[1]), "'provider_data' must be an object"),
    ('own-key-string', dict(ORDER, own_key='yes'), "'own_key' must be true/false"),
    ('renew-days-string', dict(ORDER, renew_before_days='30'), "'renew_before_days' must be a number"),
    ('renew-days-negative', dict(ORDER, renew_before_days=-5), "'renew_before_days' must be a number of days (0 or more)"),
    ('renew-days-bool', dict(ORDER, renew_before_days=True), "'renew_before_days' must be a number of days"),
    ('renew-fraction-one', dict(ORDER, renew_before_ratio=1), "'renew_before_ratio' must be a share of the lifetime"),
    ('renew-fraction-text', dict(ORDER, renew_before_ratio='0.5'), "'renew_before_ratio' must be a number"),
]


@pytest.mark.parametrize('case_id,content,words', BAD_ORDERS, ids=[case[0] for case in BAD_ORDERS])
def test_hostile_order_file_is_named_with_what_is_wrong(tmp_path, case_id, content, words):
    store = Store(str(tmp_path))
    store.save_order('www', ORDER)
    path = os.path.join(store.cert_dir('www'), 'order.json')
    with open(path, 'w') as handle:
        handle.write(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(CertflowError) as caught:
        store.load_order('www')
    assert path in caught.value.msg and words in caught.value.msg, caught.value.msg
    with pytest.raises(CertflowError, match='order.json'):
        store.name_of_order('0123456789abcdef01234567')


def test_good_orders_of_every_provider_load(tmp_path):
    store = Store(str(tmp_path))
    for order_id in ('https://acme.example/order/abc_-1', '12345678', '0123456789abcdef01234567', None):
        store.save_order('www', dict(ORDER, order_id=order_id, identifiers=[{'type': 'dns', 'value': '*.xn--bcher-kva.example'},
                                                                            {'type': 'ip', 'value': '2001:db8::1'}]))
        assert store.load_order('www')['order_id'] == order_id


@pytest.mark.parametrize('content,words', [
    ('{broken', 'not JSON'), ('{"type": "dns"}', 'expected a JSON list, found an object'),
    ('[1]', 'entry 0 must be an object'), ('[{"type": "shell", "path": "x"}]', "'type' must be 'dns' or 'file'"),
    ('[{"type": "file", "path": ["x"]}]', "'path' must be a string"),
])
def test_hostile_proofs_file_is_named_with_what_is_wrong(tmp_path, content, words):
    store = Store(str(tmp_path))
    store.save_order('www', ORDER)
    path = os.path.join(store.cert_dir('www'), 'proofs.json')
    with open(path, 'w') as handle:
        handle.write(content)
    with pytest.raises(CertflowError) as caught:
        store.load_proofs('www')
    assert path in caught.value.msg and words in caught.value.msg, caught.value.msg


def test_proofs_round_trip(tmp_path):
    store = Store(str(tmp_path))
    proofs = [{'type': 'dns', 'provider': 'rfc2136', 'name': '_acme-challenge.x.example', 'value': 'v'},
              {'type': 'file', 'webroot': '/srv/www', 'path': '/.well-known/acme-challenge/t'}]
    assert store.load_proofs('www') == []
    store.save_proofs('www', proofs)
    assert store.load_proofs('www') == proofs
    store.save_proofs('www', [])
    assert store.load_proofs('www') == []


# ------------------------------------------------------------ item 20: no empty pending/

def test_install_leaves_no_empty_pending_folder(tmp_path):
    store = Store(str(tmp_path))
    store.save_pending_key('www', 'KEY1')
    store.install('www', cert='CERT1', chain='CHAIN1', fullchain='FULL1', key='KEY1')
    assert not os.path.lexists(os.path.join(store.cert_dir('www'), 'pending'))
