# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nameserver parsing, CNAME loop handling and the messages of the DNS and
http pre-checks, without any server."""

import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import dns.tsig
import pytest

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline
from ansible_collections.certflow.ssl.plugins.module_utils._dns import rfc2136
from ansible_collections.certflow.ssl.plugins.module_utils._proofs import propagation
from ansible_collections.certflow.ssl.plugins.module_utils._dns.manual import ManualProvider
from ansible_collections.certflow.ssl.plugins.module_utils._dns.rfc2136 import Rfc2136Provider, tsig_algorithm, txt_rdata
from ansible_collections.certflow.ssl.plugins.module_utils._proofs.http_check import _seen, _with_port

SECRET = 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ='


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


# ------------------------------------------------------------------ parse_nameservers

@pytest.mark.parametrize('entry, expected', [
    ('192.0.2.53', [('192.0.2.53', 53)]),
    ('192.0.2.53:5353', [('192.0.2.53', 5353)]),
    (' 127.0.0.1:1053 ', [('127.0.0.1', 1053)]),
    ('2001:db8::53', [('2001:db8::53', 53)]),
    ('[2001:db8::53]:5300', [('2001:db8::53', 5300)]),
    ('[2001:DB8::53]', [('2001:db8::53', 53)]),
    (('127.0.0.1', 1053), [('127.0.0.1', 1053)]),
    (['[::1]', '53'], [('::1', 53)]),
])
def test_parse_nameservers_forms(entry, expected):
    assert propagation.parse_nameservers([entry]) == expected


def test_parse_nameservers_hostname_resolves_every_address():
    servers = propagation.parse_nameservers(['localhost:1053'])
    assert ('127.0.0.1', 1053) in servers
    assert all(port == 1053 for _host, port in servers)


def test_parse_nameservers_single_string_none_and_duplicates():
    assert propagation.parse_nameservers('127.0.0.1') == [('127.0.0.1', 53)]
    assert propagation.parse_nameservers(None) == []
    assert propagation.parse_nameservers(['127.0.0.1', '127.0.0.1:53']) == [('127.0.0.1', 53)]


@pytest.mark.parametrize('entry, message', [
    ('', 'nameserver entry is empty'),
    ('127.0.0.1:', "port '' is not a number"),
    ('127.0.0.1:dns', "port 'dns' is not a number"),
    ('127.0.0.1:0', "port '0' is not a number between 1 and 65535"),
    ('127.0.0.1:70000', "port '70000' is not a number"),
    ('[2001:db8::53', 'expected [IPv6 address]:port'),
    ('[192.0.2.1]:53', 'expected [IPv6 address]:port'),
    ('2001:db8::zz', "'2001:db8::zz' is not a valid IPv6 address"),
    ('bad host!', "'bad host!' is neither an IP address nor a host name"),
    ('http://192.0.2.1', 'is not a number'),
    ('no-such-host.invalid', "cannot resolve nameserver 'no-such-host.invalid'"),
    (53, 'expected a string such as'),
    (('127.0.0.1',), 'expected (host, port)'),
])
def test_parse_nameservers_garbage(entry, message):
    with pytest.raises(CertflowError) as error:
        propagation.parse_nameservers([entry])
    assert message in error.value.msg


def test_format_server():
    assert propagation.format_server(('192.0.2.1', 53)) == '192.0.2.1:53'
    assert propagation.format_server(('2001:db8::1', 5353)) == '[2001:db8::1]:5353'


# ------------------------------------------------------------------ CNAME following

def _chain_lookup(mapping):
    def fake(qname, servers, resolver, deadline):
        target = mapping.get(qname.to_text(omit_final_dot=True))
        return dns.name.from_text(target) if target else None
    return fake


def test_follow_cname_chain(monkeypatch):
    monkeypatch.setattr(propagation, '_cname_target', _chain_lookup({'_acme-challenge.a.test': 'b.test', 'b.test': 'c.test'}))
    assert propagation.follow_cname('_acme-challenge.a.test.', ['127.0.0.1']) == 'c.test'
    assert propagation.follow_cname('plain.test', ['127.0.0.1']) == 'plain.test'


def test_follow_cname_loop(monkeypatch):
    monkeypatch.setattr(propagation, '_cname_target', _chain_lookup({'a.test': 'b.test', 'b.test': 'a.test'}))
    with pytest.raises(CertflowError) as error:
        propagation.follow_cname('a.test', ['127.0.0.1'])
    assert error.value.msg == 'CNAME loop at a.test: a.test -> b.test -> a.test'


def test_follow_cname_hop_limit(monkeypatch):
    chain = {'n%d.test' % i: 'n%d.test' % (i + 1) for i in range(20)}
    monkeypatch.setattr(propagation, '_cname_target', _chain_lookup(chain))
    assert propagation.follow_cname('n12.test', ['127.0.0.1']) == 'n20.test'    # 8 hops
    with pytest.raises(CertflowError, match=r'^CNAME chain at n0\.test is longer than 8 hops: n0\.test -> n1\.test'):
        propagation.follow_cname('n0.test', ['127.0.0.1'])


def test_invalid_name():
    with pytest.raises(CertflowError, match='is not a valid DNS name'):
        propagation.follow_cname('a..b', ['127.0.0.1'])


# ------------------------------------------------------------------ wait_for_txt messages

def test_wait_for_txt_timeout_message(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(propagation.time, 'monotonic', clock)
    calls = []

    def fake_missing(name, value, servers, deadline=None):
        calls.append(clock.now)
        return ['192.0.2.2:53', '[2001:db8::2]:53 (no answer within 2s)']

    monkeypatch.setattr(propagation, 'missing_txt', fake_missing)
    deadline = Deadline(30, clock=clock)
    with pytest.raises(CertflowError) as error:
        propagation.wait_for_txt('_acme-challenge.example.com.', 'tok', deadline,
                                 nameservers=['192.0.2.1', '192.0.2.2', '[2001:db8::2]'], sleep=clock.sleep)
    assert error.value.msg == ('TXT record _acme-challenge.example.com = tok not visible on 192.0.2.2:53, '
                               '[2001:db8::2]:53 (no answer within 2s) after 30s')
    assert error.value.details['servers'] == ['192.0.2.1:53', '192.0.2.2:53', '[2001:db8::2]:53']
    # back-off: many quick checks at first, then further apart, never beyond the deadline
    assert len(calls) > 5 and calls[-1] <= 30
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert gaps[0] < gaps[-2] <= 5.0


def test_wait_for_txt_returns_when_visible(monkeypatch):
    clock = FakeClock()
    answers = iter([['192.0.2.1:53'], ['192.0.2.1:53'], []])
    monkeypatch.setattr(propagation, 'missing_txt', lambda *args, **kwargs: next(answers))
    checked = propagation.wait_for_txt('x.example.com', 'v', Deadline(10, clock=clock), nameservers=['192.0.2.1'], sleep=clock.sleep)
    assert checked == ['192.0.2.1:53']
    assert clock.now < 1


def test_missing_txt_reports_unanswered_server():
    # a closed loopback port: UDP gets no answer; the reason is part of the entry
    missing = propagation.missing_txt('x.example.com', 'v', [('127.0.0.1', 9)], deadline=Deadline(0.3))
    assert missing == ['127.0.0.1:9 (no answer within 0.3s)']


# ------------------------------------------------------------------ rfc2136 (no server)

@pytest.mark.parametrize('text, expected', [
    (None, dns.tsig.HMAC_SHA256), ('hmac-sha256', dns.tsig.HMAC_SHA256), ('sha512', dns.tsig.HMAC_SHA512),
    ('HMAC-SHA1', dns.tsig.HMAC_SHA1), ('md5', dns.tsig.HMAC_MD5), ('hmac-md5.sig-alg.reg.int', dns.tsig.HMAC_MD5),
    ('sha224', dns.tsig.HMAC_SHA224), ('hmac-sha384.', dns.tsig.HMAC_SHA384),
])
def test_tsig_algorithm_spellings(text, expected):
    assert tsig_algorithm(text) == expected


def test_tsig_algorithm_unknown():
    with pytest.raises(CertflowError, match=r"key_algorithm 'gss-tsig' is not supported; use one of hmac-md5, hmac-sha1"):
        tsig_algorithm('gss-tsig')


def test_txt_rdata_chunks():
    assert txt_rdata('abc').strings == (b'abc',)
    long_value = 'y' * 600
    assert [len(s) for s in txt_rdata(long_value).strings] == [255, 255, 90]


def test_settings_errors_never_show_the_secret():
    with pytest.raises(CertflowError, match='option server is required'):
        Rfc2136Provider({}, None)
    with pytest.raises(CertflowError, match='key_name and key_secret go together'):
        Rfc2136Provider({'server': '192.0.2.1', 'key_secret': SECRET}, None)
    with pytest.raises(CertflowError) as error:
        Rfc2136Provider({'server': '192.0.2.1', 'key_name': 'k', 'key_secret': 'not base64 !!secret!!'}, None)
    assert error.value.msg == 'rfc2136: key_secret of key k is not valid base64'


def _provider(**settings):
    base = {'server': '192.0.2.1', 'port': 5353, 'key_name': 'acme-key', 'key_secret': SECRET, 'zone': 'example.com'}
    base.update(settings)
    return Rfc2136Provider(base, None)


def _answer_with(rcode):
    def fake_tcp(update, where, timeout=None, port=53):
        response = dns.message.make_response(update)
        response.set_rcode(rcode)
        return response
    return fake_tcp


@pytest.mark.parametrize('rcode, expected', [
    (dns.rcode.REFUSED, 'update refused (REFUSED): the server does not allow key acme-key to update this zone'),
    (dns.rcode.NOTAUTH, 'is not authoritative for the zone or did not accept the TSIG key (NOTAUTH)'),
    (dns.rcode.NOTZONE, 'outside the zone (NOTZONE)'),
    (dns.rcode.SERVFAIL, 'failed to apply the update (SERVFAIL)'),
    (dns.rcode.NOTIMP, 'does not support dynamic updates (NOTIMP)'),
    (dns.rcode.YXDOMAIN, 'update rejected (YXDOMAIN)'),
])
def test_rcode_messages(monkeypatch, rcode, expected):
    monkeypatch.setattr(rfc2136.dns.query, 'tcp', _answer_with(rcode))
    with pytest.raises(CertflowError) as error:
        _provider().present('_acme-challenge.www.example.com', 'v')
    assert error.value.msg.startswith('rfc2136: DNS server 192.0.2.1:5353, zone example.com: ')
    assert expected in error.value.msg
    assert SECRET not in error.value.msg


@pytest.mark.parametrize('exc, expected', [
    (dns.exception.Timeout(), 'rfc2136: DNS server 192.0.2.1:5353 did not answer the update of zone example.com '
                              '(add TXT _acme-challenge.www.example.com) within 10s'),
    (ConnectionRefusedError(111, 'Connection refused'), 'rfc2136: connection to DNS server 192.0.2.1:5353 refused'),
    (OSError(101, 'Network is unreachable'), 'rfc2136: cannot reach DNS server 192.0.2.1:5353 to update zone example.com: '
                                             'Network is unreachable'),
    (dns.tsig.PeerBadKey(), 'TSIG key rejected (BADKEY/BADSIG): check key_name, key_secret and key_algorithm'),
    (dns.tsig.PeerBadSignature(), 'TSIG key rejected (BADKEY/BADSIG)'),
    (dns.tsig.PeerBadTime(), 'clocks of this host and the server differ'),
])
def test_transport_and_tsig_messages(monkeypatch, exc, expected):
    def fake_tcp(*args, **kwargs):
        raise exc
    monkeypatch.setattr(rfc2136.dns.query, 'tcp', fake_tcp)
    with pytest.raises(CertflowError) as error:
        _provider().present('_acme-challenge.www.example.com', 'v')
    assert expected in error.value.msg
    assert SECRET not in error.value.msg


def test_ipv6_server_in_messages(monkeypatch):
    def fake_tcp(*args, **kwargs):
        raise dns.exception.Timeout()
    monkeypatch.setattr(rfc2136.dns.query, 'tcp', fake_tcp)
    with pytest.raises(CertflowError, match=r'DNS server \[2001:db8::53\]:53 did not answer'):
        _provider(server='2001:db8::53', port=None, timeout=1).cleanup('_acme-challenge.www.example.com', 'v')


def test_manual_provider_is_a_no_op():
    provider = ManualProvider({}, None)
    assert provider.name == 'manual'
    assert provider.present('_acme-challenge.example.com', 'v') is None
    assert provider.cleanup('_acme-challenge.example.com', 'v') is None


# ------------------------------------------------------------------ http pre-check helpers

def test_with_port():
    assert _with_port('http://www.example.com/.well-known/acme-challenge/T', None) == 'http://www.example.com:80/.well-known/acme-challenge/T'
    assert _with_port('http://www.example.com:8080/x?y=1', None) == 'http://www.example.com:8080/x?y=1'
    assert _with_port('http://www.example.com:8080/x', 9000) == 'http://www.example.com:9000/x'
    assert _with_port('https://[2001:db8::1]/x', None) == 'https://[2001:db8::1]:443/x'
    with pytest.raises(CertflowError, match="'ftp://example.com/x' is not an http"):
        _with_port('ftp://example.com/x', None)


def test_seen_is_short_and_stripped():
    assert _seen(404, b'  Not Found\n') == "HTTP 404, body 'Not Found'"
    assert _seen(200, b'a' * 500) == "HTTP 200, body '%s...'" % ('a' * 60)


# ------------------------------------------------------------------ addresses through CNAMEs

class FakeAuthority:
    """Answers like an authoritative server: an A/AAAA query gets the CNAMEs of the
    chain and the records at its end, as long as the chain stays in the zone of the
    name asked for (the last label pair); a chain leaving it ends at the CNAME."""

    def __init__(self, cnames, addresses):
        self.cnames, self.addresses, self.asked = cnames, addresses, []

    def __call__(self, qname, rdtype, servers, deadline=None):
        name = qname.to_text(omit_final_dot=True)
        self.asked.append((name, dns.rdatatype.to_text(rdtype)))
        zone = name.split('.', name.count('.') - 1)[-1]
        response = dns.message.make_response(dns.message.make_query(qname, rdtype))
        seen = set()
        while name in self.cnames and name not in seen:
            seen.add(name)
            response.answer.append(dns.rrset.from_text(name + '.', 300, 'IN', 'CNAME', self.cnames[name] + '.'))
            name = self.cnames[name]
            if not name.endswith('.' + zone) and name != zone:
                return dns.message.from_wire(response.to_wire())
        wanted = [a for a in self.addresses.get(name, ()) if (':' in a) == (rdtype == dns.rdatatype.AAAA)]
        if wanted:
            response.answer.append(dns.rrset.from_text(name + '.', 300, 'IN', dns.rdatatype.to_text(rdtype), *wanted))
        return dns.message.from_wire(response.to_wire())      # parsed, as a real answer is


def test_addresses_of_a_chain_in_one_zone_take_two_queries(monkeypatch):
    server = FakeAuthority({'www.a.test': 'web.a.test'}, {'web.a.test': ['192.0.2.1', '2001:db8::1']})
    monkeypatch.setattr(propagation, '_ask_servers', server)
    assert propagation.resolve_addresses('www.a.test', ['127.0.0.1']) == ['192.0.2.1', '2001:db8::1']
    assert server.asked == [('www.a.test', 'A'), ('web.a.test', 'AAAA')]


def test_addresses_of_a_chain_leaving_the_zone_are_asked_where_it_goes(monkeypatch):
    server = FakeAuthority({'www.a.test': 'host.b.test'}, {'host.b.test': ['192.0.2.7']})
    monkeypatch.setattr(propagation, '_ask_servers', server)
    assert propagation.resolve_addresses('www.a.test', ['127.0.0.1']) == ['192.0.2.7']
    assert server.asked == [('www.a.test', 'A'), ('host.b.test', 'A'), ('host.b.test', 'AAAA')]


def test_addresses_refuse_cname_loops_and_long_chains(monkeypatch):
    monkeypatch.setattr(propagation, '_ask_servers', FakeAuthority({'a.test': 'b.test', 'b.test': 'a.test'}, {}))
    with pytest.raises(CertflowError) as error:
        propagation.resolve_addresses('a.test', ['127.0.0.1'])
    assert error.value.msg == 'CNAME loop at a.test: a.test -> b.test -> a.test'
    chain = {'n%d.z.test' % i: 'n%d.z.test' % (i + 1) for i in range(20)}
    monkeypatch.setattr(propagation, '_ask_servers', FakeAuthority(chain, {'n20.z.test': ['192.0.2.9']}))
    assert propagation.resolve_addresses('n12.z.test', ['127.0.0.1']) == ['192.0.2.9']      # 8 hops
    with pytest.raises(CertflowError, match=r'^CNAME chain at n0\.z\.test is longer than 8 hops: n0\.z\.test -> n1\.z\.test'):
        propagation.resolve_addresses('n0.z.test', ['127.0.0.1'])


def test_addresses_missing_is_an_error_naming_the_servers(monkeypatch):
    monkeypatch.setattr(propagation, '_ask_servers', FakeAuthority({}, {}))
    with pytest.raises(CertflowError, match=r'^cannot resolve host none\.a\.test: no A or AAAA record on 127\.0\.0\.1'):
        propagation.resolve_addresses('none.a.test', ['127.0.0.1'])
