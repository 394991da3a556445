# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module wrapper: shared argument specs (the providers' options come from
their registries, with environment fallbacks and no_log on every secret) and the one place where CertflowError becomes
fail_json. Every module reads the same: build the spec, call run()."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.certflow.ssl.plugins.module_utils._ca import CA_PROVIDERS
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._deps import missing_packages
from ansible_collections.certflow.ssl.plugins.module_utils._dns import DNS_PROVIDERS
from ansible_collections.certflow.ssl.plugins.module_utils._providers import from_env

KEY_TYPES = ['ec256', 'ec384', 'rsa2048', 'rsa3072', 'rsa4096']


def provider_argument_spec():
    """provider, each CA provider's settings option, store_dir, timeout (doc fragment: certflow.ssl.provider)."""
    return dict(
        CA_PROVIDERS.argument_spec(),
        store_dir=dict(type='path', fallback=from_env('CERTFLOW_STORE_DIR'), default='~/.certflow'),
        timeout=dict(type='int', default=600),
    )


def dns_argument_spec():
    """dns_provider, each DNS provider's settings option, nameservers, propagation_timeout (doc fragment: certflow.ssl.dns)."""
    return dict(
        DNS_PROVIDERS.argument_spec(),
        nameservers=dict(type='list', elements='str', fallback=from_env('CERTFLOW_DNS_NAMESERVERS')),
        propagation_timeout=dict(type='int', default=120),
    )


def ca_settings_options():
    """The names of the CA providers' settings options (a certificates: entry may set them)."""
    return CA_PROVIDERS.settings_options()


def dns_settings_options():
    """The names of the DNS providers' settings options."""
    return DNS_PROVIDERS.settings_options()


def entry_spec(spec):
    """The spec of one ``certificates:`` entry: the same options without
    defaults or fallbacks, so unset entry options inherit the top level
    instead of masking it with a default (no_log stays on every secret)."""
    result = copy.deepcopy(spec)
    for option in result.values():
        option.pop('default', None)
        option.pop('fallback', None)
        option.pop('apply_defaults', None)
        if option.get('options'):
            option['options'] = entry_spec(option['options'])
    return result


def _without_unset(options):
    return dict((key, _without_unset(value) if isinstance(value, dict) else value)
                for key, value in options.items() if value is not None)


class CertflowModule:
    """AnsibleModule plus the collection's error handling.

    ``entry_options``: the options one ``certificates:`` entry takes (batch
    mode). The entries are checked here, with ansible-core's own validator,
    rather than as suboptions of ``certificates``: an entry takes the
    module's per-certificate options again, which the documentation says
    once instead of repeating every one of them under ``certificates``.
    Each entry gets the same type checks and conversions, and its no_log
    values are masked in every output like the top level's."""

    def __init__(self, argument_spec, entry_options=None, **kwargs):
        if entry_options is not None:
            argument_spec = dict(argument_spec, certificates=dict(type='list', elements='dict'))
        self.module = AnsibleModule(argument_spec=argument_spec, **kwargs)
        self.params = self.module.params
        # A module without DNS options does not even import the DNS providers.
        self._mask_free_form_secrets([registry for registry in (CA_PROVIDERS, DNS_PROVIDERS) if registry.option in argument_spec])
        self.check_mode = self.module.check_mode
        self.diff = self.module._diff
        if entry_options is not None and self.params.get('certificates') is not None:
            self.params['certificates'] = self._checked_entries(entry_spec(entry_options))
        missing = missing_packages()
        if missing:
            self.module.fail_json(msg=missing_required_lib(' and '.join(missing)), changed=False)

    def _mask_free_form_secrets(self, registries):
        """Mask the secrets of free-form provider options (lexicon's) like no_log ones, the
        top level's and every certificates: entry's, before anything can be returned."""
        entries = self.params.get('certificates')
        for params in [self.params] + (entries if isinstance(entries, list) else []):
            for registry in registries:
                self.module.no_log_values.update(registry.secret_values(params))

    def _checked_entries(self, spec):
        validator = ArgumentSpecValidator(spec)
        checked = []
        for index, entry in enumerate(self.params['certificates']):
            result = validator.validate(entry)
            # Masked before anything (an error message included) can be returned.
            self.module.no_log_values.update(result._no_log_values)
            if result.error_messages:
                messages = [('unsupported option ' if isinstance(error, UnsupportedError) else '') + message
                            for error, message in zip(result.errors.errors, result.error_messages)]
                self.module.fail_json(msg='certificates[%d]: %s' % (index, '; '.join(messages)), changed=False)
            # Unset options are dropped: they inherit the top level anyway, and every entry
            # comes back in the task result's invocation, which the controller parses (a
            # batch of 500 carried ~200 KB of nulls).
            checked.append(_without_unset(result.validated_parameters))
        return checked

    def run(self, work):
        """Call ``work(self)``; it returns the result dict. A CertflowError
        fails the task with its message and changed=false."""
        try:
            result = work(self)
        except CertflowError as exc:
            details = dict(exc.details)
            details.setdefault('changed', False)
            self.module.fail_json(msg=exc.msg, **details)
        except Exception as exc:  # noqa: BLE001 - one clear failure instead of a traceback dump
            self.module.fail_json(msg='unexpected %s: %s' % (type(exc).__name__, exc), changed=False,
                                  exception=traceback.format_exc())
        self.module.exit_json(**result)
