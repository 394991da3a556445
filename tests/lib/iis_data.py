# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plain data for the iis role's tests: self-signed certificates, their Windows thumbprints, role sites and
microsoft.iis.website_info bindings."""

import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

STORE = 'WebHosting'


def make_certificate(common_name):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def windows_thumbprint(cert):
    """What Windows shows as the thumbprint: SHA-1 of the DER certificate, uppercase hex."""
    return hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()  # noqa: S324 - a thumbprint, not security


def site(name='Shop', certificate='shop', hostnames=('shop.example.com', 'www.shop.example.com'), port=443, ip='*'):
    return {'name': name, 'certificate': certificate, 'hostnames': list(hostnames), 'port': port, 'ip': ip}


def binding(hostname, thumbprint=None, store='My', port=443, ip='*', protocol='https', use_sni=True):
    return {'ip': ip, 'port': port, 'hostname': hostname, 'protocol': protocol, 'use_sni': use_sni, 'use_ccs': 'false',
            'certificate_hash': thumbprint or '', 'certificate_store_name': store if thumbprint else ''}
