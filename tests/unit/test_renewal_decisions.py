# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ARI (RFC 9773) and the renewal decision: the CertID, the answer's checks,
Retry-After limits, the kept answer and the time picked in the window."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import renewal_info as ari
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._ops import renewal
from ansible_collections.certflow.ssl.plugins.module_utils._ops.certificate_request import CertificateRequest
from ansible_collections.certflow.ssl.plugins.module_utils._store import Store

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
DAY = datetime.timedelta(days=1)


def certificate(serial=0x87654321, aki=bytes.fromhex('69885B6B87464041E1B37B847BA0AE2CDE01C8D4'), days=90, not_before=NOW - DAY):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'ari.example')])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(serial).not_valid_before(not_before).not_valid_after(not_before + days * DAY))
    if aki is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(aki, None, None), critical=False)
    return _crypto.cert_to_pem(builder.sign(key, hashes.SHA256()))


def test_cert_id_is_the_rfc_9773_example():
    # RFC 9773 section 4.1: keyIdentifier 69:88:5B:..., serial 00:87:65:43:21 (DER keeps the leading zero)
    assert ari.cert_id(certificate()) == 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE'
    assert ari.cert_id(certificate(serial=0x7f)).endswith('.fw')
    assert ari.cert_id(certificate(aki=None)) is None


@pytest.mark.parametrize('seconds, expected', [(None, 21600.0), (0, 60.0), (5, 60.0), (3600, 3600.0), (10 ** 7, 86400.0)])
def test_retry_after_limits(seconds, expected):
    assert ari.clamp_retry_after(seconds) == expected


def test_answer_checks():
    start, end, url = ari.parse_answer({'suggestedWindow': {'start': '2026-06-02T00:00:00.123456789Z', 'end': '2026-06-03T00:00:00+02:00'},
                                        'explanationURL': 'https://ca.example/why'})
    assert (start, end, url) == (datetime.datetime(2026, 6, 2, 0, 0, 0, 123456, tzinfo=UTC),
                                 datetime.datetime(2026, 6, 2, 22, 0, 0, tzinfo=UTC), 'https://ca.example/why')
    assert ari.parse_answer({'suggestedWindow': {'start': '2026-06-02T00:00:00Z', 'end': '2026-06-03T00:00:00Z'},
                             'explanationURL': 'javascript:alert(1)'})[2] is None
    for broken, problem in ((None, 'not a JSON object'), ({}, 'no suggestedWindow'),
                            ({'suggestedWindow': {'start': '2026-06-02', 'end': '2026-06-03T00:00:00Z'}}, 'RFC 3339'),
                            ({'suggestedWindow': {'start': '2026-06-02T00:00:00Z\n', 'end': '2026-06-03T00:00:00Z'}}, 'RFC 3339'),
                            ({'suggestedWindow': {'start': '2026-06-02T00:00:00Z', 'end': '2026-06-02T00:00:00Z'}}, 'before it starts')):
        with pytest.raises(ValueError, match=problem):
            ari.parse_answer(broken)


class FakeCA:
    def __init__(self, start, end, retry_after=3600.0, error=None):
        self.answer = {'cert_id': 'x.y', 'start': start, 'end': end, 'explanation_url': None, 'retry_after': retry_after}
        self.error = error
        self.asked = 0

    def renewal_info(self, cert_pem):
        self.asked += 1
        if self.error:
            raise CertflowError(self.error)
        return dict(self.answer)


def advise(store, pem, ca, now=NOW, **kwargs):
    summary = _crypto.cert_summary(pem, now=now)
    return renewal.advise(store, 'ari', summary, pem, ca, now=now, **kwargs)


def test_window_time_is_picked_once_and_kept_until_retry_after(tmp_path):
    store, pem = Store(str(tmp_path)), certificate()
    ca = FakeCA(NOW + 50 * DAY, NOW + 52 * DAY)
    first = advise(store, pem, ca)
    assert first['renewal_source'] == 'ari' and first['needs_renewal'] is False
    assert NOW + 50 * DAY <= datetime.datetime.fromisoformat(first['renewal_time'].replace('Z', '+00:00')) <= NOW + 52 * DAY
    assert first['renewal'] == {'source': 'ari', 'window_start': first['renewal_window']['start'],
                                'window_end': first['renewal_window']['end'], 'renew_at': first['renewal_time'],
                                'explanation_url': None}
    assert advise(store, pem, ca, now=NOW + datetime.timedelta(minutes=59))['renewal_time'] == first['renewal_time']
    assert ca.asked == 1, 'not asked again within Retry-After'
    assert advise(store, pem, ca, now=NOW + 2 * DAY)['renewal_time'] == first['renewal_time']
    assert ca.asked == 2, 'asked again after it, the same window keeps the time picked'
    ca.answer.update(start=NOW + 2 * DAY - datetime.timedelta(hours=2), end=NOW + 2 * DAY - datetime.timedelta(hours=1))
    moved = advise(store, pem, ca, now=NOW + 4 * DAY)
    assert moved['needs_renewal'] is True and moved['renewal_time'] != first['renewal_time']


def test_times_picked_spread_over_the_window(tmp_path):
    picked = set()
    for index in range(20):
        store = Store(str(tmp_path / str(index)))
        picked.add(advise(store, certificate(), FakeCA(NOW + 50 * DAY, NOW + 52 * DAY))['renewal_time'])
    assert len(picked) > 10


def test_broken_answer_warns_and_the_lifetime_decides(tmp_path):
    store, pem, warnings = Store(str(tmp_path)), certificate(days=6), []
    ca = FakeCA(None, None, error='the renewal information from X is not usable: no suggestedWindow')
    result = advise(store, pem, ca, now=NOW + 4 * DAY + datetime.timedelta(hours=1), warn=warnings.append)
    assert result['renewal_source'] == 'ratio' and result['needs_renewal'] is True      # a third of 6 days is left
    assert 'no suggestedWindow' in warnings[0] and 'lifetime rule' in warnings[0]
    advise(store, pem, ca, now=NOW + 4 * DAY + datetime.timedelta(hours=2), warn=warnings.append)
    assert ca.asked == 1, 'a broken answer is not asked for again for six hours'


def test_what_skips_the_question(tmp_path):
    store, ca = Store(str(tmp_path)), FakeCA(NOW, NOW + DAY)
    summary = _crypto.cert_summary(certificate(), renew_before_days=30, now=NOW)
    assert renewal.advise(store, 'ari', summary, None, ca, renew_before_days=30, now=NOW)['renewal_source'] == 'days'
    expired = certificate(days=1, not_before=NOW - 2 * DAY)
    assert advise(store, expired, ca)['renewal_source'] == 'ratio'
    assert ca.asked == 0
    pem = certificate()
    advise(store, pem, ca)
    advise(store, pem, ca, revoked=True)
    advise(store, pem, ca, revoked=True)
    assert ca.asked == 2, 'asked again once after a revocation, then kept'


def test_check_mode_keeps_nothing(tmp_path):
    store, pem, ca = Store(str(tmp_path)), certificate(), FakeCA(NOW + DAY, NOW + 2 * DAY)
    advise(store, pem, ca, save=False)
    assert store.load_renewal('ari') is None


@pytest.mark.parametrize('fraction', [0, 1, 1.5, -0.1])
def test_renew_before_ratio_bounds(fraction):
    with pytest.raises(CertflowError, match='renew_before_ratio must be between 0 and 1'):
        CertificateRequest({'domains': ['a.example'], 'renew_before_ratio': fraction})


@pytest.mark.parametrize('days, left, due', [(6, 2.1, False), (6, 1.9, True), (45, 15.1, False), (45, 14.9, True),
                                             (90, 30.1, False), (90, 29.9, True)])
def test_a_third_of_the_lifetime(days, left, due):
    pem = certificate(days=days, not_before=NOW - (days - left) * DAY)
    summary = _crypto.cert_summary(pem, now=NOW)
    assert summary['renewal_source'] == 'ratio' and summary['needs_renewal'] is due


def test_without_asking_only_a_kept_answer_is_used(tmp_path):
    """cert_info in check mode: the CA is not asked and nothing is written, a kept answer still counts."""
    store, pem = Store(str(tmp_path)), certificate()
    ca = FakeCA(NOW + 50 * DAY, NOW + 52 * DAY)

    class FakeRun:
        def __init__(self):
            self.store, self.warnings = store, []

        def warn(self, msg):
            self.warnings.append(msg)

    def items():
        return [('ari', _crypto.cert_summary(pem, now=NOW), pem, {'provider': 'acme'})]
    unasked = renewal.advise_all(FakeRun(), items(), {}, now=NOW, ask=False)[0]
    assert unasked['renewal_source'] == 'ratio' and ca.asked == 0
    assert store.load_renewal('ari') is None, 'nothing kept without asking'
    kept = advise(store, pem, ca)       # a normal run keeps the CA's answer
    assert kept['renewal_source'] == 'ari' and ca.asked == 1
    again = renewal.advise_all(FakeRun(), items(), {}, now=NOW, ask=False)[0]
    assert again['renewal_source'] == 'ari' and again['renewal_time'] == kept['renewal_time'] and ca.asked == 1
