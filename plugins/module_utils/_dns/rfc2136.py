# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS provider for RFC 2136 dynamic updates signed with TSIG (BIND, PowerDNS, Knot, ...)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import binascii

try:
    import dns.exception
    import dns.message
    import dns.name
    import dns.query
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.rdtypes.ANY.TXT
    import dns.tsig
    import dns.update
except ImportError:  # reported by the module wrapper (module_utils/_deps.py)
    pass

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._dns.base import DNSProvider
from ansible_collections.certflow.ssl.plugins.module_utils._proofs.propagation import find_zone, format_server, resolve_addresses

DEFAULT_PORT = 53
DEFAULT_TTL = 60
DEFAULT_TIMEOUT = 10.0
DEFAULT_ALGORITHM = 'hmac-sha256'

# names in dnspython's dns.tsig module
TSIG_ALGORITHMS = {
    'hmac-md5': 'HMAC_MD5',
    'hmac-sha1': 'HMAC_SHA1',
    'hmac-sha224': 'HMAC_SHA224',
    'hmac-sha256': 'HMAC_SHA256',
    'hmac-sha384': 'HMAC_SHA384',
    'hmac-sha512': 'HMAC_SHA512',
}

KEY_REJECTED = 'TSIG key rejected (%s): check key_name, key_secret and key_algorithm'


def tsig_algorithm(text):
    """dnspython algorithm name for 'hmac-sha256', 'sha256', 'HMAC-SHA256.' ..."""
    key = (text or DEFAULT_ALGORITHM).strip().lower().rstrip('.')
    if key == 'hmac-md5.sig-alg.reg.int':
        key = 'hmac-md5'
    if not key.startswith('hmac-'):
        key = 'hmac-' + key
    if key not in TSIG_ALGORITHMS:
        raise CertflowError('rfc2136 key_algorithm %r is not supported; use one of %s' % (
            text, ', '.join(sorted(TSIG_ALGORITHMS))))
    return getattr(dns.tsig, TSIG_ALGORITHMS[key])


def txt_rdata(value):
    """One TXT record holding ``value`` (split into 255-byte strings)."""
    data = value.encode('utf-8')
    chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b'']
    return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks)


class Rfc2136Provider(DNSProvider):
    """Adds and removes single TXT values with signed dynamic updates.

    Settings: ``server`` (host name or address), ``port`` (53), ``key_name``,
    ``key_secret`` (base64), ``key_algorithm`` ('hmac-sha256'), ``zone`` (found
    by an SOA lookup against ``server`` when not given), ``ttl`` (60),
    ``timeout`` (10 seconds per update). Without a key the updates are sent
    unsigned (servers that allow updates by address).
    """

    NAME = 'rfc2136'
    OPTION = 'rfc2136'
    ARGUMENT_SPEC = dict(
        server=dict(type='str', fallback=DNSProvider.env('CERTFLOW_RFC2136_SERVER')),
        port=dict(type='int', default=53, fallback=DNSProvider.env('CERTFLOW_RFC2136_PORT')),
        key_name=dict(type='str', no_log=False, fallback=DNSProvider.env('CERTFLOW_RFC2136_KEY_NAME')),
        key_secret=dict(type='str', no_log=True, fallback=DNSProvider.env('CERTFLOW_RFC2136_KEY_SECRET')),
        key_algorithm=dict(type='str', no_log=False, default='hmac-sha256', fallback=DNSProvider.env('CERTFLOW_RFC2136_KEY_ALGORITHM')),
        zone=dict(type='str'),
    )

    def __init__(self, settings, context):
        super(Rfc2136Provider, self).__init__(settings, context)
        self.server = (self.settings.get('server') or '').strip()
        if not self.server:
            raise CertflowError('rfc2136: option server is required (the primary DNS server accepting dynamic updates)')
        self.port = int(self.settings.get('port') or DEFAULT_PORT)
        self.timeout = float(self.settings.get('timeout') or DEFAULT_TIMEOUT)
        self.ttl = int(self.settings.get('ttl') or DEFAULT_TTL)
        self.zone = (self.settings.get('zone') or '').strip().rstrip('.') or None
        self.key = self._tsig_key()
        self._address = None
        self._zones = {}

    def _tsig_key(self):
        key_name = self.settings.get('key_name')
        key_secret = self.settings.get('key_secret')
        if not key_name and not key_secret:
            return None
        if not key_name or not key_secret:
            raise CertflowError('rfc2136: key_name and key_secret go together (set both, or neither for unsigned updates)')
        algorithm = tsig_algorithm(self.settings.get('key_algorithm'))
        try:
            return dns.tsig.Key(key_name, key_secret, algorithm)
        except (binascii.Error, ValueError, TypeError, dns.exception.DNSException):
            # The error text of a base64 failure may quote the secret: not passed on.
            raise CertflowError('rfc2136: key_secret of key %s is not valid base64' % key_name)

    # -------------------------------------------------------------- seam

    def present(self, name, value):
        """Add one TXT value at ``name``; other values there stay."""
        zone = self._zone_for(name)
        update = self._update(zone)
        update.add(dns.name.from_text(name), self.ttl, txt_rdata(value))
        self._send(update, zone, 'add TXT %s' % name)

    def cleanup(self, name, value):
        """Delete exactly the TXT value ``present`` added."""
        zone = self._zone_for(name)
        update = self._update(zone)
        update.delete(dns.name.from_text(name), txt_rdata(value))
        self._send(update, zone, 'delete TXT %s' % name)

    # -------------------------------------------------------------- internals

    @property
    def where(self):
        """'server:port' as the user wrote the server, for messages."""
        return format_server((self.server.strip('[]'), self.port))

    def _server_address(self):
        if self._address is None:
            try:
                self._address = resolve_addresses(self.server)[0]
            except CertflowError as exc:
                raise CertflowError('rfc2136: cannot resolve DNS server %s: %s' % (self.server, exc.msg))
        return self._address

    def _zone_for(self, name):
        fqdn = dns.name.from_text(name)
        if self.zone:
            if not fqdn.is_subdomain(dns.name.from_text(self.zone)):
                raise CertflowError('rfc2136: record %s is not inside zone %s (option zone)' % (name, self.zone))
            return self.zone
        if name not in self._zones:
            try:
                self._zones[name] = find_zone(name, nameservers=[(self._server_address(), self.port)])
            except CertflowError as exc:
                raise CertflowError('rfc2136: cannot find the zone of %s on DNS server %s (set rfc2136.zone to skip the lookup): %s'
                                    % (name, self.where, exc.msg))
        return self._zones[name]

    def _update(self, zone):
        if self.key is None:
            return dns.update.UpdateMessage(zone)
        return dns.update.UpdateMessage(zone, keyring=self.key)

    def _send(self, update, zone, action):
        where, zone_text = self.where, zone
        try:
            response = dns.query.tcp(update, self._server_address(), timeout=self.timeout, port=self.port)
        except dns.exception.Timeout:
            raise CertflowError('rfc2136: DNS server %s did not answer the update of zone %s (%s) within %gs'
                                % (where, zone_text, action, self.timeout), server=where, zone=zone_text)
        except ConnectionRefusedError:
            raise CertflowError('rfc2136: connection to DNS server %s refused (is it running and listening on TCP port %d?) '
                                'while updating zone %s' % (where, self.port, zone_text), server=where, zone=zone_text)
        except OSError as exc:
            raise CertflowError('rfc2136: cannot reach DNS server %s to update zone %s: %s'
                                % (where, zone_text, exc.strerror or exc), server=where, zone=zone_text)
        except dns.tsig.PeerBadKey:
            raise self._rejected(zone_text, KEY_REJECTED % 'BADKEY/BADSIG')
        except dns.tsig.PeerBadSignature:
            raise self._rejected(zone_text, KEY_REJECTED % 'BADKEY/BADSIG')
        except dns.tsig.PeerBadTime:
            raise self._rejected(zone_text, 'TSIG time check failed (BADTIME): the clocks of this host and the server differ too much')
        except (dns.tsig.BadSignature, dns.message.UnknownTSIGKey, dns.tsig.PeerError):
            raise self._rejected(zone_text, 'the TSIG signature of the answer did not verify: check key_name, key_secret and key_algorithm')
        except dns.exception.DNSException as exc:
            raise CertflowError('rfc2136: update of zone %s on DNS server %s failed (%s): %s'
                                % (zone_text, where, action, exc), server=where, zone=zone_text)
        rcode = response.rcode()
        if rcode == dns.rcode.NOERROR:
            return
        raise self._rejected(zone_text, self._rcode_reason(rcode), rcode=dns.rcode.to_text(rcode))

    def _rcode_reason(self, rcode):
        text = dns.rcode.to_text(rcode)
        if rcode in (dns.rcode.BADKEY, dns.rcode.BADSIG):
            return KEY_REJECTED % 'BADKEY/BADSIG'
        if rcode == dns.rcode.REFUSED:
            key = 'key %s' % self.key.name.to_text(omit_final_dot=True) if self.key else 'an unsigned update'
            return ('update refused (REFUSED): the server does not allow %s to update this zone '
                    '(allow-update / update-policy)' % key)
        if rcode == dns.rcode.NOTAUTH:
            return ('server is not authoritative for the zone or did not accept the TSIG key (NOTAUTH): '
                    'check zone, key_name, key_secret and key_algorithm')
        if rcode == dns.rcode.NOTZONE:
            return 'record name is outside the zone (NOTZONE): check zone'
        if rcode == dns.rcode.SERVFAIL:
            return 'the server failed to apply the update (SERVFAIL): see its log'
        if rcode == dns.rcode.NOTIMP:
            return 'the server does not support dynamic updates (NOTIMP)'
        return 'update rejected (%s)' % text

    def _rejected(self, zone, reason, **details):
        return CertflowError('rfc2136: DNS server %s, zone %s: %s' % (self.where, zone, reason),
                             server=self.where, zone=zone, **details)
