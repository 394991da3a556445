# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy role's filters: deploy_entries (entries against the role defaults), deploy_plan (what changes on a
host), deploy_refusals (the store check before copying) and deploy_unserved (the endpoint check after the reload)."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.certflow.ssl.plugins.filter.deploy_checks import deploy_refusals, deploy_unserved
from ansible_collections.certflow.ssl.plugins.filter.deploy_plan import deploy_entries, deploy_plan

DEFAULTS = {'dest_dir': '/etc/ssl/certflow', 'owner': 'root', 'group': 'root', 'dir_mode': '0755', 'key_mode': '0600',
            'cert_mode': '0644', 'verify': 'auto', 'pfx': False, 'pfx_encryption': 'aes256', 'notify': ['certflow reload nginx']}
KINDS = [{'kind': 'privkey', 'file': 'privkey.pem', 'mode_key': 'key_mode'}, {'kind': 'cert', 'file': 'cert.pem', 'mode_key': 'cert_mode'},
         {'kind': 'chain', 'file': 'chain.pem', 'mode_key': 'cert_mode'}, {'kind': 'fullchain', 'file': 'fullchain.pem', 'mode_key': 'cert_mode'}]
TOPICS = ['certflow reload nginx', 'certflow reload apache']
STORE = '/home/me/.certflow'


def entries(*certificates, **options):
    return deploy_entries(list(certificates), STORE, dict(DEFAULTS, **options.pop('defaults', {})), **options)


def checksums(name, value='aaa'):
    return {'%s/%s/%s' % (STORE, name, kind['file']): value + kind['kind'] for kind in KINDS}


def host_files(name, value='aaa', mode=None, owner='root', group='root', dest='/etc/ssl/certflow', pfx=False):
    files = [{'path': '%s/%s/%s' % (dest, name, kind['file']), 'checksum': value + kind['kind'],
              'mode': mode or ('0600' if kind['kind'] == 'privkey' else '0644'), 'pw_name': owner, 'gr_name': group} for kind in KINDS]
    if pfx:
        files.append({'path': '%s/%s/%s.pfx' % (dest, name, name), 'mode': '0600', 'pw_name': owner, 'gr_name': group})
    return files


def plan(resolved, found, sums, serials=None):
    store = [{'name': name, 'serial': serial} for name, serial in (serials or {}).items()]
    return deploy_plan(resolved, found, sums, store, KINDS, TOPICS)


# --------------------------------------------------------------------------- deploy_entries

def test_an_entry_takes_what_it_leaves_out_from_the_role_defaults():
    (www,) = entries({'name': 'www'})
    assert www == {'name': 'www', 'source': STORE + '/www', 'dest': '/etc/ssl/certflow/www', 'owner': 'root', 'group': 'root',
                   'dir_mode': '0755', 'key_mode': '0600', 'cert_mode': '0644', 'endpoints': [], 'verify': 'auto', 'pfx': False,
                   'pfx_encryption': 'aes256', 'notify': ['certflow reload nginx']}


def test_an_entry_overrides_the_defaults_and_its_pfx_password_is_not_copied():
    (www,) = entries({'name': 'www', 'dest': '/srv/tls', 'owner': '', 'key_mode': '0640', 'verify': 'never', 'pfx': 'yes',
                      'pfx_password': 'secret', 'notify': 'certflow deploy reload', 'endpoints': [{'host': 'h'}]})
    assert (www['dest'], www['owner'], www['key_mode'], www['verify'], www['pfx']) == ('/srv/tls', '', '0640', 'never', True)
    assert www['notify'] == ['certflow deploy reload'] and www['endpoints'] == [{'host': 'h'}]
    assert 'secret' not in repr(www)


def test_only_selects_entries_by_name_and_none_means_all():
    certificates = [{'name': 'a'}, {'name': 'b'}]
    assert [entry['name'] for entry in entries(*certificates, only=['b'])] == ['b']
    assert [entry['name'] for entry in entries(*certificates, only=None)] == ['a', 'b']
    assert entries(*certificates, only=[]) == []


def test_deploy_entries_refuses_what_is_not_a_list_of_dicts():
    with pytest.raises(AnsibleFilterError):
        deploy_entries({'name': 'www'}, STORE, DEFAULTS)
    with pytest.raises(AnsibleFilterError):
        deploy_entries(['www'], STORE, DEFAULTS)


# --------------------------------------------------------------------------- deploy_plan

def test_first_deployment_is_pending_creates_every_file_and_defers_a_web_server_endpoint():
    resolved = entries({'name': 'www', 'endpoints': [{'host': '127.0.0.1', 'port': '8443', 'server_name': 'www.test'}]})
    result = plan(resolved, [], checksums('www'), {'www': 'ABCDEF'})
    assert (result['pending'], result['replacing'], result['fix'], result['backups'], result['verify']) == (['www'], [], [], [], [])
    assert [item['path'] for item in result['created']] == ['/etc/ssl/certflow/www/' + kind['file'] for kind in KINDS]
    assert result['deferred'] == [{'name': 'www', 'host': '127.0.0.1', 'port': 8443, 'server_name': 'www.test', 'serial': 'abcdef',
                                   'first': True}]


def test_first_deployment_without_a_web_server_role_is_checked_at_once():
    resolved = entries({'name': 'www', 'notify': ['certflow deploy reload'], 'endpoints': [{'host': 'h'}]})
    result = plan(resolved, [], checksums('www'), {'www': '0A'})
    assert result['deferred'] == []
    assert result['verify'] == [{'name': 'www', 'host': 'h', 'port': 443, 'server_name': 'h', 'serial': '0a', 'first': True}]


def test_first_deployment_with_verify_always_is_checked_at_once():
    result = plan(entries({'name': 'www', 'verify': 'always', 'endpoints': [{'host': 'h'}]}), [], checksums('www'), {'www': '1'})
    assert [target['host'] for target in result['verify']] == ['h'] and result['deferred'] == []


def test_nothing_changes_when_contents_and_metadata_match():
    result = plan(entries({'name': 'www', 'endpoints': [{'host': 'h'}]}), host_files('www'), checksums('www'), {'www': '1'})
    assert result == {'pending': [], 'replacing': [], 'fix': [], 'verify': [], 'deferred': [], 'backups': [], 'created': []}


@pytest.mark.parametrize('changes', [{'mode': '0666'}, {'owner': 'nobody'}, {'group': 'nogroup'}])
def test_metadata_difference_only_fixes(changes):
    result = plan(entries({'name': 'www'}), host_files('www', **changes), checksums('www'), {'www': '1'})
    assert (result['fix'], result['pending'], result['backups']) == (['www'], [], [])


def test_empty_owner_and_group_are_not_compared():
    result = plan(entries({'name': 'www', 'owner': '', 'group': ''}), host_files('www', owner='me', group='me'), checksums('www'))
    assert result['fix'] == []


def test_renewal_replaces_backs_up_what_changes_and_verifies_right_away():
    found = host_files('www', value='old')
    found[2]['checksum'] = 'newchain'  # the chain did not change: no backup, it is not rewritten
    resolved = entries({'name': 'www', 'endpoints': [{'host': 'h', 'port': 8443}]})
    result = plan(resolved, found, checksums('www', value='new'), {'www': 'FF'})
    assert (result['pending'], result['replacing'], result['created'], result['deferred']) == (['www'], ['www'], [], [])
    assert [item['path'].rsplit('/', 1)[1] for item in result['backups']] == ['privkey.pem', 'cert.pem', 'fullchain.pem']
    assert result['verify'] == [{'name': 'www', 'host': 'h', 'port': 8443, 'server_name': 'h', 'serial': 'ff', 'first': False}]


def test_verify_never_checks_no_endpoint():
    result = plan(entries({'name': 'www', 'verify': 'never', 'endpoints': [{'host': 'h'}]}), [], checksums('www'))
    assert result['pending'] == ['www'] and result['verify'] == [] and result['deferred'] == []


def test_pfx_is_only_built_when_the_host_lacks_it_and_is_backed_up_when_the_certificate_changes():
    resolved = entries({'name': 'www'}, defaults={'pfx': True})
    assert plan(resolved, host_files('www', pfx=True), checksums('www'))['pending'] == []
    missing = plan(resolved, host_files('www'), checksums('www'))
    assert missing['pending'] == ['www'] and [item['path'] for item in missing['created']] == ['/etc/ssl/certflow/www/www.pfx']
    renewed = plan(resolved, host_files('www', value='old', pfx=True), checksums('www', value='new'))
    assert '/etc/ssl/certflow/www/www.pfx' in [item['path'] for item in renewed['backups']]


def test_plan_names_a_store_file_without_checksum_and_a_certificate_without_serial():
    with pytest.raises(AnsibleFilterError, match='no checksum of /home/me/.certflow/www/privkey.pem'):
        plan(entries({'name': 'www'}), [], {})
    with pytest.raises(AnsibleFilterError, match='no certificate www'):
        plan(entries({'name': 'www', 'endpoints': [{'host': 'h'}]}), [], checksums('www'), {})


# --------------------------------------------------------------------------- deploy_refusals

def stored(name, **facts):
    return dict({'name': name, 'key_matches': True, 'chain_valid': True, 'serial': '01'}, **facts)


def test_sound_certificates_are_not_refused():
    assert deploy_refusals(entries({'name': 'www'}), [stored('www')]) == []


def test_refusals_name_the_store_files():
    resolved = entries({'name': 'gone'}, {'name': 'key'}, {'name': 'chain'}, {'name': 'silent'})
    problems = deploy_refusals(resolved, [stored('key', key_matches=False), stored('chain', chain_valid=False, chain_problem='expired'),
                                          stored('silent', chain_valid=None, chain_problem='')])
    assert problems == [
        'gone: there is no certificate %s/gone/cert.pem in the store' % STORE,
        'key: the private key %s/key/privkey.pem does not belong to the certificate %s/key/fullchain.pem' % (STORE, STORE),
        'chain: the chain in %s/chain/fullchain.pem does not verify (expired)' % STORE,
        'silent: the chain in %s/silent/fullchain.pem does not verify (no reason given)' % STORE,
    ]


def test_in_check_mode_a_missing_certificate_is_not_refused_but_a_broken_one_is():
    resolved = entries({'name': 'gone'}, {'name': 'key'})
    assert deploy_refusals(resolved, [stored('key', key_matches=False)], True) == [
        'key: the private key %s/key/privkey.pem does not belong to the certificate %s/key/fullchain.pem' % (STORE, STORE)]


# --------------------------------------------------------------------------- deploy_unserved

TARGET = {'name': 'www', 'host': '127.0.0.1', 'port': 8443, 'server_name': 'www.test', 'serial': 'abcd'}


def test_endpoints_that_serve_the_new_serial_in_any_case_are_fine():
    assert deploy_unserved([{'item': TARGET, 'serial': 'ABCD'}]) == []


def test_endpoints_with_another_serial_or_no_answer_are_named():
    assert deploy_unserved([{'item': TARGET, 'serial': '0F'}, {'item': TARGET, 'msg': 'connection refused'}, {'item': TARGET}]) == [
        '127.0.0.1:8443 (SNI www.test) serves serial 0f, not the new certificate of www (serial abcd)',
        '127.0.0.1:8443 (SNI www.test) did not answer with a certificate: connection refused; expected serial abcd of www',
        '127.0.0.1:8443 (SNI www.test) did not answer with a certificate: no reason given; expected serial abcd of www',
    ]


def test_check_filters_refuse_wrong_input_types():
    with pytest.raises(AnsibleFilterError):
        deploy_unserved({'results': []})
    with pytest.raises(AnsibleFilterError):
        deploy_refusals(entries({'name': 'www'}), None)
