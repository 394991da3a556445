# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the DNS validation options."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  dns_provider:
    description:
      - Who creates the TXT records of O(method=dns).
      - V(rfc2136) sends dynamic updates signed with TSIG (BIND, PowerDNS, Knot, many hosted DNS services), configured with O(rfc2136).
      - V(alidns) calls the Alibaba Cloud DNS API, configured with O(alidns).
      - V(lexicon) drives any DNS host the Python package C(dns-lexicon) supports (Cloudflare, Route 53, Azure, Google Cloud
        DNS, DNSPod, PowerDNS, about 90 more), configured with O(lexicon). It needs C(pip install dns-lexicon) where the
        module runs (some hosts need an extra, C(pip install 'dns-lexicon[route53]')).
    type: str
    choices: [rfc2136, alidns, lexicon]
    default: rfc2136
  rfc2136:
    description: Settings of the RFC 2136 provider.
    type: dict
    suboptions:
      server:
        description: Primary name server that accepts the updates. Falls back to E(CERTFLOW_RFC2136_SERVER).
        type: str
      port:
        description: Its port. Falls back to E(CERTFLOW_RFC2136_PORT).
        type: int
        default: 53
      key_name:
        description: TSIG key name. Falls back to E(CERTFLOW_RFC2136_KEY_NAME).
        type: str
      key_secret:
        description: TSIG secret (base64). Falls back to E(CERTFLOW_RFC2136_KEY_SECRET).
        type: str
      key_algorithm:
        description: TSIG algorithm. Falls back to E(CERTFLOW_RFC2136_KEY_ALGORITHM).
        type: str
        default: hmac-sha256
      zone:
        description: Zone to update. Found with an SOA query when unset.
        type: str
  alidns:
    description: Settings of the Alibaba Cloud DNS provider. Credentials default to O(aliyun) and the environment.
    type: dict
    suboptions:
      access_key_id:
        description: AccessKey ID. Defaults to O(aliyun.access_key_id), then E(ALIBABA_CLOUD_ACCESS_KEY_ID).
        type: str
      access_key_secret:
        description: AccessKey secret. Defaults to O(aliyun.access_key_secret), then E(ALIBABA_CLOUD_ACCESS_KEY_SECRET).
        type: str
      security_token:
        description: STS token. Defaults to O(aliyun.security_token), then E(ALIBABA_CLOUD_SECURITY_TOKEN).
        type: str
      endpoint:
        description: API endpoint, a host name or a full URL. Default U(https://alidns.aliyuncs.com).
        type: str
      domain:
        description: The zone (domain) in Alibaba Cloud DNS that holds the records; found from the record name when unset.
        type: str
      ttl:
        description: TTL of the TXT records.
        type: int
        default: 600
      ca_bundle:
        description: CA certificates (PEM file) used to verify the endpoint.
        type: path
      validate_certs:
        description: Verify the endpoint's TLS certificate.
        type: bool
        default: true
  lexicon:
    description:
      - Settings of the dns-lexicon provider, a free-form dict. C(provider) is the lexicon provider name (C(lexicon --help)
        lists those of the installed dns-lexicon); it falls back to E(LEXICON_PROVIDER_NAME).
      - C(zone) is the zone holding the records; found by an SOA lookup through O(nameservers) (else the system resolver)
        when unset, following an C(_acme-challenge) CNAME. C(ttl) is the records' TTL (lexicon's default when unset).
      - Every other key is an option of that lexicon provider as lexicon names it, for example C(auth_token) and
        C(pdns_server) for C(powerdns), C(auth_access_key) and C(auth_access_secret) for C(route53). Options not given are
        read by lexicon from E(LEXICON_<PROVIDER>_<OPTION>) environment variables (E(LEXICON_CLOUDFLARE_AUTH_TOKEN)).
      - Values of keys that name a credential (containing C(token), C(secret), C(pass), C(key), ...) and of such
        E(LEXICON_*) variables are masked in every output, as no_log options are.
    type: dict
  nameservers:
    description:
      - The name servers that are authoritative for the zone, as V(ip), V(ip:port) or V([ipv6]:port). They are asked
        directly, without recursion, for the TXT record (and to resolve names for the file check) instead of the
        servers found in the zone's NS records. Do not list a recursive resolver here; it would only show its cache.
      - Falls back to E(CERTFLOW_DNS_NAMESERVERS) (comma-separated).
    type: list
    elements: str
  propagation_timeout:
    description: Seconds to wait for a TXT record or a file to be visible before telling the CA.
    type: int
    default: 120
'''
