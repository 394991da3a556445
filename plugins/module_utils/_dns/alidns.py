# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS provider for Alibaba Cloud DNS (alidns 2015-01-09): TXT records through its API."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._aliyun.client import AliyunAPIError, AliyunClient, resolve_credentials
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline
from ansible_collections.certflow.ssl.plugins.module_utils._dns.base import DNSProvider

API_VERSION = '2015-01-09'
DEFAULT_ENDPOINT = 'alidns.aliyuncs.com'
DEFAULT_TTL = 600          # the smallest TTL of the free edition
PAGE_SIZE = 100            # the API's maximum
MAX_PAGES = 20


def split_name(name, zone):
    """The host record (RR) of ``name`` inside ``zone``: '@' for the apex."""
    name = name.rstrip('.').lower()
    zone = zone.rstrip('.').lower()
    if name == zone:
        return '@'
    if not name.endswith('.' + zone):
        raise CertflowError('alidns: %s is not inside the domain %s' % (name, zone))
    return name[:-len(zone) - 1]


def _unquote(value):
    value = (value or '').strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


class AlidnsProvider(DNSProvider):
    """Adds and removes single TXT values in Alibaba Cloud DNS.

    Settings: ``access_key_id``, ``access_key_secret``, ``security_token``
    (each falls back to the same key of an ``aliyun`` sub-dict, then to the
    ALIBABA_CLOUD_* environment variables), ``endpoint`` (host name or URL,
    default https://alidns.aliyuncs.com), ``domain`` (the Alibaba Cloud DNS
    domain holding the records; found with DescribeDomains when not given),
    ``ttl`` (600), ``validate_certs``, ``ca_bundle``.
    """

    NAME = 'alidns'
    OPTION = 'alidns'
    # No environment fallbacks here: the credentials come from the aliyun option
    # first and only then from the environment (see settings_from).
    ARGUMENT_SPEC = dict(
        access_key_id=dict(type='str', no_log=False),
        access_key_secret=dict(type='str', no_log=True),
        security_token=dict(type='str', no_log=True),
        endpoint=dict(type='str'),
        domain=dict(type='str'),
        ttl=dict(type='int', default=600),
        ca_bundle=dict(type='path'),
        validate_certs=dict(type='bool', default=True),
    )

    @classmethod
    def settings_from(cls, options):
        """Alibaba Cloud DNS uses the CA's Alibaba Cloud credentials (the aliyun
        option) unless it is given its own."""
        settings = super(AlidnsProvider, cls).settings_from(options)
        settings['aliyun'] = options.get('aliyun') or {}
        return settings

    def __init__(self, settings, context, client=None):
        super(AlidnsProvider, self).__init__(settings, context)
        self._client = client
        self._zones = {}
        self._api_names = {}
        fixed = (self.settings.get('domain') or '').strip().rstrip('.').lower()
        self.domain = fixed or None
        self.ttl = int(self.settings.get('ttl') or DEFAULT_TTL)

    @property
    def client(self):
        if self._client is None:
            settings = self.settings
            self._client = AliyunClient(
                'alidns', API_VERSION, settings.get('endpoint') or DEFAULT_ENDPOINT,
                resolve_credentials(settings, fallback=settings.get('aliyun'), what='alidns'),
                validate_certs=settings.get('validate_certs', True) is not False, ca_bundle=settings.get('ca_bundle'),
                deadline=Deadline(float(getattr(self.context, 'timeout', None) or 300.0)),
                log=getattr(self.context, 'log', None))
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()

    # -- zones ------------------------------------------------------------

    def zone_for(self, name):
        """The Alibaba Cloud DNS domain that holds ``name``: the ``domain``
        setting, or the longest domain of the account that ``name`` ends with."""
        name = name.rstrip('.').lower()
        if self.domain:
            split_name(name, self.domain)          # raises when name is outside it
            return self.domain
        labels = name.split('.')
        parent = '.'.join(labels[-2:]) if len(labels) >= 2 else name
        if parent not in self._zones:
            self._zones[parent] = self._domains_like(parent)
        matches = [zone for zone in self._zones[parent] if name == zone or name.endswith('.' + zone)]
        if not matches:
            raise CertflowError('alidns: no domain of this Alibaba Cloud DNS account contains %s (add the domain in '
                                'Alibaba Cloud DNS, or set alidns.domain)' % name, domain=name)
        return max(matches, key=len)

    def _domains_like(self, keyword):
        zones = []
        for page in range(1, MAX_PAGES + 1):
            answer = self.client.call('DescribeDomains', {'KeyWord': keyword, 'SearchMode': 'LIKE', 'PageNumber': page,
                                                          'PageSize': PAGE_SIZE})
            batch = (answer.get('Domains') or {}).get('Domain') or []
            for item in batch:
                # Internationalised domains: DomainName may be Unicode, PunyCode is the A-label form we compare with.
                api_name = (item.get('DomainName') or '').rstrip('.')
                ascii_name = (item.get('PunyCode') or api_name).rstrip('.').lower()
                if ascii_name:
                    zones.append(ascii_name)
                    self._api_names[ascii_name] = api_name
            if not batch or len(zones) >= int(answer.get('TotalCount') or 0):
                break
        return zones

    # -- records ----------------------------------------------------------

    def _records(self, name, zone):
        records = []
        for page in range(1, MAX_PAGES + 1):
            params = {'SubDomain': name, 'DomainName': self._api_names.get(zone, zone), 'Type': 'TXT', 'PageNumber': page,
                      'PageSize': PAGE_SIZE}
            answer = self.client.call('DescribeSubDomainRecords', params)
            batch = (answer.get('DomainRecords') or {}).get('Record') or []
            records.extend(batch)
            if not batch or len(records) >= int(answer.get('TotalCount') or 0):
                break
        return [record for record in records if (record.get('Type') or 'TXT').upper() == 'TXT']

    def present(self, name, value):
        name = name.rstrip('.').lower()
        zone = self.zone_for(name)
        params = {'DomainName': self._api_names.get(zone, zone), 'RR': split_name(name, zone), 'Type': 'TXT', 'Value': value, 'TTL': self.ttl}
        try:
            self.client.call('AddDomainRecord', params, idempotent=False)
        except AliyunAPIError as error:
            if error.code != 'DomainRecordDuplicate':
                raise
            # Already there (an earlier, interrupted run): that is what we wanted.

    def cleanup(self, name, value):
        name = name.rstrip('.').lower()
        zone = self.zone_for(name)
        for record in self._records(name, zone):
            if _unquote(record.get('Value')) != value:
                continue
            try:
                self.client.call('DeleteDomainRecord', {'RecordId': record['RecordId']})
            except AliyunAPIError as error:
                if error.code != 'DomainRecordNotBelongToUser':
                    raise
                # Gone already.
