# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local CA's real validation against BIND9 (TXT records) and nginx
(files under /.well-known/pki-validation/)."""

import os
import secrets
import time

import pytest

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import ProviderContext
from ansible_collections.certflow.ssl.plugins.module_utils._ca.local.provider import LocalCAProvider
from ansible_collections.certflow.ssl.plugins.module_utils._ops.certificate_request import CertificateRequest

FAILING_TIMEOUT = 2.0


@pytest.fixture
def make_provider(services, tmp_path):
    def make(timeout=30.0):
        settings = {'path': str(tmp_path / 'ca'), 'nameservers': [services.bind.nameserver], 'http_port': services.web.http_port}
        return LocalCAProvider(settings, ProviderContext(timeout=timeout))
    return make


def _unique(services, label):
    return '%s-%s.%s' % (label, secrets.token_hex(4), services.bind.zone)


def _order(provider, domains, validation):
    key = _crypto.generate_private_key('ec256')
    csr = _crypto.build_csr(key, domains)
    return key, provider.create_order(CertificateRequest({'name': domains[0], 'domains': domains, 'validation': validation}), csr)


def _write_file(webroot, file_path, content):
    path = os.path.join(webroot, file_path.lstrip('/'))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(content)
    return path


def _assert_issued(provider, order, key):
    assert provider.poll(order) == ('issued', None)
    issued = provider.fetch(order)
    assert _crypto.cert_matches_key(issued['cert'], key)
    assert _crypto.verify_chain(issued['cert'], issued['chain'], roots=provider.root_pem()) == (True, '')
    return issued


def test_dns_validation_issues(services, make_provider):
    provider = make_provider()
    domains = [_unique(services, 'lca-dns'), _unique(services, 'lca-dns2')]
    key, order = _order(provider, domains, 'dns')
    assert order['status'] == 'pending_validation'
    commands = ['update add %s. 5 TXT "%s"' % (c['record_name'], c['record_value']) for c in order['challenges']]
    services.bind.nsupdate(commands)
    try:
        for challenge in provider.challenges(order):
            provider.ready(order, challenge)
            assert challenge['status'] == 'valid'
        assert order['status'] == 'processing'
        issued = _assert_issued(provider, order, key)
        assert _crypto.cert_summary(issued['cert'])['domains'] == domains
    finally:
        services.bind.nsupdate(['update delete %s. TXT' % c['record_name'] for c in order['challenges']])


def test_dns_validation_follows_cname_to_delegated_zone(services, make_provider):
    """_acme-challenge.cname.certflow.test is a CNAME into delegated.test: the record lives there."""
    provider = make_provider()
    key, order = _order(provider, ['cname.%s' % services.bind.zone], 'dns')
    challenge = order['challenges'][0]
    target = '_acme-challenge.cname.%s.' % services.bind.delegated_zone
    services.bind.nsupdate(['update add %s 5 TXT "%s"' % (target, challenge['record_value'])])
    try:
        provider.ready(order, challenge)
        _assert_issued(provider, order, key)
    finally:
        services.bind.nsupdate(['update delete %s TXT "%s"' % (target, challenge['record_value'])])


def test_missing_txt_fails_with_clear_timeout_message(services, make_provider):
    provider = make_provider(timeout=FAILING_TIMEOUT)
    _key, order = _order(provider, [_unique(services, 'lca-missing')], 'dns')
    challenge = order['challenges'][0]
    started = time.monotonic()
    provider.ready(order, challenge)
    assert time.monotonic() - started < FAILING_TIMEOUT + 8
    assert challenge['status'] == 'invalid'
    assert provider.poll(order) == ('failed', None)
    message = order['error']
    assert 'local CA could not validate %s' % challenge['domain'] in message
    assert challenge['record_name'] in message
    assert 'not visible on %s' % services.bind.nameserver in message
    # A failed order stays failed; the next run starts a new one.
    assert provider.find_order(CertificateRequest({'name': order['provider_data']['name'], 'validation': 'dns',
                                                   'domains': [i['value'] for i in order['identifiers']]})) is None


def test_http_validation_issues(services, make_provider):
    provider = make_provider()
    domain = _unique(services, 'lca-web')
    key, order = _order(provider, [domain], 'http')
    challenge = order['challenges'][0]
    assert challenge['url'] == 'http://%s%s' % (domain, challenge['file_path'])
    path = _write_file(services.web.webroot, challenge['file_path'], challenge['file_content'] + '\n')
    try:
        provider.ready(order, challenge)
        assert challenge['status'] == 'valid'
        _assert_issued(provider, order, key)
    finally:
        os.unlink(path)


def test_http_wrong_content_fails_with_clear_message(services, make_provider):
    provider = make_provider(timeout=FAILING_TIMEOUT)
    domain = _unique(services, 'lca-wrong')
    _key, order = _order(provider, [domain], 'http')
    challenge = order['challenges'][0]
    path = _write_file(services.web.webroot, challenge['file_path'], 'not-the-token')
    try:
        provider.ready(order, challenge)
    finally:
        os.unlink(path)
    assert provider.poll(order) == ('failed', None)
    message = order['error']
    assert 'local CA could not validate %s (file %s)' % (domain, challenge['url']) in message
    assert "HTTP 200, body 'not-the-token'" in message


def test_http_missing_file_fails_with_clear_message(services, make_provider):
    provider = make_provider(timeout=FAILING_TIMEOUT)
    _key, order = _order(provider, [_unique(services, 'lca-nofile')], 'http')
    provider.ready(order, order['challenges'][0])
    assert provider.poll(order) == ('failed', None)
    assert 'HTTP 404' in order['error']
