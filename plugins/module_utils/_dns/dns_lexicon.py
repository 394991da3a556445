# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS provider for any DNS host dns-lexicon drives (Cloudflare, Route 53, Azure, PowerDNS, ~90 more).

dns-lexicon is optional: imported only when this provider is used."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import difflib
import os
import re
import threading

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._dns.base import DNSProvider

INSTALL = 'pip install dns-lexicon'
LIST_COMMAND = 'lexicon --help'
# Keys of the lexicon option that are ours; every other key is the lexicon provider's own option.
OWN_KEYS = ('provider', 'zone', 'ttl')
# Lexicon option names that carry a credential (auth_token, auth_password, auth_secret, auth_api_key,
# auth_access_secret, auth_client_secret, auth_service_account_info, auth_psw, secret_key, ...).
SECRET_NAME = re.compile(r'token|secret|pass|psw|key|2fa|account_info|credential', re.I)
NOT_SECRET_VALUES = ('', 'true', 'false', 'yes', 'no', '0', '1')
URL_QUERY = re.compile(r'(https?://[^\s?#\'"]+)\?[^\s\'"]*')


def _unquote(value):
    value = str(value or '').strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def _lexicon():
    """dns-lexicon's config resolver and provider discovery, or a CertflowError saying what to install."""
    try:
        from lexicon.config import ConfigResolver
        # discovery is what lexicon's own Client uses to list and load providers (see _host_class).
        from lexicon._private import discovery
    except ImportError as exc:
        raise CertflowError('dns_provider lexicon needs the Python package dns-lexicon where the module runs: %s (%s)'
                            % (INSTALL, exc))
    return ConfigResolver, discovery


class LexiconProvider(DNSProvider):
    """Adds and removes single TXT values through dns-lexicon.

    Settings (the ``lexicon`` option): ``provider`` (a lexicon provider name; else
    E(LEXICON_PROVIDER_NAME)), ``zone`` (found by an SOA lookup through ``nameservers``
    when unset), ``ttl`` (lexicon's default when unset) and the provider's own options as
    lexicon names them (``auth_token``, ``pdns_server``, ...); lexicon reads what is not
    given from ``LEXICON_<PROVIDER>_<OPTION>`` environment variables.
    """

    NAME = 'lexicon'
    OPTION = 'lexicon'
    # Free-form: each lexicon provider has its own options. Their secrets are masked by
    # secret_values (the module adds them to its no_log values).
    ARGUMENT_SPEC = None

    @classmethod
    def settings_from(cls, options):
        return {'lexicon': dict(options.get('lexicon') or {}), 'nameservers': options.get('nameservers') or None}

    @classmethod
    def secret_values(cls, value):
        if not isinstance(value, dict):
            return []
        found = [item for key, item in value.items() if key not in OWN_KEYS and SECRET_NAME.search(str(key))]
        # What lexicon will read from the environment is as secret as what is passed.
        found += [item for key, item in os.environ.items() if key.startswith('LEXICON_') and SECRET_NAME.search(key)]
        return [item for item in found if isinstance(item, str) and item.strip().lower() not in NOT_SECRET_VALUES]

    def __init__(self, settings, context):
        super(LexiconProvider, self).__init__(settings, context)
        options = dict(self.settings.get('lexicon') or {})
        self.host = str(options.pop('provider', None) or os.environ.get('LEXICON_PROVIDER_NAME') or '').strip()
        if not self.host:
            raise CertflowError('lexicon: option provider is required (a dns-lexicon provider name such as cloudflare, '
                                'route53 or powerdns; `%s` lists them)' % LIST_COMMAND)
        self.zone = (str(options.pop('zone', None) or '')).strip().rstrip('.').lower() or None
        self.ttl = options.pop('ttl', None)
        if self.ttl is not None and not str(self.ttl).isdigit():
            raise CertflowError('lexicon: ttl %r is not a number of seconds' % (self.ttl,))
        self.host_options = options
        self.nameservers = self.settings.get('nameservers')
        self._zones = {}
        self._clients = {}
        self._lock = threading.Lock()

    # -------------------------------------------------------------- seam

    def present(self, name, value):
        """Add one TXT value at ``name``; other values there stay (lexicon's create adds a record)."""
        client = self._client(name)
        with self._zone_lock(client.zone):
            if client.create_record('TXT', name, value) is False:
                raise CertflowError('lexicon %s: creating TXT %s was refused' % (self.host, name))

    def cleanup(self, name, value):
        """Delete exactly the TXT value ``present`` added, by the identifier lexicon lists it with; a host
        whose delete took the other values at the name with it gets them back (and the user is told)."""
        client = self._client(name)
        with self._zone_lock(client.zone):
            records = self._txt(client, name)
            others = [content for content in records if content != value]
            for record_id in records.get(value, []):
                client.delete_record(record_id, 'TXT', name, None if record_id else value)
            after = self._txt(client, name)
            if value in after:
                raise CertflowError('lexicon %s: TXT %s "%s" is still there after deleting it' % (self.host, name, value))
            lost = [content for content in others if content not in after]
            for content in lost:
                client.create_record('TXT', name, content)
        if lost:
            warn = getattr(self.context, 'warn', None) or (lambda msg: None)
            warn('lexicon provider %s removed every TXT value at %s when asked to delete one; the %d other value(s) were put back'
                 % (self.host, name, len(lost)))

    def close(self):
        for client in self._clients.values():
            try:
                client.provider.cleanup()
            except Exception:  # noqa: BLE001 - closing must not hide the real result
                pass

    # -------------------------------------------------------------- internals

    def _zone_lock(self, zone):
        """One change at a time per zone across the run's threads: hosts such as PowerDNS take a record
        set, change it and write it back whole (two changes at once lose one), and some refuse or
        fail concurrent writes to one zone (PowerDNS on sqlite answers HTTP 500)."""
        shared = getattr(self.context, 'shared', None)
        if shared is None:
            return self._lock
        return shared.setdefault(('lexicon zone', self.host, zone), threading.Lock())

    def _txt(self, client, name):
        """{value: [lexicon record ids]} of the TXT records at ``name``."""
        values = {}
        for record in client.list_records('TXT', name) or []:
            if str(record.get('type') or 'TXT').upper() == 'TXT':
                values.setdefault(_unquote(record.get('content')), []).append(record.get('id'))
        return values

    def _zone_for(self, name):
        """The zone holding ``name``: lexicon's own guess (the public suffix list) takes the wrong zone
        for delegated sub-zones and private names (x.pdns.test would go to a zone test.), so the
        zone is found here by an SOA lookup, as the propagation check finds it."""
        name = name.rstrip('.').lower()
        if self.zone:
            if name != self.zone and not name.endswith('.' + self.zone):
                raise CertflowError('lexicon: record %s is not inside zone %s (option lexicon.zone)' % (name, self.zone))
            return self.zone
        if name not in self._zones:
            from ansible_collections.certflow.ssl.plugins.module_utils._proofs.propagation import find_zone
            try:
                self._zones[name] = find_zone(name, nameservers=self.nameservers)
            except CertflowError as exc:
                raise CertflowError('lexicon: cannot find the zone of %s (set lexicon.zone to skip the lookup): %s' % (name, exc.msg))
        return self._zones[name]

    def _client(self, name):
        zone = self._zone_for(name)
        if zone not in self._clients:
            self._clients[zone] = _Client(self.host, self._host_class(), self._config(zone), zone)
        return self._clients[zone]

    def _host_class(self):
        ConfigResolver, discovery = _lexicon()
        available = discovery.find_providers()
        if self.host not in available:
            close = difflib.get_close_matches(self.host, list(available), n=3)
            raise CertflowError('lexicon: %r is not a provider of the installed dns-lexicon (%s)%s; `%s` lists the %d names '
                                '(also https://dns-lexicon.github.io/dns-lexicon/user_guide.html)'
                                % (self.host, discovery.lexicon_version(), ', did you mean %s?' % ' or '.join(close) if close else '',
                                   LIST_COMMAND, len(available)), provider=self.host)
        if not available[self.host]:
            raise CertflowError("lexicon provider %s needs more Python packages where the module runs: pip install 'dns-lexicon[%s]'"
                                % (self.host, self.host), provider=self.host)
        try:
            return discovery.load_provider_module(self.host).Provider
        except ImportError as exc:
            raise CertflowError("lexicon provider %s cannot be loaded (%s): pip install 'dns-lexicon[%s]'" % (self.host, exc, self.host))

    def _config(self, zone):
        ConfigResolver, _discovery = _lexicon()
        # lexicon reads the provider's options as lexicon:<provider>:<option>: ours first, then its
        # LEXICON_<PROVIDER>_<OPTION> environment variables (as the lexicon command does).
        given = {'provider_name': self.host, 'domain': zone, self.host: dict(self.host_options)}
        if self.ttl is not None:
            given['ttl'] = int(self.ttl)
        return ConfigResolver().with_dict(given).with_env()


class _Client:
    """One authenticated lexicon provider for one zone. lexicon's Client is not used: it replaces
    the zone it is given by a public-suffix guess (and fetches that list from the internet)."""

    def __init__(self, host, provider_class, config, zone):
        self.host = host
        self.zone = zone
        self.option_names = _option_names(provider_class)
        self.provider = self._call('set up', provider_class, config, setup=True)
        self._call('authenticate for zone %s' % zone, self.provider.authenticate)

    def create_record(self, rtype, name, content):
        return self._call('create %s %s' % (rtype, name), self.provider.create_record, rtype, name, content)

    def list_records(self, rtype, name):
        return self._call('list %s %s' % (rtype, name), self.provider.list_records, rtype, name)

    def delete_record(self, identifier, rtype, name, content):
        return self._call('delete %s %s' % (rtype, name), self.provider.delete_record, identifier, rtype, name, content)

    def _call(self, what, function, *args, **kwargs):
        try:
            return function(*args)
        except CertflowError:
            raise
        except Exception as exc:  # noqa: BLE001 - every host raises its own errors: one clear message
            raise CertflowError('lexicon %s: %s failed: %s' % (self.host, what, self._reason(exc, kwargs.get('setup'))),
                                provider=self.host, zone=self.zone)

    def _reason(self, exc, setup=False):
        response = getattr(exc, 'response', None)
        status = getattr(response, 'status_code', None)
        text = URL_QUERY.sub(r'\1?...', str(exc) or type(exc).__name__)     # a query string may carry a key
        credentials = ', '.join(name for name in self.option_names if SECRET_NAME.search(name) or name.startswith('auth_'))
        where = 'lexicon.<option> or LEXICON_%s_<OPTION>' % self.host.upper()
        if status in (401, 403):
            return 'the DNS host refused the credentials (HTTP %d): check %s (%s)' % (status, credentials or 'them', where)
        if status == 404:
            return 'not found at the DNS host (HTTP 404): does the account hold zone %s? (%s)' % (self.zone, text)
        if setup and self.option_names:
            # Most hosts check their options when set up: say which options there are.
            return '%s (options of this provider: %s; set them as %s)' % (text, ', '.join(self.option_names), where)
        return text


def _option_names(provider_class):
    """The provider's options, as its command-line parser declares them (auth_token, pdns_server, ...)."""
    parser = argparse.ArgumentParser(add_help=False)
    try:
        provider_class.configure_parser(parser)
    except Exception:  # noqa: BLE001 - only for messages
        return []
    return [action.dest for action in parser._actions]
