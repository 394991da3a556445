# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificate role's entry filters: certificate_entry_problems (what the role refuses),
certificate_validate_options (what cert_validate gets) and certificate_webroot_targets (where the role copies
challenge files)."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.certflow.ssl.plugins.filter.certificate_entries import (
    certificate_entry_problems, certificate_validate_options, certificate_webroot_targets)

VALIDATE_KEYS = ['name', 'method', 'webroot', 'http_check_port', 'acme', 'dns_provider', 'rfc2136']
ON_CONTROL_NODE = {'validation': 'http', 'webroot': '/var/www/html', 'webroot_hosts': []}
ON_WEB_HOSTS = {'validation': 'http', 'webroot': '/var/www/html', 'webroot_hosts': ['web1', 'web2']}


# --------------------------------------------------------------------------- certificate_entry_problems

@pytest.mark.parametrize('entry', [
    {'name': 'www', 'domains': ['www.example.com']},
    {'name': 'ip', 'ip_addresses': ['192.0.2.1']},
    {'name': 'csr', 'csr': '/tmp/x.csr'},
    {'name': 'csr-text', 'csr_content': '-----BEGIN CERTIFICATE REQUEST-----'},
])
def test_entries_with_a_plain_name_and_names_to_certify_are_valid(entry):
    assert certificate_entry_problems([entry]) == []


@pytest.mark.parametrize('entry,shown', [
    ({'name': 'x\n', 'domains': ['x.example.com']}, 'x\n'),
    ({'name': '../x', 'domains': ['x.example.com']}, '../x'),
    ({'name': '.hidden', 'domains': ['x.example.com']}, '.hidden'),
    ({'name': '', 'domains': ['x.example.com']}, '(no name)'),
    ({'name': 'empty', 'domains': [], 'csr': ''}, 'empty'),
    ({'name': 'nothing'}, 'nothing'),
])
def test_entries_without_a_plain_name_or_names_are_refused_by_name(entry, shown):
    (problem,) = certificate_entry_problems([{'name': 'fine', 'domains': ['a.example.com']}, entry])
    assert problem.startswith('entry %s of certflow_certificates is not valid: ' % shown), problem


def test_problems_never_show_values():
    problems = certificate_entry_problems([{'name': 'k', 'private_key_content': 'SECRET-KEY', 'rfc2136': {'key_secret': 'TSIG'}}])
    assert len(problems) == 1 and 'SECRET' not in problems[0] and 'TSIG' not in problems[0]


# --------------------------------------------------------------------------- certificate_validate_options

def test_validate_options_keep_the_cert_validate_keys_and_resolve_the_method():
    certificates = [
        {'name': 'a', 'domains': ['a.example.com'], 'dns_provider': 'rfc2136', 'rfc2136': {'server': 'ns'}, 'validation': 'dns'},
        {'name': 'b', 'domains': ['b.example.com'], 'validation': 'dns', 'method': 'dns_manual', 'key_type': 'rsa2048'},
        {'name': 'c', 'domains': ['c.example.com']},
    ]
    assert certificate_validate_options(certificates, VALIDATE_KEYS, dict(ON_CONTROL_NODE, validation='none')) == [
        {'name': 'a', 'dns_provider': 'rfc2136', 'rfc2136': {'server': 'ns'}, 'method': 'dns'},
        {'name': 'b', 'method': 'dns_manual'},
        {'name': 'c', 'method': 'none'},
    ]


def test_webroot_goes_to_cert_validate_only_for_file_validation_on_the_control_node():
    own = {'name': 'own', 'domains': ['o.example.com'], 'webroot': '/srv/own'}
    plain = {'name': 'plain', 'domains': ['p.example.com']}
    dns = {'name': 'dns', 'domains': ['d.example.com'], 'validation': 'dns', 'webroot': '/srv/dns'}
    hosted = {'name': 'hosted', 'domains': ['h.example.com'], 'webroot_hosts': ['web1'], 'webroot': '/srv/h'}
    options = certificate_validate_options([own, plain, dns, hosted], VALIDATE_KEYS, ON_CONTROL_NODE)
    assert [entry.get('webroot') for entry in options] == ['/srv/own', '/var/www/html', None, None]
    assert certificate_validate_options([dict(plain, webroot='')], VALIDATE_KEYS, ON_CONTROL_NODE) == [{'name': 'plain', 'method': 'http'}]
    on_hosts = certificate_validate_options([own, dict(own, name='local', webroot_hosts=[])], VALIDATE_KEYS, ON_WEB_HOSTS)
    assert [entry.get('webroot') for entry in on_hosts] == [None, '/srv/own']


# --------------------------------------------------------------------------- certificate_webroot_targets

def test_webroot_targets_are_the_file_validations_on_web_hosts():
    certificates = [
        {'name': 'default', 'domains': ['a.example.com']},
        {'name': 'own', 'domains': ['b.example.com'], 'webroot': '', 'webroot_hosts': ['web3']},
        {'name': 'dns', 'domains': ['c.example.com'], 'validation': 'dns'},
        {'name': 'local', 'domains': ['d.example.com'], 'webroot_hosts': []},
    ]
    assert certificate_webroot_targets(certificates, ON_WEB_HOSTS) == {
        'default': {'hosts': ['web1', 'web2'], 'webroot': '/var/www/html'},
        'own': {'hosts': ['web3'], 'webroot': ''},
    }
    assert certificate_webroot_targets(certificates, ON_CONTROL_NODE) == {'own': {'hosts': ['web3'], 'webroot': ''}}


@pytest.mark.parametrize('value', [None, {'name': 'x'}, ['x']])
def test_wrong_input_types_fail_the_template(value):
    for call in (certificate_entry_problems, lambda v: certificate_validate_options(v, VALIDATE_KEYS, ON_CONTROL_NODE),
                 lambda v: certificate_webroot_targets(v, ON_CONTROL_NODE)):
        with pytest.raises(AnsibleFilterError):
            call(value)
