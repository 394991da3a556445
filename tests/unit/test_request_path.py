# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The request path end to end at the local CA (no network): one
CertificateRequest per certificate, its CSR parsed once, and the provider
taking it as it is."""

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.local.provider import LocalCAProvider
from ansible_collections.certflow.ssl.plugins.module_utils._ops.batch import request_all
from ansible_collections.certflow.ssl.plugins.module_utils._ops.certificate_request import CertificateRequest
from ansible_collections.certflow.ssl.plugins.module_utils._store import Store


def _params(tmp_path, **options):
    params = {'store_dir': str(tmp_path / 'store'), 'provider': 'local', 'local_ca': {'path': str(tmp_path / 'ca')},
              'validation': 'none', 'timeout': 60}
    params.update(options)
    return params


def test_csr_is_parsed_once_through_a_request(tmp_path, monkeypatch):
    key = _crypto.generate_private_key('ec256')
    csr_path = tmp_path / 'app.csr'
    csr_path.write_text(_crypto.build_csr(key, ['app.internal', 'db.internal']))
    parses = []
    real_parse = _crypto.x509.load_pem_x509_csr
    monkeypatch.setattr(_crypto.x509, 'load_pem_x509_csr', lambda data: parses.append(data) or real_parse(data))
    result = request_all(_params(tmp_path, csr=str(csr_path), private_key_content=_crypto.private_key_to_pem(key)), False)
    (entry,) = result['certificates']
    assert (entry['status'], entry['action'], entry['domains']) == ('pending_validation', 'create', ['app.internal', 'db.internal'])
    assert len(parses) == 1


def test_the_provider_takes_the_request_unchanged(tmp_path, monkeypatch):
    seen = []
    real_create = LocalCAProvider.create_order

    def create_order(provider, request, csr_pem, submit=True, renews=None):
        seen.append((request, [dict(i) for i in request.identifiers]))
        return real_create(provider, request, csr_pem, submit=submit, renews=renews)

    monkeypatch.setattr(LocalCAProvider, 'create_order', create_order)
    params = _params(tmp_path, certificates=[{'domains': ['App.Internal.', 'app.internal', 'bücher.internal']},
                                             {'name': 'ip', 'ip_addresses': ['2001:DB8::0:1'], 'validation': 'http'}])
    result = request_all(params, False)
    assert [entry['status'] for entry in result['certificates']] == ['pending_validation', 'pending_validation']
    assert [type(request) for request, _identifiers in seen] == [CertificateRequest, CertificateRequest]
    store = Store(params['store_dir'])
    for request, identifiers in seen:
        # What the provider was given is what the order holds: nothing normalised or overwritten afterwards.
        assert request.identifiers == identifiers
        order = store.load_order(request.name)
        assert order['identifiers'] == identifiers and order['validation'] == request.validation
    assert [identifiers for _request, identifiers in seen] == [
        [{'type': 'dns', 'value': 'app.internal'}, {'type': 'dns', 'value': 'xn--bcher-kva.internal'}],
        [{'type': 'ip', 'value': '2001:db8::1'}]]
