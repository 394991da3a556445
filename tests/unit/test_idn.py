# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain names and IP addresses: normalize_domain(s), normalize_ip, to_punycode, from_punycode."""

import idna
import pytest

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._crypto import (
    from_punycode,
    normalize_domain,
    normalize_domains,
    normalize_ip,
    to_punycode,
)

GOOD = [
    # (input, ascii, unicode)
    ('example.com', 'example.com', 'example.com'),
    (' WWW.Example.COM ', 'www.example.com', 'www.example.com'),
    ('example.com.', 'example.com', 'example.com'),
    ('Bücher.Example', 'xn--bcher-kva.example', 'bücher.example'),
    ('xn--bcher-kva.example', 'xn--bcher-kva.example', 'bücher.example'),
    ('XN--BCHER-KVA.EXAMPLE', 'xn--bcher-kva.example', 'bücher.example'),
    ('中国.example', 'xn--fiqs8s.example', '中国.example'),
    ('例子.测试', 'xn--fsqu00a.xn--0zwm56d', '例子.测试'),
    ('www.例子.测试.', 'www.xn--fsqu00a.xn--0zwm56d', 'www.例子.测试'),
    ('xn--fsqu00a.xn--0zwm56d', 'xn--fsqu00a.xn--0zwm56d', '例子.测试'),
    ('例子。测试', 'xn--fsqu00a.xn--0zwm56d', '例子.测试'),           # ideographic full stop (UTS #46 maps it)
    ('ＥＸＡＭＰＬＥ.com', 'example.com', 'example.com'),              # full-width letters mapped
    ('faß.de', 'xn--fa-hia.de', 'faß.de'),                           # non-transitional: ß kept
    ('*.Example.com', '*.example.com', '*.example.com'),
    ('*.中国.example', '*.xn--fiqs8s.example', '*.中国.example'),
    ('r3---sn-abc.googlevideo.com', 'r3---sn-abc.googlevideo.com', 'r3---sn-abc.googlevideo.com'),
    ('a-b.c0.example', 'a-b.c0.example', 'a-b.c0.example'),
    ('localhost', 'localhost', 'localhost'),
    ('a' * 63 + '.com', 'a' * 63 + '.com', 'a' * 63 + '.com'),
    ('1.2.3.example', '1.2.3.example', '1.2.3.example'),
]


@pytest.mark.parametrize('name, ascii_name, unicode_name', GOOD)
def test_normalize_domain_good(name, ascii_name, unicode_name):
    assert normalize_domain(name) == (ascii_name, unicode_name)
    assert to_punycode(name) == ascii_name
    assert from_punycode(ascii_name) == unicode_name
    # both forms normalise to the same pair
    assert normalize_domain(unicode_name) == (ascii_name, unicode_name)
    assert normalize_domain(ascii_name) == (ascii_name, unicode_name)


@pytest.mark.parametrize('name', ['中国.example', '例子.测试', 'Bücher.Example', 'faß.de', 'ﾃｽﾄ.jp', 'пример.рф'])
def test_agrees_with_idna_package(name):
    assert to_punycode(name) == idna.encode(name, uts46=True, transitional=False).decode('ascii')


def test_length_limit_counts_the_ascii_form():
    name = '.'.join([CJK_18] * 5) + '.example'
    ascii_length = len(b'.'.join(idna.alabel(label) for label in name.split('.')))
    assert len(name) < 120 and ascii_length == 5 * 51 + 5 + 7


def test_longest_allowed_name():
    name = '.'.join(['a' * 63, 'b' * 63, 'c' * 63, 'd' * 61])
    assert len(name) == 253
    assert normalize_domain(name)[0] == name


CJK_18 = ''.join(chr(0x4e00 + index * 97) for index in range(18))     # 18 characters, 51 octets as an A-label

BAD = [
    # (input, words the message must contain)
    ('', ['empty domain name']),
    ('   ', ['empty domain name']),
    ('.', ["'.'", 'only a dot']),
    ('a..b', ["'a..b'", 'empty label']),
    ('.example.com', ["'.example.com'", 'empty label']),
    ('example.com..', ["'example.com..'", 'empty label']),
    ('under_score.example', ["'under_score.example'", "label 'under_score'", 'invalid characters', "'_'"]),
    ('sp ace.example', ["'sp ace.example'", 'invalid characters']),
    ('-lead.example', ["'-lead.example'", "label '-lead'", 'hyphen']),
    ('trail-.example', ["'trail-.example'", "label 'trail-'", 'hyphen']),
    ('a' * 64 + '.com', ['a' * 64, 'longer than 63 octets']),
    ('ü' * 60 + '.com', ['ü' * 60, 'longer than 63 octets in punycode']),
    ('.'.join(['a' * 63] * 4) + '.com', ['longer than 253 octets', '(259)']),
    ('.'.join(['a' * 63, 'b' * 63, 'c' * 63, 'd' * 62]), ['longer than 253 octets', '(254)']),
    # short in Unicode, too long in ASCII: the limit applies to the ASCII form
    ('.'.join([CJK_18] * 5) + '.example', ['longer than 253 octets in ASCII form']),
    ('1.2.3.4', ["'1.2.3.4' is an IP address; put it in ip_addresses"]),
    ('2001:db8::1', ["'2001:db8::1' is an IP address; put it in ip_addresses"]),
    ('[::1]', ["'[::1]' is an IP address; put it in ip_addresses"]),
    ('192.168.1', ["'192.168.1'", 'all digits', 'ip_addresses']),
    ('a.*.example', ["'a.*.example'", 'only allowed as the whole leftmost label']),
    ('w*.example.com', ["'w*.example.com'", 'only allowed as the whole leftmost label']),
    ('*.*.example.com', ["'*.*.example.com'", 'only allowed as the whole leftmost label']),
    ('*', ["'*'", 'needs a domain after it']),
    ('*.', ["'*.'", 'needs a domain after it']),
    ('*.com', ["'*.com'", 'at least two labels']),
    ('xn--zz.example', ["'xn--zz.example'", "label 'xn--zz'", 'not valid punycode']),
    ('xn--abc-.example', ["label 'xn--abc-'", 'not valid punycode']),
    ('emoji😀.example', ["'emoji😀.example'", 'not a valid internationalised label', 'U+1F600']),
    ('ü_x.example', ["'ü_x.example'", 'not a valid internationalised label']),
    ('-ü.example', ["'-ü.example'", 'not a valid internationalised label']),
]


@pytest.mark.parametrize('name, words', BAD, ids=[repr(case[0])[:30] for case in BAD])
def test_normalize_domain_bad(name, words):
    with pytest.raises(CertflowError) as caught:
        normalize_domain(name)
    for word in words:
        assert word in caught.value.msg
    with pytest.raises(CertflowError):
        to_punycode(name)


@pytest.mark.parametrize('value', [None, 42, b'example.com', ['example.com']])
def test_normalize_domain_rejects_non_strings(value):
    with pytest.raises(CertflowError, match='must be a string'):
        normalize_domain(value)


def test_error_carries_domain_detail():
    with pytest.raises(CertflowError) as caught:
        normalize_domain('a..b')
    assert caught.value.details == {'domain': 'a..b'}


def test_normalize_domains_dedupes_by_ascii_form_keeping_first():
    ascii_names, unicode_names = normalize_domains(
        ['Bücher.example', 'www.example.com', 'xn--bcher-kva.example', 'WWW.EXAMPLE.COM.', '中国.example', 'xn--fiqs8s.example'])
    assert ascii_names == ['xn--bcher-kva.example', 'www.example.com', 'xn--fiqs8s.example']
    assert unicode_names == ['bücher.example', 'www.example.com', '中国.example']


def test_normalize_domains_order_and_single_string():
    assert normalize_domains(['b.example', 'a.example']) == (['b.example', 'a.example'], ['b.example', 'a.example'])
    assert normalize_domains('例子.测试') == (['xn--fsqu00a.xn--0zwm56d'], ['例子.测试'])
    assert normalize_domains([]) == ([], [])


def test_normalize_domains_reports_the_bad_one():
    with pytest.raises(CertflowError, match="'bad_name.example'"):
        normalize_domains(['good.example', 'bad_name.example'])


@pytest.mark.parametrize('text, expected', [
    ('127.0.0.1', '127.0.0.1'),
    (' 10.0.0.1 ', '10.0.0.1'),
    ('2001:DB8:0:0::1', '2001:db8::1'),
    ('[::1]', '::1'),
    ('::ffff:192.0.2.1', '::ffff:c000:201'),
])
def test_normalize_ip(text, expected):
    assert normalize_ip(text) == expected


@pytest.mark.parametrize('text, words', [
    ('example.com', "'example.com' is not a valid IP address"),
    ('256.1.1.1', "'256.1.1.1' is not a valid IP address"),
    ('', "'' is not a valid IP address"),
    ('01.2.3.4', "'01.2.3.4' is not a valid IP address"),
    ('fe80::1%eth0', 'zone index not allowed'),
])
def test_normalize_ip_bad(text, words):
    with pytest.raises(CertflowError) as caught:
        normalize_ip(text)
    assert words in caught.value.msg


def test_normalize_ip_rejects_non_string():
    with pytest.raises(CertflowError, match='must be a string'):
        normalize_ip(3232235777)


@pytest.mark.parametrize('name, expected', [
    ('xn--fiqs8s.example', '中国.example'),
    ('XN--FSQU00A.XN--0ZWM56D.', '例子.测试'),
    ('*.xn--bcher-kva.example', '*.bücher.example'),
    ('xn--zz.xn--bcher-kva.example', 'xn--zz.bücher.example'),   # undecodable label kept
    ('xn--abc-.example', 'xn--abc-.example'),
    ('under_score.example', 'under_score.example'),                # display only: never raises
    ('plain.example', 'plain.example'),
    ('中国.example', '中国.example'),
])
def test_from_punycode(name, expected):
    assert from_punycode(name) == expected


def test_from_punycode_rejects_non_string():
    with pytest.raises(CertflowError, match='must be a string'):
        from_punycode(None)
