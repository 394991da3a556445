# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files of the embedded local CA: root and intermediate, signing of
leaf certificates, the index of issued serials, the CRL and the orders, all
in one directory guarded by an flock.

Layout of ``path`` (directories 0700, keys 0600)::

    root.pem                  root certificate (give it to the clients that should trust the CA)
    intermediate.pem          intermediate certificate (the chain of every leaf)
    private/root.key          root key
    private/intermediate.key  intermediate key (signs leaves and the CRL)
    crl.pem, crl.der          CRL signed by the intermediate
    index.json                issued serials and their revocations, CRL number
    certs/<serial>.pem        every issued leaf
    orders/<order_id>.json    orders (the provider's state machine)
    .lock                     flock: every change happens while it is held
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import datetime
import errno
import ipaddress
import json
import os
import pathlib
import re
import threading

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:  # reported by the module wrapper (module_utils/_deps.py)
    pass

from ansible_collections.certflow.ssl.plugins.module_utils._common import (
    CertflowError, atomic_write, ensure_dir, flock_with_deadline, read_text)
from ansible_collections.certflow.ssl.plugins.module_utils import _crypto

DEFAULT_ROOT_NAME = 'certflow local root CA'
DEFAULT_INTERMEDIATE_NAME = 'certflow local intermediate CA'
ROOT_VALIDITY_DAYS = 3650
INTERMEDIATE_VALIDITY_DAYS = 1825
# The CRL is re-signed on every revocation, and on issuance once half of its
# lifetime has passed, so an active CA never serves a stale one.
CRL_VALIDITY_DAYS = 30
# notBefore a minute in the past: clients whose clocks lag a little accept a fresh certificate.
BACKDATE = datetime.timedelta(minutes=1)
LOCK_TIMEOUT = 120.0
MIN_RSA_BITS = 2048

KEY_MODE = 0o600
FILE_MODE = 0o644
DIR_MODE = 0o700

# cert_revoke reasons that go into the CRL, by their name in x509.ReasonFlags
REASON_FLAGS = ('key_compromise', 'affiliation_changed', 'superseded', 'cessation_of_operation')

_ORDER_ID = re.compile(r'\A[0-9a-f]{24}\Z')
_TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime(_TIME_FORMAT)


def parse_iso(text):
    return datetime.datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=datetime.timezone.utc)


def _ca_key_usage():
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                         key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False)


def _leaf_key_usage(public_key):
    # RSA key exchange (TLS 1.2 without ECDHE) needs keyEncipherment; EC keys only sign.
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=isinstance(public_key, rsa.RSAPublicKey),
                         data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                         encipher_only=False, decipher_only=False)


def _check_leaf_key(public_key):
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size < MIN_RSA_BITS:
        raise CertflowError('the CSR key is RSA %d bits; the local CA signs RSA keys of at least %d bits' % (public_key.key_size, MIN_RSA_BITS))
    if not isinstance(public_key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey)):
        raise CertflowError('the CSR key type %s is not supported by the local CA; use EC or RSA' % type(public_key).__name__.lstrip('_'))


class LocalCA:
    """One CA directory. Reading never creates anything; ``ensure()`` creates
    the root and intermediate on first use. Every change (CA creation,
    issuance, revocation, order update) happens under ``lock()``, which is
    re-entrant within one thread, so two processes never interleave their
    read-modify-write of the index."""

    def __init__(self, path, key_type='ec256', root_name=None, intermediate_name=None, crl_url=None):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.key_type = key_type or 'ec256'
        self.root_name = root_name or DEFAULT_ROOT_NAME
        self.intermediate_name = intermediate_name or DEFAULT_INTERMEDIATE_NAME
        self.crl_url = crl_url
        self._held = threading.local()
        self._signer_cache = None

    # -- layout ---------------------------------------------------------
    def _file(self, *parts):
        return os.path.join(self.path, *parts)

    @property
    def root_cert_path(self):
        return self._file('root.pem')

    @property
    def intermediate_cert_path(self):
        return self._file('intermediate.pem')

    @property
    def root_key_path(self):
        return self._file('private', 'root.key')

    @property
    def intermediate_key_path(self):
        return self._file('private', 'intermediate.key')

    @property
    def crl_path(self):
        return self._file('crl.pem')

    @property
    def crl_der_path(self):
        return self._file('crl.der')

    @property
    def index_path(self):
        return self._file('index.json')

    def cert_path(self, serial_hex):
        return self._file('certs', '%s.pem' % serial_hex)

    def order_path(self, order_id):
        if not isinstance(order_id, str) or not _ORDER_ID.match(order_id):
            raise CertflowError('order %r is not an order of the local CA at %s' % (order_id, self.path))
        return self._file('orders', '%s.json' % order_id)

    def crl_distribution_point(self):
        """What leaves carry as CRL distribution point: ``crl_url`` or the file URI of crl.pem."""
        if self.crl_url:
            return self.crl_url
        return pathlib.PurePosixPath(self.crl_path).as_uri()

    # -- locking --------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, timeout=LOCK_TIMEOUT):
        """Hold the CA's flock (the kernel releases it when a process dies)."""
        if getattr(self._held, 'depth', 0):
            self._held.depth += 1
            try:
                yield
            finally:
                self._held.depth -= 1
            return
        ensure_dir(self.path, DIR_MODE)
        fd = os.open(self._file('.lock'), os.O_RDWR | os.O_CREAT, KEY_MODE)
        try:
            flock_with_deadline(fd, timeout, 'the local CA at %s is locked by another process for more than %ss' % (self.path, timeout))
            self._held.depth = 1
            try:
                yield
            finally:
                self._held.depth = 0
        finally:
            os.close(fd)

    # -- the CA itself --------------------------------------------------
    def exists(self):
        return os.path.exists(self.root_cert_path) and os.path.exists(self.intermediate_cert_path)

    def ensure(self):
        """Create the root, the intermediate and an empty CRL unless they
        exist. Returns True when something was created."""
        if self.exists():
            return False
        with self.lock():
            if self.exists():   # another process created it while we waited
                return False
            self._create()
            return True

    def _create(self):
        for directory in (self.path, self._file('private'), self._file('certs'), self._file('orders')):
            ensure_dir(directory, DIR_MODE)
        now = utcnow()
        if os.path.exists(self.root_cert_path) and os.path.exists(self.root_key_path):
            # A run that died after the root was written: keep that root, clients may trust it already.
            root_key = _crypto.load_private_key(read_text(self.root_key_path))
            root_cert = _crypto.load_certificate(read_text(self.root_cert_path), self.root_cert_path)
        else:
            root_key = _crypto.generate_private_key(self.key_type)
            atomic_write(self.root_key_path, _crypto.private_key_to_pem(root_key), KEY_MODE)
            root_cert = self._build_root(root_key, now)
            atomic_write(self.root_cert_path, _crypto.cert_to_pem(root_cert), FILE_MODE)
        inter_key = _crypto.generate_private_key(self.key_type)
        atomic_write(self.intermediate_key_path, _crypto.private_key_to_pem(inter_key), KEY_MODE)
        inter_cert = self._build_intermediate(inter_key, root_key, root_cert, now)
        self._signer_cache = (inter_key, inter_cert)
        index = self.read_index()
        self._write_crl(index, now)
        self._write_index(index)
        # Written last: exists() is true only once everything else is in place.
        atomic_write(self.intermediate_cert_path, _crypto.cert_to_pem(inter_cert), FILE_MODE)

    def _build_root(self, key, now):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.root_name)])
        return (x509.CertificateBuilder()
                .subject_name(name).issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - BACKDATE)
                .not_valid_after(now + datetime.timedelta(days=ROOT_VALIDITY_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(_ca_key_usage(), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, _crypto.signing_hash(key)))

    def _build_intermediate(self, key, root_key, root_cert, now):
        not_after = min(now + datetime.timedelta(days=INTERMEDIATE_VALIDITY_DAYS), root_cert.not_valid_after_utc)
        return (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.intermediate_name)]))
                .issuer_name(root_cert.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - BACKDATE)
                .not_valid_after(not_after)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_ca_key_usage(), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
                .sign(root_key, _crypto.signing_hash(root_key)))

    def _signer(self):
        if self._signer_cache is None:
            if not self.exists():
                raise CertflowError('there is no local CA at %s yet' % self.path)
            key = _crypto.load_private_key(read_text(self.intermediate_key_path))
            cert = _crypto.load_certificate(read_text(self.intermediate_cert_path), self.intermediate_cert_path)
            self._signer_cache = (key, cert)
        return self._signer_cache

    def root_pem(self):
        return read_text(self.root_cert_path)

    def intermediate_pem(self):
        return read_text(self.intermediate_cert_path)

    def intermediate_cert(self):
        return self._signer()[1]

    def issued_here(self, cert):
        """True when the intermediate of this CA signed ``cert``."""
        if not self.exists():
            return False
        inter = self.intermediate_cert()
        if cert.issuer != inter.subject:
            return False
        try:
            cert.verify_directly_issued_by(inter)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True

    # -- index ----------------------------------------------------------
    def read_index(self):
        try:
            text = read_text(self.index_path)
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return {'version': 1, 'crl_number': 0, 'certificates': {}}
            raise CertflowError('cannot read the local CA index %s: %s' % (self.index_path, exc))
        try:
            index = json.loads(text)
        except ValueError as exc:
            raise CertflowError('the local CA index %s is corrupt: %s' % (self.index_path, exc))
        index.setdefault('certificates', {})
        index.setdefault('crl_number', 0)
        return index

    def _write_index(self, index):
        atomic_write(self.index_path, json.dumps(index, indent=2, sort_keys=True) + '\n', FILE_MODE)

    def issued_count(self):
        return len(self.read_index()['certificates'])

    def read_cert(self, serial_hex):
        return read_text(self.cert_path(serial_hex))

    # -- issuance -------------------------------------------------------
    def issue(self, csr, order_id, validity_days, quota=None):
        """Sign ``csr`` for ``order_id``; return (cert_pem, serial_hex).

        Idempotent per order: when the index already has a certificate for
        ``order_id`` (a run that died after signing) that one is returned.
        The quota is checked under the lock, so concurrent runs cannot
        overshoot it."""
        csr = _crypto.load_csr(csr)
        _check_leaf_key(csr.public_key())
        domains, ips = _crypto.csr_identifiers(csr)
        with self.lock():
            self.ensure()
            index = self.read_index()
            for serial, entry in index['certificates'].items():
                if entry.get('order_id') == order_id and os.path.exists(self.cert_path(serial)):
                    return self.read_cert(serial), serial
            issued = len(index['certificates'])
            if quota is not None and issued >= quota:
                raise CertflowError('local CA quota of %d certificates is used up (%d issued by %s); raise local_ca.quota to issue more'
                                    % (quota, issued, self.path), quota=quota, issued=issued)
            key, inter = self._signer()
            now = utcnow()
            if now >= inter.not_valid_after_utc:
                raise CertflowError('the intermediate certificate of the local CA at %s expired at %s'
                                    % (self.path, iso(inter.not_valid_after_utc)))
            serial = x509.random_serial_number()     # 159 random bits
            while _crypto.cert_serial_hex(serial) in index['certificates']:
                serial = x509.random_serial_number()
            not_after = min(now + datetime.timedelta(days=validity_days), inter.not_valid_after_utc)
            cert = self._build_leaf(csr, domains, ips, serial, now, not_after, key, inter)
            serial_hex = _crypto.cert_serial_hex(cert)
            pem = _crypto.cert_to_pem(cert)
            ensure_dir(self._file('certs'), DIR_MODE)
            atomic_write(self.cert_path(serial_hex), pem, FILE_MODE)
            index['certificates'][serial_hex] = {
                'order_id': order_id,
                'names': domains + ips,
                'not_before': iso(cert.not_valid_before_utc),
                'not_after': iso(cert.not_valid_after_utc),
                'issued_at': iso(now),
                'revoked_at': None,
                'reason': None,
            }
            if self._crl_is_stale(index, now):
                self._write_crl(index, now)
            self._write_index(index)
            return pem, serial_hex

    def _build_leaf(self, csr, domains, ips, serial, now, not_after, key, inter):
        public_key = csr.public_key()
        common_name = next((name for name in domains if len(name) <= _crypto.MAX_COMMON_NAME), None) or (ips[0] if ips else None)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name else [])
        names = [x509.DNSName(name) for name in domains] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        if not names:
            raise CertflowError('the CSR names no domain or IP address')
        inter_ski = inter.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (x509.CertificateBuilder()
                   .subject_name(subject)
                   .issuer_name(inter.subject)
                   .public_key(public_key)
                   .serial_number(serial)
                   .not_valid_before(now - BACKDATE)
                   .not_valid_after(not_after)
                   # RFC 5280: the SAN is critical when the subject is empty.
                   .add_extension(x509.SubjectAlternativeName(names), critical=not common_name)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(_leaf_key_usage(public_key), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(inter_ski), critical=False)
                   .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                       full_name=[x509.UniformResourceIdentifier(self.crl_distribution_point())],
                       relative_name=None, reasons=None, crl_issuer=None)]), critical=False))
        return builder.sign(key, _crypto.signing_hash(key))

    # -- revocation -----------------------------------------------------
    def revoke(self, cert, reason='unspecified'):
        """Record the revocation of ``cert`` (issued here) and re-sign the CRL.
        Returns (revoked_now, index_entry); revoked_now is False when it was
        revoked before."""
        serial_hex = _crypto.cert_serial_hex(cert)
        with self.lock():
            index = self.read_index()
            entry = index['certificates'].get(serial_hex)
            if entry is None:
                # Signed by this CA but missing from the index (index restored from a backup).
                entry = {'order_id': None, 'names': [], 'not_before': iso(cert.not_valid_before_utc),
                         'not_after': iso(cert.not_valid_after_utc), 'issued_at': None, 'revoked_at': None, 'reason': None}
                index['certificates'][serial_hex] = entry
            if entry.get('revoked_at'):
                return False, entry
            now = utcnow()
            entry['revoked_at'] = iso(now)
            entry['reason'] = reason
            self._write_crl(index, now)
            self._write_index(index)
            return True, entry

    def status(self, cert):
        """'good', 'revoked' or 'unknown' (not issued by this CA, or not in its index)."""
        if not self.issued_here(cert):
            return 'unknown'
        crl = self.load_crl()
        if crl is not None and crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            return 'revoked'
        entry = self.read_index()['certificates'].get(_crypto.cert_serial_hex(cert))
        if entry is None:
            return 'unknown'
        return 'revoked' if entry.get('revoked_at') else 'good'

    def load_crl(self):
        """The CRL, when it exists and its signature verifies with the intermediate."""
        try:
            data = read_text(self.crl_path)
        except (IOError, OSError):
            return None
        try:
            crl = x509.load_pem_x509_crl(data.encode('ascii'))
        except ValueError as exc:
            raise CertflowError('the local CA CRL %s is corrupt: %s' % (self.crl_path, exc))
        if not crl.is_signature_valid(self.intermediate_cert().public_key()):
            raise CertflowError('the local CA CRL %s is not signed by its intermediate' % self.crl_path)
        return crl

    def crl_pem(self):
        return read_text(self.crl_path)

    def _crl_is_stale(self, index, now):
        updated = index.get('crl_updated_at')
        if not updated or not os.path.exists(self.crl_path):
            return True
        return now - parse_iso(updated) >= datetime.timedelta(days=CRL_VALIDITY_DAYS) / 2

    def _write_crl(self, index, now):
        key, inter = self._signer()
        index['crl_number'] = int(index.get('crl_number') or 0) + 1
        inter_ski = inter.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (x509.CertificateRevocationListBuilder()
                   .issuer_name(inter.subject)
                   .last_update(now - BACKDATE)
                   .next_update(now + datetime.timedelta(days=CRL_VALIDITY_DAYS))
                   .add_extension(x509.CRLNumber(index['crl_number']), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(inter_ski), critical=False))
        for serial_hex, entry in sorted(index['certificates'].items()):
            if not entry.get('revoked_at'):
                continue
            revoked = (x509.RevokedCertificateBuilder()
                       .serial_number(int(serial_hex, 16))
                       .revocation_date(parse_iso(entry['revoked_at'])))
            # RFC 5280 5.3.1: the reason code 'unspecified' should be left out.
            if entry.get('reason') in REASON_FLAGS:
                revoked = revoked.add_extension(x509.CRLReason(x509.ReasonFlags[entry['reason']]), critical=False)
            builder = builder.add_revoked_certificate(revoked.build())
        crl = builder.sign(key, _crypto.signing_hash(key))
        atomic_write(self.crl_der_path, crl.public_bytes(serialization.Encoding.DER), FILE_MODE)
        atomic_write(self.crl_path, crl.public_bytes(serialization.Encoding.PEM), FILE_MODE)
        index['crl_updated_at'] = iso(now)

    # -- orders ---------------------------------------------------------
    def load_order(self, order_id):
        path = self.order_path(order_id)
        try:
            text = read_text(path)
        except (IOError, OSError) as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise CertflowError('cannot read local CA order %s: %s' % (path, exc))
        try:
            return json.loads(text)
        except ValueError as exc:
            raise CertflowError('local CA order file %s is corrupt: %s' % (path, exc))

    def save_order(self, order):
        path = self.order_path(order['order_id'])
        ensure_dir(os.path.dirname(path), DIR_MODE)
        atomic_write(path, json.dumps(order, indent=2, sort_keys=True) + '\n', FILE_MODE)

    def orders(self):
        """Every readable order on disk."""
        directory = self._file('orders')
        if not os.path.isdir(directory):
            return []
        found = []
        for entry in sorted(os.listdir(directory)):
            order_id, ext = os.path.splitext(entry)
            if ext != '.json' or not _ORDER_ID.match(order_id):
                continue
            try:
                order = self.load_order(order_id)
            except CertflowError:
                continue    # one damaged file must not hide the other orders
            if order:
                found.append(order)
        return found
