# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Revocation safety, checked at the CA (Pebble's management API) for the
certificate named and for its siblings: never in check mode, never without
confirm, never anything but the current certificate of the name given."""

import os

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils._store import Store
from tests.lib.faults import batch_vars, check_issued, playbook, read
from tests.lib.playbook import run_playbook

AREA = 'Revocation safety'


@pytest.fixture
def issued(services, store_dir):
    """Three certificates from one account in one store: the one to revoke and two siblings."""
    names = [('rv-target', 'http'), ('rv-sibling', 'http'), ('rv-other', 'dns')]
    extra = batch_vars(services, store_dir, names)
    run_playbook(playbook('faults_batch.yml'), extra).assert_ok()
    roots = services.pebble.roots_pem()
    serials = dict((name, check_issued(store_dir, name, roots)['serial']) for name, _validation in names)
    return extra, serials


def _revoke(extra, args, check=False):
    return run_playbook(playbook('single_task.yml'), dict(extra, module='cert_revoke', module_args=args), check=check)


def _statuses(services, serials):
    return dict((name, services.pebble.cert_status(serial)['Status']) for name, serial in serials.items())


def test_revocation_touches_only_what_is_named_and_confirmed(services, store_dir, issued, reliability):
    extra, serials = issued
    valid = dict((name, 'Valid') for name in serials)

    refused = _revoke(extra, {'name': 'rv-target'})
    assert refused.rc != 0 and 'confirm' in refused.task('Revoke')['result']['msg']
    assert refused.task('Revoke')['result']['changed'] is False
    assert _statuses(services, serials) == valid
    reliability.record(AREA, 'without confirm', 'cert_revoke name: rv-target, no confirm', 'refused; nothing revoked',
                       'refused; all three still Valid at the CA', refused.task('Revoke')['result']['msg'])

    for args in ({'name': 'rv-target'}, {'name': 'rv-target', 'confirm': True}):
        checked = _revoke(extra, args, check=True)
        assert _statuses(services, serials) == valid, 'check mode must never revoke'
    assert checked.task('Revoke')['result']['changed'] is True
    assert checked.task('Revoke')['result']['serial'] == serials['rv-target']
    reliability.record(AREA, 'check mode', 'cert_revoke name: rv-target with --check (with and without confirm)',
                       'reports what it would do; nothing revoked', 'changed: true, serial of rv-target reported; all three still Valid',
                       checked.task('Revoke')['result'].get('msg'))

    missing = _revoke(extra, {'name': 'rv-missing', 'confirm': True})
    assert missing.rc != 0 and 'rv-missing' in missing.task('Revoke')['result']['msg']
    assert _statuses(services, serials) == valid
    reliability.record(AREA, 'a certificate we do not have', 'cert_revoke name: rv-missing, confirm: true', 'refused; nothing revoked',
                       'failed naming the name; all three still Valid', missing.task('Revoke')['result']['msg'])

    with Store(store_dir).lock('rv-target', timeout=5):
        extra_short = dict(extra, certflow_defaults=dict(extra['certflow_defaults'], timeout=2))
        busy = _revoke(extra_short, {'name': 'rv-target', 'confirm': True})
    assert busy.rc != 0 and 'locked by another run' in busy.task('Revoke')['result']['msg']
    assert _statuses(services, serials) == valid
    reliability.record(AREA, 'while another run holds the certificate', 'cert_revoke name: rv-target, confirm: true, timeout: 2, '
                       'while a renewal (here: the test) holds the lock of rv-target',
                       'waits for the lock, then gives up; nothing revoked', 'failed after 2 s naming the lock; all three still Valid',
                       busy.task('Revoke')['result']['msg'])

    done = _revoke(extra, {'name': 'rv-target', 'confirm': True, 'reason': 'superseded'}).assert_ok()
    assert done.task('Revoke')['result']['changed'] is True
    assert _statuses(services, serials) == dict(valid, **{'rv-target': 'Revoked'})
    again = _revoke(extra, {'name': 'rv-target', 'confirm': True}).assert_ok()
    assert again.task('Revoke')['result']['changed'] is False
    assert _statuses(services, serials) == dict(valid, **{'rv-target': 'Revoked'})
    reliability.record(AREA, 'the one named', 'cert_revoke name: rv-target, confirm: true; then again',
                       'only rv-target revoked; the second run changes nothing',
                       'rv-target Revoked at the CA, rv-sibling and rv-other Valid; second run changed: false')


def test_revocation_after_renewal_revokes_the_current_certificate_only(services, store_dir, issued, reliability):
    extra, serials = issued
    old_serial = serials['rv-target']
    renew = dict(extra, batch=[dict(extra['batch'][0], force=True)], validate_batch=[extra['validate_batch'][0]])
    run_playbook(playbook('faults_batch.yml'), renew).assert_ok()
    new_serial = check_issued(store_dir, 'rv-target', services.pebble.roots_pem())['serial']
    assert new_serial != old_serial
    _revoke(extra, {'name': 'rv-target', 'confirm': True}).assert_ok()
    assert services.pebble.cert_status(new_serial)['Status'] == 'Revoked'
    assert services.pebble.cert_status(old_serial)['Status'] == 'Valid', 'the archived certificate was not named'
    assert _statuses(services, {'rv-sibling': serials['rv-sibling'], 'rv-other': serials['rv-other']}) == {
        'rv-sibling': 'Valid', 'rv-other': 'Valid'}
    reliability.record(AREA, 'after a renewal', 'rv-target renewed (old certificate archived), then cert_revoke name: rv-target',
                       'only the current certificate revoked', 'new serial Revoked; archived serial and the siblings Valid')


def test_revocation_by_path_of_a_certificate_the_ca_did_not_issue(services, store_dir, issued, tmp_path, reliability):
    extra, serials = issued
    foreign = tmp_path / 'foreign.pem'
    # Pebble's intermediate: a real certificate, but not one issued to this account.
    foreign.write_text(read(os.path.join(store_dir, 'rv-sibling', 'chain.pem')))
    result = _revoke(extra, {'path': str(foreign), 'confirm': True})
    assert result.rc != 0
    message = result.task('Revoke')['result']['msg']
    assert 'urn:ietf:params:acme:error:' in message, message
    assert result.task('Revoke')['result']['changed'] is False
    assert _statuses(services, serials) == dict((name, 'Valid') for name in serials)
    reliability.record(AREA, 'a certificate the CA did not issue to us', 'cert_revoke path: the intermediate CA certificate, confirm: true',
                       'the CA refuses; nothing revoked', 'failed with the CA\'s problem document; all three still Valid', message)
