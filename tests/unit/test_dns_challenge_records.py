# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The records of dns-account-01 and dns-persist-01: names, values, the full-match
checks of what the CA sends, and which persistent records serve (issue 14, item 4)."""

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme.orders import _share_wildcard_policy
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._ops.validate import _Proofs, check_record_name
from ansible_collections.certflow.ssl.plugins.module_utils._proofs import dns_records
from tests.unit.test_proofs_notes import FakeRun

ACCOUNT = 'https://ca.example/acct/123'
ISSUER = 'authority.example'


def test_account_label_is_pebbles():
    # sha256('https://ca.example/acct/123')[:10] in RFC 4648 base32, lowercase, no padding (Pebble's va.go).
    assert dns_records.account_label(ACCOUNT) == 'h5zlfqoi7m5jaytl'
    assert dns_records.account_record_name(ACCOUNT, 'www.example.com') == '_h5zlfqoi7m5jaytl._acme-challenge.www.example.com'
    assert dns_records.account_label('https://ca.example/acct/124') != dns_records.account_label(ACCOUNT)


@pytest.mark.parametrize('name', ['_h5zlfqoi7m5jaytl._acme-challenge.www.example.com', '_validation-persist.example.com',
                                  '_VALIDATION-PERSIST.Example.com'])
def test_record_names_of_the_new_challenges(name):
    assert check_record_name(name) == name


@pytest.mark.parametrize('name', ['_validation-persist', '_h5zlfqoi7m5jayt._acme-challenge.example.com',
                                  '_h5zlfqoi7m5jayt1._acme-challenge.example.com', '_x._acme-challenge.example.com',
                                  '_validation-persist.example.com\n', 'validation-persist.example.com'])
def test_other_names_are_refused(name):
    with pytest.raises(CertflowError, match='refused'):
        check_record_name(name)


def test_persist_value():
    assert dns_records.persist_value(ISSUER, ACCOUNT) == 'authority.example; accounturi=https://ca.example/acct/123'
    assert dns_records.persist_value(ISSUER, ACCOUNT, wildcard=True) == \
        'authority.example; accounturi=https://ca.example/acct/123; policy=wildcard'


@pytest.mark.parametrize('url', ['http://ca.example/acct/1', 'https://ca.example/acct/1; policy=wildcard',
                                 'https://ca.example/acct/1 x', 'https://ca.example/a"b', 'https://ca.example/acct\n', None])
def test_account_urls_that_cannot_go_into_a_record(url):
    with pytest.raises(CertflowError, match='refused'):
        dns_records.persist_value(ISSUER, url)


@pytest.mark.parametrize('issuer', ['evil.example; accounturi=https://x/1', 'single', '-bad.example', 'a..example', '', None])
def test_issuer_names_that_are_not_dns_names(issuer):
    with pytest.raises(CertflowError, match='refused'):
        dns_records.check_issuer_name(issuer)


# Pebble's own cases (va/va_test.go TestValidateDNSPersist01): (records, wildcard, accepted).
PEBBLE_CASES = [
    ('authority.example;accounturi=https://ca.example/acct/123', False, True),
    ('authority.example;accounturi=https://ca.example/acct/123;foo=', False, True),
    ('authority.example;accounturi=https://ca.example/acct/123;bad tag=value;\nweird=\\x01337', False, True),
    ('   authority.example   ;   accounturi   =   https://ca.example/acct/123   ;   policy   =   wildcard   ;   '
     'persistUntil   =   4102444800   ', False, True),
    ('authority.example;accounturi=https://ca.example/acct/123;policy=wIlDcArD', True, True),
    ('authority.example;accounturi=https://ca.example/acct/123;pOlIcY=wildcard', True, True),
    ('authority.example;accounturi=https://ca.example/acct/123;accounturi=https://ca.example/acct/456', False, False),
    ('authority.example;accounturi=https://ca.example/acct/999', False, False),
    ('other.example;accounturi=https://ca.example/acct/123', False, False),
    ('authority.example;accounturi=https://ca.example/acct/123;invalidparam', False, False),
    ('authority.example;accounturi=https://ca.example/acct/123;=abc', False, False),
    ('authority.example;accounturi=', False, False),
    ('authority.example;accounturi=https://ca.example/acct/123;policy=wild card', False, False),
    ('authority.example;accounturi=https://ca.example/acct/123;persistUntil=not-a-unix-timestamp', False, False),
    ('authority.example;accounturi=https://ca.example/acct/123;foo=bar;foo=baz', False, False),
    ('authority.example;ACCOUNTURI=https://ca.example/acct/123;accounturi=https://ca.example/acct/456', False, False),
    (';accounturi=https://ca.example/acct/123', False, False),
    ('authority.example;accounturi=https://ca.example/acct/123;policy=notwildcard', True, False),
    ('authority.example;policy=wildcard', False, False),
    ('authority.example;accounturi=https://ca.example/acct/123;persistUntil=', False, False),
    ('authority.example;accounturi=https://ca.example/acct/123;', False, False),
    ('authority.example;accounturi=https://ca.example/acct/123;persistUntil=1', False, False),
    ('authority.example;accounturi=https://ca.example/acct/123;persistUntil=-1', False, False),
    ('authority.example;accounturi=https://ca.example/acct/123', True, False),
]


@pytest.mark.parametrize('record, wildcard, accepted', PEBBLE_CASES)
def test_which_persistent_records_serve_agrees_with_pebble(record, wildcard, accepted):
    wanted = dns_records.persist_value(ISSUER, ACCOUNT, wildcard=wildcard)
    problem = dns_records.persist_problem(record, wanted, [ISSUER])
    assert (problem is None) == accepted, problem


def test_the_reason_names_what_is_wrong():
    wanted = dns_records.persist_value(ISSUER, ACCOUNT, wildcard=True)
    assert dns_records.persist_problem('authority.example; accounturi=https://ca.example/acct/9', wanted, [ISSUER]) == \
        'for another account (accounturi=https://ca.example/acct/9)'
    assert dns_records.persist_problem('authority.example; accounturi=%s' % ACCOUNT, wanted, [ISSUER]) == \
        'without policy=wildcard, which a wildcard name needs'
    assert dns_records.persist_problem('other.example; accounturi=%s' % ACCOUNT, wanted, [ISSUER]) == 'for another CA (other.example)'


def _persist(domain, value):
    return {'domain': domain, 'record_name': '_validation-persist.example.com', 'record_value': value, 'persistent': True}


def test_a_name_and_its_wildcard_share_the_wildcard_record():
    plain, wild = 'authority.example; accounturi=%s' % ACCOUNT, 'authority.example; accounturi=%s; policy=wildcard' % ACCOUNT
    challenges = _share_wildcard_policy([_persist('example.com', plain), _persist('*.example.com', wild)])
    assert [c['record_value'] for c in challenges] == [wild, wild]
    alone = _share_wildcard_policy([_persist('example.com', plain)])
    assert alone[0]['record_value'] == plain, 'policy=wildcard only when a wildcard is asked for'


def test_a_persistent_record_noted_in_proofs_json_is_never_removed():
    value = 'authority.example; accounturi=%s' % ACCOUNT
    note = {'type': 'dns', 'provider': 'rfc2136', 'name': '_validation-persist.example.com', 'value': value}
    run = FakeRun([note])
    assert _Proofs(run, {}, 'dns_persist', 'www').remove([_persist('example.com', value)]) == []
    assert run.dns_asked == []
    assert run.warnings == ['not removed, not a proof certflow made for this order: TXT _validation-persist.example.com '
                            '(a dns-persist-01 record is meant to stay)']
