# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The floor for the benchmark: a minimal raw-protocol ACME client (RFC 8555), nothing but the work.

    python bench/raw_acme.py --directory URL --ca-bundle PEM --webroot DIR --out DIR \\
        --concurrency 10 name1.example name2.example ...

One new account (ES256), then per name in a pool of worker threads: newOrder, the
authorization, the http-01 key authorization written into the web root, the challenge,
order polls until ready, a fresh EC P-256 key and CSR, finalize, order polls until valid,
the certificate; ``OUT/<name>.key`` and ``OUT/<name>.crt`` written. Nonces come back with
every answer and go into one pool. No store, no checks beyond what the protocol needs, no
retries, no Ansible: what is left is the least a client has to do per certificate, which
bench.py measures next to certflow.ssl ("raw-floor").

requests and cryptography only.
"""

import argparse
import base64
import concurrent.futures
import hashlib
import json
import os
import sys
import threading
import time

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

JOSE = 'application/jose+json'
POLL_FIRST = 0.05
POLL_MAX = 1.0
POLL_TIMEOUT = 120.0


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


class Client:
    def __init__(self, directory_url, ca_bundle):
        self.verify = ca_bundle
        self.local = threading.local()
        self.nonces = []
        self.lock = threading.Lock()
        self.directory = self.session().get(directory_url, verify=self.verify, timeout=30).json()
        self.key = ec.generate_private_key(ec.SECP256R1())
        numbers = self.key.public_key().public_numbers()
        self.jwk = {'crv': 'P-256', 'kty': 'EC', 'x': b64(numbers.x.to_bytes(32, 'big')), 'y': b64(numbers.y.to_bytes(32, 'big'))}
        self.thumbprint = b64(hashlib.sha256(json.dumps(self.jwk, sort_keys=True, separators=(',', ':')).encode()).digest())
        self.kid = None

    def session(self):
        session = getattr(self.local, 'session', None)
        if session is None:
            session = self.local.session = requests.Session()
        return session

    def nonce(self):
        with self.lock:
            if self.nonces:
                return self.nonces.pop()
        response = self.session().head(self.directory['newNonce'], verify=self.verify, timeout=30)
        return response.headers['Replay-Nonce']

    def post(self, url, payload):
        """Signed POST (payload None: POST-as-GET); raises on an error answer."""
        protected = {'alg': 'ES256', 'nonce': self.nonce(), 'url': url}
        if self.kid:
            protected['kid'] = self.kid
        else:
            protected['jwk'] = self.jwk
        protected64 = b64(json.dumps(protected).encode())
        payload64 = '' if payload is None else b64(json.dumps(payload).encode())
        r, s = decode_dss_signature(self.key.sign(('%s.%s' % (protected64, payload64)).encode('ascii'), ec.ECDSA(hashes.SHA256())))
        body = json.dumps({'protected': protected64, 'payload': payload64, 'signature': b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))})
        response = self.session().post(url, data=body, headers={'Content-Type': JOSE}, verify=self.verify, timeout=30)
        nonce = response.headers.get('Replay-Nonce')
        if nonce:
            with self.lock:
                self.nonces.append(nonce)
        if response.status_code >= 400:
            raise RuntimeError('%s %s: %s' % (url, response.status_code, response.text))
        return response

    def register(self):
        response = self.post(self.directory['newAccount'], {'termsOfServiceAgreed': True})
        self.kid = response.headers['Location']

    def poll(self, url, done):
        deadline = time.monotonic() + POLL_TIMEOUT
        delay = POLL_FIRST
        while True:
            time.sleep(delay)
            body = self.post(url, None).json()
            if body['status'] in done:
                return body
            if body['status'] == 'invalid' or time.monotonic() > deadline:
                raise RuntimeError('%s: %s' % (url, json.dumps(body)))
            delay = min(delay * 1.6, POLL_MAX)

    def issue(self, name, webroot, out):
        response = self.post(self.directory['newOrder'], {'identifiers': [{'type': 'dns', 'value': name}]})
        order_url, order = response.headers['Location'], response.json()
        authz = self.post(order['authorizations'][0], None).json()
        challenge = next(c for c in authz['challenges'] if c['type'] == 'http-01')
        proof = os.path.join(webroot, '.well-known', 'acme-challenge', challenge['token'])
        with open(proof, 'w') as handle:
            handle.write('%s.%s' % (challenge['token'], self.thumbprint))
        try:
            self.post(challenge['url'], {})
            order = self.poll(order_url, ('ready', 'valid'))
        finally:
            os.unlink(proof)
        key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False).sign(key, hashes.SHA256()))
        self.post(order['finalize'], {'csr': b64(csr.public_bytes(serialization.Encoding.DER))})
        order = self.poll(order_url, ('valid',))
        fullchain = self.post(order['certificate'], None).text
        key_path = os.path.join(out, name + '.key')
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        with open(os.path.join(out, name + '.crt'), 'w') as handle:
            handle.write(fullchain)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--directory', required=True)
    parser.add_argument('--ca-bundle', required=True)
    parser.add_argument('--webroot', required=True)
    parser.add_argument('--out', required=True)
    parser.add_argument('--concurrency', type=int, default=10)
    parser.add_argument('names', nargs='+')
    args = parser.parse_args(argv)
    os.makedirs(os.path.join(args.webroot, '.well-known', 'acme-challenge'), exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    client = Client(args.directory, args.ca_bundle)
    client.register()
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        futures = {pool.submit(client.issue, name, args.webroot, args.out): name for name in args.names}
        for future in concurrent.futures.as_completed(futures):
            try:
                future.result()
            except Exception as error:  # noqa: BLE001 - report every failed name, then fail
                failed += 1
                print('%s: %s' % (futures[future], error), file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
