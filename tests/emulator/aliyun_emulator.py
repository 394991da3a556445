# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An emulator of Alibaba Cloud Certificate Management Service (cas 2020-04-07)
and Alibaba Cloud DNS (alidns 2015-01-09), for tests: Alibaba Cloud cannot be
reached from the test machines.

What it does like the real service (as documented; see the notes in
docs of each handler):

* RPC style: POST (or GET) to ``/``, parameters in the query string (a form
  body is accepted too), JSON answers, errors as
  ``{"RequestId", "HostId", "Code", "Message", "Recommend"}`` with the HTTP
  status of the error code.
* Verifies ACS3-HMAC-SHA256 signatures with its own canonicalisation of the
  request *as received*: unknown AccessKey ID -> InvalidAccessKeyId.NotFound,
  wrong signature -> SignatureDoesNotMatch, ``x-acs-date`` more than 15
  minutes off -> InvalidTimeStamp.Expired, reused nonce -> SignatureNonceUsed,
  STS token checked when the key pair has one.
* Certificate resource plans (quota) per product code: NotFoundPackage,
  NotRemainCount; UsedCount counts submitted applications, deleting a
  cancelled or failed order gives its quota back.
* The order state machine of DescribeCertificateState:
  ``domain_verify`` -> ``process`` -> ``certificate``; ``verify_fail``;
  ``payed`` after CancelOrderRequest; revocation. The proof is really checked:
  DNS -> TXT at ``_dnsauth.<domain>`` asked from the configured DNS server;
  FILE -> ``http://<domain>:<http_port><Uri>`` with the name resolved through
  that DNS server. OV/EV orders stay in ``process`` until ``approve()`` (or
  ``ov_review_seconds``).
* Issues from its own test CA (root + intermediate) for the CSR's key, or
  makes the key itself when no CSR was given (then returns PrivateKey).
* Alidns records; every added/deleted TXT record is pushed to a real DNS
  server with RFC 2136 + TSIG when ``rfc2136`` is configured.
* Fault switches: ``fail_next(n, 'Throttling.User')`` (HTTP 400) or
  ``fail_next(n, 'ServiceUnavailable')`` (HTTP 503); a hostile CA:
  ``answer_validation_with(domain, Uri='/index.html')`` (or RecordDomain=...).

Use it in-process::

    with AliyunEmulator(credentials={'AKID': 'secret'}) as emulator:
        emulator.set_quota('digicert-free-1-free', 5)
        ... endpoint=emulator.endpoint ...

or as a program: ``python -m tests.emulator.aliyun_emulator --help`` (prints
one JSON line with the endpoint, then serves until SIGTERM; the admin calls
are ``POST /_admin/<name>`` with a JSON body).
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import ipaddress
import json

import secrets
import signal
import ssl
import sys
import threading

import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, urlsplit

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.emulator.aliyun_cloud import CDN_VERSION, CLOUD_ERROR_STATUS, CloudDeployMixin

CAS_VERSION = '2020-04-07'
ALIDNS_VERSION = '2015-01-09'
ALGORITHM = 'ACS3-HMAC-SHA256'
MAX_CLOCK_SKEW = datetime.timedelta(minutes=15)
DEFAULT_PRODUCT = 'digicert-free-1-free'
FILE_URI = '/.well-known/pki-validation/fileauth.txt'
DNS_RECORD_LABEL = '_dnsauth'

# HTTP status of each error code the emulator returns (from the products'
# error tables; CAS: NotFoundPackage/NotRemainCount/NotFoundOrder 404,
# OrderStateError/CreateCertificateRequestFailed/DeleteFail 403).
ERROR_STATUS = {
    'IncompleteSignature': 400, 'MissingParameter': 400, 'InvalidParameter': 400, 'InvalidVersion': 400,
    'InvalidTimeStamp.Expired': 400, 'InvalidTimeStamp.Format': 400, 'SignatureNonceUsed': 400,
    'InvalidSecurityToken.Malformed': 400, 'InvalidSecurityToken.MismatchWithAccessKey': 400,
    'SignatureDoesNotMatch': 400, 'InvalidAccessKeyId.NotFound': 404, 'InvalidAction.NotFound': 404,
    'Throttling.User': 400, 'ServiceUnavailable': 503, 'InternalError': 500,
    'NotFoundPackage': 404, 'NotRemainCount': 404, 'NotFoundOrder': 404, 'OrderStateError': 403,
    'CreateCertificateRequestFailed': 403, 'DeleteFail': 403,
    'InvalidDomainName.NoExist': 400, 'DomainRecordDuplicate': 400, 'DomainRecordNotBelongToUser': 400,
}
ERROR_STATUS.update(CLOUD_ERROR_STATUS)

FAULT_MESSAGES = {
    'Throttling.User': 'Request was denied due to user flow control.',
    'Throttling': 'Request was denied due to request throttling.',
    'ServiceUnavailable': 'The request has failed due to a temporary failure of the server.',
    'InternalError': 'The request processing has failed due to some unknown error, exception or failure.',
}


class ApiError(Exception):
    def __init__(self, code, message, status=None):
        super(ApiError, self).__init__(message)
        self.code = code
        self.message = message
        self.status = status or ERROR_STATUS.get(code, 400)


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _millis(moment):
    return int(moment.timestamp() * 1000)


def _encode(value):
    return quote(str(value).encode('utf-8'), safe='-_.~')


def cert_type_of(product):
    code = (product or '').lower()
    if '-ev-' in code:
        return 'EV'
    if '-ov-' in code:
        return 'OV'
    if '-free-' in code:
        return 'FREE'
    return 'DV'


# --------------------------------------------------------------- signature

def verify_acs3(method, raw_query, headers, body, lookup_credentials, now=None, seen_nonces=None):
    """Check an ACS3-HMAC-SHA256 request as received. ``headers`` maps
    lowercase names to values; ``lookup_credentials(key_id)`` returns
    ``(secret, security_token_or_None)`` or None. Returns the key id."""
    authorization = headers.get('authorization', '')
    if not authorization.startswith(ALGORITHM + ' '):
        raise ApiError('IncompleteSignature', 'The request signature does not conform to Aliyun standards (expected %s).' % ALGORITHM)
    fields = {}
    for part in authorization[len(ALGORITHM) + 1:].split(','):
        name, _sep, value = part.strip().partition('=')
        fields[name] = value
    key_id, signed, given = fields.get('Credential'), fields.get('SignedHeaders'), fields.get('Signature')
    if not key_id or not signed or not given:
        raise ApiError('IncompleteSignature', 'Authorization needs Credential, SignedHeaders and Signature.')
    found = lookup_credentials(key_id)
    if found is None:
        raise ApiError('InvalidAccessKeyId.NotFound', 'Specified access key is not found.')
    secret, token = found
    for required in ('x-acs-action', 'x-acs-version', 'x-acs-date', 'x-acs-signature-nonce', 'x-acs-content-sha256'):
        if not headers.get(required):
            raise ApiError('MissingParameter', 'The header "%s" is required.' % required)
    signed_names = signed.split(';')
    for name in headers:
        if (name.startswith('x-acs-') or name == 'host') and name not in signed_names:
            raise ApiError('IncompleteSignature', 'The header "%s" must be signed.' % name)
    if hashlib.sha256(body).hexdigest() != headers['x-acs-content-sha256']:
        raise ApiError('IncompleteSignature', 'x-acs-content-sha256 does not match the request body.')
    try:
        date = datetime.datetime.strptime(headers['x-acs-date'], '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise ApiError('InvalidTimeStamp.Format', 'Specified time stamp or date value is not well formatted.') from None
    if abs((now or _utcnow()) - date) > MAX_CLOCK_SKEW:
        raise ApiError('InvalidTimeStamp.Expired', 'Specified time stamp or date value is expired.')
    sent_token = headers.get('x-acs-security-token')
    if token and sent_token != token:
        raise ApiError('InvalidSecurityToken.MismatchWithAccessKey' if sent_token else 'InvalidSecurityToken.Malformed',
                       'The security token is missing or does not belong to this AccessKey.')
    if sent_token and not token:
        raise ApiError('InvalidSecurityToken.Malformed', 'This AccessKey is not an STS key; no security token expected.')

    pairs = sorted((_encode(k), _encode(v)) for k, v in parse_qsl(raw_query, keep_blank_values=True))
    query = '&'.join('%s=%s' % pair for pair in pairs)
    canonical_headers = ''
    for name in signed_names:
        canonical_headers += '%s:%s\n' % (name, headers.get(name, '').strip())
    canonical = '\n'.join([method, '/', query, canonical_headers, signed, headers['x-acs-content-sha256']])
    string_to_sign = '%s\n%s' % (ALGORITHM, hashlib.sha256(canonical.encode('utf-8')).hexdigest())
    expected = hmac.new(secret.encode('utf-8'), string_to_sign.encode('utf-8'), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise ApiError('SignatureDoesNotMatch', 'Specified signature does not match our calculation. server string to sign is:%s'
                       % string_to_sign.replace('\n', ' '))
    if seen_nonces is not None:
        nonce = headers['x-acs-signature-nonce']
        if nonce in seen_nonces:
            raise ApiError('SignatureNonceUsed', 'Specified signature nonce was used already.')
        seen_nonces.add(nonce)
    return key_id


# ------------------------------------------------------------------ test CA

class TestCA:
    """Root and intermediate of the emulator; issues leaf certificates."""

    def __init__(self, name='Certflow Aliyun Emulator'):
        now = _utcnow()
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '%s Root' % name)])
        self.root = self._ca_cert(root_name, root_name, self.root_key.public_key(), self.root_key, now, 3650, None)
        self.intermediate_key = ec.generate_private_key(ec.SECP256R1())
        inter_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '%s Intermediate' % name)])
        self.intermediate = self._ca_cert(inter_name, root_name, self.intermediate_key.public_key(), self.root_key, now, 1825, 0)

    @staticmethod
    def _ca_cert(subject, issuer, public_key, signing_key, now, days, path_length):
        builder = (x509.CertificateBuilder()
                   .subject_name(subject).issuer_name(issuer).public_key(public_key)
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))
        return builder.sign(signing_key, hashes.SHA256())

    @property
    def root_pem(self):
        return self.root.public_bytes(serialization.Encoding.PEM).decode('ascii')

    @property
    def intermediate_pem(self):
        return self.intermediate.public_bytes(serialization.Encoding.PEM).decode('ascii')

    def issue(self, public_key, names, days, organization=None):
        now = _utcnow()
        alt_names = []
        for name in names:
            try:
                alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt_names.append(x509.DNSName(name))
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, names[0])]
        if organization:
            attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        is_rsa = isinstance(public_key, rsa.RSAPublicKey)
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name(attributes)).issuer_name(self.intermediate.subject).public_key(public_key)
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=days))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=is_rsa,
                                                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                                                encipher_only=False, decipher_only=False), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.intermediate_key.public_key()),
                                  critical=False))
        return builder.sign(self.intermediate_key, hashes.SHA256())


# ----------------------------------------------------------------- emulator

class AliyunEmulator(CloudDeployMixin):
    """The CAS + Alidns emulator. All public methods are thread-safe."""

    def __init__(self, credentials=None, dns_server=None, http_port=80, rfc2136=None, alidns_zones=(), packages=None,
                 validity_days=365, expiring_days=30, dv_review_seconds=0.0, ov_review_seconds=None, host='127.0.0.1', port=0,
                 tls=None, cas_region='cn-hangzhou', deploy_step_seconds=0.2):
        """``credentials``: {key_id: secret} or {key_id: (secret, sts_token)}.
        ``dns_server``: 'ip:port' asked for TXT proofs and for the A record of
        file-validated domains. ``http_port``: port of the web servers of the
        domains. ``rfc2136``: {'server': 'ip:port', 'key_name', 'key_secret',
        'key_algorithm'} to push Alidns records into a real DNS server.
        ``packages``: {product_code: total}. ``tls``: (cert_path, key_path) to
        serve https (an STS token is only sent over https). ``cas_region``:
        where the account's CAS certificates live (ap-southeast-1: an
        international account); ``deploy_step_seconds``: how long a deployment
        job stays in each of pending, scheduling and processing (see aliyun_cloud.py)."""
        self._lock = threading.RLock()
        self._credentials = {}
        for key_id, value in (credentials or {}).items():
            self.add_credentials(key_id, *(value if isinstance(value, (tuple, list)) else (value,)))
        self.dns_server = _split_hostport(dns_server) if dns_server else None
        self.http_port = int(http_port)
        self.rfc2136 = dict(rfc2136) if rfc2136 else None
        if self.rfc2136:
            self.rfc2136['address'] = _split_hostport(self.rfc2136['server'])
        self.validity_days = validity_days
        self.expiring_days = expiring_days
        self.dv_review_seconds = dv_review_seconds
        self.ov_review_seconds = ov_review_seconds
        self.ca = TestCA()
        self.packages = {}
        for product, total in (packages or {}).items():
            self.set_quota(product, total)
        self.orders = {}
        self.zones = {}
        for zone in alidns_zones:
            self.add_zone(zone)
        self.records = {}
        self.calls = []
        self._faults = []
        self._validation_overrides = {}
        self._nonces = set()
        self._next_order = 1000000001
        self._next_record = 9000001
        self._init_cloud(cas_region, deploy_step_seconds)
        self._host, self._port = host, port
        self._tls = tls
        self._server = None
        self._thread = None

    # -- lifecycle --------------------------------------------------------

    def start(self):
        emulator = self

        class Handler(_Handler):
            pass
        Handler.emulator = emulator
        self._server = ThreadingHTTPServer((self._host, self._port), Handler)
        self._server.daemon_threads = True
        if self._tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self._tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name='aliyun-emulator', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def endpoint(self):
        return '%s://%s:%d' % ('https' if self._tls else 'http', self._host, self.port)

    # -- admin API (Python) -----------------------------------------------

    def add_credentials(self, key_id, secret, security_token=None):
        with self._lock:
            self._credentials[key_id] = (secret, security_token)

    def set_quota(self, product, total, used=None):
        with self._lock:
            package = self.packages.setdefault(product, {'total': 0, 'used': 0, 'issued': 0})
            package['total'] = int(total)
            if used is not None:
                package['used'] = int(used)
            return dict(package)

    def quota(self, product=DEFAULT_PRODUCT):
        with self._lock:
            return dict(self.packages.get(product, {'total': 0, 'used': 0, 'issued': 0}))

    def add_zone(self, zone):
        with self._lock:
            zone = zone.rstrip('.').lower()
            self.zones.setdefault(zone, {'id': str(uuid.uuid4()), 'created': _utcnow()})

    def fail_next(self, count, code='Throttling.User'):
        """The next ``count`` API calls answer ``code`` (after the signature check)."""
        if code not in FAULT_MESSAGES:
            raise ValueError('unsupported fault code %r' % code)
        with self._lock:
            self._faults.extend([code] * int(count))

    def answer_validation_with(self, domain, **fields):
        """Hostile-CA switch: DescribeCertificateState of orders whose first
        name is ``domain`` answers these fields (e.g. Uri='/index.html',
        RecordDomain='evil.example.com') in place of its own."""
        with self._lock:
            self._validation_overrides[domain.lower()] = dict(fields)

    def approve(self, order_id):
        """The CA finishes its review of an OV/EV (or any) order now."""
        with self._lock:
            order = self._order(order_id)
            order['approved'] = True
            if order['state'] == 'process':
                self._issue(order)
            return order['state']

    def reject(self, order_id, reason='The CA rejected the application.'):
        with self._lock:
            order = self._order(order_id)
            if order['state'] not in ('domain_verify', 'process'):
                raise ValueError('order %s is %s' % (order_id, order['state']))
            order['state'] = 'verify_fail'
            order['reason'] = reason

    def expire_soon(self, order_id, days_left=10):
        """Move an issued order into the 'about to expire' window (for renewals)."""
        with self._lock:
            order = self._order(order_id)
            order['not_after'] = _utcnow() + datetime.timedelta(days=days_left)

    def order(self, order_id):
        with self._lock:
            return dict(self._order(order_id))

    def records_at(self, fqdn):
        with self._lock:
            return [dict(record) for record in self.records.values() if _record_fqdn(record) == fqdn.rstrip('.').lower()]

    @property
    def root_pem(self):
        return self.ca.root_pem

    def actions(self):
        with self._lock:
            return [action for action, _params in self.calls]

    # -- request entry ----------------------------------------------------

    def handle(self, method, raw_query, headers, body):
        """Process one API request; returns (status, json_dict)."""
        request_id = str(uuid.uuid4()).upper()
        try:
            with self._lock:
                verify_acs3(method, raw_query, headers, body, self._credentials.get, seen_nonces=self._nonces)
                action, version = headers['x-acs-action'], headers['x-acs-version']
                params = dict(parse_qsl(raw_query, keep_blank_values=True))
                if body and 'application/x-www-form-urlencoded' in headers.get('content-type', ''):
                    params.update(parse_qsl(body.decode('utf-8'), keep_blank_values=True))
                self.calls.append((action, params))
                if self._faults:
                    code = self._faults.pop(0)
                    raise ApiError(code, FAULT_MESSAGES[code])
                handlers = {CAS_VERSION: 'cas_', ALIDNS_VERSION: 'dns_', CDN_VERSION: 'cdn_'}
                prefix = handlers.get(version)
                if prefix is None:
                    raise ApiError('InvalidVersion', 'Specified parameter Version is not valid.')
                handler = getattr(self, prefix + action, None)
                if handler is None:
                    raise ApiError('InvalidAction.NotFound', 'Specified api is not found, please check your url and method.')
                result = handler(params)
            result['RequestId'] = request_id
            return 200, result
        except ApiError as error:
            return error.status, {'RequestId': request_id, 'HostId': headers.get('host', ''), 'Code': error.code,
                                  'Message': error.message,
                                  'Recommend': 'https://api.aliyun.com/troubleshoot?q=%s' % error.code}

    # -- CAS: quota -------------------------------------------------------

    def cas_DescribePackageState(self, params):
        product = params.get('ProductCode') or DEFAULT_PRODUCT
        package = self.packages.get(product, {'total': 0, 'used': 0, 'issued': 0})
        return {'ProductCode': product, 'TotalCount': package['total'], 'UsedCount': package['used'],
                'IssuedCount': package['issued']}

    def _take_quota(self, product):
        package = self.packages.get(product)
        if not package or package['total'] <= 0:
            raise ApiError('NotFoundPackage', 'No certificate resource plan of %s was purchased.' % product)
        if package['used'] >= package['total']:
            raise ApiError('NotRemainCount', 'The certificate resource plan of %s has no remaining count.' % product)
        package['used'] += 1

    def _return_quota(self, order):
        package = self.packages.get(order['product'])
        if package and package['used'] > 0:
            package['used'] -= 1

    # -- CAS: orders ------------------------------------------------------

    def cas_CreateCertificateForPackageRequest(self, params):
        product = params.get('ProductCode') or DEFAULT_PRODUCT
        csr = _load_csr(params.get('Csr')) if params.get('Csr') else None
        names = [name.strip().lower() for name in (params.get('Domain') or '').split(',') if name.strip()]
        if not names and csr is not None:
            names = _csr_names(csr)
        if not names:
            raise ApiError('MissingParameter', 'Either Domain or Csr is required.')
        if len(names) > 5:
            raise ApiError('InvalidParameter', 'At most 5 domain names are allowed.')
        wildcards = [name.startswith('*.') for name in names]
        if any(wildcards) and not all(wildcards):
            raise ApiError('InvalidParameter', 'Domain must be only single domain names or only wildcard domain names.')
        validate_type = (params.get('ValidateType') or '').upper() or None
        cert_type = cert_type_of(product)
        if validate_type not in (None, 'DNS', 'FILE', 'EMAIL'):
            raise ApiError('InvalidParameter', 'ValidateType must be DNS or FILE.')
        if validate_type is None:
            validate_type = 'EMAIL' if cert_type in ('OV', 'EV') else 'DNS'
        if validate_type == 'FILE' and any(wildcards):
            raise ApiError('CreateCertificateRequestFailed', 'File validation is not available for wildcard domain names.')
        if cert_type in ('OV', 'EV') and not params.get('CompanyName'):
            raise ApiError('CreateCertificateRequestFailed', 'OV and EV certificates need CompanyName (a company profile).')
        self._take_quota(product)
        return {'OrderId': self._new_order(product, names, validate_type, params, csr)['id']}

    def _new_order(self, product, names, validate_type, params, csr, renewed_from=None):
        order_id = self._next_order
        self._next_order += 1
        order = {
            'id': order_id, 'instance_id': 'cas-ivauto-%s' % secrets.token_hex(4), 'product': product, 'domains': names,
            'cert_type': cert_type_of(product), 'validate_type': validate_type, 'token': secrets.token_hex(16),
            'csr': csr, 'username': params.get('Username'), 'email': params.get('Email'), 'phone': params.get('Phone'),
            'company': params.get('CompanyName'), 'state': 'domain_verify', 'buy_date': _utcnow(), 'approved': False,
            'review_until': None, 'cert': None, 'key_pem': '', 'not_before': None, 'not_after': None, 'cert_id': None,
            'renewed_from': renewed_from, 'reason': None, 'checks': 0,
        }
        if validate_type == 'EMAIL':
            # The CA mails the applicant; the review starts right away.
            self._start_review(order)
        self.orders[order_id] = order
        return order

    def _order(self, order_id):
        try:
            order = self.orders[int(order_id)]
        except (KeyError, TypeError, ValueError):
            raise ApiError('NotFoundOrder', 'The certificate order %s was not found.' % order_id) from None
        if order['state'] == 'deleted':
            raise ApiError('NotFoundOrder', 'The certificate order %s was not found.' % order_id)
        return order

    def cas_DescribeCertificateState(self, params):
        order = self._order(params.get('OrderId'))
        self._advance(order)
        state = order['state']
        answer = {'Type': state}
        if state == 'domain_verify':
            answer['ValidateType'] = order['validate_type']
            if order['validate_type'] == 'DNS':
                answer.update({'RecordDomain': DNS_RECORD_LABEL, 'RecordType': 'TXT', 'RecordValue': order['token']})
            elif order['validate_type'] == 'FILE':
                answer.update({'Domain': order['domains'][0], 'Uri': FILE_URI, 'Content': order['token']})
            answer.update(self._validation_overrides.get(order['domains'][0].lower(), {}))
        elif state in ('certificate', 'revoked'):
            answer = {'Type': 'certificate', 'CertId': str(order['cert_id']), 'Certificate': order['cert'],
                      'PrivateKey': order['key_pem']}
        return answer

    def _advance(self, order):
        """What the CA does by itself between two looks at the order."""
        if order['state'] == 'domain_verify' and order['validate_type'] in ('DNS', 'FILE'):
            order['checks'] += 1
            if self._proof_ok(order):
                self._start_review(order)      # seen as 'process' at least once, like the real review
        elif order['state'] == 'process':
            due = order['review_until'] is not None and _utcnow() >= order['review_until']
            if order['approved'] or due:
                self._issue(order)

    def _start_review(self, order):
        order['state'] = 'process'
        if order['cert_type'] in ('OV', 'EV'):
            if self.ov_review_seconds is not None:
                order['review_until'] = _utcnow() + datetime.timedelta(seconds=self.ov_review_seconds)
        else:
            order['review_until'] = _utcnow() + datetime.timedelta(seconds=self.dv_review_seconds)

    def _proof_ok(self, order):
        for name in order['domains']:
            base = name[2:] if name.startswith('*.') else name
            if order['validate_type'] == 'DNS':
                if order['token'] not in self._txt_values('%s.%s' % (DNS_RECORD_LABEL, base)):
                    return False
            elif self._fetch_file(base) != order['token']:
                return False
        return True

    def _ask_dns(self, name, rdtype):
        if self.dns_server is None:
            return None
        query = dns.message.make_query(name, rdtype)
        try:
            response, _tcp = dns.query.udp_with_fallback(query, self.dns_server[0], port=self.dns_server[1], timeout=2.0)
        except (dns.exception.DNSException, OSError):
            return None
        return response

    def _txt_values(self, name):
        response = self._ask_dns(name, dns.rdatatype.TXT)
        values = []
        for rrset in getattr(response, 'answer', []):
            if rrset.rdtype == dns.rdatatype.TXT:
                values.extend(b''.join(rdata.strings).decode('utf-8') for rdata in rrset)
        return values

    def _fetch_file(self, domain):
        try:
            address = str(ipaddress.ip_address(domain))
        except ValueError:
            response = self._ask_dns(domain, dns.rdatatype.A)
            addresses = [rdata.address for rrset in getattr(response, 'answer', []) if rrset.rdtype == dns.rdatatype.A
                         for rdata in rrset]
            if not addresses:
                return None
            address = addresses[0]
        connection = http.client.HTTPConnection(address, self.http_port, timeout=3)
        try:
            connection.request('GET', FILE_URI, headers={'Host': domain if self.http_port == 80 else '%s:%d' % (domain, self.http_port)})
            response = connection.getresponse()
            body = response.read(4096)
            if response.status != 200:
                return None
            return body.decode('utf-8', 'replace').strip()
        except OSError:
            return None
        finally:
            connection.close()

    def _issue(self, order):
        names = order['domains']
        if order['csr'] is not None:
            public_key = order['csr'].public_key()
            order['key_pem'] = ''
        else:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public_key = key.public_key()
            order['key_pem'] = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                                 serialization.NoEncryption()).decode('ascii')
        cert = self.ca.issue(public_key, names, self.validity_days, organization=order['company'] if order['cert_type'] in ('OV', 'EV') else None)
        order['cert'] = cert.public_bytes(serialization.Encoding.PEM).decode('ascii') + self.ca.intermediate_pem
        order['serial'] = '%x' % cert.serial_number
        order['not_before'] = cert.not_valid_before_utc
        order['not_after'] = cert.not_valid_after_utc
        order['cert_id'] = 10000000 + order['id'] % 10000000
        order['state'] = 'certificate'
        self.packages[order['product']]['issued'] += 1

    def _list_status(self, order):
        state = order['state']
        if state == 'certificate':
            left = order['not_after'] - _utcnow()
            if left <= datetime.timedelta(0):
                return 'EXPIRED'
            if left <= datetime.timedelta(days=self.expiring_days):
                return 'WILLEXPIRED'
            return 'ISSUED'
        return {'payed': 'PAYED', 'domain_verify': 'CHECKING', 'process': 'CHECKING', 'verify_fail': 'CHECKED_FAIL',
                'revoked': 'REVOKED'}[state]

    def cas_ListUserCertificateOrder(self, params):
        order_type = (params.get('OrderType') or 'CPACK').upper()
        keyword = (params.get('Keyword') or '').lower()
        status = (params.get('Status') or '').upper()
        page = max(1, int(params.get('CurrentPage') or 1))
        size = max(1, int(params.get('ShowSize') or 50))
        if order_type not in ('CPACK', 'BUY', 'UPLOAD', 'CERT'):
            raise ApiError('InvalidParameter', 'OrderType must be CPACK, BUY, UPLOAD or CERT.')
        items = []
        for order in sorted(self.orders.values(), key=lambda item: item['id'], reverse=True):
            if order['state'] == 'deleted':
                continue
            if keyword and keyword not in ','.join(order['domains']) and keyword not in order['instance_id'] \
                    and keyword != str(order['id']):
                continue
            listed = self._list_status(order)
            if order_type in ('CPACK', 'BUY'):
                if status and listed != status:
                    continue
                items.append(self._cpack_item(order, listed))
            elif order_type == 'UPLOAD':
                break
            elif order_type == 'CERT':
                if order['state'] not in ('certificate', 'revoked'):
                    continue
                if status and listed != status or not status and listed not in ('ISSUED', 'WILLEXPIRED'):
                    continue
                items.append(self._cert_item(order))
        if order_type == 'UPLOAD':
            items = self._upload_list(keyword)
        start = (page - 1) * size
        return {'CertificateOrderList': items[start:start + size], 'CurrentPage': page, 'ShowSize': size, 'TotalCount': len(items)}

    def _cpack_item(self, order, listed):
        item = {
            'OrderId': order['id'], 'InstanceId': order['instance_id'], 'Domain': ','.join(order['domains']),
            'ProductCode': order['product'], 'ProductName': order['product'], 'Status': listed, 'CertType': order['cert_type'],
            'SourceType': 'cpack', 'BuyDate': _millis(order['buy_date']), 'DomainCount': len(order['domains']),
            'DomainType': 'WILDCARD' if order['domains'][0].startswith('*.') else ('ONE' if len(order['domains']) == 1 else 'MULTIPLE'),
            'Algorithm': 'RSA', 'RootBrand': 'Certflow', 'TrusteeStatus': 'unTrustee', 'WildDomainCount': 0,
        }
        if order['not_after'] is not None:
            item['CertStartTime'] = _millis(order['not_before'])
            item['CertEndTime'] = _millis(order['not_after'])
        return item

    def _cert_item(self, order):
        return {
            'CertificateId': order['cert_id'], 'InstanceId': order['instance_id'], 'Name': 'cert-%s' % order['id'],
            'CommonName': order['domains'][0], 'Sans': ','.join(order['domains']), 'SerialNo': order['serial'],
            'Issuer': self.ca.intermediate.subject.rfc4514_string(), 'StartDate': order['not_before'].strftime('%Y-%m-%d'),
            'EndDate': order['not_after'].strftime('%Y-%m-%d'), 'Expired': order['not_after'] <= _utcnow(), 'Upload': False,
        }

    def cas_RenewCertificateOrderForPackageRequest(self, params):
        """Documented: only an order that is about to expire can be renewed. The
        new order is submitted with the CSR given (or a key the CA makes)."""
        old = self._order(params.get('OrderId'))
        if old['state'] != 'certificate' or self._list_status(old) != 'WILLEXPIRED':
            raise ApiError('OrderStateError', 'Only an issued certificate order that is about to expire can be renewed.')
        csr = _load_csr(params.get('Csr')) if params.get('Csr') else None
        self._take_quota(old['product'])
        fake_params = {'Username': old['username'], 'Email': old['email'], 'Phone': old['phone'], 'CompanyName': old['company']}
        order = self._new_order(old['product'], list(old['domains']), old['validate_type'], fake_params, csr, renewed_from=old['id'])
        return {'OrderId': order['id']}

    def cas_CancelOrderRequest(self, params):
        """Withdraws an order that waits for validation or is under review; it
        goes back to 'payed' (pending application) and keeps its quota until it
        is deleted."""
        order = self._order(params.get('OrderId'))
        if order['state'] not in ('domain_verify', 'process'):
            raise ApiError('OrderStateError', 'Only an order pending validation or under review can be withdrawn.')
        order['state'] = 'payed'
        return {}

    def cas_DeleteCertificateRequest(self, params):
        """Deletes a failed (verify_fail) or withdrawn (payed) order; its quota is returned."""
        order = self._order(params.get('OrderId'))
        if order['state'] not in ('verify_fail', 'payed'):
            raise ApiError('OrderStateError', 'Only a failed or withdrawn order can be deleted.')
        order['state'] = 'deleted'
        self._return_quota(order)
        return {}

    def cas_CancelCertificateForPackageRequest(self, params):
        """Issued order: revoke the certificate. Pending order: cancel it and return the quota."""
        order = self._order(params.get('OrderId'))
        if order['state'] == 'certificate':
            order['state'] = 'revoked'
            order['revoked_at'] = _utcnow()
        elif order['state'] in ('domain_verify', 'process', 'payed', 'verify_fail'):
            order['state'] = 'deleted'
            self._return_quota(order)
        else:
            raise ApiError('OrderStateError', 'The order is already revoked.')
        return {}

    # -- Alidns -----------------------------------------------------------

    def _zone_of(self, name):
        name = name.rstrip('.').lower()
        best = None
        for zone in self.zones:
            if name == zone or name.endswith('.' + zone):
                if best is None or len(zone) > len(best):
                    best = zone
        return best

    def dns_DescribeDomains(self, params):
        keyword = (params.get('KeyWord') or '').lower()
        exact = (params.get('SearchMode') or 'LIKE').upper() == 'EXACT'
        page = max(1, int(params.get('PageNumber') or 1))
        size = min(100, max(1, int(params.get('PageSize') or 20)))
        names = sorted(zone for zone in self.zones if not keyword or (zone == keyword if exact else keyword in zone))
        domains = [{'DomainId': self.zones[zone]['id'], 'DomainName': zone, 'PunyCode': zone, 'AliDomain': False,
                    'RecordCount': sum(1 for record in self.records.values() if record['DomainName'] == zone),
                    'VersionCode': 'mianfei', 'VersionName': 'Alibaba Cloud DNS'} for zone in names]
        start = (page - 1) * size
        return {'TotalCount': len(domains), 'PageNumber': page, 'PageSize': size, 'Domains': {'Domain': domains[start:start + size]}}

    def dns_AddDomainRecord(self, params):
        zone = (params.get('DomainName') or '').rstrip('.').lower()
        rr, rtype, value = params.get('RR'), (params.get('Type') or '').upper(), params.get('Value')
        if not zone or not rr or not rtype or value is None:
            raise ApiError('MissingParameter', 'DomainName, RR, Type and Value are required.')
        if zone not in self.zones:
            raise ApiError('InvalidDomainName.NoExist', 'The domain name does not exist. Refresh the page and try again.')
        for record in self.records.values():
            if record['DomainName'] == zone and record['RR'] == rr and record['Type'] == rtype and record['Value'] == value:
                raise ApiError('DomainRecordDuplicate', 'The DNS record already exists.')
        ttl = int(params.get('TTL') or 600)
        record = {'RecordId': str(self._next_record), 'DomainName': zone, 'RR': rr, 'Type': rtype, 'Value': value, 'TTL': ttl,
                  'Line': params.get('Line') or 'default', 'Status': 'ENABLE', 'Locked': False, 'Weight': 1}
        self._next_record += 1
        if rtype == 'TXT':
            self._push_txt('add', _record_fqdn(record), value, ttl)
        self.records[record['RecordId']] = record
        return {'RecordId': record['RecordId']}

    def dns_DeleteDomainRecord(self, params):
        record = self.records.get(params.get('RecordId') or '')
        if record is None:
            raise ApiError('DomainRecordNotBelongToUser', 'The DNS record does not exist in this account.')
        if record['Type'] == 'TXT':
            self._push_txt('delete', _record_fqdn(record), record['Value'], record['TTL'])
        del self.records[record['RecordId']]
        return {'RecordId': record['RecordId']}

    def dns_DescribeSubDomainRecords(self, params):
        sub = (params.get('SubDomain') or '').rstrip('.').lower()
        if not sub:
            raise ApiError('MissingParameter', 'SubDomain is required.')
        zone = (params.get('DomainName') or '').rstrip('.').lower() or self._zone_of(sub)
        rtype = (params.get('Type') or '').upper()
        page = max(1, int(params.get('PageNumber') or 1))
        size = min(100, max(1, int(params.get('PageSize') or 20)))
        found = [dict(record) for record in sorted(self.records.values(), key=lambda item: int(item['RecordId']))
                 if record['DomainName'] == zone and _record_fqdn(record) == sub and (not rtype or record['Type'] == rtype)]
        start = (page - 1) * size
        return {'TotalCount': len(found), 'PageNumber': page, 'PageSize': size, 'DomainRecords': {'Record': found[start:start + size]}}

    def _push_txt(self, what, fqdn, value, ttl):
        """Make the real DNS server serve (or stop serving) the record."""
        if not self.rfc2136:
            return
        zone = self._zone_of(fqdn)
        keyring = dns.tsigkeyring.from_text({self.rfc2136['key_name']: self.rfc2136['key_secret']})
        update = dns.update.UpdateMessage(zone + '.', keyring=keyring, keyalgorithm=self.rfc2136.get('key_algorithm', 'hmac-sha256'))
        quoted = '"%s"' % value.replace('\\', '\\\\').replace('"', '\\"')
        if what == 'add':
            update.add(fqdn + '.', ttl, 'TXT', quoted)
        else:
            update.delete(fqdn + '.', 'TXT', quoted)
        host, port = self.rfc2136['address']
        try:
            response = dns.query.tcp(update, host, port=port, timeout=5)
        except (dns.exception.DNSException, OSError) as exc:
            raise ApiError('InternalError', 'DNS update failed: %s' % exc, 500) from exc
        if response.rcode() != dns.rcode.NOERROR:
            raise ApiError('InternalError', 'DNS update refused: %s' % dns.rcode.to_text(response.rcode()), 500)

    def api_error(self, code, message):
        """The error answer ``code`` (for the handlers of aliyun_cloud.py)."""
        return ApiError(code, message)

    # -- HTTP admin -------------------------------------------------------

    def admin(self, name, payload):
        """The admin calls of ``POST /_admin/<name>`` (for the program mode)."""
        if name == 'set_quota':
            return self.set_quota(payload['product'], payload['total'], payload.get('used'))
        if name == 'quota':
            return self.quota(payload.get('product') or DEFAULT_PRODUCT)
        if name == 'approve':
            return {'state': self.approve(payload['order_id'])}
        if name == 'reject':
            self.reject(payload['order_id'], payload.get('reason') or 'The CA rejected the application.')
            return {}
        if name == 'fail_next':
            self.fail_next(payload.get('count', 1), payload.get('code', 'Throttling.User'))
            return {}
        if name == 'expire_soon':
            self.expire_soon(payload['order_id'], payload.get('days_left', 10))
            return {}
        if name == 'add_credentials':
            self.add_credentials(payload['access_key_id'], payload['access_key_secret'], payload.get('security_token'))
            return {}
        if name == 'answer_validation_with':
            self.answer_validation_with(payload.pop('domain'), **payload)
            return {}
        if name == 'add_zone':
            self.add_zone(payload['zone'])
            return {}
        if name == 'root':
            return {'root_pem': self.root_pem}
        if name == 'orders':
            with self._lock:
                return {'orders': [{'OrderId': order['id'], 'state': order['state'], 'domains': order['domains'],
                                    'product': order['product']} for order in self.orders.values()]}
        raise KeyError(name)


def _record_fqdn(record):
    return record['DomainName'] if record['RR'] == '@' else '%s.%s' % (record['RR'].lower(), record['DomainName'])


def _split_hostport(text):
    host, _sep, port = str(text).rpartition(':')
    if not host:
        return port, 53
    return host.strip('[]'), int(port)


def _load_csr(text):
    try:
        csr = x509.load_pem_x509_csr(text.encode('utf-8') if isinstance(text, str) else text)
    except ValueError:
        raise ApiError('InvalidParameter', 'The Csr is not a valid PEM certificate signing request.') from None
    if not csr.is_signature_valid:
        raise ApiError('InvalidParameter', 'The Csr signature is invalid.')
    key = csr.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise ApiError('InvalidParameter', 'RSA keys in the Csr must have at least 2048 bits.')
    if not isinstance(key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
        raise ApiError('InvalidParameter', 'The Csr key must be RSA or ECC.')
    if not csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        raise ApiError('InvalidParameter', 'The CN field of the Csr is required.')
    return csr


def _csr_names(csr):
    names = [str(attribute.value).lower() for attribute in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for name in san.get_values_for_type(x509.DNSName):
            if name.lower() not in names:
                names.append(name.lower())
    except x509.ExtensionNotFound:
        pass
    return names


class _Handler(BaseHTTPRequestHandler):
    emulator = None
    protocol_version = 'HTTP/1.1'
    server_version = 'Tengine'

    def log_message(self, format, *args):
        pass

    def _reply(self, status, payload):
        data = json.dumps(payload).encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json;charset=utf-8')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _serve(self, method):
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        parts = urlsplit(self.path)
        if parts.path.startswith('/_admin/'):
            try:
                payload = json.loads(body.decode('utf-8') or '{}')
                self._reply(200, self.emulator.admin(parts.path[len('/_admin/'):], payload))
            except (KeyError, ValueError, ApiError) as exc:
                self._reply(400, {'error': str(exc)})
            return
        if parts.path != '/':
            self._reply(404, {'Code': 'InvalidAction.NotFound', 'Message': 'RPC calls go to /.'})
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, payload = self.emulator.handle(method, parts.query, headers, body)
        self._reply(status, payload)

    def do_POST(self):
        self._serve('POST')

    def do_GET(self):
        self._serve('GET')


def main(argv=None):
    parser = argparse.ArgumentParser(description='Alibaba Cloud CAS + Alidns emulator for tests (loopback only).')
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--access-key', action='append', default=[], metavar='ID:SECRET', help='an AccessKey pair it accepts')
    parser.add_argument('--quota', action='append', default=[], metavar='PRODUCT=TOTAL')
    parser.add_argument('--dns-server', help='ip:port asked for validation records')
    parser.add_argument('--http-port', type=int, default=80)
    parser.add_argument('--zone', action='append', default=[], help='an Alidns zone')
    parser.add_argument('--rfc2136-server', help='ip:port that receives dynamic updates for Alidns records')
    parser.add_argument('--tsig-name')
    parser.add_argument('--tsig-secret')
    parser.add_argument('--tsig-algorithm', default='hmac-sha256')
    parser.add_argument('--validity-days', type=int, default=365)
    parser.add_argument('--ov-review-seconds', type=float)
    args = parser.parse_args(argv)
    credentials = dict(item.split(':', 1) for item in args.access_key)
    packages = {item.split('=', 1)[0]: int(item.split('=', 1)[1]) for item in args.quota}
    rfc2136 = None
    if args.rfc2136_server:
        rfc2136 = {'server': args.rfc2136_server, 'key_name': args.tsig_name, 'key_secret': args.tsig_secret,
                   'key_algorithm': args.tsig_algorithm}
    emulator = AliyunEmulator(credentials=credentials, dns_server=args.dns_server, http_port=args.http_port, rfc2136=rfc2136,
                              alidns_zones=args.zone, packages=packages, validity_days=args.validity_days,
                              ov_review_seconds=args.ov_review_seconds, host=args.host, port=args.port).start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    print(json.dumps({'endpoint': emulator.endpoint, 'root_pem': base64.b64encode(emulator.root_pem.encode()).decode()}), flush=True)
    while not stopped.wait(0.5):
        pass
    emulator.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
