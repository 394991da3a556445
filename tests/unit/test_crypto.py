# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keys, CSRs, certificate parsing, summaries and chain checks in _crypto, cross-checked with the openssl CLI."""

import datetime
import ipaddress
import re
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from tests.lib.tools import system_tool

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
DAY = datetime.timedelta(days=1)


# ------------------------------------------------------------------ helpers

def openssl(*args, input_text=None):
    result = subprocess.run((system_tool('openssl'),) + args, input=input_text, capture_output=True, text=True, timeout=30, check=False)
    return result.returncode, result.stdout + result.stderr


def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(cn, key, issuer=None, issuer_key=None, not_before=NOW - 10 * DAY, not_after=NOW + 80 * DAY, ca=False,
              dns=(), ips=(), serial=None, ocsp=(), crl=(), basic_constraints=True, issuer_name=None):
    """A certificate for ``key``; self-signed unless ``issuer``/``issuer_key`` are given."""
    issuer_key = issuer_key or key
    signer_name = issuer_name or (issuer.subject if issuer is not None else name(cn))
    builder = (x509.CertificateBuilder()
               .subject_name(name(cn))
               .issuer_name(signer_name)
               .public_key(key.public_key())
               .serial_number(serial if serial is not None else x509.random_serial_number())
               .not_valid_before(not_before)
               .not_valid_after(not_after)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False))
    if basic_constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    names = [x509.DNSName(value) for value in dns] + [x509.IPAddress(ipaddress.ip_address(v)) for v in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if ocsp:
        builder = builder.add_extension(x509.AuthorityInformationAccess(
            [x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(url)) for url in ocsp]
            + [x509.AccessDescription(x509.oid.AuthorityInformationAccessOID.CA_ISSUERS,
                                      x509.UniformResourceIdentifier('http://ca.example/ca.der'))]), critical=False)
    if crl:
        builder = builder.add_extension(x509.CRLDistributionPoints(
            [x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None) for url in crl]), critical=False)
    algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(issuer_key, algorithm)


def ec_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope='module')
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope='module')
def pki():
    """root -> intermediate -> leaf, all valid at NOW (ECDSA)."""
    keys = {role: ec_key() for role in ('root', 'inter', 'leaf')}
    root = make_cert('Test Root', keys['root'], ca=True, not_before=NOW - 400 * DAY, not_after=NOW + 3000 * DAY)
    inter = make_cert('Test Intermediate', keys['inter'], root, keys['root'], ca=True,
                      not_before=NOW - 300 * DAY, not_after=NOW + 1000 * DAY)
    leaf = make_cert('www.example.com', keys['leaf'], inter, keys['inter'],
                     dns=['www.example.com', 'xn--fiqs8s.example'], ips=['192.0.2.7'])
    return {'keys': keys, 'root': root, 'inter': inter, 'leaf': leaf}


def pem(*certs):
    return ''.join(_crypto.cert_to_pem(cert) for cert in certs)


# --------------------------------------------------------------------- keys

@pytest.mark.parametrize('key_type', _crypto.KEY_TYPES)
def test_generate_private_key_every_type(key_type):
    key = _crypto.generate_private_key(key_type)
    assert _crypto.key_type_of(key) == key_type
    assert _crypto.key_type_of(key.public_key()) == key_type
    text = _crypto.private_key_to_pem(key)
    assert text.startswith('-----BEGIN PRIVATE KEY-----\n')          # PKCS#8, unencrypted
    assert 'ENCRYPTED' not in text
    again = _crypto.load_private_key(text)
    assert _crypto.public_key_pem(again) == _crypto.public_key_pem(key)


def test_key_types_constant():
    assert _crypto.KEY_TYPES == ('ec256', 'ec384', 'rsa2048', 'rsa3072', 'rsa4096')


@pytest.mark.parametrize('bad', ['ec521', 'rsa1024', 'RSA2048', '', None])
def test_generate_private_key_rejects_unknown_type(bad):
    with pytest.raises(CertflowError, match=r'unsupported key_type .*choose one of ec256, ec384, rsa2048, rsa3072, rsa4096'):
        _crypto.generate_private_key(bad)


def test_private_key_pem_is_readable_by_openssl(tmp_path):
    key = _crypto.generate_private_key('ec256')
    path = tmp_path / 'key.pem'
    path.write_text(_crypto.private_key_to_pem(key))
    code, out = openssl('pkey', '-in', str(path), '-pubout')
    assert code == 0, out
    assert out.strip() == _crypto.public_key_pem(key).strip()
    code, out = openssl('pkey', '-in', str(path), '-check', '-noout')
    assert code == 0 and 'valid' in out.lower()


def test_load_private_key_accepts_str_and_bytes():
    key = ec_key()
    text = _crypto.private_key_to_pem(key)
    for data in (text, text.encode('ascii'), '\n  junk before\n' + text):
        loaded = _crypto.load_private_key(data)
        assert loaded.private_numbers() == key.private_numbers()


def test_load_private_key_traditional_formats(rsa_key):
    for key in (rsa_key, ec_key()):
        traditional = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                        serialization.NoEncryption())
        assert b'-----BEGIN RSA PRIVATE KEY' in traditional or b'-----BEGIN EC PRIVATE KEY' in traditional
        assert _crypto.load_private_key(traditional).private_numbers() == key.private_numbers()


def _encrypted(key, password):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(password)).decode('ascii')


def test_load_private_key_with_password():
    key = ec_key()
    text = _encrypted(key, b's3cret')
    assert _crypto.load_private_key(text, password='s3cret').private_numbers() == key.private_numbers()
    assert _crypto.load_private_key(text, password=b's3cret').private_numbers() == key.private_numbers()


def test_load_private_key_wrong_password():
    text = _encrypted(ec_key(), b's3cret')
    with pytest.raises(CertflowError) as caught:
        _crypto.load_private_key(text, password='wrong')
    assert caught.value.msg == 'could not load the private key: wrong password or corrupt key'


def test_load_private_key_missing_password():
    with pytest.raises(CertflowError) as caught:
        _crypto.load_private_key(_encrypted(ec_key(), b's3cret'))
    assert caught.value.msg == 'the private key is encrypted; a password is needed to load it'


def test_load_private_key_password_for_unencrypted_key_is_ignored():
    key = ec_key()
    assert _crypto.load_private_key(_crypto.private_key_to_pem(key), password='unused').private_numbers() == key.private_numbers()


def test_load_private_key_corrupt_pem_never_leaks_key_text():
    text = _crypto.private_key_to_pem(ec_key())
    lines = text.splitlines()
    body = lines[1]
    lines[1] = body[:10] + ('A' if body[10] != 'A' else 'B') + body[11:]
    lines.insert(2, '!!!!')
    corrupt = '\n'.join(lines) + '\n'
    with pytest.raises(CertflowError) as caught:
        _crypto.load_private_key(corrupt)
    message = caught.value.msg
    assert message.startswith('could not load the private key')
    for line in text.splitlines()[1:-1]:
        assert line[:16] not in message
    assert 'PRIVATE KEY' not in str(caught.value.details)


@pytest.mark.parametrize('data', ['', 'hello', b'\x30\x82\x01\x00', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'])
def test_load_private_key_not_pem(data):
    with pytest.raises(CertflowError, match='not a PEM private key'):
        _crypto.load_private_key(data)


def test_load_private_key_rejects_non_text():
    with pytest.raises(CertflowError, match='expected PEM text, got int'):
        _crypto.load_private_key(123)


def test_load_private_key_unsupported_type():
    key = dsa.generate_private_key(2048)
    text = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(CertflowError, match=r'unsupported private key type .*DSA.*use RSA, EC or Ed25519'):
        _crypto.load_private_key(text)


def test_load_private_key_ed25519():
    key = ed25519.Ed25519PrivateKey.generate()
    text = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    assert _crypto.key_type_of(_crypto.load_private_key(text)) == 'ed25519'


def test_key_type_of_other_kinds(rsa_key, pki):
    assert _crypto.key_type_of(rsa.generate_private_key(65537, 1024)) == 'rsa1024'
    assert _crypto.key_type_of(ec.generate_private_key(ec.SECP521R1())) == 'ec521'
    assert _crypto.key_type_of(ec.generate_private_key(ec.SECP256K1())) == 'other'
    assert _crypto.key_type_of(ed448.Ed448PrivateKey.generate()) == 'other'
    assert _crypto.key_type_of(dsa.generate_private_key(2048).public_key()) == 'other'
    assert _crypto.key_type_of(ed25519.Ed25519PrivateKey.generate().public_key()) == 'ed25519'
    # certificates, CSRs and PEM text work too
    assert _crypto.key_type_of(pki['leaf']) == 'ec256'
    assert _crypto.key_type_of(_crypto.cert_to_pem(pki['leaf'])) == 'ec256'
    assert _crypto.key_type_of(_crypto.public_key_pem(rsa_key)) == 'rsa2048'
    assert _crypto.key_type_of(_crypto.build_csr(rsa_key, ['a.example'])) == 'rsa2048'


def test_public_key_pem(rsa_key):
    text = _crypto.public_key_pem(rsa_key)
    assert text.startswith('-----BEGIN PUBLIC KEY-----\n') and text.endswith('-----END PUBLIC KEY-----\n')
    assert _crypto.public_key_pem(rsa_key.public_key()) == text
    assert _crypto.public_key_pem(_crypto.private_key_to_pem(rsa_key)) == text
    assert _crypto.public_key_pem(ec_key()) != text


# --------------------------------------------------------------------- CSRs

def test_build_csr_contents():
    key = ec_key()
    text = _crypto.build_csr(key, ['Bücher.Example', '*.例子.测试', 'www.example.com', 'xn--bcher-kva.example'],
                             ['2001:DB8::1', '192.0.2.1', '192.0.2.1'])
    assert text.startswith('-----BEGIN CERTIFICATE REQUEST-----\n')
    csr = x509.load_pem_x509_csr(text.encode())
    assert csr.is_signature_valid
    assert isinstance(csr.signature_hash_algorithm, hashes.SHA256)
    assert csr.subject.rfc4514_string() == 'CN=xn--bcher-kva.example'
    san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ['xn--bcher-kva.example', '*.xn--fsqu00a.xn--0zwm56d', 'www.example.com']
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ['2001:db8::1', '192.0.2.1']
    assert _crypto.csr_identifiers(text) == (
        ['xn--bcher-kva.example', '*.xn--fsqu00a.xn--0zwm56d', 'www.example.com'], ['2001:db8::1', '192.0.2.1'])


@pytest.mark.parametrize('key_type, hash_class', [('ec256', hashes.SHA256), ('ec384', hashes.SHA384), ('rsa2048', hashes.SHA256)])
def test_build_csr_signature_hash(key_type, hash_class):
    key = _crypto.generate_private_key(key_type)
    csr = x509.load_pem_x509_csr(_crypto.build_csr(key, ['a.example']).encode())
    assert isinstance(csr.signature_hash_algorithm, hash_class)
    assert csr.is_signature_valid


def test_build_csr_ed25519_and_key_as_pem():
    key = ed25519.Ed25519PrivateKey.generate()
    csr = _crypto.load_csr(_crypto.build_csr(key, ['a.example']))
    assert csr.signature_hash_algorithm is None and _crypto.csr_matches_key(csr, key)
    pem_key = _crypto.private_key_to_pem(ec_key())
    csr = _crypto.build_csr(pem_key, ['b.example'])
    assert _crypto.csr_matches_key(csr, pem_key)


def test_build_csr_common_name_rules():
    key = ec_key()
    long_name = 'a' * 60 + '.example'       # 68 characters: does not fit a CN
    csr = _crypto.load_csr(_crypto.build_csr(key, [long_name, 'short.example']))
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME) == []
    assert _crypto.csr_identifiers(csr) == ([long_name, 'short.example'], [])

    csr = _crypto.load_csr(_crypto.build_csr(key, ['a.example', 'b.example'], common_name='B.Example'))
    assert csr.subject.rfc4514_string() == 'CN=b.example'
    csr = _crypto.load_csr(_crypto.build_csr(key, ['中国.example'], common_name='中国.example'))
    assert csr.subject.rfc4514_string() == 'CN=xn--fiqs8s.example'

    csr = _crypto.load_csr(_crypto.build_csr(key, [], ['192.0.2.1']))
    assert csr.subject.rfc4514_string() == ''
    assert _crypto.csr_identifiers(csr) == ([], ['192.0.2.1'])
    csr = _crypto.load_csr(_crypto.build_csr(key, [], ['192.0.2.1'], common_name='192.0.2.1'))
    assert csr.subject.rfc4514_string() == 'CN=192.0.2.1'

    with pytest.raises(CertflowError, match="common_name 'c.example' is not one of the domains or IP addresses"):
        _crypto.build_csr(key, ['a.example'], common_name='c.example')
    with pytest.raises(CertflowError, match='longer than 64 characters'):
        _crypto.build_csr(key, [long_name], common_name=long_name)


def test_build_csr_errors():
    key = ec_key()
    with pytest.raises(CertflowError, match='at least one domain name or IP address'):
        _crypto.build_csr(key, [], [])
    with pytest.raises(CertflowError, match="invalid domain name 'bad_name.example'"):
        _crypto.build_csr(key, ['bad_name.example'])
    with pytest.raises(CertflowError, match="'999.1.1.1' is not a valid IP address"):
        _crypto.build_csr(key, ['a.example'], ['999.1.1.1'])
    with pytest.raises(CertflowError, match="'192.0.2.1' is an IP address; put it in ip_addresses"):
        _crypto.build_csr(key, ['192.0.2.1'])


@pytest.mark.parametrize('key_type', ['ec256', 'ec384', 'rsa2048'])
def test_csr_verified_by_openssl(tmp_path, key_type):
    key = _crypto.generate_private_key(key_type)
    path = tmp_path / 'req.pem'
    path.write_text(_crypto.build_csr(key, ['中国.example', 'www.example.com'], ['192.0.2.9']))
    code, out = openssl('req', '-in', str(path), '-verify', '-noout', '-text')
    assert code == 0, out
    assert re.search(r'verif(y|ication) OK', out, re.I), out
    assert 'Subject: CN = xn--fiqs8s.example' in out or 'Subject: CN=xn--fiqs8s.example' in out
    assert 'DNS:xn--fiqs8s.example, DNS:www.example.com, IP Address:192.0.2.9' in out
    der = subprocess.run([system_tool('openssl'), 'req', '-in', str(path), '-outform', 'DER'], capture_output=True, check=True, timeout=30).stdout
    assert der == _crypto.csr_to_der(path.read_text())
    key_path = tmp_path / 'key.pem'
    key_path.write_text(_crypto.private_key_to_pem(key))
    code, out = openssl('pkey', '-in', str(key_path), '-pubout')
    csr_pub = openssl('req', '-in', str(path), '-pubkey', '-noout')[1]
    assert out.strip() == csr_pub.strip() == _crypto.public_key_pem(key).strip()


def test_load_csr_forms():
    key = ec_key()
    text = _crypto.build_csr(key, ['a.example'])
    der = _crypto.csr_to_der(text)
    assert der[:1] == b'\x30'
    assert _crypto.load_csr(der).public_bytes(serialization.Encoding.DER) == der
    assert _crypto.csr_to_der(_crypto.load_csr(text)) == der
    legacy = text.replace('CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST')
    assert _crypto.csr_to_der(legacy) == der
    assert _crypto.csr_to_der('garbage before\r\n' + text.replace('\n', '\r\n')) == der


def test_load_csr_errors():
    with pytest.raises(CertflowError, match='no "-----BEGIN CERTIFICATE REQUEST-----" block found'):
        _crypto.load_csr('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
    with pytest.raises(CertflowError, match='could not load the CSR'):
        _crypto.load_csr('-----BEGIN CERTIFICATE REQUEST-----\nbm90IGEgQ1NS\n-----END CERTIFICATE REQUEST-----\n')
    with pytest.raises(CertflowError, match='could not load the CSR'):
        _crypto.load_csr(b'\x30\x03\x02\x01\x00')
    with pytest.raises(CertflowError, match='could not load the CSR'):
        _crypto.csr_to_der('just text')


def test_load_csr_rejects_bad_signature():
    der = bytearray(_crypto.csr_to_der(_crypto.build_csr(rsa.generate_private_key(65537, 2048), ['a.example'])))
    der[-5] ^= 0xFF                                      # inside the RSA signature
    with pytest.raises(CertflowError, match='the CSR signature does not verify'):
        _crypto.load_csr(bytes(der))


def test_csr_identifiers_common_name_only_csr_from_openssl(tmp_path):
    key_path, csr_path = tmp_path / 'k.pem', tmp_path / 'r.pem'
    key_path.write_text(_crypto.private_key_to_pem(ec_key()))
    code, out = openssl('req', '-new', '-key', str(key_path), '-subj', '/CN=Legacy.Example', '-out', str(csr_path))
    assert code == 0, out
    assert _crypto.csr_identifiers(csr_path.read_text()) == (['legacy.example'], [])
    assert _crypto.csr_matches_key(csr_path.read_text(), key_path.read_text())
    code, out = openssl('req', '-new', '-key', str(key_path), '-subj', '/CN=Extra.Example', '-out', str(csr_path),
                        '-addext', 'subjectAltName=DNS:A.Example,IP:192.0.2.3,DNS:a.example')
    assert code == 0, out
    assert _crypto.csr_identifiers(csr_path.read_text()) == (['a.example', 'extra.example'], ['192.0.2.3'])


def test_csr_matches_key(rsa_key):
    key = ec_key()
    csr = _crypto.build_csr(key, ['a.example'])
    assert _crypto.csr_matches_key(csr, key) is True
    assert _crypto.csr_matches_key(csr, key.public_key()) is True
    assert _crypto.csr_matches_key(csr, ec_key()) is False
    assert _crypto.csr_matches_key(csr, rsa_key) is False


# ------------------------------------------------------------ certificates

def test_split_pem(pki):
    a, b = _crypto.cert_to_pem(pki['leaf']), _crypto.cert_to_pem(pki['inter'])
    messy = ('subject=CN = leaf\r\n' + a.replace('\n', '\r\n') + '\n\n   '
             + '\n'.join('    ' + line for line in b.splitlines()) + '\ntrailing words\n')
    blocks = _crypto.split_pem(messy)
    assert blocks == [a, b]
    assert all(block.endswith('-----\n') for block in blocks)
    assert _crypto.split_pem(messy.encode()) == [a, b]
    key_pem = _crypto.private_key_to_pem(pki['keys']['leaf'])
    both = a + key_pem
    assert _crypto.split_pem(both) == [a]
    assert _crypto.split_pem(both, 'PRIVATE KEY') == [key_pem]
    assert _crypto.split_pem('no pem here') == []
    one_line = a.replace('\n', '')
    body = one_line[len('-----BEGIN CERTIFICATE-----'):-len('-----END CERTIFICATE-----')]
    assert _crypto.split_pem(one_line) == ['-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n' % body]
    assert _crypto.load_certificate(one_line) == pki['leaf']


def test_load_certificates_in_order(pki):
    text = pem(pki['leaf'], pki['inter'], pki['root'])
    certs = _crypto.load_certificates(text)
    assert certs == [pki['leaf'], pki['inter'], pki['root']]
    assert _crypto.load_certificate(text) == pki['leaf']
    assert _crypto.load_certificates(text.encode()) == certs
    assert _crypto.load_certificates([pem(pki['leaf']), pki['inter']]) == [pki['leaf'], pki['inter']]
    der = pki['root'].public_bytes(serialization.Encoding.DER)
    assert _crypto.load_certificate(der) == pki['root']
    assert _crypto.load_certificates(pki['root']) == [pki['root']]


def test_load_certificate_errors(pki):
    with pytest.raises(CertflowError, match=r'no PEM certificate \("-----BEGIN CERTIFICATE-----"\) found in /etc/x.pem'):
        _crypto.load_certificate('nothing', source='/etc/x.pem')
    with pytest.raises(CertflowError, match='no PEM certificate'):
        _crypto.load_certificates(_crypto.private_key_to_pem(ec_key()))
    good = pem(pki['leaf'])
    broken = '-----BEGIN CERTIFICATE-----\nMIIBbroken\n-----END CERTIFICATE-----\n'
    with pytest.raises(CertflowError, match=r'certificate #2 in chain.pem is corrupt'):
        _crypto.load_certificates(good + broken, source='chain.pem')
    with pytest.raises(CertflowError, match='could not load the DER certificate'):
        _crypto.load_certificate(b'\x30\x03\x02\x01\x00')
    with pytest.raises(CertflowError, match='expected PEM text, got int'):
        _crypto.load_certificate(5)


def test_cert_to_pem_round_trip(pki):
    text = _crypto.cert_to_pem(pki['leaf'])
    assert text.startswith('-----BEGIN CERTIFICATE-----\n') and text.endswith('-----END CERTIFICATE-----\n')
    assert x509.load_pem_x509_certificate(text.encode()) == pki['leaf']


@pytest.mark.parametrize('serial, expected', [
    (1, '01'), (0x0a, '0a'), (0xff, 'ff'), (0x100, '0100'), (0x80, '80'),
    (0x0123456789abcdef, '0123456789abcdef'),
    (0xfa1b2c3d4e5f60718293a4b5c6d7e8f9012345, 'fa1b2c3d4e5f60718293a4b5c6d7e8f9012345'),
])
def test_cert_serial_hex(serial, expected):
    key = ec_key()
    cert = make_cert('serial.example', key, serial=serial)
    assert _crypto.cert_serial_hex(cert) == expected


@pytest.mark.parametrize('serial', [1, 0x0a, 0x80, 0x100, 0xfa1b2c3d4e5f60718293a4b5c6d7e8f9012345])
def test_cert_serial_hex_matches_openssl(tmp_path, serial):
    cert = make_cert('serial.example', ec_key(), serial=serial)
    path = tmp_path / 'c.pem'
    path.write_text(_crypto.cert_to_pem(cert))
    code, out = openssl('x509', '-in', str(path), '-noout', '-serial')
    assert code == 0, out
    assert out.strip() == 'serial=' + _crypto.cert_serial_hex(cert).upper()


def test_cert_matches_key(pki):
    leaf = pki['leaf']
    assert _crypto.cert_matches_key(leaf, pki['keys']['leaf']) is True
    assert _crypto.cert_matches_key(pem(leaf), _crypto.private_key_to_pem(pki['keys']['leaf'])) is True
    assert _crypto.cert_matches_key(leaf, pki['keys']['leaf'].public_key()) is True
    assert _crypto.cert_matches_key(leaf, pki['keys']['inter']) is False
    assert _crypto.cert_matches_key(leaf, ec_key()) is False


# ----------------------------------------------------------- cert_summary

def test_cert_summary_every_key(pki):
    key = rsa.generate_private_key(65537, 3072)
    not_after = datetime.datetime(2026, 11, 27, 1, 2, 3, tzinfo=UTC)
    cert = make_cert('中国.example', key, pki['inter'], pki['keys']['inter'],
                     not_before=datetime.datetime(2026, 5, 1, 0, 0, 0, tzinfo=UTC), not_after=not_after,
                     dns=['xn--fiqs8s.example', '*.xn--fsqu00a.xn--0zwm56d', 'WWW.Example.COM', 'xn--zz.example'],
                     ips=['192.0.2.1', '2001:db8::5'], serial=0x1234,
                     ocsp=['http://ocsp.example/'], crl=['http://crl.example/a.crl', 'http://crl.example/b.crl'])
    info = _crypto.cert_summary(cert, renew_before_days=30, now=NOW)
    assert set(info) == {'subject', 'issuer', 'common_name', 'serial', 'fingerprints', 'not_before', 'not_after', 'days_remaining',
                         'expired', 'needs_renewal', 'domains', 'domains_unicode', 'ip_addresses', 'key_type', 'ocsp_urls',
                         'crl_urls', 'is_ca', 'self_signed', 'renewal_time', 'renewal_source', 'renewal_window', 'explanation_url',
                         'renewal'}
    assert info['renewal'] == {'source': 'days', 'window_start': None, 'window_end': None,
                               'renew_at': '2026-10-28T01:02:03Z', 'explanation_url': None}
    assert info['renewal_time'] == info['renewal']['renew_at']
    assert info['subject'] == 'CN=中国.example'
    assert info['common_name'] == '中国.example'
    assert info['issuer'] == 'CN=Test Intermediate'
    assert info['serial'] == '1234'
    assert info['fingerprints']['sha256'] == ':'.join('%02X' % b for b in cert.fingerprint(hashes.SHA256()))
    assert re.fullmatch(r'([0-9A-F]{2}:){31}[0-9A-F]{2}', info['fingerprints']['sha256'])
    assert re.fullmatch(r'([0-9A-F]{2}:){19}[0-9A-F]{2}', info['fingerprints']['sha1'])
    assert info['not_before'] == '2026-05-01T00:00:00Z'
    assert info['not_after'] == '2026-11-27T01:02:03Z'
    assert info['days_remaining'] == 178                        # 2026-06-01T12:00 -> 2026-11-27T01:02:03
    assert info['needs_renewal'] is False and info['expired'] is False
    assert info['domains'] == ['xn--fiqs8s.example', '*.xn--fsqu00a.xn--0zwm56d', 'www.example.com', 'xn--zz.example']
    assert info['domains_unicode'] == ['中国.example', '*.例子.测试', 'www.example.com', 'xn--zz.example']
    assert info['ip_addresses'] == ['192.0.2.1', '2001:db8::5']
    assert info['key_type'] == 'rsa3072'
    assert info['ocsp_urls'] == ['http://ocsp.example/']
    assert info['crl_urls'] == ['http://crl.example/a.crl', 'http://crl.example/b.crl']
    assert info['is_ca'] is False and info['self_signed'] is False


def test_cert_summary_ca_and_defaults(pki):
    info = _crypto.cert_summary(_crypto.cert_to_pem(pki['root']))     # PEM text, real clock
    assert info['is_ca'] is True and info['self_signed'] is True
    assert info['domains'] == [] and info['ip_addresses'] == [] and info['ocsp_urls'] == [] and info['crl_urls'] == []
    no_constraints = make_cert('plain.example', ec_key(), basic_constraints=False)
    assert _crypto.cert_summary(no_constraints, now=NOW)['is_ca'] is False


def test_days_remaining_and_needs_renewal_boundaries():
    key = ec_key()
    not_after = datetime.datetime(2026, 7, 1, 0, 0, 0, tzinfo=UTC)
    cert = make_cert('t.example', key, not_before=not_after - 90 * DAY, not_after=not_after)
    second = datetime.timedelta(seconds=1)

    def summary(now, days=30):
        return _crypto.cert_summary(cert, renew_before_days=days, now=now)

    exactly_30 = summary(not_after - 30 * DAY)
    assert exactly_30['days_remaining'] == 30 and exactly_30['needs_renewal'] is True
    just_over = summary(not_after - 30 * DAY - second)
    assert just_over['days_remaining'] == 30 and just_over['needs_renewal'] is False
    almost_31 = summary(not_after - 31 * DAY + second)
    assert almost_31['days_remaining'] == 30                     # floor
    one_second_left = summary(not_after - second)
    assert one_second_left['days_remaining'] == 0 and one_second_left['expired'] is False
    expired = summary(not_after + second)
    assert expired['days_remaining'] == -1 and expired['expired'] is True and expired['needs_renewal'] is True
    long_expired = summary(not_after + 10 * DAY + second)
    assert long_expired['days_remaining'] == -11
    assert summary(not_after - 50 * DAY, days=60)['needs_renewal'] is True
    assert summary(not_after - 50 * DAY, days=0)['needs_renewal'] is False
    # a naive datetime is taken as UTC
    assert summary((not_after - 30 * DAY).replace(tzinfo=None))['needs_renewal'] is True


def test_cert_summary_agrees_with_openssl(tmp_path, pki):
    path = tmp_path / 'leaf.pem'
    path.write_text(pem(pki['leaf']))
    info = _crypto.cert_summary(pki['leaf'], now=NOW)
    code, out = openssl('x509', '-in', str(path), '-noout', '-fingerprint', '-sha256', '-serial', '-enddate', '-startdate')
    assert code == 0, out
    fields = dict(line.split('=', 1) for line in out.strip().splitlines())
    fingerprint = next(value for key, value in fields.items() if 'Fingerprint' in key)
    assert fingerprint == info['fingerprints']['sha256']
    assert fields['serial'].lower() == info['serial']
    end = datetime.datetime.strptime(fields['notAfter'], '%b %d %H:%M:%S %Y GMT').replace(tzinfo=UTC)
    assert end.strftime('%Y-%m-%dT%H:%M:%SZ') == info['not_after']
    code, out = openssl('x509', '-in', str(path), '-noout', '-ext', 'subjectAltName')
    assert 'DNS:www.example.com, DNS:xn--fiqs8s.example, IP Address:192.0.2.7' in out
    assert info['domains'] == ['www.example.com', 'xn--fiqs8s.example'] and info['ip_addresses'] == ['192.0.2.7']
    assert info['domains_unicode'] == ['www.example.com', '中国.example']


# ------------------------------------------------------------ verify_chain

def test_verify_chain_good(pki):
    assert _crypto.verify_chain(pki['leaf'], [pki['inter']], now=NOW) == (True, '')
    assert _crypto.verify_chain(pki['leaf'], [pki['inter']], [pki['root']], now=NOW) == (True, '')
    assert _crypto.verify_chain(pem(pki['leaf']), pem(pki['inter']), pem(pki['root']), now=NOW) == (True, '')
    # the root may be sent in the chain as well
    assert _crypto.verify_chain(pki['leaf'], [pki['inter'], pki['root']], [pki['root']], now=NOW) == (True, '')
    # a full chain (leaf first) given as the chain
    assert _crypto.verify_chain(pki['leaf'], pem(pki['leaf'], pki['inter']), [pki['root']], now=NOW) == (True, '')
    # no intermediates, the leaf directly under the root
    direct = make_cert('direct.example', ec_key(), pki['root'], pki['keys']['root'])
    assert _crypto.verify_chain(direct, [], [pki['root']], now=NOW) == (True, '')
    assert _crypto.verify_chain(direct, None, now=NOW) == (True, '')


def test_verify_chain_missing_intermediate(pki):
    ok, reason = _crypto.verify_chain(pki['leaf'], [], [pki['root']], now=NOW)
    assert ok is False
    assert reason == ("leaf certificate 'CN=www.example.com' was issued by 'CN=Test Intermediate', "
                      "which is not one of the trusted roots")


def test_verify_chain_expired_intermediate(pki):
    keys = pki['keys']
    old_inter = make_cert('Test Intermediate', keys['inter'], pki['root'], keys['root'], ca=True,
                          not_before=NOW - 400 * DAY, not_after=datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC))
    ok, reason = _crypto.verify_chain(pki['leaf'], [old_inter], [pki['root']], now=NOW)
    assert ok is False
    assert reason == "chain certificate #1 'CN=Test Intermediate' expired at 2026-03-04T05:06:07Z"


def test_verify_chain_expired_leaf_and_not_yet_valid(pki):
    keys = pki['keys']
    old_leaf = make_cert('old.example', keys['leaf'], pki['inter'], keys['inter'],
                         not_before=NOW - 100 * DAY, not_after=NOW - DAY)
    ok, reason = _crypto.verify_chain(old_leaf, [pki['inter']], now=NOW)
    assert ok is False and reason.startswith("leaf certificate 'CN=old.example' expired at ")
    assert reason.endswith((NOW - DAY).strftime('%Y-%m-%dT%H:%M:%SZ'))
    future = make_cert('future.example', keys['leaf'], pki['inter'], keys['inter'], not_before=NOW + DAY, not_after=NOW + 90 * DAY)
    ok, reason = _crypto.verify_chain(future, [pki['inter']], now=NOW)
    assert ok is False and reason == "leaf certificate 'CN=future.example' is not valid before %s" % (
        (NOW + DAY).strftime('%Y-%m-%dT%H:%M:%SZ'))
    # the same chain is fine at a time when everything is valid
    assert _crypto.verify_chain(future, [pki['inter']], now=NOW + 2 * DAY) == (True, '')


def test_verify_chain_expired_root(pki):
    keys = pki['keys']
    old_root = make_cert('Test Root', keys['root'], ca=True, not_before=NOW - 900 * DAY, not_after=NOW - 5 * DAY)
    ok, reason = _crypto.verify_chain(pki['leaf'], [pki['inter']], [old_root], now=NOW)
    assert ok is False and reason.startswith("root 'CN=Test Root' expired at ")


def test_verify_chain_wrong_issuer(pki):
    other_key = ec_key()
    other_inter = make_cert('Other Intermediate', other_key, pki['root'], pki['keys']['root'], ca=True)
    ok, reason = _crypto.verify_chain(pki['leaf'], [other_inter], now=NOW)
    assert ok is False
    assert reason == ("leaf certificate 'CN=www.example.com' was issued by 'CN=Test Intermediate', "
                      "not by the chain certificate #1 'CN=Other Intermediate'")


def test_verify_chain_wrong_order(pki):
    ok, reason = _crypto.verify_chain(pki['leaf'], [pki['root'], pki['inter']], now=NOW)
    assert ok is False and "was issued by 'CN=Test Intermediate', not by the chain certificate #1 'CN=Test Root'" in reason


def test_verify_chain_same_name_other_key(pki):
    impostor = make_cert('Test Intermediate', ec_key(), pki['root'], pki['keys']['root'], ca=True)
    ok, reason = _crypto.verify_chain(pki['leaf'], [impostor], now=NOW)
    assert ok is False
    assert reason == ("the signature of leaf certificate 'CN=www.example.com' does not verify with the key of "
                      "chain certificate #1 'CN=Test Intermediate'")
    fake_root = make_cert('Test Root', ec_key(), ca=True)
    ok, reason = _crypto.verify_chain(pki['leaf'], [pki['inter']], [fake_root], now=NOW)
    assert ok is False and "the signature of chain certificate #1 'CN=Test Intermediate' does not verify with the key of root" in reason


def test_verify_chain_issuer_not_a_ca(pki):
    keys = pki['keys']
    child = make_cert('child.example', ec_key(), pki['leaf'], keys['leaf'])
    ok, reason = _crypto.verify_chain(child, [pki['leaf'], pki['inter']], now=NOW)
    assert ok is False
    assert reason == ("chain certificate #1 'CN=www.example.com' is not a CA certificate, so it cannot sign "
                      "leaf certificate 'CN=child.example'")


def test_verify_chain_last_certificate_is_a_root(pki):
    assert _crypto.verify_chain(pki['root'], [], [pki['root']], now=NOW) == (True, '')
    other_root = make_cert('Other Root', ec_key(), ca=True)
    ok, reason = _crypto.verify_chain(pki['leaf'], [pki['inter']], [other_root], now=NOW)
    assert ok is False and "was issued by 'CN=Test Root', which is not one of the trusted roots" in reason
    ok, reason = _crypto.verify_chain(pki['leaf'], [pki['inter']], [], now=NOW)
    assert ok is False and 'not one of the trusted roots' in reason


@pytest.mark.parametrize('kind', ['rsa', 'ed25519'])
def test_verify_chain_other_signature_algorithms(kind):
    make_key = (lambda: rsa.generate_private_key(65537, 2048)) if kind == 'rsa' else ed25519.Ed25519PrivateKey.generate
    root_key, leaf_key = make_key(), make_key()
    root = make_cert('Root ' + kind, root_key, ca=True)
    leaf = make_cert('leaf.example', leaf_key, root, root_key)
    assert _crypto.verify_chain(leaf, [], [root], now=NOW) == (True, '')
    impostor_root = make_cert('Root ' + kind, make_key(), ca=True)
    ok, reason = _crypto.verify_chain(leaf, [], [impostor_root], now=NOW)
    assert ok is False and 'does not verify' in reason


def test_verify_chain_real_clock():
    # no ``now``: uses the current time; the fixture is valid around NOW only, so build one valid today
    key = ec_key()
    today = datetime.datetime.now(UTC)
    root = make_cert('Clock Root', key, ca=True, not_before=today - DAY, not_after=today + DAY)
    leaf = make_cert('clock.example', ec_key(), root, key, not_before=today - DAY, not_after=today + DAY)
    assert _crypto.verify_chain(leaf, [], [root]) == (True, '')


def test_verify_chain_bad_input():
    with pytest.raises(CertflowError, match='no PEM certificate .* found in the leaf certificate'):
        _crypto.verify_chain('nothing', [])
    with pytest.raises(CertflowError, match='found in the chain'):
        _crypto.verify_chain(make_cert('a.example', ec_key()), 'nothing')


@pytest.mark.parametrize('scenario', ['good', 'expired_intermediate', 'wrong_issuer', 'impostor', 'not_yet_valid'])
def test_verify_chain_agrees_with_openssl(tmp_path, pki, scenario):
    keys = pki['keys']
    leaf, chain = pki['leaf'], [pki['inter']]
    if scenario == 'expired_intermediate':
        chain = [make_cert('Test Intermediate', keys['inter'], pki['root'], keys['root'], ca=True,
                           not_before=NOW - 400 * DAY, not_after=NOW - 2 * DAY)]
    elif scenario == 'wrong_issuer':
        chain = [make_cert('Other Intermediate', ec_key(), pki['root'], keys['root'], ca=True)]
    elif scenario == 'impostor':
        chain = [make_cert('Test Intermediate', ec_key(), pki['root'], keys['root'], ca=True)]
    elif scenario == 'not_yet_valid':
        leaf = make_cert('www.example.com', keys['leaf'], pki['inter'], keys['inter'], not_before=NOW + DAY, not_after=NOW + 9 * DAY)
    (tmp_path / 'root.pem').write_text(pem(pki['root']))
    (tmp_path / 'chain.pem').write_text(pem(*chain))
    (tmp_path / 'leaf.pem').write_text(pem(leaf))
    code, out = openssl('verify', '-attime', str(int(NOW.timestamp())), '-CAfile', str(tmp_path / 'root.pem'),
                        '-untrusted', str(tmp_path / 'chain.pem'), str(tmp_path / 'leaf.pem'))
    ok, reason = _crypto.verify_chain(leaf, chain, [pki['root']], now=NOW)
    assert ok == (code == 0), (reason, out)
    assert ok == (scenario == 'good')
    assert (reason == '') == ok
