# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JSON Web Signature and JSON Web Key pieces that ACME (RFC 8555) needs, built on cryptography alone."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import hmac
import json

try:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
except ImportError:  # reported by the module wrapper (module_utils/_deps.py)
    pass

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError


# curve name -> (JWK crv, JWS alg, hash name in cryptography's hashes module, coordinate/signature half size in bytes)
_EC_CURVES = {
    'secp256r1': ('P-256', 'ES256', 'SHA256', 32),
    'secp384r1': ('P-384', 'ES384', 'SHA384', 48),
    'secp521r1': ('P-521', 'ES512', 'SHA512', 66),
}
_EC_BY_ALG = dict((alg, (hash_name, size)) for _crv, alg, hash_name, size in _EC_CURVES.values())


def b64u(data):
    """base64url without padding (RFC 7515 section 2)."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def b64u_decode(text):
    """Decode base64url with or without padding; standard base64 (+/) is accepted too,
    because EAB keys are handed out in both spellings."""
    if isinstance(text, bytes):
        text = text.decode('ascii')
    text = ''.join(text.split()).rstrip('=').replace('+', '-').replace('/', '_')
    try:
        return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))
    except (ValueError, TypeError):
        raise CertflowError('value is not valid base64url')


def json_bytes(value):
    """Compact JSON, as sent over the wire."""
    return json.dumps(value, separators=(',', ':'), sort_keys=True).encode('utf-8')


def _int_b64u(number, length=None):
    if length is None:
        length = max(1, (number.bit_length() + 7) // 8)
    return b64u(number.to_bytes(length, 'big'))


def _public(key):
    if isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        return key.public_key()
    if isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        return key
    raise CertflowError('unsupported key type for JWS: %s (use an EC P-256/P-384 or an RSA key)' % type(key).__name__)


def _curve_info(public_key):
    info = _EC_CURVES.get(public_key.curve.name)
    if info is None:
        raise CertflowError('unsupported EC curve for JWS: %s (use P-256 or P-384)' % public_key.curve.name)
    return info


def jwk(key):
    """The public JWK (RFC 7517/7518) of a private or public key; only the required members,
    so it is also the input of the RFC 7638 thumbprint."""
    public_key = _public(key)
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        return {'kty': 'RSA', 'n': _int_b64u(numbers.n), 'e': _int_b64u(numbers.e)}
    crv, _alg, _hash, size = _curve_info(public_key)
    numbers = public_key.public_numbers()
    return {'kty': 'EC', 'crv': crv, 'x': _int_b64u(numbers.x, size), 'y': _int_b64u(numbers.y, size)}


_THUMBPRINT_MEMBERS = {'RSA': ('e', 'kty', 'n'), 'EC': ('crv', 'kty', 'x', 'y'), 'oct': ('k', 'kty')}


def thumbprint(key_or_jwk):
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of a key or of a JWK dict."""
    public_jwk = key_or_jwk if isinstance(key_or_jwk, dict) else jwk(key_or_jwk)
    members = _THUMBPRINT_MEMBERS.get(public_jwk.get('kty'))
    if members is None:
        raise CertflowError('cannot compute a thumbprint for JWK type %r' % public_jwk.get('kty'))
    canonical = dict((name, public_jwk[name]) for name in members)
    return b64u(hashlib.sha256(json_bytes(canonical)).digest())


def algorithm(key):
    """The JWS ``alg`` for a key: ES256/ES384(/ES512) by curve, RS256 for RSA."""
    public_key = _public(key)
    if isinstance(public_key, rsa.RSAPublicKey):
        return 'RS256'
    return _curve_info(public_key)[1]


def sign(private_key, data, alg=None):
    """Sign ``data`` (bytes) as JWS ``alg``. ECDSA signatures are the fixed-size
    big-endian R || S of RFC 7518 section 3.4, not DER."""
    alg = alg or algorithm(private_key)
    if alg == 'RS256':
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise CertflowError('RS256 needs an RSA private key')
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if alg in _EC_BY_ALG:
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise CertflowError('%s needs an EC private key' % alg)
        hash_name, size = _EC_BY_ALG[alg]
        der = private_key.sign(data, ec.ECDSA(getattr(hashes, hash_name)()))
        r, s = decode_dss_signature(der)
        return r.to_bytes(size, 'big') + s.to_bytes(size, 'big')
    raise CertflowError('unsupported JWS algorithm %r' % alg)


def verify(public_key, data, signature, alg=None):
    """Check a JWS signature (used by tests and as a self-check); raises
    cryptography's InvalidSignature when it does not verify."""
    public_key = _public(public_key)
    alg = alg or algorithm(public_key)
    if alg == 'RS256':
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        return True
    hash_name, size = _EC_BY_ALG[alg]
    if len(signature) != 2 * size:
        raise CertflowError('%s signature must be %d bytes, got %d' % (alg, 2 * size, len(signature)))
    der = encode_dss_signature(int.from_bytes(signature[:size], 'big'), int.from_bytes(signature[size:], 'big'))
    public_key.verify(der, data, ec.ECDSA(getattr(hashes, hash_name)()))
    return True


def flattened(protected, payload, signer):
    """Flattened JWS JSON serialization. ``payload`` is a dict/list (JSON-encoded),
    bytes/str (used as is) or None, which gives the empty payload of POST-as-GET."""
    if payload is None:
        encoded_payload = ''
    elif isinstance(payload, (dict, list)):
        encoded_payload = b64u(json_bytes(payload))
    else:
        encoded_payload = b64u(payload)
    encoded_protected = b64u(json_bytes(protected))
    signing_input = ('%s.%s' % (encoded_protected, encoded_payload)).encode('ascii')
    return {'protected': encoded_protected, 'payload': encoded_payload, 'signature': b64u(signer(signing_input))}


def acme_jws(private_key, url, payload, nonce=None, kid=None):
    """An ACME request body (RFC 8555 section 6.2): protected header with ``alg``,
    ``nonce``, ``url`` and either ``kid`` (account URL) or, when ``kid`` is None,
    the public ``jwk``. ``payload=None`` makes a POST-as-GET."""
    alg = algorithm(private_key)
    protected = {'alg': alg, 'url': url}
    if nonce is not None:
        protected['nonce'] = nonce
    if kid:
        protected['kid'] = kid
    else:
        protected['jwk'] = jwk(private_key)
    return flattened(protected, payload, lambda data: sign(private_key, data, alg))


def hs256(key_bytes, data):
    return hmac.new(key_bytes, data, hashlib.sha256).digest()


def eab_jws(account_key, eab_kid, eab_hmac_key, url):
    """External Account Binding (RFC 8555 section 7.3.4): a JWS over the account's
    public JWK, MACed (HS256) with the CA-issued key; ``eab_hmac_key`` is base64url,
    padding optional."""
    if not eab_kid or not eab_hmac_key:
        raise CertflowError('external account binding needs both eab_kid and eab_hmac_key')
    key_bytes = b64u_decode(eab_hmac_key)
    if not key_bytes:
        raise CertflowError('eab_hmac_key is empty after base64url decoding')
    protected = {'alg': 'HS256', 'kid': eab_kid, 'url': url}
    return flattened(protected, jwk(account_key), lambda data: hs256(key_bytes, data))


def key_authorization(token, account_key_or_jwk):
    """RFC 8555 section 8.1: token || '.' || base64url(JWK thumbprint)."""
    return '%s.%s' % (token, thumbprint(account_key_or_jwk))


def dns01_txt_value(key_auth):
    """RFC 8555 section 8.4: base64url(SHA-256(key authorization))."""
    return b64u(hashlib.sha256(key_auth.encode('ascii')).digest())
