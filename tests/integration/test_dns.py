# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS side of validation against the real BIND9 and nginx: RFC 2136 updates,
zone discovery, CNAME delegation, propagation checks, the http file pre-check
and challenge files in a webroot."""

import http.server
import datetime
import os
import re
import secrets
import ssl
import stat
import threading
import time

import dns.resolver
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline
from ansible_collections.certflow.ssl.plugins.module_utils._proofs import propagation
from ansible_collections.certflow.ssl.plugins.module_utils._dns.base import RecordTracker
from ansible_collections.certflow.ssl.plugins.module_utils._dns.manual import ManualProvider
from ansible_collections.certflow.ssl.plugins.module_utils._dns.rfc2136 import Rfc2136Provider
from ansible_collections.certflow.ssl.plugins.module_utils._proofs.http_check import wait_for_http_file
from ansible_collections.certflow.ssl.plugins.module_utils._proofs.webroot import remove_challenge, write_challenge
from tests.lib import services as service_lib


def _settings(bind, **overrides):
    settings = {'server': bind.host, 'port': bind.port, 'key_name': bind.tsig_name,
                'key_secret': bind.tsig_secret, 'key_algorithm': bind.tsig_algorithm}
    settings.update(overrides)
    return settings


def _record_name(zone):
    return '_acme-challenge.t-%s.%s' % (secrets.token_hex(4), zone)


def _value():
    return secrets.token_urlsafe(32)


def _closed_port():
    return service_lib.free_port(udp_too=True)


@pytest.fixture(scope='module')
def second_bind(tmp_path_factory):
    """Another real BIND serving the same zones, which never gets our updates:
    a listed authoritative server that lacks the record."""
    server = service_lib.start_bind(str(tmp_path_factory.mktemp('bind-second')))
    yield server
    server.stop()


# ------------------------------------------------------------------ rfc2136

def test_present_and_cleanup_leave_other_values_alone(services):
    bind = services.bind
    name = _record_name(bind.zone)
    bind.nsupdate(['update add %s 60 TXT "foreign-value"' % name])
    provider = Rfc2136Provider(_settings(bind), None)

    value = _value()
    provider.present(name, value)
    assert sorted(bind.query_txt(name)) == sorted(['foreign-value', value])
    provider.present(name, value)                      # adding it again changes nothing
    assert sorted(bind.query_txt(name)) == sorted(['foreign-value', value])

    provider.cleanup(name, value)
    assert bind.query_txt(name) == ['foreign-value']
    provider.cleanup(name, value)                      # already gone: no error
    assert bind.query_txt(name) == ['foreign-value']
    bind.nsupdate(['update delete %s TXT' % name])


def test_record_tracker_removes_only_what_was_presented(services):
    bind = services.bind
    name = _record_name(bind.zone)
    bind.nsupdate(['update add %s 60 TXT "keep-me"' % name])
    tracker = RecordTracker(Rfc2136Provider(_settings(bind, ttl=30), None))
    first, second = _value(), _value()
    tracker.present(name, first)
    tracker.present(name, second)
    assert sorted(bind.query_txt(name)) == sorted(['keep-me', first, second])
    assert tracker.cleanup() == []
    assert bind.query_txt(name) == ['keep-me']
    bind.nsupdate(['update delete %s TXT' % name])


@pytest.mark.parametrize('algorithm', ['hmac-sha256', 'sha256', 'HMAC-SHA256'])
def test_algorithm_spellings(services, algorithm):
    bind = services.bind
    name = _record_name(bind.zone)
    provider = Rfc2136Provider(_settings(bind, key_algorithm=algorithm), None)
    value = _value()
    provider.present(name, value)
    assert bind.query_txt(name) == [value]
    provider.cleanup(name, value)
    assert bind.query_txt(name) == []


def test_long_value_is_split_into_strings(services):
    bind = services.bind
    name = _record_name(bind.zone)
    provider = Rfc2136Provider(_settings(bind), None)
    value = 'x' * 300
    provider.present(name, value)
    assert bind.query_txt(name) == [value]
    provider.cleanup(name, value)
    assert bind.query_txt(name) == []


def test_zone_discovery(services):
    bind = services.bind
    ns = [bind.nameserver]
    assert propagation.find_zone('_acme-challenge.www.%s' % bind.zone, ns) == bind.zone
    assert propagation.find_zone(bind.zone, ns) == bind.zone
    assert propagation.find_zone('a.b.c.%s' % bind.delegated_zone, ns) == bind.delegated_zone
    # a CNAME's SOA answer carries the target zone: the name itself still lives in certflow.test
    assert propagation.find_zone('_acme-challenge.cname.%s' % bind.zone, ns) == bind.zone
    with pytest.raises(CertflowError, match=r'no DNS zone containing www\.example\.org is served by 127\.0\.0\.1:%d' % bind.port):
        propagation.find_zone('www.example.org', ns)

    provider = Rfc2136Provider(_settings(bind), None)
    name = _record_name(bind.delegated_zone)
    value = _value()
    provider.present(name, value)          # zone found by an SOA query against the server
    assert bind.query_txt(name) == [value]
    provider.cleanup(name, value)
    assert bind.query_txt(name) == []


def test_explicit_zone(services):
    bind = services.bind
    provider = Rfc2136Provider(_settings(bind, zone=bind.zone + '.'), None)
    name = _record_name(bind.zone)
    value = _value()
    provider.present(name, value)
    assert bind.query_txt(name) == [value]
    provider.cleanup(name, value)
    with pytest.raises(CertflowError, match=r'record .*\.delegated\.test is not inside zone certflow\.test'):
        provider.present(_record_name(bind.delegated_zone), value)


def test_zone_not_on_server(services):
    bind = services.bind
    provider = Rfc2136Provider(_settings(bind), None)
    with pytest.raises(CertflowError) as error:
        provider.present('_acme-challenge.www.example.org', _value())
    assert 'cannot find the zone of _acme-challenge.www.example.org on DNS server 127.0.0.1:%d' % bind.port in error.value.msg
    assert 'set rfc2136.zone' in error.value.msg


def test_wrong_tsig_secret_gives_clear_message(services):
    bind = services.bind
    wrong_secret = 'AAAA' + bind.tsig_secret[4:] if not bind.tsig_secret.startswith('AAAA') else 'BBBB' + bind.tsig_secret[4:]
    provider = Rfc2136Provider(_settings(bind, key_secret=wrong_secret), None)
    name = _record_name(bind.zone)
    with pytest.raises(CertflowError) as error:
        provider.present(name, _value())
    message = error.value.msg
    assert message == ('rfc2136: DNS server 127.0.0.1:%d, zone certflow.test: TSIG key rejected (BADKEY/BADSIG): '
                       'check key_name, key_secret and key_algorithm' % bind.port)
    assert wrong_secret not in message and bind.tsig_secret not in message
    assert bind.query_txt(name) == []


@pytest.mark.parametrize('override', [{'key_name': 'no-such-key'}, {'key_algorithm': 'hmac-sha512'}])
def test_wrong_key_name_or_algorithm(services, override):
    bind = services.bind
    provider = Rfc2136Provider(_settings(bind, zone=bind.zone, **override), None)
    with pytest.raises(CertflowError, match=r'TSIG key rejected \(BADKEY/BADSIG\)'):
        provider.present(_record_name(bind.zone), _value())


def test_unsigned_update_is_refused(services):
    bind = services.bind
    provider = Rfc2136Provider({'server': bind.host, 'port': bind.port}, None)
    with pytest.raises(CertflowError) as error:
        provider.present(_record_name(bind.zone), _value())
    assert error.value.msg.startswith('rfc2136: DNS server 127.0.0.1:%d, zone certflow.test: update refused (REFUSED)' % bind.port)
    assert error.value.details['rcode'] == 'REFUSED'


def test_server_down_gives_clear_message(services):
    bind = services.bind
    port = _closed_port()
    provider = Rfc2136Provider(_settings(bind, port=port, zone=bind.zone), None)
    with pytest.raises(CertflowError) as error:
        provider.present(_record_name(bind.zone), _value())
    assert error.value.msg == ('rfc2136: connection to DNS server 127.0.0.1:%d refused (is it running and listening on TCP port %d?) '
                               'while updating zone certflow.test' % (port, port))

    started = time.monotonic()
    provider = Rfc2136Provider(_settings(bind, port=port, timeout=1), None)   # zone discovery first (UDP)
    with pytest.raises(CertflowError, match=r'cannot find the zone of .* on DNS server 127\.0\.0\.1:%d' % port):
        provider.present(_record_name(bind.zone), _value())
    assert time.monotonic() - started < 10


def test_manual_provider_touches_nothing(services):
    bind = services.bind
    name = _record_name(bind.zone)
    bind.nsupdate(['update add %s 60 TXT "user-made"' % name])
    tracker = RecordTracker(ManualProvider({}, None))
    tracker.present(name, 'user-made')
    propagation.wait_for_txt(name, 'user-made', Deadline(3), nameservers=[bind.nameserver])
    assert tracker.cleanup() == []
    assert bind.query_txt(name) == ['user-made']
    bind.nsupdate(['update delete %s TXT' % name])


# ------------------------------------------------------------------ propagation

def test_wait_for_txt_success(services):
    bind = services.bind
    name = _record_name(bind.zone)
    value = _value()
    provider = Rfc2136Provider(_settings(bind), None)
    provider.present(name, value)
    try:
        assert propagation.wait_for_txt(name, value, Deadline(5), nameservers=[bind.nameserver]) == [bind.nameserver]
        assert propagation.missing_txt(name, value, [bind.nameserver]) == []
    finally:
        provider.cleanup(name, value)
    assert propagation.missing_txt(name, value, [bind.nameserver]) == [bind.nameserver]


def test_wait_for_txt_sees_a_value_added_while_waiting(services):
    bind = services.bind
    name = _record_name(bind.zone)
    value = _value()
    provider = Rfc2136Provider(_settings(bind), None)
    timer = threading.Timer(0.5, provider.present, (name, value))
    timer.start()
    try:
        propagation.wait_for_txt(name, value, Deadline(5), nameservers=[bind.nameserver])
    finally:
        timer.join()
        provider.cleanup(name, value)


def test_wait_for_txt_timeout_names_the_server_lacking_the_record(services, second_bind):
    bind = services.bind
    name = _record_name(bind.zone)
    value = _value()
    provider = Rfc2136Provider(_settings(bind), None)
    provider.present(name, value)
    try:
        assert propagation.missing_txt(name, value, [bind.nameserver, second_bind.nameserver]) == [second_bind.nameserver]
        started = time.monotonic()
        with pytest.raises(CertflowError) as error:
            propagation.wait_for_txt(name, value, Deadline(1.5), nameservers=[bind.nameserver, second_bind.nameserver])
        assert 1.4 < time.monotonic() - started < 5
    finally:
        provider.cleanup(name, value)
    assert re.fullmatch(r'TXT record %s = %s not visible on %s after [12]s' % (re.escape(name), re.escape(value), second_bind.nameserver),
                        error.value.msg), error.value.msg
    assert error.value.details['missing'] == [second_bind.nameserver]
    assert error.value.details['servers'] == [bind.nameserver, second_bind.nameserver]


def test_wait_for_txt_timeout_names_a_server_that_does_not_answer(services):
    bind = services.bind
    name = _record_name(bind.zone)
    value = _value()
    down = '127.0.0.1:%d' % _closed_port()
    provider = Rfc2136Provider(_settings(bind), None)
    provider.present(name, value)
    try:
        with pytest.raises(CertflowError) as error:
            propagation.wait_for_txt(name, value, Deadline(1), nameservers=[bind.nameserver, down])
    finally:
        provider.cleanup(name, value)
    message = error.value.msg
    assert message.startswith('TXT record %s = %s not visible on %s (no answer within ' % (name, value, down))
    assert bind.nameserver not in message


def test_follow_cname_into_delegated_zone(services):
    bind = services.bind
    ns = [bind.nameserver]
    original = '_acme-challenge.cname.%s' % bind.zone
    target = propagation.follow_cname(original, ns, deadline=Deadline(5))
    assert target == '_acme-challenge.cname.%s' % bind.delegated_zone
    assert propagation.follow_cname('_acme-challenge.plain.%s' % bind.zone, ns) == '_acme-challenge.plain.%s' % bind.zone

    provider = Rfc2136Provider(_settings(bind), None)
    value = _value()
    provider.present(target, value)
    try:
        assert provider._zones[target] == bind.delegated_zone
        propagation.wait_for_txt(propagation.follow_cname(original, ns), value, Deadline(5), nameservers=ns)
        assert value in bind.query_txt(original)           # what a CA resolving the original name sees
    finally:
        provider.cleanup(target, value)
    assert bind.query_txt(target) == []


def test_follow_cname_loop_and_chain(services):
    bind = services.bind
    ns = [bind.nameserver]
    tag = secrets.token_hex(4)
    a, b = 'loop-a-%s.%s' % (tag, bind.zone), 'loop-b-%s.%s' % (tag, bind.zone)
    bind.nsupdate(['update add %s 60 CNAME %s.' % (a, b), 'update add %s 60 CNAME %s.' % (b, a)])
    chain = ['hop%d-%s.%s' % (i, tag, bind.zone) for i in range(10)]
    bind.nsupdate(['update add %s 60 CNAME %s.' % (chain[i], chain[i + 1]) for i in range(9)])
    try:
        with pytest.raises(CertflowError, match=r'CNAME loop at %s: %s -> %s -> %s' % (a, a, b, a)):
            propagation.follow_cname(a, ns)
        assert propagation.follow_cname(chain[1], ns) == chain[9]          # 8 hops: fine
        with pytest.raises(CertflowError, match=r'CNAME chain at %s is longer than 8 hops' % chain[0]):
            propagation.follow_cname(chain[0], ns)
    finally:
        # nsupdate would look up the zone of a looping name: name it
        bind.nsupdate(['zone %s' % bind.zone] + ['update delete %s CNAME' % name for name in [a, b] + chain[:9]])


def test_resolve_addresses(services):
    bind = services.bind
    ns = [bind.nameserver]
    assert propagation.resolve_addresses('www.%s' % bind.zone, ns) == ['127.0.0.1']
    assert propagation.resolve_addresses('192.0.2.7', ns) == ['192.0.2.7']
    assert propagation.resolve_addresses('[2001:db8::1]') == ['2001:db8::1']
    with pytest.raises(CertflowError, match=r'cannot resolve host www\.example\.org: no A or AAAA record on 127\.0\.0\.1:%d' % bind.port):
        propagation.resolve_addresses('www.example.org', ns)


def test_authoritative_servers_with_override(services, second_bind):
    servers = propagation.authoritative_servers('x.certflow.test', [services.bind.nameserver, second_bind.nameserver])
    assert servers == [('127.0.0.1', services.bind.port), ('127.0.0.1', second_bind.port)]


def test_without_override_the_system_resolver_path_is_used(services, monkeypatch):
    """No ``nameservers``: zone, CNAME and NS set come from "the system
    resolver" (here a resolver object pointed at BIND, as /etc/resolv.conf
    would point at a recursive server)."""
    bind = services.bind

    def bind_resolver(deadline=None):
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [bind.host]
        resolver.port = bind.port
        resolver.lifetime = 3
        resolver.cache = None
        return resolver

    monkeypatch.setattr(propagation, '_system_resolver', bind_resolver)
    assert propagation.find_zone('_acme-challenge.www.%s' % bind.zone) == bind.zone
    assert propagation.find_zone('_acme-challenge.cname.%s' % bind.zone) == bind.zone
    assert propagation.follow_cname('_acme-challenge.cname.%s' % bind.zone) == '_acme-challenge.cname.%s' % bind.delegated_zone
    # the NS set of both zones is ns.certflow.test -> 127.0.0.1, asked on port 53
    assert propagation.authoritative_servers('_acme-challenge.x.%s' % bind.delegated_zone) == [('127.0.0.1', 53)]
    with pytest.raises(CertflowError, match=r'no DNS zone containing www\.example\.org exists'):
        propagation.find_zone('www.example.org')


# ------------------------------------------------------------------ http file pre-check

@pytest.fixture
def challenge(services):
    """A challenge file in nginx's webroot: (url without port, token, content)."""
    token = secrets.token_urlsafe(16)
    content = '%s.%s' % (token, secrets.token_urlsafe(32))
    file_path = '/.well-known/acme-challenge/%s' % token
    write_challenge(services.web.webroot, file_path, content + '\n')
    yield 'http://www.%s%s' % (services.bind.zone, file_path), token, content
    remove_challenge(services.web.webroot, file_path)


def test_http_file_served(services, challenge):
    url, _token, content = challenge
    assert wait_for_http_file(url, content, Deadline(5), nameservers=[services.bind.nameserver],
                              port=services.web.http_port) == ['127.0.0.1']
    # the port may also come from the URL itself
    url_with_port = url.replace('.test/', '.test:%d/' % services.web.http_port, 1)
    wait_for_http_file(url_with_port, content, Deadline(5), nameservers=[services.bind.nameserver])


def test_http_file_wrong_content(services, challenge):
    url, _token, _content = challenge
    started = time.monotonic()
    with pytest.raises(CertflowError) as error:
        wait_for_http_file(url, 'something-else', Deadline(1), nameservers=[services.bind.nameserver], port=services.web.http_port)
    assert time.monotonic() - started < 4
    message = error.value.msg
    assert re.match(r'file %s was not served with the expected content after [12]s: via 127\.0\.0\.1:%d: HTTP 200, body '
                    % (re.escape(url), services.web.http_port), message), message
    assert repr(_content[:60] + '...') in message


def test_http_file_missing(services):
    url = 'http://missing.%s/.well-known/acme-challenge/%s' % (services.bind.zone, secrets.token_urlsafe(8))
    with pytest.raises(CertflowError) as error:
        wait_for_http_file(url, 'x', Deadline(1), nameservers=[services.bind.nameserver], port=services.web.http_port)
    assert error.value.msg.startswith('file %s was not served with the expected content' % url)
    assert 'via 127.0.0.1:%d: HTTP 404' % services.web.http_port in error.value.msg


def test_http_file_server_down(services):
    port = _closed_port()
    url = 'http://www.%s/.well-known/acme-challenge/abc' % services.bind.zone
    with pytest.raises(CertflowError) as error:
        wait_for_http_file(url, 'x', Deadline(1), nameservers=[services.bind.nameserver], port=port)
    assert 'via 127.0.0.1:%d: http://www.certflow.test:%d/.well-known/acme-challenge/abc: connection refused' % (port, port) \
        in error.value.msg


def test_http_file_unresolvable_host(services):
    url = 'http://www.example.org/.well-known/acme-challenge/abc'
    with pytest.raises(CertflowError, match=r'cannot resolve www\.example\.org'):
        wait_for_http_file(url, 'x', Deadline(0.5), nameservers=[services.bind.nameserver], port=services.web.http_port)


class _Redirector(http.server.BaseHTTPRequestHandler):
    target = None
    seen_hosts = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.seen_hosts.append(self.headers.get('Host'))
        self.send_response(301)
        self.send_header('Location', self.target + self.path)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *args):
        pass


def test_http_file_follows_redirect_to_another_host(services, challenge):
    url, _token, content = challenge
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Redirector)
    _Redirector.target = 'http://redirected.%s:%d' % (services.bind.zone, services.web.http_port)
    _Redirector.seen_hosts = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        wait_for_http_file(url, content, Deadline(5), nameservers=[services.bind.nameserver], port=server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
    assert _Redirector.seen_hosts == ['www.%s:%d' % (services.bind.zone, server.server_address[1])]
    with open(os.path.join(services.web.workdir, 'access.log')) as log:
        assert any(os.path.basename(url) in line for line in log)


def _certificate(subject, issuer_name, issuer_key, public_key, ca, san=None):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def https_site(tmp_path):
    """An https server whose certificate names only secure.certflow.test (no IP
    address): served at 127.0.0.1, it verifies only when SNI and the
    hostname check use the name. Yields (port, ca_bundle_path, body)."""
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate('dns test ca', 'dns test ca', ca_key, ca_key.public_key(), True)
    leaf = _certificate('secure.certflow.test', 'dns test ca', ca_key, leaf_key.public_key(), False, san='secure.certflow.test')
    (tmp_path / 'ca.pem').write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / 'leaf.pem').write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp_path / 'leaf.key').write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()))
    body = 'served-over-tls.' + secrets.token_urlsafe(16)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            data = body.encode() if self.headers.get('Host', '').startswith('secure.certflow.test:') else b'wrong host'
            self.send_response(200)
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tmp_path / 'leaf.pem'), str(tmp_path / 'leaf.key'))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], str(tmp_path / 'ca.pem'), body
    server.shutdown()
    server.server_close()


def test_http_file_over_https_uses_the_host_name_for_tls(services, https_site):
    port, ca_bundle, body = https_site
    ns = [services.bind.nameserver]
    url = 'https://secure.%s/.well-known/acme-challenge/tok' % services.bind.zone
    assert wait_for_http_file(url, body, Deadline(5), nameservers=ns, port=port, validate_certs=ca_bundle) == ['127.0.0.1']
    wait_for_http_file(url, body, Deadline(5), nameservers=ns, port=port, validate_certs=False)
    with pytest.raises(CertflowError) as error:
        wait_for_http_file(url, body, Deadline(0.5), nameservers=ns, port=port, validate_certs=True)   # not a public CA
    assert 'via 127.0.0.1:%d: %s' % (port, url.replace('.test/', '.test:%d/' % port)) in error.value.msg
    assert 'TLS error' in error.value.msg


def test_http_file_follows_redirect_to_https(services, https_site):
    port, ca_bundle, body = https_site
    redirector = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Redirector)
    _Redirector.target = 'https://secure.%s:%d' % (services.bind.zone, port)
    _Redirector.seen_hosts = []
    thread = threading.Thread(target=redirector.serve_forever, daemon=True)
    thread.start()
    try:
        url = 'http://www.%s/.well-known/acme-challenge/tok' % services.bind.zone
        wait_for_http_file(url, body, Deadline(5), nameservers=[services.bind.nameserver], port=redirector.server_address[1],
                           validate_certs=ca_bundle)
    finally:
        redirector.shutdown()
        redirector.server_close()
    assert _Redirector.seen_hosts == ['www.%s:%d' % (services.bind.zone, redirector.server_address[1])]


# ------------------------------------------------------------------ webroot

def test_webroot_write_and_remove(tmp_path):
    webroot = tmp_path / 'www'
    (webroot / '.well-known').mkdir(parents=True)
    file_path = '/.well-known/acme-challenge/TOKEN'
    path = write_challenge(str(webroot), file_path, 'content')
    assert path == str(webroot / '.well-known' / 'acme-challenge' / 'TOKEN')
    assert open(path).read() == 'content'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o755

    other = write_challenge(str(webroot), '/.well-known/acme-challenge/OTHER', 'x')
    remove_challenge(str(webroot), file_path)
    assert not os.path.exists(path)
    assert os.path.isdir(os.path.dirname(path))         # still holds OTHER
    remove_challenge(str(webroot), '/.well-known/acme-challenge/OTHER')
    assert not os.path.exists(other)
    assert not os.path.exists(webroot / '.well-known' / 'acme-challenge')   # created by us, now empty
    assert os.path.isdir(webroot / '.well-known')                           # was there before: kept
    remove_challenge(str(webroot), file_path)            # already gone: fine


def test_webroot_keeps_directories_it_did_not_create(tmp_path):
    challenge_dir = tmp_path / '.well-known' / 'pki-validation'
    challenge_dir.mkdir(parents=True)
    write_challenge(str(tmp_path), '.well-known/pki-validation/fileauth.txt', 'x')
    remove_challenge(str(tmp_path), '.well-known/pki-validation/fileauth.txt')
    assert challenge_dir.is_dir()


def test_webroot_created_dirs_given_explicitly(tmp_path):
    webroot = tmp_path
    write_challenge(str(webroot), '/.well-known/acme-challenge/c', 'x')
    remove_challenge(str(webroot), '/.well-known/acme-challenge/c', created_dirs=[])
    assert (webroot / '.well-known' / 'acme-challenge').is_dir()
    remove_challenge(str(webroot), '/.well-known/acme-challenge/c',
                     created_dirs=[str(webroot / '.well-known'), str(webroot / '.well-known' / 'acme-challenge')])
    assert not (webroot / '.well-known').exists()


@pytest.mark.parametrize('file_path', ['../evil', '/.well-known/../../evil', '..', 'a/../../b', '', '/'])
def test_webroot_refuses_escaping_paths(tmp_path, file_path):
    with pytest.raises(CertflowError, match=r'escapes the webroot|names no file'):
        write_challenge(str(tmp_path / 'www'), file_path, 'x')
    with pytest.raises(CertflowError, match=r'escapes the webroot|names no file'):
        remove_challenge(str(tmp_path / 'www'), file_path)
    assert not (tmp_path / 'evil').exists()


def test_webroot_must_exist(tmp_path):
    with pytest.raises(CertflowError, match=r'webroot .*missing does not exist'):
        write_challenge(str(tmp_path / 'missing'), '/.well-known/acme-challenge/T', 'x')
