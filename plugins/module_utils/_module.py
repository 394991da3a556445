# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module wrapper: shared argument specs (with environment fallbacks and
no_log on every secret) and the one place where CertflowError becomes
fail_json. Every module reads the same: build the spec, call run()."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.errors import UnsupportedError

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._deps import missing_packages

KEY_TYPES = ['ec256', 'ec384', 'rsa2048', 'rsa3072', 'rsa4096']


def _env(*names):
    return (env_fallback, list(names))


def provider_argument_spec():
    """provider, acme, aliyun, local_ca, store_dir, timeout (doc fragment: certflow.ssl.provider)."""
    return dict(
        provider=dict(type='str', choices=['acme', 'aliyun', 'local'], default='acme'),
        acme=dict(type='dict', apply_defaults=True, options=dict(
            directory=dict(type='str', fallback=_env('CERTFLOW_ACME_DIRECTORY')),
            account_key_src=dict(type='path', no_log=False, fallback=_env('CERTFLOW_ACME_ACCOUNT_KEY_SRC')),
            account_key_content=dict(type='str', no_log=True, fallback=_env('CERTFLOW_ACME_ACCOUNT_KEY_CONTENT')),
            account_email=dict(type='str', fallback=_env('CERTFLOW_ACME_ACCOUNT_EMAIL')),
            eab_kid=dict(type='str', fallback=_env('CERTFLOW_ACME_EAB_KID')),
            eab_hmac_key=dict(type='str', no_log=True, fallback=_env('CERTFLOW_ACME_EAB_HMAC_KEY')),
            ca_bundle=dict(type='path', fallback=_env('CERTFLOW_ACME_CA_BUNDLE')),
            validate_certs=dict(type='bool', default=True),
            preferred_chain=dict(type='str'),
        )),
        aliyun=dict(type='dict', apply_defaults=True, options=dict(
            access_key_id=dict(type='str', no_log=False, fallback=_env('ALIBABA_CLOUD_ACCESS_KEY_ID')),
            access_key_secret=dict(type='str', no_log=True, fallback=_env('ALIBABA_CLOUD_ACCESS_KEY_SECRET')),
            security_token=dict(type='str', no_log=True, fallback=_env('ALIBABA_CLOUD_SECURITY_TOKEN')),
            endpoint=dict(type='str'),
            region=dict(type='str'),
            product=dict(type='str'),
            ca_bundle=dict(type='path'),
            validate_certs=dict(type='bool', default=True),
        )),
        local_ca=dict(type='dict', apply_defaults=True, options=dict(
            path=dict(type='path'),
            key_type=dict(type='str', choices=KEY_TYPES, default='ec256'),
            validity_days=dict(type='int', default=90),
            quota=dict(type='int'),
            crl_url=dict(type='str'),
            root_name=dict(type='str'),
            intermediate_name=dict(type='str'),
        )),
        store_dir=dict(type='path', fallback=_env('CERTFLOW_STORE_DIR'), default='~/.certflow'),
        timeout=dict(type='int', default=600),
    )


def dns_argument_spec():
    """dns_provider, rfc2136, alidns, nameservers, propagation_timeout (doc fragment: certflow.ssl.dns)."""
    return dict(
        dns_provider=dict(type='str', choices=['rfc2136', 'alidns'], default='rfc2136'),
        rfc2136=dict(type='dict', apply_defaults=True, options=dict(
            server=dict(type='str', fallback=_env('CERTFLOW_RFC2136_SERVER')),
            port=dict(type='int', default=53, fallback=_env('CERTFLOW_RFC2136_PORT')),
            key_name=dict(type='str', no_log=False, fallback=_env('CERTFLOW_RFC2136_KEY_NAME')),
            key_secret=dict(type='str', no_log=True, fallback=_env('CERTFLOW_RFC2136_KEY_SECRET')),
            key_algorithm=dict(type='str', no_log=False, default='hmac-sha256', fallback=_env('CERTFLOW_RFC2136_KEY_ALGORITHM')),
            zone=dict(type='str'),
        )),
        # No environment fallbacks here: the alidns provider takes the aliyun
        # credentials first and only then the environment.
        alidns=dict(type='dict', apply_defaults=True, options=dict(
            access_key_id=dict(type='str', no_log=False),
            access_key_secret=dict(type='str', no_log=True),
            security_token=dict(type='str', no_log=True),
            endpoint=dict(type='str'),
            domain=dict(type='str'),
            ttl=dict(type='int', default=600),
            ca_bundle=dict(type='path'),
            validate_certs=dict(type='bool', default=True),
        )),
        nameservers=dict(type='list', elements='str', fallback=_env('CERTFLOW_DNS_NAMESERVERS')),
        propagation_timeout=dict(type='int', default=120),
    )


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
        self.check_mode = self.module.check_mode
        self.diff = self.module._diff
        if entry_options is not None and self.params.get('certificates') is not None:
            self.params['certificates'] = self._checked_entries(entry_spec(entry_options))
        missing = missing_packages()
        if missing:
            self.module.fail_json(msg=missing_required_lib(' and '.join(missing)), changed=False)

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
            checked.append(result.validated_parameters)
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
