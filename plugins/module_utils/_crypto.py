# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keys, CSRs, certificate parsing and chain checks, and internationalised
domain names (UTS #46 / IDNA 2008) for the whole collection."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import ipaddress
import re
import unicodedata

try:
    import idna
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
except ImportError:  # reported by the module wrapper (module_utils/_deps.py)
    pass

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError

KEY_TYPES = ('ec256', 'ec384', 'rsa2048', 'rsa3072', 'rsa4096')

_EC_CURVES = {'ec256': 'SECP256R1', 'ec384': 'SECP384R1'}  # names in cryptography's ec module
_EC_NAMES = {'secp256r1': 'ec256', 'secp384r1': 'ec384', 'secp521r1': 'ec521'}
_RSA_SIZES = {'rsa2048': 2048, 'rsa3072': 3072, 'rsa4096': 4096}

MAX_DOMAIN_OCTETS = 253
MAX_LABEL_OCTETS = 63
MAX_COMMON_NAME = 64

_LDH_LABEL = re.compile(r'[a-z0-9](?:[a-z0-9-]*[a-z0-9])?')


# ---------------------------------------------------------------- private keys

def generate_private_key(key_type):
    """A new private key of one of KEY_TYPES."""
    if key_type in _EC_CURVES:
        return ec.generate_private_key(getattr(ec, _EC_CURVES[key_type])())
    if key_type in _RSA_SIZES:
        return rsa.generate_private_key(public_exponent=65537, key_size=_RSA_SIZES[key_type])
    raise CertflowError('unsupported key_type %r; choose one of %s' % (key_type, ', '.join(KEY_TYPES)))


def private_key_to_pem(key):
    """PKCS#8 PEM, unencrypted, as text."""
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode('ascii')


def _to_bytes(data):
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray):
        return bytes(data)
    if isinstance(data, str):
        return data.encode('utf-8')
    raise CertflowError('expected PEM text, got %s' % type(data).__name__)


def load_private_key(pem, password=None):
    """Load a PEM private key (RSA, EC or Ed25519).

    ``password`` (str or bytes) decrypts an encrypted key; it is ignored for a key
    that is not encrypted. Errors never contain the key text."""
    data = _to_bytes(pem)
    if b'-----BEGIN' not in data or b'PRIVATE KEY-----' not in data:
        raise CertflowError('not a PEM private key (no "-----BEGIN ... PRIVATE KEY-----" block found)')
    if isinstance(password, str):
        password = password.encode('utf-8')
    try:
        try:
            key = serialization.load_pem_private_key(data, password=password or None)
        except TypeError:
            if password:
                # Not encrypted, yet a password was given: the password is not needed.
                key = serialization.load_pem_private_key(data, password=None)
            else:
                raise CertflowError('the private key is encrypted; a password is needed to load it') from None
    except UnsupportedAlgorithm:
        raise CertflowError('the private key uses an unsupported algorithm') from None
    except ValueError:
        if password:
            raise CertflowError('could not load the private key: wrong password or corrupt key') from None
        raise CertflowError('could not load the private key: the PEM data is corrupt or not a supported key format') from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey)):
        raise CertflowError('unsupported private key type %s; use RSA, EC or Ed25519' % type(key).__name__.lstrip('_'))
    return key


def _ensure_private_key(key):
    if isinstance(key, (str, bytes, bytearray)):
        return load_private_key(key)
    return key


def _public_key(thing):
    """The public key of a private key, public key, certificate, CSR or PEM text."""
    if isinstance(thing, (str, bytes, bytearray)):
        data = _to_bytes(thing)
        if b'PRIVATE KEY-----' in data:
            return load_private_key(data).public_key()
        if b'-----BEGIN PUBLIC KEY-----' in data:
            try:
                return serialization.load_pem_public_key(data)
            except (ValueError, UnsupportedAlgorithm):
                raise CertflowError('could not load the public key: corrupt PEM data') from None
        if b'CERTIFICATE REQUEST-----' in data:
            return load_csr(data).public_key()
        return load_certificate(data).public_key()
    if isinstance(thing, (x509.Certificate, x509.CertificateSigningRequest)):
        return thing.public_key()
    if hasattr(thing, 'public_key') and not hasattr(thing, 'public_bytes'):
        return thing.public_key()
    return thing


def key_type_of(key_or_public_key):
    """'ec256', 'ec384', 'ec521', 'rsa<bits>' (e.g. 'rsa2048'), 'ed25519' or 'other'.

    Accepts a private key, public key, certificate, CSR or their PEM text."""
    public = _public_key(key_or_public_key)
    if isinstance(public, rsa.RSAPublicKey):
        return 'rsa%d' % public.key_size
    if isinstance(public, ec.EllipticCurvePublicKey):
        return _EC_NAMES.get(public.curve.name, 'other')
    if isinstance(public, ed25519.Ed25519PublicKey):
        return 'ed25519'
    return 'other'


def public_key_pem(key):
    """SubjectPublicKeyInfo PEM text of a key (private or public), certificate or CSR."""
    return _public_key(key).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode('ascii')


def _spki_der(thing):
    return _public_key(thing).public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_key_fingerprint(thing):
    """SHA-256 of the SubjectPublicKeyInfo (as pinned by HPKP/DANE), hex; tells keys apart without showing them."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(_spki_der(thing))
    return digest.finalize().hex()


def signing_hash(key):
    """The hash to sign with ``key``: SHA-384 for P-384 and larger curves, none for Ed25519, else SHA-256."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return None
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


# ---------------------------------------------------------------------- CSRs

def build_csr(key, domains, ip_addresses=(), common_name=None):
    """A PEM CSR for ``domains`` (Unicode or ASCII, converted to A-labels) and
    ``ip_addresses``, all in the subjectAltName.

    The subject CN is ``common_name`` when given (it must be one of the names or
    addresses), else the first domain when it fits 64 characters, else empty.
    Signed with SHA-256 (SHA-384 for EC P-384 and larger)."""
    key = _ensure_private_key(key)
    ascii_domains, _unicode = normalize_domains(domains or ())
    ips = []
    for text in ip_addresses or ():
        ip = normalize_ip(text)
        if ip not in ips:
            ips.append(ip)
    if not ascii_domains and not ips:
        raise CertflowError('a CSR needs at least one domain name or IP address')

    if common_name:
        common_name = _normalize_identifier(common_name)
        if common_name not in ascii_domains and common_name not in ips:
            raise CertflowError('common_name %r is not one of the domains or IP addresses of the CSR' % common_name)
        if len(common_name) > MAX_COMMON_NAME:
            raise CertflowError('common_name %r is longer than %d characters' % (common_name, MAX_COMMON_NAME))
    elif ascii_domains and len(ascii_domains[0]) <= MAX_COMMON_NAME:
        common_name = ascii_domains[0]

    names = [x509.DNSName(name) for name in ascii_domains]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
    builder = (x509.CertificateSigningRequestBuilder()
               .subject_name(subject)
               .add_extension(x509.SubjectAlternativeName(names), critical=False))
    csr = builder.sign(key, signing_hash(key))
    return csr.public_bytes(serialization.Encoding.PEM).decode('ascii')


def _normalize_identifier(text):
    """ASCII form of a domain, or canonical form of an IP address."""
    try:
        return normalize_ip(text)
    except CertflowError:
        return normalize_domain(text)[0]


def load_csr(pem):
    """Load a CSR from PEM text (or DER bytes); checks its self-signature."""
    if isinstance(pem, x509.CertificateSigningRequest):
        return pem
    data = _to_bytes(pem)
    try:
        if b'-----BEGIN' in data:
            blocks = split_pem(data, 'CERTIFICATE REQUEST') or split_pem(data, 'NEW CERTIFICATE REQUEST')
            if not blocks:
                raise CertflowError('no "-----BEGIN CERTIFICATE REQUEST-----" block found in the CSR text')
            csr = x509.load_pem_x509_csr(blocks[0].encode('ascii'))
        else:
            csr = x509.load_der_x509_csr(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertflowError('could not load the CSR: %s' % exc) from exc
    if not csr.is_signature_valid:
        raise CertflowError('the CSR signature does not verify (the CSR was altered or is corrupt)')
    return csr


def csr_to_der(pem):
    """DER bytes of a CSR (PEM text or CSR object)."""
    return load_csr(pem).public_bytes(serialization.Encoding.DER)


def csr_identifiers(csr):
    """(domains, ips) requested by a CSR: subjectAltName entries, lowercase, in
    order, without duplicates. A subject CN that is not in the SAN is appended
    (to domains or ips), as CAs add it to the certificate too."""
    csr = load_csr(csr)
    domains, ips = [], []
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    if san is not None:
        for name in san.get_values_for_type(x509.DNSName):
            name = name.lower()
            if name not in domains:
                domains.append(name)
        for ip in san.get_values_for_type(x509.IPAddress):
            ip = str(ip)
            if ip not in ips:
                ips.append(ip)
    for attribute in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = str(attribute.value).strip().lower()
        if not value:
            continue
        try:
            ip = normalize_ip(value)
        except CertflowError:
            if value not in domains:
                domains.append(value)
        else:
            if ip not in ips:
                ips.append(ip)
    return domains, ips


def csr_matches_key(csr, key):
    """True when the CSR was made for ``key`` (private or public key, or PEM)."""
    return _spki_der(load_csr(csr)) == _spki_der(key)


# -------------------------------------------------------------- certificates

def _pem_text(text):
    if isinstance(text, (bytes, bytearray)):
        return bytes(text).decode('utf-8', 'replace')
    if isinstance(text, str):
        return text
    raise CertflowError('expected PEM text, got %s' % type(text).__name__)


def split_pem(text, label='CERTIFICATE'):
    """Every ``-----BEGIN <label>-----`` block in ``text``, in order.

    Each block is normalised: surrounding text dropped, line ends made LF,
    indentation and blank lines removed, a trailing newline added."""
    text = _pem_text(text)
    pattern = re.compile(r'-----BEGIN %s-----(.*?)-----END %s-----' % (re.escape(label), re.escape(label)), re.DOTALL)
    blocks = []
    for match in pattern.finditer(text):
        lines = [line.strip() for line in match.group(1).splitlines()]
        body = '\n'.join(line for line in lines if line)
        blocks.append('-----BEGIN %s-----\n%s\n-----END %s-----\n' % (label, body, label))
    return blocks


def load_certificates(pem, source='certificate text'):
    """All certificates in PEM text (or one DER certificate as bytes), in order.

    ``source`` names where the text came from in error messages."""
    if isinstance(pem, x509.Certificate):
        return [pem]
    if isinstance(pem, (list, tuple)):
        certs = []
        for item in pem:
            certs.extend(load_certificates(item, source))
        return certs
    if isinstance(pem, (bytes, bytearray)) and b'-----BEGIN' not in pem and pem[:1] == b'\x30':
        try:
            return [x509.load_der_x509_certificate(bytes(pem))]
        except ValueError as exc:
            raise CertflowError('could not load the DER certificate from %s: %s' % (source, exc)) from exc
    blocks = split_pem(pem, 'CERTIFICATE')
    if not blocks:
        raise CertflowError('no PEM certificate ("-----BEGIN CERTIFICATE-----") found in %s' % source)
    certs = []
    for index, block in enumerate(blocks):
        try:
            certs.append(x509.load_pem_x509_certificate(block.encode('ascii')))
        except (ValueError, UnicodeEncodeError) as exc:
            raise CertflowError('certificate #%d in %s is corrupt: %s' % (index + 1, source, exc)) from exc
    return certs


def load_certificate(pem, source='certificate text'):
    """The first certificate in PEM text (or DER bytes)."""
    return load_certificates(pem, source)[0]


def cert_to_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode('ascii')


def cert_serial_hex(cert):
    """Serial number as lowercase hex without colons, padded to whole bytes
    (even length) and without further leading zeros: the same digits as
    ``openssl x509 -noout -serial`` prints, lowercased. E.g. 0x0a1b -> '0a1b'."""
    serial = cert.serial_number if isinstance(cert, x509.Certificate) else int(cert)
    digits = '%x' % serial
    if len(digits) % 2:
        digits = '0' + digits
    return digits


def cert_matches_key(cert, key):
    """True when ``cert`` certifies the public half of ``key`` (private or public key, or PEM)."""
    return _spki_der(load_certificate(cert)) == _spki_der(key)


def cert_sha256_hex(pem):
    """Lowercase hex SHA-256 of the first certificate of ``pem`` (DER): what tells one certificate from another."""
    return load_certificates(pem)[0].fingerprint(hashes.SHA256()).hex()


def _fingerprint(cert, algorithm):
    return cert.fingerprint(algorithm).hex(':').upper()


def _iso_utc(moment):
    return moment.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _now_utc(now):
    if now is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if now.tzinfo is None:
        return now.replace(tzinfo=datetime.timezone.utc)
    return now


def _extension(cert, ext_class):
    try:
        return cert.extensions.get_extension_for_class(ext_class).value
    except x509.ExtensionNotFound:
        return None


def _describe(cert):
    subject = cert.subject.rfc4514_string()
    return "'%s'" % (subject or 'serial %s' % cert_serial_hex(cert))


DEFAULT_RENEW_BEFORE_RATIO = 1.0 / 3


def renewal_by_lifetime(not_before, not_after, renew_before_days=None, renew_before_ratio=None):
    """(renewal_time, renewal_source) without the CA's advice: ``renew_before_days``
    before expiry when set, else when ``renew_before_ratio`` of the lifetime
    is left (a third by default), so that 6-day and 90-day certificates both renew in time."""
    if renew_before_days is not None:
        return not_after - datetime.timedelta(days=renew_before_days), 'days'
    ratio = DEFAULT_RENEW_BEFORE_RATIO if renew_before_ratio is None else renew_before_ratio
    return not_after - (not_after - not_before) * ratio, 'ratio'


def renewal_summary(cert, renew_before_days=None, now=None, renew_before_ratio=None):
    """What decides a certificate's renewal, and nothing more (cert_info's
    ``detail: renewal``): serial, names, validity, ``days_remaining``,
    ``needs_renewal`` (true from ``renewal_time`` on, see renewal_by_lifetime;
    the CA's advice, when it gives any, is applied by _ops/renewal.py) and the
    ``renewal`` object. ``days_remaining`` is floor((not_after - now) / 1 day),
    negative once expired."""
    cert = load_certificate(cert)
    now = _now_utc(now)
    not_after = cert.not_valid_after_utc
    remaining = not_after - now
    renewal_time, renewal_source = renewal_by_lifetime(cert.not_valid_before_utc, not_after, renew_before_days,
                                                       renew_before_ratio)
    san = _extension(cert, x509.SubjectAlternativeName)
    summary = {
        'serial': cert_serial_hex(cert),
        'not_before': _iso_utc(cert.not_valid_before_utc),
        'not_after': _iso_utc(not_after),
        'days_remaining': remaining.days,
        'expired': remaining.total_seconds() < 0,
        'needs_renewal': now >= renewal_time,
        'renewal_time': _iso_utc(renewal_time),
        'renewal_source': renewal_source,
        'renewal_window': None,
        'explanation_url': None,
        'domains': [name.lower() for name in san.get_values_for_type(x509.DNSName)] if san else [],
        'ip_addresses': [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] if san else [],
    }
    summary['renewal'] = renewal_view(summary)
    return summary


def cert_summary(cert, renew_before_days=None, now=None, renew_before_ratio=None):
    """Facts about one certificate (the keys of the cert_info return value):
    ``renewal_summary`` and subject, issuer, fingerprints, key type, Unicode
    names, OCSP and CRL addresses."""
    cert = load_certificate(cert)
    summary = renewal_summary(cert, renew_before_days, now, renew_before_ratio)
    aia = _extension(cert, x509.AuthorityInformationAccess)
    ocsp_urls = [desc.access_location.value for desc in aia or ()
                 if desc.access_method == AuthorityInformationAccessOID.OCSP
                 and isinstance(desc.access_location, x509.UniformResourceIdentifier)]
    crl_urls = []
    for point in _extension(cert, x509.CRLDistributionPoints) or ():
        for name in point.full_name or ():
            if isinstance(name, x509.UniformResourceIdentifier):
                crl_urls.append(name.value)
    constraints = _extension(cert, x509.BasicConstraints)
    common_names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    summary.update({
        'subject': cert.subject.rfc4514_string(),
        'issuer': cert.issuer.rfc4514_string(),
        'common_name': str(common_names[0].value) if common_names else '',
        'fingerprints': {'sha256': _fingerprint(cert, hashes.SHA256()), 'sha1': _fingerprint(cert, hashes.SHA1())},
        'domains_unicode': [from_punycode(name) for name in summary['domains']],
        'key_type': key_type_of(cert.public_key()),
        'ocsp_urls': ocsp_urls,
        'crl_urls': crl_urls,
        'is_ca': bool(constraints and constraints.ca),
        'self_signed': cert.issuer == cert.subject,
    })
    return summary


def renewal_view(summary):
    """The ``renewal`` object of a summary, built from its flat renewal fields:
    ``source`` (ari, ratio, days), ``window_start``, ``window_end`` (the CA's
    suggested window, or null), ``renew_at`` and ``explanation_url``."""
    window = summary.get('renewal_window') or {}
    return {'source': summary.get('renewal_source'), 'window_start': window.get('start'), 'window_end': window.get('end'),
            'renew_at': summary.get('renewal_time'), 'explanation_url': summary.get('explanation_url')}


def _validity_problem(cert, role, now):
    if now < cert.not_valid_before_utc:
        return '%s %s is not valid before %s' % (role, _describe(cert), _iso_utc(cert.not_valid_before_utc))
    if now > cert.not_valid_after_utc:
        return '%s %s expired at %s' % (role, _describe(cert), _iso_utc(cert.not_valid_after_utc))
    return ''


def _signature_problem(child, parent, child_role, parent_role):
    """'' when ``parent`` signed ``child``, else why not."""
    if child.issuer != parent.subject:
        return "%s %s was issued by '%s', not by the %s %s" % (
            child_role, _describe(child), child.issuer.rfc4514_string(), parent_role, _describe(parent))
    constraints = _extension(parent, x509.BasicConstraints)
    if constraints is not None and not constraints.ca:
        return '%s %s is not a CA certificate, so it cannot sign %s %s' % (parent_role, _describe(parent), child_role, _describe(child))
    try:
        child.verify_directly_issued_by(parent)
    except InvalidSignature:
        return 'the signature of %s %s does not verify with the key of %s %s' % (child_role, _describe(child), parent_role, _describe(parent))
    except (TypeError, ValueError, UnsupportedAlgorithm) as exc:
        return 'cannot verify the signature of %s %s: %s' % (child_role, _describe(child), exc)
    return ''


def verify_chain(leaf, intermediates, roots=None, now=None):
    """Check leaf -> intermediates[0] -> ... in the order given: names link,
    signatures verify, issuers are CAs and every certificate is valid at ``now``.

    With ``roots`` the last certificate must be one of them or be signed by one
    of them (that root must be valid too). Arguments may be certificate objects
    or PEM text. Returns (ok, reason); reason is '' when ok."""
    now = _now_utc(now)
    leaf = load_certificate(leaf, 'the leaf certificate')
    chain = load_certificates(intermediates, 'the chain') if intermediates else []
    while chain and chain[0] == leaf:     # a full chain given as the chain
        chain.pop(0)
    path = [leaf] + chain
    roles = ['leaf certificate'] + ['chain certificate #%d' % (index + 1) for index in range(len(chain))]

    for cert, role in zip(path, roles):
        problem = _validity_problem(cert, role, now)
        if problem:
            return False, problem
    for index in range(len(path) - 1):
        problem = _signature_problem(path[index], path[index + 1], roles[index], roles[index + 1])
        if problem:
            return False, problem

    if roots is None:
        return True, ''
    roots = load_certificates(roots, 'the trusted roots') if roots else []
    last, last_role = path[-1], roles[-1]
    if last in roots:
        return True, ''
    reasons = []
    for root in roots:
        if root.subject != last.issuer:
            continue
        problem = _signature_problem(last, root, last_role, 'root') or _validity_problem(root, 'root', now)
        if not problem:
            return True, ''
        reasons.append(problem)
    if reasons:
        return False, '; '.join(reasons)
    return False, "%s %s was issued by '%s', which is not one of the trusted roots" % (
        last_role, _describe(last), last.issuer.rfc4514_string())


# ------------------------------------------------------------ domain names

def _domain_error(name, problem):
    return CertflowError("invalid domain name '%s': %s" % (name, problem), domain=name)


def is_ip_address(text):
    """Whether ``text`` is an IPv4/IPv6 address (brackets and spaces around it allowed)."""
    return isinstance(text, str) and _is_ip(text.strip())


def _is_ip(text):
    candidate = text[1:-1] if text.startswith('[') and text.endswith(']') else text
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def _ascii_label(original, label):
    """A-label of one (already UTS #46-mapped, lowercase) label, validated."""
    if label.isascii():
        if label.startswith('xn--'):
            try:
                unicode_label = idna.ulabel(label)
                round_trip = idna.alabel(unicode_label).decode('ascii')
            except (idna.IDNAError, UnicodeError) as exc:
                raise _domain_error(original, "label '%s' is not valid punycode (%s)" % (label, exc)) from exc
            if round_trip != label:
                raise _domain_error(original, "label '%s' is not valid punycode (it decodes to '%s')" % (label, unicode_label))
        elif not _LDH_LABEL.fullmatch(label):
            if label.startswith('-') or label.endswith('-'):
                problem = "label '%s' starts or ends with a hyphen" % label
            else:
                bad = sorted(set(char for char in label if not (char.isalnum() or char == '-')))
                problem = "label '%s' contains invalid characters %s (allowed: letters, digits, hyphen)" % (label, ' '.join(repr(c) for c in bad))
            raise _domain_error(original, problem)
        ascii_label = label
    else:
        try:
            ascii_label = idna.alabel(label).decode('ascii')
        except idna.IDNAError as exc:
            if 'too long' in str(exc).lower():
                raise _domain_error(original, "label '%s' is longer than %d octets in punycode" % (label, MAX_LABEL_OCTETS)) from exc
            raise _domain_error(original, "label '%s' is not a valid internationalised label (%s)" % (label, exc)) from exc
        except UnicodeError as exc:
            raise _domain_error(original, "label '%s' cannot be converted to punycode (%s)" % (label, exc)) from exc
    if len(ascii_label) > MAX_LABEL_OCTETS:
        raise _domain_error(original, "label '%s' is longer than %d octets" % (ascii_label, MAX_LABEL_OCTETS))
    return ascii_label


def _unicode_label(label):
    """U-label of an A-label; anything that does not decode stays as is."""
    if not label.startswith('xn--'):
        return label
    try:
        return idna.ulabel(label)
    except (idna.IDNAError, UnicodeError):
        return label


def normalize_domain(name):
    """(ascii, unicode) forms of a domain name, validated.

    Strips surrounding white space and one trailing dot, lowercases, maps with UTS #46
    (non-transitional, so 'ß' stays 'ß' and becomes 'xn--zca'), converts to
    A-labels with IDNA 2008. A leading '*.' wildcard label is kept. A control
    character anywhere (a newline, even a trailing one) is refused: the name
    ends up in a certificate, a store folder and web server configuration,
    where a line break would split it."""
    if not isinstance(name, str):
        raise CertflowError('domain name must be a string, got %s: %r' % (type(name).__name__, name))
    control = sorted(set(char for char in name if unicodedata.category(char) == 'Cc'))
    if control:
        raise CertflowError('invalid domain name %r: contains the control character(s) %s'
                            % (name, ' '.join(repr(char) for char in control)), domain=name)
    original = name
    name = name.strip()
    if not name:
        raise CertflowError('empty domain name')
    if _is_ip(name):
        raise CertflowError("'%s' is an IP address; put it in ip_addresses" % original, domain=original)
    if not name.isascii():
        try:
            name = idna.uts46_remap(name, std3_rules=False, transitional=False)
        except (idna.IDNAError, UnicodeError) as exc:
            raise _domain_error(original, 'contains characters not allowed in domain names (%s)' % exc) from exc
    name = name.lower()
    if name.endswith('.'):
        name = name[:-1]
    if not name:
        raise _domain_error(original, 'the name is only a dot')

    labels = name.split('.')
    wildcard = labels[0] == '*'
    if wildcard:
        labels = labels[1:]
        if not labels:
            raise _domain_error(original, "a wildcard needs a domain after it, e.g. '*.example.com'")
    if '' in labels:
        raise _domain_error(original, 'empty label (two dots in a row, or a leading dot)')
    if any('*' in label for label in labels):
        raise _domain_error(original, "a wildcard '*' is only allowed as the whole leftmost label, e.g. '*.example.com'")
    if wildcard and len(labels) < 2:
        raise _domain_error(original, "a wildcard must be followed by at least two labels ('*.%s' would cover a whole top-level domain)" % labels[0])

    ascii_labels = [_ascii_label(original, label) for label in labels]
    if ascii_labels[-1].isdigit():
        raise _domain_error(original, 'the last label is all digits; if this is an IP address put it in ip_addresses')
    unicode_labels = [_unicode_label(label) for label in ascii_labels]
    if wildcard:
        ascii_labels.insert(0, '*')
        unicode_labels.insert(0, '*')
    ascii_name = '.'.join(ascii_labels)
    if len(ascii_name) > MAX_DOMAIN_OCTETS:
        raise _domain_error(original, 'longer than %d octets in ASCII form (%d)' % (MAX_DOMAIN_OCTETS, len(ascii_name)))
    return ascii_name, '.'.join(unicode_labels)


def normalize_domains(names):
    """(ascii_list, unicode_list) for a list of names, duplicates removed by
    ASCII form, first occurrence kept. A single string is one name."""
    if isinstance(names, str):
        names = [names]
    ascii_names, unicode_names = [], []
    for name in names:
        ascii_name, unicode_name = normalize_domain(name)
        if ascii_name not in ascii_names:
            ascii_names.append(ascii_name)
            unicode_names.append(unicode_name)
    return ascii_names, unicode_names


def normalize_ip(text):
    """Canonical text of an IPv4/IPv6 address ('2001:DB8::0:1' -> '2001:db8::1')."""
    if not isinstance(text, str):
        raise CertflowError('IP address must be a string, got %s: %r' % (type(text).__name__, text))
    candidate = text.strip()
    if candidate.startswith('[') and candidate.endswith(']'):
        candidate = candidate[1:-1]
    if '%' in candidate:
        raise CertflowError("'%s' is not a valid IP address for a certificate (zone index not allowed)" % text)
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        raise CertflowError("'%s' is not a valid IP address" % text) from None


def to_punycode(name):
    """ASCII (A-label) form of a domain name; validates like normalize_domain."""
    return normalize_domain(name)[0]


def from_punycode(name):
    """Unicode form of a domain name for display. Lowercases; each 'xn--' label
    is decoded, and a label that does not decode is kept as it is (never raises
    for a string)."""
    if not isinstance(name, str):
        raise CertflowError('domain name must be a string, got %s: %r' % (type(name).__name__, name))
    name = name.strip().lower()
    if name.endswith('.') and len(name) > 1:
        name = name[:-1]
    return '.'.join(_unicode_label(label) for label in name.split('.'))
