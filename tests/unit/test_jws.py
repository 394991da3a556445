# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JWS/JWK for ACME: RFC 7638 thumbprint, RFC 7515 appendix A signatures, ACME and EAB request shapes."""

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ansible_collections.certflow.ssl.plugins.module_utils._ca.acme import jws as _jws
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError


def _int(text):
    return int.from_bytes(_jws.b64u_decode(text), 'big')


def _decode_json(part):
    return json.loads(_jws.b64u_decode(part))


# RFC 7638 section 3.1
RFC7638_N = ('0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5'
             'JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLy'
             'rdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw')
RFC7638_THUMBPRINT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'

# RFC 7515 appendix A: the JWS Signing Input shared by A.1-A.3 (header differs)
RFC7515_PAYLOAD = 'eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ'

# A.1 HS256
A1_KEY = 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow'
A1_HEADER = 'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9'
A1_SIGNATURE = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'

# A.2 RS256 (PKCS#1 v1.5 is deterministic: the signature must match byte for byte)
A2 = {
    'n': 'ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwO'
         'WvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT'
         '6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ',
    'e': 'AQAB',
    'd': 'Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bK'
         'VRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT'
         '5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ',
}
A2_HEADER = 'eyJhbGciOiJSUzI1NiJ9'
A2_SIGNATURE = ('cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4'
                'BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv'
                'hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw')

# A.3 ES256 (random k: verify the RFC's signature, and our own)
A3 = {'x': 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', 'y': 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
      'd': 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI'}
A3_HEADER = 'eyJhbGciOiJFUzI1NiJ9'
A3_SIGNATURE = 'DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q'


def _a2_key():
    n, e, d = _int(A2['n']), _int(A2['e']), _int(A2['d'])
    p, q = rsa.rsa_recover_prime_factors(n, e, d)
    public = rsa.RSAPublicNumbers(e, n)
    return rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                 rsa.rsa_crt_iqmp(p, q), public).private_key()


def _a3_key():
    public = ec.EllipticCurvePublicNumbers(_int(A3['x']), _int(A3['y']), ec.SECP256R1())
    return ec.EllipticCurvePrivateNumbers(_int(A3['d']), public).private_key()


# ---------------------------------------------------------------- base64url

def test_b64u_has_no_padding_and_decodes_with_or_without_it():
    assert _jws.b64u(b'\xfb\xff') == '-_8'
    assert _jws.b64u_decode('-_8') == b'\xfb\xff'
    assert _jws.b64u_decode('-_8=') == b'\xfb\xff'
    assert _jws.b64u_decode('+/8=') == b'\xfb\xff'     # standard alphabet accepted too
    assert _jws.b64u('') == ''


# ------------------------------------------------------------- JWK / thumbprint

def test_rfc7638_thumbprint_of_the_example_rsa_key():
    public = rsa.RSAPublicNumbers(_int('AQAB'), _int(RFC7638_N)).public_key()
    jwk = _jws.jwk(public)
    assert jwk == {'kty': 'RSA', 'n': RFC7638_N, 'e': 'AQAB'}
    assert _jws.thumbprint(public) == RFC7638_THUMBPRINT
    # extra members (alg, kid) do not change the thumbprint
    assert _jws.thumbprint(dict(jwk, alg='RS256', kid='2011-04-29')) == RFC7638_THUMBPRINT


def test_ec_jwk_of_the_rfc7515_key():
    assert _jws.jwk(_a3_key()) == {'kty': 'EC', 'crv': 'P-256', 'x': A3['x'], 'y': A3['y']}
    assert _jws.jwk(_a3_key().public_key()) == _jws.jwk(_a3_key())


def test_ec_thumbprint_is_sha256_of_canonical_members():
    jwk = _jws.jwk(_a3_key())
    canonical = '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' % (A3['x'], A3['y'])
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b'=').decode()
    assert _jws.thumbprint(jwk) == expected


def test_ec_coordinates_keep_their_full_length():
    # Find a P-256 key whose x has a leading zero byte: the JWK must still carry 32 bytes.
    private_value = 1
    while True:
        key = ec.derive_private_key(private_value, ec.SECP256R1())
        if key.public_key().public_numbers().x.bit_length() <= 248:
            break
        private_value += 1
    assert len(_jws.b64u_decode(_jws.jwk(key)['x'])) == 32


def test_p384_jwk_and_es384_signature():
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = _jws.jwk(key)
    assert jwk['crv'] == 'P-384'
    assert len(_jws.b64u_decode(jwk['x'])) == 48 and len(_jws.b64u_decode(jwk['y'])) == 48
    assert _jws.algorithm(key) == 'ES384'
    signature = _jws.sign(key, b'data')
    assert len(signature) == 96
    assert _jws.verify(key.public_key(), b'data', signature)


def test_unsupported_keys_are_refused_clearly():
    with pytest.raises(CertflowError, match='unsupported key type'):
        _jws.jwk(ed25519.Ed25519PrivateKey.generate())
    with pytest.raises(CertflowError, match='unsupported EC curve'):
        _jws.jwk(ec.generate_private_key(ec.SECP256K1()))


# ------------------------------------------------------------- RFC 7515 signatures

def test_rfc7515_a1_hs256():
    signing_input = ('%s.%s' % (A1_HEADER, RFC7515_PAYLOAD)).encode()
    assert _jws.b64u(_jws.hs256(_jws.b64u_decode(A1_KEY), signing_input)) == A1_SIGNATURE


def test_rfc7515_a2_rs256_is_byte_exact():
    key = _a2_key()
    signing_input = ('%s.%s' % (A2_HEADER, RFC7515_PAYLOAD)).encode()
    assert _jws.algorithm(key) == 'RS256'
    assert _jws.b64u(_jws.sign(key, signing_input)) == A2_SIGNATURE
    assert _jws.verify(key.public_key(), signing_input, _jws.b64u_decode(A2_SIGNATURE))


def test_rfc7515_a3_es256_raw_signature_verifies():
    key = _a3_key()
    signing_input = ('%s.%s' % (A3_HEADER, RFC7515_PAYLOAD)).encode()
    assert _jws.verify(key.public_key(), signing_input, _jws.b64u_decode(A3_SIGNATURE), 'ES256')
    ours = _jws.sign(key, signing_input)
    assert len(ours) == 64           # R || S, 32 bytes each, not DER
    assert _jws.verify(key.public_key(), signing_input, ours)
    with pytest.raises(InvalidSignature):
        _jws.verify(key.public_key(), signing_input + b'x', ours)


# ---------------------------------------------------------------- ACME requests

@pytest.mark.parametrize('make_key', [lambda: ec.generate_private_key(ec.SECP256R1()),
                                      lambda: ec.generate_private_key(ec.SECP384R1()),
                                      lambda: rsa.generate_private_key(65537, 2048)],
                         ids=['ec256', 'ec384', 'rsa2048'])
def test_acme_jws_with_kid(make_key):
    key = make_key()
    body = _jws.acme_jws(key, 'https://ca.test/order', {'identifiers': []}, nonce='n1', kid='https://ca.test/acct/1')
    assert set(body) == {'protected', 'payload', 'signature'}
    protected = _decode_json(body['protected'])
    assert protected == {'alg': _jws.algorithm(key), 'nonce': 'n1', 'url': 'https://ca.test/order', 'kid': 'https://ca.test/acct/1'}
    assert _decode_json(body['payload']) == {'identifiers': []}
    signing_input = ('%s.%s' % (body['protected'], body['payload'])).encode()
    assert _jws.verify(key.public_key(), signing_input, _jws.b64u_decode(body['signature']))


def test_acme_jws_with_jwk_and_post_as_get():
    key = ec.generate_private_key(ec.SECP256R1())
    body = _jws.acme_jws(key, 'https://ca.test/new-acct', None, nonce='n2')
    protected = _decode_json(body['protected'])
    assert 'kid' not in protected
    assert protected['jwk'] == _jws.jwk(key)
    assert body['payload'] == ''      # POST-as-GET
    assert _jws.verify(key.public_key(), (body['protected'] + '.').encode(), _jws.b64u_decode(body['signature']))


def test_empty_object_payload_is_not_post_as_get():
    key = ec.generate_private_key(ec.SECP256R1())
    body = _jws.acme_jws(key, 'https://ca.test/chall', {}, nonce='n3', kid='k')
    assert _jws.b64u_decode(body['payload']) == b'{}'


# --------------------------------------------------------------------------- EAB

@pytest.mark.parametrize('strip_padding', [True, False])
def test_external_account_binding(strip_padding):
    account_key = ec.generate_private_key(ec.SECP256R1())
    mac_key = b'\x01\x02secret-mac-key\xff\xfe'
    encoded = base64.urlsafe_b64encode(mac_key).decode()
    if strip_padding:
        encoded = encoded.rstrip('=')
    eab = _jws.eab_jws(account_key, 'kid-1', encoded, 'https://ca.test/new-acct')
    protected = _decode_json(eab['protected'])
    assert protected == {'alg': 'HS256', 'kid': 'kid-1', 'url': 'https://ca.test/new-acct'}   # no nonce
    assert _decode_json(eab['payload']) == _jws.jwk(account_key)
    expected = hmac.new(mac_key, ('%s.%s' % (eab['protected'], eab['payload'])).encode(), hashlib.sha256).digest()
    assert _jws.b64u_decode(eab['signature']) == expected


def test_eab_needs_both_values():
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(CertflowError, match='eab_kid and eab_hmac_key'):
        _jws.eab_jws(key, 'kid-1', '', 'https://ca.test/new-acct')


# ------------------------------------------------------- key authorization / dns-01

def test_key_authorization_and_dns01_value():
    public = rsa.RSAPublicNumbers(_int('AQAB'), _int(RFC7638_N)).public_key()
    token = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA'
    key_auth = _jws.key_authorization(token, public)
    assert key_auth == token + '.' + RFC7638_THUMBPRINT
    assert _jws.key_authorization(token, _jws.jwk(public)) == key_auth
    expected = base64.urlsafe_b64encode(hashlib.sha256(key_auth.encode()).digest()).decode().rstrip('=')
    assert _jws.dns01_txt_value(key_auth) == expected
    assert len(_jws.dns01_txt_value(key_auth)) == 43
