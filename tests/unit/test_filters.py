# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The to_punycode, from_punycode and cert_info filter plugins: Python calls, their doc files, and real Ansible templating."""

import datetime
import json
import os
import subprocess
import sys

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.certflow.ssl.plugins.filter import cert_info as cert_info_plugin
from ansible_collections.certflow.ssl.plugins.filter import idn as idn_plugin
from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from tests.lib.tools import tool

FILTER_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'plugins', 'filter')
UTC = datetime.timezone.utc


def self_signed(days_left, dns=('xn--fiqs8s.example', 'www.example.com')):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns[0])])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(0xabcdef).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days_left, hours=12))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in dns]), critical=False)
            .sign(key, hashes.SHA256()))
    return _crypto.cert_to_pem(cert)


@pytest.fixture(scope='module')
def cert_pem():
    return self_signed(days_left=20)


# ------------------------------------------------------------ python level

def test_filter_maps():
    assert idn_plugin.FilterModule().filters() == {'to_punycode': idn_plugin.to_punycode, 'from_punycode': idn_plugin.from_punycode}
    assert cert_info_plugin.FilterModule().filters() == {'cert_info': cert_info_plugin.cert_info}


def test_to_punycode_string_and_list():
    assert idn_plugin.to_punycode('中国.example') == 'xn--fiqs8s.example'
    assert idn_plugin.to_punycode(['例子.测试', 'Bücher.Example', '*.中国.example']) == [
        'xn--fsqu00a.xn--0zwm56d', 'xn--bcher-kva.example', '*.xn--fiqs8s.example']
    assert idn_plugin.to_punycode(('a.example',)) == ['a.example']
    assert idn_plugin.to_punycode([]) == []


def test_from_punycode_string_and_list():
    assert idn_plugin.from_punycode('xn--fiqs8s.example') == '中国.example'
    assert idn_plugin.from_punycode(['xn--fsqu00a.xn--0zwm56d', 'www.example.com', 'xn--zz.example']) == [
        '例子.测试', 'www.example.com', 'xn--zz.example']


def test_to_punycode_error_is_a_filter_error_naming_the_input():
    with pytest.raises(AnsibleFilterError) as caught:
        idn_plugin.to_punycode(['ok.example', 'bad_name.example'])
    assert "to_punycode: invalid domain name 'bad_name.example'" in str(caught.value)
    with pytest.raises(AnsibleFilterError, match="'192.0.2.1' is an IP address; put it in ip_addresses"):
        idn_plugin.to_punycode('192.0.2.1')


@pytest.mark.parametrize('value', [None, 5, {'a': 1}])
def test_idn_filters_reject_other_types(value):
    with pytest.raises(AnsibleFilterError, match='to_punycode expects a domain name or a list of domain names'):
        idn_plugin.to_punycode(value)
    with pytest.raises(AnsibleFilterError, match='from_punycode expects a domain name or a list of domain names'):
        idn_plugin.from_punycode(value)
    with pytest.raises(AnsibleFilterError, match='must be a string'):
        idn_plugin.to_punycode([value])


def test_cert_info_filter(cert_pem):
    info = cert_info_plugin.cert_info(cert_pem)
    assert info == _crypto.cert_summary(cert_pem)
    assert info['serial'] == 'abcdef'
    assert info['days_remaining'] == 20
    assert info['renewal_source'] == 'ratio'              # no renew_before_days: a third of the lifetime
    assert cert_info_plugin.cert_info(cert_pem, renew_before_days=30)['needs_renewal'] is True    # 20 days left
    assert info['domains'] == ['xn--fiqs8s.example', 'www.example.com']
    assert info['domains_unicode'] == ['中国.example', 'www.example.com']
    assert info['key_type'] == 'ec256'
    assert cert_info_plugin.cert_info(cert_pem, renew_before_days=10)['needs_renewal'] is False
    assert cert_info_plugin.cert_info(cert_pem, renew_before_days='10')['needs_renewal'] is False
    assert cert_info_plugin.cert_info(cert_pem.encode())['serial'] == 'abcdef'


def test_cert_info_uses_first_certificate(cert_pem):
    other = self_signed(days_left=200, dns=('second.example',))
    assert cert_info_plugin.cert_info(cert_pem + other)['domains'] == ['xn--fiqs8s.example', 'www.example.com']
    assert cert_info_plugin.cert_info(other + cert_pem)['domains'] == ['second.example']


def test_cert_info_errors(cert_pem):
    with pytest.raises(AnsibleFilterError, match=r'cert_info: no PEM certificate .* found in the cert_info input'):
        cert_info_plugin.cert_info('not a certificate')
    with pytest.raises(AnsibleFilterError, match='cert_info: certificate #1 in the cert_info input is corrupt'):
        cert_info_plugin.cert_info('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')
    with pytest.raises(AnsibleFilterError, match='cert_info expects PEM certificate text, got list'):
        cert_info_plugin.cert_info([cert_pem])
    with pytest.raises(AnsibleFilterError, match="renew_before_days must be a number of days, got 'soon'"):
        cert_info_plugin.cert_info(cert_pem, renew_before_days='soon')


# ------------------------------------------------------------- doc files

@pytest.mark.parametrize('filter_name', ['to_punycode', 'from_punycode', 'cert_info'])
def test_doc_file(filter_name):
    with open(os.path.join(FILTER_DIR, filter_name + '.yml')) as handle:
        doc = yaml.safe_load(handle)
    assert set(doc) == {'DOCUMENTATION', 'EXAMPLES', 'RETURN'}
    assert doc['DOCUMENTATION']['name'] == filter_name
    assert doc['DOCUMENTATION']['options']['_input']['required'] is True
    assert 'certflow.ssl.%s' % filter_name in doc['EXAMPLES']
    yaml.safe_load(doc['EXAMPLES'])                                  # examples are valid YAML
    assert '_value' in doc['RETURN']


def test_cert_info_doc_lists_every_returned_key(cert_pem):
    with open(os.path.join(FILTER_DIR, 'cert_info.yml')) as handle:
        documented = set(yaml.safe_load(handle)['RETURN']['_value']['contains'])
    assert documented == set(cert_info_plugin.cert_info(cert_pem))


@pytest.mark.parametrize('filter_name', ['to_punycode', 'from_punycode', 'cert_info'])
def test_ansible_doc_renders(filter_name):
    result = subprocess.run([tool('ansible-doc'), '-t', 'filter', 'certflow.ssl.' + filter_name], capture_output=True, text=True,
                            timeout=60, env=dict(os.environ, ANSIBLE_NOCOLOR='1'), check=False)
    assert result.returncode == 0, result.stderr
    assert 'certflow.ssl.' + filter_name in result.stdout
    assert 'ERROR' not in result.stderr


# ------------------------------------------------------- real templating

def test_filters_in_a_playbook(tmp_path, cert_pem):
    (tmp_path / 'cert.pem').write_text(cert_pem)
    playbook = tmp_path / 'play.yml'
    playbook.write_text("""
- hosts: localhost
  gather_facts: false
  vars:
    names: ['中国.example', '例子.测试', 'Bücher.Example']
    info: "{{ lookup('ansible.builtin.file', playbook_dir ~ '/cert.pem') | certflow.ssl.cert_info(renew_before_days=10) }}"
  tasks:
    - ansible.builtin.copy:
        dest: "{{ playbook_dir }}/out.json"
        content:
          ascii: "{{ names | certflow.ssl.to_punycode }}"
          back: "{{ names | certflow.ssl.to_punycode | certflow.ssl.from_punycode }}"
          one: "{{ 'xn--fiqs8s.example' | certflow.ssl.from_punycode }}"
          serial: "{{ info.serial }}"
          needs_renewal: "{{ info.needs_renewal }}"
          domains_unicode: "{{ info.domains_unicode }}"
    - name: a bad name fails the task with the filter's message
      ansible.builtin.debug:
        msg: "{{ 'bad_name.example' | certflow.ssl.to_punycode }}"
      register: bad
      ignore_errors: true
    - ansible.builtin.copy:
        dest: "{{ playbook_dir }}/err.json"
        content: "{{ bad }}"
""")
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_LOCALHOST_WARNING='0')
    result = subprocess.run([tool('ansible-playbook'), '-i', 'localhost,', '-c', 'local', '-e', 'ansible_python_interpreter=' + sys.executable,
                             str(playbook)], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads((tmp_path / 'out.json').read_text()) == {
        'ascii': ['xn--fiqs8s.example', 'xn--fsqu00a.xn--0zwm56d', 'xn--bcher-kva.example'],
        'back': ['中国.example', '例子.测试', 'bücher.example'],
        'one': '中国.example',
        'serial': 'abcdef',
        'needs_renewal': False,
        'domains_unicode': ['中国.example', 'www.example.com'],
    }
    failed = json.loads((tmp_path / 'err.json').read_text())
    assert failed['failed'] is True
    assert "invalid domain name 'bad_name.example'" in failed['msg']
