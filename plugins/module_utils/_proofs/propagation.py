# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS look-ups of dns validation: nameserver parsing, CNAME following, zone
discovery, and waiting until a TXT value is visible on every authoritative
server of its zone.

``nameservers`` (everywhere below) overrides the system resolver: a list of
'ip', 'ip:port', '[v6]:port' or 'hostname' entries (or ``(host, port)``
tuples). For the propagation check they are taken to BE the authoritative
servers of the zone and are asked without recursion, so list authoritative
servers there, not a recursive resolver (which would answer from its cache).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.resolver
except ImportError:  # reported by the module wrapper (module_utils/_deps.py)
    pass

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, backoff

DEFAULT_PORT = 53
QUERY_TIMEOUT = 2.0     # one query to one server; authoritative servers answer in milliseconds
RESOLVER_LIFETIME = 10.0
MAX_CNAME_HOPS = 8

_HOSTNAME = re.compile(r'(?=.{1,253}\.?\Z)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?')


# ---------------------------------------------------------------- nameservers

def format_server(server):
    """'host:port', with brackets around an IPv6 address."""
    host, port = server
    if ':' in host:
        return '[%s]:%d' % (host, port)
    return '%s:%d' % (host, port)


def _ip_literal(text):
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _parse_port(entry, text):
    if not re.fullmatch(r'[0-9]{1,5}', text or '') or not 0 < int(text) < 65536:
        raise CertflowError('nameserver %r: port %r is not a number between 1 and 65535' % (entry, text))
    return int(text)


def _split_host_port(entry):
    text = entry.strip()
    if not text:
        raise CertflowError('nameserver entry is empty')
    if text.startswith('['):
        match = re.fullmatch(r'\[([^\]]+)\](?::(.*))?', text)
        if not match or ':' not in match.group(1):
            raise CertflowError('nameserver %r: expected [IPv6 address]:port' % entry)
        port = _parse_port(entry, match.group(2)) if match.group(2) is not None else DEFAULT_PORT
        return match.group(1), port
    if text.count(':') > 1:
        return text, DEFAULT_PORT                  # a bare IPv6 address
    if ':' in text:
        host, port = text.rsplit(':', 1)
        return host, _parse_port(entry, port)
    return text, DEFAULT_PORT


def _system_addresses(host, what):
    """Addresses of ``host`` from the system resolver (getaddrinfo: /etc/hosts
    and DNS, as every other program on the machine sees it)."""
    try:
        infos = socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CertflowError('cannot resolve %s %r: %s' % (what, host, getattr(exc, 'strerror', None) or exc))
    addresses = []
    for info in infos:
        address = info[4][0]
        if address not in addresses:
            addresses.append(address)
    return addresses


def parse_nameservers(entries):
    """Turn the ``nameservers`` option into ``[(address, port), ...]``.

    Entries: 'ip', 'ip:port', '[v6]:port', bare IPv6, 'hostname' or
    'hostname:port' (resolved with the system resolver; every address is
    kept), or ``(host, port)`` tuples. Raises CertflowError on anything else.
    """
    if entries is None:
        return []
    if isinstance(entries, str):
        entries = [entries]
    servers = []
    for entry in entries:
        if isinstance(entry, (tuple, list)):
            if len(entry) != 2:
                raise CertflowError('nameserver %r: expected (host, port)' % (entry,))
            host, port = str(entry[0]).strip('[]'), _parse_port(entry, str(entry[1]))
        elif isinstance(entry, str):
            host, port = _split_host_port(entry)
        else:
            raise CertflowError('nameserver %r: expected a string such as "192.0.2.53", "192.0.2.53:5353" or "[2001:db8::53]:53"' % (entry,))
        literal = _ip_literal(host)
        if literal is not None:
            addresses = [literal]
        elif ':' in host:
            raise CertflowError('nameserver %r: %r is not a valid IPv6 address' % (entry, host))
        elif _HOSTNAME.fullmatch(host):
            addresses = _system_addresses(host, 'nameserver')
        else:
            raise CertflowError('nameserver %r: %r is neither an IP address nor a host name' % (entry, host))
        for address in addresses:
            if (address, port) not in servers:
                servers.append((address, port))
    return servers


# ---------------------------------------------------------------- queries

def _absolute(name):
    if isinstance(name, dns.name.Name):
        return name if name.is_absolute() else name.derelativize(dns.name.root)
    try:
        return dns.name.from_text(name.strip(), dns.name.root)
    except (dns.exception.DNSException, UnicodeError) as exc:
        raise CertflowError('%r is not a valid DNS name: %s' % (name, exc))


def _text(name):
    return name.to_text(omit_final_dot=True)


def _query_timeout(deadline):
    if deadline is None:
        return QUERY_TIMEOUT
    return max(0.2, min(QUERY_TIMEOUT, deadline.remaining()))


def _ask(qname, rdtype, server, timeout, recursion=True):
    """One query to one server, UDP with TCP fallback on truncation."""
    query = dns.message.make_query(qname, rdtype)
    if not recursion:
        query.flags &= ~dns.flags.RD
    response, _used_tcp = dns.query.udp_with_fallback(query, server[0], timeout=timeout, port=server[1])
    return response


def _failure_reason(exc, timeout):
    if isinstance(exc, dns.exception.Timeout):
        return 'no answer within %ss' % ('%.1f' % timeout).rstrip('0').rstrip('.')
    if isinstance(exc, ConnectionRefusedError):
        return 'connection refused'
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc) or exc.__class__.__name__


def _ask_servers(qname, rdtype, servers, deadline=None):
    """Ask ``servers`` in turn; return the first NOERROR/NXDOMAIN response, or
    the last other response (REFUSED, SERVFAIL) when no server gave one.
    Raises CertflowError when no server answered at all."""
    timeout = _query_timeout(deadline)
    failures = []
    fallback = None
    for server in servers:
        try:
            response = _ask(qname, rdtype, server, timeout)
        except (dns.exception.DNSException, OSError) as exc:
            failures.append('%s (%s)' % (format_server(server), _failure_reason(exc, timeout)))
            continue
        if response.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return response
        fallback = response
    if fallback is not None:
        return fallback
    raise CertflowError('no nameserver answered the %s query for %s: %s' % (
        dns.rdatatype.to_text(rdtype), _text(qname), ', '.join(failures)))


def _system_resolver(deadline=None):
    resolver = dns.resolver.Resolver()
    resolver.lifetime = RESOLVER_LIFETIME if deadline is None else max(0.5, min(RESOLVER_LIFETIME, deadline.remaining()))
    resolver.cache = None
    return resolver


def _resolve(resolver, qname, rdtype):
    """rrset of ``rdtype`` at the end of ``qname`` (after CNAMEs), None when
    the name or the type does not exist."""
    try:
        answer = resolver.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
    except dns.resolver.NXDOMAIN:
        return None
    except dns.exception.DNSException as exc:
        raise CertflowError('DNS lookup of %s %s failed: %s' % (_text(qname), dns.rdatatype.to_text(rdtype), exc))
    return answer.rrset


# ---------------------------------------------------------------- zones and CNAMEs

def follow_cname(name, nameservers=None, deadline=None):
    """Follow the CNAME chain at ``name`` and return the final name (without
    the trailing dot); ``name`` itself when it is not a CNAME or does not exist
    yet. This is how an ``_acme-challenge`` name delegated to another zone is
    found. At most MAX_CNAME_HOPS hops; loops are refused."""
    servers = parse_nameservers(nameservers) if nameservers else None
    resolver = None if servers else _system_resolver(deadline)
    start = _absolute(name)
    chain = [start]
    current = start
    for _hop in range(MAX_CNAME_HOPS + 1):
        target = _cname_target(current, servers, resolver, deadline)
        if target is None:
            return _text(current)
        if target in chain:
            raise CertflowError('CNAME loop at %s: %s' % (_text(start), ' -> '.join(_text(n) for n in chain + [target])),
                                name=_text(start))
        if len(chain) > MAX_CNAME_HOPS:
            break
        chain.append(target)
        current = target
    raise CertflowError('CNAME chain at %s is longer than %d hops: %s' % (
        _text(start), MAX_CNAME_HOPS, ' -> '.join(_text(n) for n in chain)), name=_text(start))


def _cname_target(qname, servers, resolver, deadline):
    if servers is None:
        rrset = _resolve(resolver, qname, dns.rdatatype.CNAME)
        if rrset is None or rrset.rdtype != dns.rdatatype.CNAME:
            return None
        return rrset[0].target.derelativize(rrset.name)
    response = _ask_servers(qname, dns.rdatatype.CNAME, servers, deadline)
    if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        # None of the given servers serves this name (typically REFUSED by an
        # authoritative-only server): nothing more can be learnt from them.
        return None
    rrset = response.get_rrset(response.answer, qname, dns.rdataclass.IN, dns.rdatatype.CNAME)
    if rrset is None:
        return None
    return rrset[0].target.derelativize(qname)


def find_zone(name, nameservers=None, deadline=None):
    """The closest enclosing zone of ``name`` (its SOA owner), without the
    trailing dot. With ``nameservers``, those servers are asked directly."""
    qname = _absolute(name)
    if not nameservers:
        try:
            zone = dns.resolver.zone_for_name(qname, resolver=_system_resolver(deadline))
        except dns.exception.DNSException as exc:
            raise CertflowError('cannot find the DNS zone of %s: %s' % (_text(qname), exc), name=_text(qname))
        if zone == dns.name.root:
            raise CertflowError('no DNS zone containing %s exists (only the root zone answered)' % _text(qname), name=_text(qname))
        return _text(zone)
    servers = parse_nameservers(nameservers)
    candidate = qname
    while True:
        response = _ask_servers(candidate, dns.rdatatype.SOA, servers, deadline)
        zone = _zone_in_response(response, candidate)
        if zone is not None:
            return _text(zone)
        try:
            candidate = candidate.parent()
        except dns.name.NoParent:
            break
        if candidate == dns.name.root:
            break
    raise CertflowError('no DNS zone containing %s is served by %s' % (
        _text(qname), ', '.join(format_server(s) for s in servers)), name=_text(qname))


def _zone_in_response(response, candidate):
    """The zone an SOA answer names for ``candidate``, or None (no usable
    answer, or a CNAME at ``candidate``: then the SOA in the answer is the
    CNAME target's, and the caller looks one level up)."""
    if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN) or candidate == dns.name.root:
        return None
    if response.get_rrset(response.answer, candidate, dns.rdataclass.IN, dns.rdatatype.SOA) is not None:
        return candidate
    if response.get_rrset(response.answer, candidate, dns.rdataclass.IN, dns.rdatatype.CNAME) is not None:
        return None
    for rrset in response.authority:
        # A server holding a local root zone answers every other name with
        # the root's SOA: that is "not served here", not a zone to update.
        if rrset.rdtype == dns.rdatatype.SOA and candidate.is_subdomain(rrset.name) and rrset.name != dns.name.root:
            return rrset.name
    return None


def _routable(address):
    """Whether this machine has a route to ``address`` (a UDP connect sends
    nothing): AAAA records of a nameserver are useless without IPv6."""
    family = socket.AF_INET6 if ':' in address else socket.AF_INET
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM)
    except OSError:
        return False
    try:
        sock.connect((address, DEFAULT_PORT))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def authoritative_servers(name, nameservers=None, deadline=None):
    """``[(address, port), ...]`` to check for ``name``.

    With ``nameservers`` those ARE the servers. Otherwise: the zone's NS set
    from the system resolver, every NS host resolved to its A and AAAA
    addresses (port 53), keeping only addresses this machine can route to.
    """
    if nameservers:
        return parse_nameservers(nameservers)
    zone = _absolute(find_zone(name, deadline=deadline))
    resolver = _system_resolver(deadline)
    ns_rrset = _resolve(resolver, zone, dns.rdatatype.NS)
    if not ns_rrset:
        raise CertflowError('zone %s of %s has no NS records' % (_text(zone), _text(_absolute(name))), name=name)
    hosts = sorted(rdata.target.derelativize(zone) for rdata in ns_rrset)
    addresses = []
    for host in hosts:
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            rrset = _resolve(resolver, host, rdtype)
            for rdata in rrset or ():
                if rdata.address not in addresses:
                    addresses.append(rdata.address)
    if not addresses:
        raise CertflowError('the nameservers of zone %s (%s) have no addresses' % (
            _text(zone), ', '.join(_text(h) for h in hosts)), name=name)
    routable = [a for a in addresses if _routable(a)]
    return [(address, DEFAULT_PORT) for address in (routable or addresses)]


# ---------------------------------------------------------------- TXT propagation

def _txt_values(response, qname):
    rrset = response.get_rrset(response.answer, qname, dns.rdataclass.IN, dns.rdatatype.TXT)
    if rrset is None:
        return []
    return [b''.join(rdata.strings).decode('utf-8', 'replace') for rdata in rrset]


def _check_one(qname, value, server, timeout):
    """None when ``server`` has the value, else 'host:port' (with the reason
    when the server did not give a usable answer)."""
    label = format_server(server)
    try:
        response = _ask(qname, dns.rdatatype.TXT, server, timeout, recursion=False)
    except (dns.exception.DNSException, OSError) as exc:
        return '%s (%s)' % (label, _failure_reason(exc, timeout))
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return '%s (answered %s)' % (label, dns.rcode.to_text(rcode))
    if _has(_txt_values(response, qname), value):
        return None
    return label


def _has(values, value):
    """``value``: the TXT value looked for, or a test of all the values at the name
    (a dns-persist-01 record may be written several ways)."""
    return value(values) if callable(value) else value in values


def visible_txt(name, nameservers=None, deadline=None):
    """Every TXT value at ``name`` on the authoritative servers (for a message that says what is there)."""
    qname = _absolute(name)
    timeout = _query_timeout(deadline)
    values = []
    for server in authoritative_servers(name, nameservers, deadline=deadline):
        try:
            response = _ask(qname, dns.rdatatype.TXT, server, timeout, recursion=False)
        except (dns.exception.DNSException, OSError):
            continue
        values.extend(value for value in _txt_values(response, qname) if value not in values)
    return values


def missing_txt(name, value, servers, deadline=None):
    """Ask every server directly (no recursion, so no cache) for the TXT
    records at ``name``; return the servers that do not have ``value`` (or
    whose values ``value``, a test, refuses), as
    'host:port' or 'host:port (reason)' when a server did not answer."""
    servers = parse_nameservers(servers)
    qname = _absolute(name)
    timeout = _query_timeout(deadline)
    if len(servers) == 1:
        result = _check_one(qname, value, servers[0], timeout)
        return [result] if result else []
    with ThreadPoolExecutor(max_workers=min(8, len(servers))) as pool:
        results = list(pool.map(lambda server: _check_one(qname, value, server, timeout), servers))
    return [result for result in results if result]


def wait_for_txt(name, value, deadline, nameservers=None, sleep=time.sleep):
    """Poll, with back-off, until every authoritative server of ``name`` has
    the TXT ``value`` (or a value the test ``value`` accepts); return the servers checked ('host:port' strings).

    ``name`` is the name the record was created at (already resolved through
    any CNAME, see follow_cname). On timeout raises CertflowError naming the
    servers that still lacked the value.
    """
    started = time.monotonic()
    servers = authoritative_servers(name, nameservers, deadline=deadline)
    checked = [format_server(s) for s in servers]
    intervals = backoff(initial=0.1, maximum=5.0)
    while True:
        missing = missing_txt(name, value, servers, deadline=deadline)
        if not missing:
            return checked
        if deadline.expired():
            shown = 'a value that serves' if callable(value) else value
            raise CertflowError('TXT record %s = %s not visible on %s after %ds' % (
                _text(_absolute(name)), shown, ', '.join(missing), round(time.monotonic() - started)),
                name=name, value=shown, missing=missing, servers=checked)
        sleep(min(next(intervals), max(deadline.remaining(), 0.01)))


# ---------------------------------------------------------------- addresses

def _a_records(host, servers, deadline):
    """(the name at the end of ``host``'s CNAME chain, its IPv4 addresses), asking
    for A: a server answers with the CNAMEs it knows and the addresses at their end,
    so a chain within its zones costs one query; a chain leaving them is asked again
    from where it left. Loops and chains over MAX_CNAME_HOPS are refused like
    follow_cname does."""
    start = current = _absolute(host)
    chain = [start]
    for _query in range(MAX_CNAME_HOPS + 1):
        response = _ask_servers(current, dns.rdatatype.A, servers, deadline)
        asked = current
        while True:
            rrset = response.get_rrset(response.answer, current, dns.rdataclass.IN, dns.rdatatype.CNAME)
            if rrset is None:
                break
            target = rrset[0].target.derelativize(current)
            if target in chain:
                raise CertflowError('CNAME loop at %s: %s' % (_text(start), ' -> '.join(_text(n) for n in chain + [target])),
                                    name=_text(start))
            chain.append(target)
            if len(chain) > MAX_CNAME_HOPS + 1:
                raise CertflowError('CNAME chain at %s is longer than %d hops: %s' % (
                    _text(start), MAX_CNAME_HOPS, ' -> '.join(_text(n) for n in chain)), name=_text(start))
            current = target
        rrset = response.get_rrset(response.answer, current, dns.rdataclass.IN, dns.rdatatype.A)
        if rrset is not None or current == asked:
            return current, [rdata.address for rdata in rrset or ()]
    raise CertflowError('CNAME chain at %s is longer than %d hops: %s' % (
        _text(start), MAX_CNAME_HOPS, ' -> '.join(_text(n) for n in chain)), name=_text(start))


def resolve_addresses(host, nameservers=None, deadline=None):
    """IPv4/IPv6 addresses of ``host``: asked from ``nameservers`` (following
    CNAMEs) when given, else from the system resolver. IP literals are
    returned as they are."""
    literal = _ip_literal(host.strip('[]'))
    if literal is not None:
        return [literal]
    if not nameservers:
        return _system_addresses(host, 'host')
    servers = parse_nameservers(nameservers)
    target, addresses = _a_records(host, servers, deadline)
    response = _ask_servers(target, dns.rdatatype.AAAA, servers, deadline)
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.AAAA:
            addresses.extend(rdata.address for rdata in rrset if rdata.address not in addresses)
    if not addresses:
        raise CertflowError('cannot resolve host %s: no A or AAAA record on %s' % (
            host, ', '.join(format_server(s) for s in servers)), host=host)
    return addresses
