# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider registries: the modules' provider options are built from the classes, the
choices are the registry, every secret is no_log, the environment fallbacks are in place,
an unknown provider fails clearly, and the settings hooks replace the run's special cases."""

import pytest
from ansible.module_utils.basic import env_fallback

from ansible_collections.certflow.ssl.plugins.lookup.provider_options import LookupModule
from ansible_collections.certflow.ssl.plugins.module_utils import _module
from ansible_collections.certflow.ssl.plugins.module_utils._ca import CA_PROVIDERS, ca_provider_class
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._deploy import DEPLOY_TARGETS
from ansible_collections.certflow.ssl.plugins.module_utils._dns import DNS_PROVIDERS, dns_provider_class
from ansible_collections.certflow.ssl.plugins.module_utils._run import Run
from ansible_collections.certflow.ssl.plugins.test.certificate_name import TestModule as CertificateNameTests

REGISTRIES = [(CA_PROVIDERS, _module.provider_argument_spec), (DNS_PROVIDERS, _module.dns_argument_spec),
              (DEPLOY_TARGETS, DEPLOY_TARGETS.argument_spec)]

# The environment variables the modules read, as they were before the providers described
# themselves (AWX credential injectors and users' environments depend on them).
ENV_FALLBACKS = {
    'CERTFLOW_ACME_DIRECTORY': 'acme.directory',
    'CERTFLOW_ACME_ACCOUNT_KEY_SRC': 'acme.account_key_src',
    'CERTFLOW_ACME_ACCOUNT_KEY_CONTENT': 'acme.account_key_content',
    'CERTFLOW_ACME_ACCOUNT_EMAIL': 'acme.account_email',
    'CERTFLOW_ACME_EAB_KID': 'acme.eab_kid',
    'CERTFLOW_ACME_EAB_HMAC_KEY': 'acme.eab_hmac_key',
    'CERTFLOW_ACME_CA_BUNDLE': 'acme.ca_bundle',
    'CERTFLOW_ACME_ARI': 'acme.ari',
    'ALIBABA_CLOUD_ACCESS_KEY_ID': 'aliyun.access_key_id',
    'ALIBABA_CLOUD_ACCESS_KEY_SECRET': 'aliyun.access_key_secret',
    'ALIBABA_CLOUD_SECURITY_TOKEN': 'aliyun.security_token',
    'CERTFLOW_STORE_DIR': 'store_dir',
    'CERTFLOW_RFC2136_SERVER': 'rfc2136.server',
    'CERTFLOW_RFC2136_PORT': 'rfc2136.port',
    'CERTFLOW_RFC2136_KEY_NAME': 'rfc2136.key_name',
    'CERTFLOW_RFC2136_KEY_SECRET': 'rfc2136.key_secret',
    'CERTFLOW_RFC2136_KEY_ALGORITHM': 'rfc2136.key_algorithm',
    'CERTFLOW_DNS_NAMESERVERS': 'nameservers',
}
SECRETS = {'acme.account_key_content', 'acme.eab_hmac_key', 'aliyun.access_key_secret', 'aliyun.security_token',
           'rfc2136.key_secret', 'alidns.access_key_secret', 'alidns.security_token'}


def _walk(spec, prefix=''):
    for name, option in spec.items():
        yield prefix + name, option
        yield from _walk(option.get('options') or {}, prefix + name + '.')


def _all_options():
    spec = dict(_module.provider_argument_spec(), **_module.dns_argument_spec())
    return dict(_walk(spec))


@pytest.mark.parametrize('registry,build', REGISTRIES, ids=['ca', 'dns', 'cloud'])
def test_argument_spec_is_built_from_the_classes(registry, build):
    spec = build()
    for name, cls in registry.classes().items():
        assert cls.NAME == name
        if cls.OPTION and cls.ARGUMENT_SPEC is None:
            # A free-form option (lexicon: each DNS host has its own keys); secret_values masks its secrets.
            assert spec[cls.OPTION] == dict(type='dict')
        elif cls.OPTION:
            assert spec[cls.OPTION] == dict(type='dict', apply_defaults=True, options=cls.ARGUMENT_SPEC)
            # A copy: a module changing its spec must not change the class's.
            assert spec[cls.OPTION]['options'] is not cls.ARGUMENT_SPEC
        else:
            assert not cls.ARGUMENT_SPEC
    assert sorted(registry.settings_options()) == sorted(cls.OPTION for cls in registry.classes().values() if cls.OPTION)


@pytest.mark.parametrize('registry,build', REGISTRIES, ids=['ca', 'dns', 'cloud'])
def test_choices_are_the_registry(registry, build):
    chooser = build()[registry.option]
    assert chooser['choices'] == [name for name, cls in registry.classes().items() if cls.CHOOSABLE]
    assert chooser['default'] == registry.default and registry.default in chooser['choices']


def test_the_registries_hold_the_providers():
    assert CA_PROVIDERS.names() == ['acme', 'aliyun', 'local']
    assert DNS_PROVIDERS.names() == ['rfc2136', 'alidns', 'lexicon', 'manual']
    assert DEPLOY_TARGETS.names() == ['aliyun']
    # One aliyun dict serves the CA and the cloud target (module_defaults of the action group).
    assert DEPLOY_TARGETS.get('aliyun').ARGUMENT_SPEC == CA_PROVIDERS.get('aliyun').ARGUMENT_SPEC
    # method dns_manual picks the manual provider; dns_provider cannot.
    assert _module.dns_argument_spec()['dns_provider']['choices'] == ['rfc2136', 'alidns', 'lexicon']
    assert [ca_provider_class(name).NAME for name in CA_PROVIDERS.names()] == CA_PROVIDERS.names()
    assert [dns_provider_class(name).NAME for name in DNS_PROVIDERS.names()] == DNS_PROVIDERS.names()


def test_every_secret_is_no_log():
    options = _all_options()
    for path in SECRETS:
        assert options[path].get('no_log') is True, path
    for path, option in options.items():
        leaf = path.split('.')[-1]
        if any(word in leaf for word in ('secret', 'token', 'hmac', 'password', 'key_content')):
            assert option.get('no_log') is True, '%s looks like a secret but is not no_log' % path
        if option.get('no_log'):
            assert path in SECRETS, '%s is no_log but not a known secret (add it to SECRETS)' % path


def test_environment_fallbacks_are_in_place():
    found = {}
    for path, option in _all_options().items():
        fallback = option.get('fallback')
        if fallback:
            assert fallback[0] is env_fallback, path
            for variable in fallback[1]:
                found[variable] = path
    assert found == ENV_FALLBACKS


@pytest.mark.parametrize('method,option,name', [('ca', 'provider', 'nope'), ('dns', 'dns_provider', 'route53')])
def test_an_unknown_provider_fails_clearly(tmp_path, method, option, name):
    run = Run({'store_dir': str(tmp_path)})
    try:
        with pytest.raises(CertflowError) as failure:
            if method == 'ca':
                run.ca({'provider': name})
            else:
                run.dns({}, name)
    finally:
        run.close()
    registry = CA_PROVIDERS if method == 'ca' else DNS_PROVIDERS
    assert failure.value.msg == 'unknown %s %r; choose one of %s' % (option, name, ', '.join(sorted(registry.names())))


def test_lookup_of_an_unknown_kind_fails_clearly():
    from ansible.errors import AnsibleLookupError
    assert LookupModule().run(['ca']) == ['acme', 'aliyun', 'local_ca']
    assert LookupModule().run(['dns']) == ['rfc2136', 'alidns', 'lexicon']
    assert LookupModule().run(['cloud']) == ['aliyun']
    with pytest.raises(AnsibleLookupError, match="'cdn' is not one of ca, cloud, dns"):
        LookupModule().run(['cdn'])


def test_settings_hooks_take_what_the_run_special_cased():
    local = ca_provider_class('local')
    options = {'local_ca': {'path': '/ca'}, 'nameservers': ['192.0.2.53'], 'http_check_port': 8080}
    assert local.settings_from(options) == {'path': '/ca', 'nameservers': ['192.0.2.53'], 'http_port': 8080}
    # Its own settings win.
    own = {'local_ca': {'nameservers': ['192.0.2.1'], 'http_port': 81}, 'nameservers': ['192.0.2.53'], 'http_check_port': 8080}
    assert local.settings_from(own) == {'nameservers': ['192.0.2.1'], 'http_port': 81}
    alidns = dns_provider_class('alidns')
    assert alidns.settings_from({'alidns': {'ttl': 60}, 'aliyun': {'access_key_id': 'id'}}) == {
        'ttl': 60, 'aliyun': {'access_key_id': 'id'}}
    assert alidns.settings_from({}) == {'aliyun': {}}
    assert ca_provider_class('acme').settings_from({'acme': {'directory': 'u'}, 'nameservers': ['x']}) == {'directory': 'u'}
    assert dns_provider_class('manual').settings_from({'rfc2136': {'server': 'x'}}) == {}


def test_info_asks_the_ca_with_a_revocation_index(tmp_path):
    from ansible_collections.certflow.ssl.plugins.module_utils._ops.info import _revocation_lookup
    params = {'store_dir': str(tmp_path), 'provider': 'acme', 'acme': {}, 'local_ca': {'path': str(tmp_path / 'ca')}}
    run = Run(params)
    try:
        assert _revocation_lookup(run, 'acme') is None
        assert _revocation_lookup(run, 'no-such-provider') is None
        lookup = _revocation_lookup(run, 'local')
        assert lookup.__self__.NAME == 'local' and lookup.__name__ == 'revocation_status'
        assert _revocation_lookup(Run(dict(params, provider='local')), None).__self__.NAME == 'local'
    finally:
        run.close()


@pytest.mark.parametrize('name,valid', [
    ('www', True), ('wildcard.example.com', True), ('a' * 128, True), ('9_a-b.c', True),
    ('a' * 129, False), ('a..b', False), ('-a', False), ('.a', False), ('a b', False), ('x\n', False), ('', False),
    (None, False), (5, False), ('é', False),
])
def test_certificate_name_test_is_the_stores_rule(name, valid):
    assert CertificateNameTests().tests()['certificate_name'](name) is valid
