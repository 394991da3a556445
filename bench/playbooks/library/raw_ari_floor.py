# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The floor of the ARI check for the benchmark: the least an Ansible module has to do
to check the renewal information of every certificate in a certflow store.

Per certificate: read ``cert.pem``, take its ARI CertID (RFC 9773: Authority Key
Identifier and serial), one renewalInfo GET on a keep-alive ``http.client``
connection, a random moment inside the suggested window, ``renewal.json`` written
(temp file and rename, no fsync: the same as the collection does for this cache),
and a result entry. The store is split between two processes (one per CPU here),
eight threads each, as cert_info splits it. No argument checks beyond the module's
spec, no Retry-After cache, no fallback, no store safety checks, no warnings: what is
left is the protocol's and Ansible's share, which bench.py measures beside cert_info
("ARI floor"). Not part of the collection: Ansible finds it in the library folder beside the playbook.

Standard library and cryptography only.
"""

import base64
import datetime
import http.client
import json
import os
import random
import ssl
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule
from cryptography import x509

THREADS = 8
HEADERS = {'User-Agent': 'certflow-bench-raw-ari-floor/1.0'}   # an ACME server refuses requests without one
PROCESSES = 2


def _b64url(data):
    return base64.urlsafe_b64encode(data).decode('ascii').rstrip('=')


def _iso(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


class Connections:
    """One keep-alive HTTPS connection per thread."""

    def __init__(self, base_url, ca_bundle):
        parts = urlsplit(base_url)
        self.host, self.port, self.path = parts.hostname, parts.port or 443, parts.path.rstrip('/')
        self.context = ssl.create_default_context(cafile=ca_bundle)
        self.local = threading.local()

    def get_json(self, certid):
        conn = getattr(self.local, 'conn', None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=30)
        conn.request('GET', '%s/%s' % (self.path, certid), headers=HEADERS)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError('renewalInfo %s: HTTP %s' % (certid, response.status))
        return json.loads(body)


def check(store_dir, name, connections, now):
    folder = os.path.join(store_dir, name)
    with open(os.path.join(folder, 'cert.pem'), 'rb') as handle:
        cert = x509.load_pem_x509_certificate(handle.read())
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    serial = cert.serial_number
    certid = '%s.%s' % (_b64url(aki), _b64url(serial.to_bytes(serial.bit_length() // 8 + 1, 'big')))
    window = connections.get_json(certid)['suggestedWindow']
    start = datetime.datetime.fromisoformat(window['start'].replace('Z', '+00:00'))
    end = datetime.datetime.fromisoformat(window['end'].replace('Z', '+00:00'))
    renew_at = start + datetime.timedelta(seconds=random.uniform(0, (end - start).total_seconds()))
    record = {'serial': '%x' % serial, 'cert_id': certid, 'window': {'start': _iso(start), 'end': _iso(end)},
              'renewal_time': _iso(renew_at), 'checked_at': _iso(now)}
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', dir=folder)
    with os.fdopen(fd, 'w') as handle:
        json.dump(record, handle)
    os.rename(tmp, os.path.join(folder, 'renewal.json'))
    return {'name': name, 'serial': record['serial'], 'not_before': _iso(cert.not_valid_before_utc),
            'not_after': _iso(cert.not_valid_after_utc), 'needs_renewal': now >= renew_at,
            'renewal': {'source': 'ari', 'window_start': record['window']['start'], 'window_end': record['window']['end'],
                        'renew_at': record['renewal_time']}}


def check_all(store_dir, names, base_url, ca_bundle):
    connections = Connections(base_url, ca_bundle)
    now = datetime.datetime.now(datetime.timezone.utc)
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(lambda name: check(store_dir, name, connections, now), names))


def in_processes(store_dir, names, base_url, ca_bundle):
    """The first part here, the others in forked children that send their entries back as JSON."""
    size = -(-len(names) // PROCESSES)
    parts = [names[i:i + size] for i in range(0, len(names), size)]
    children = []
    for part in parts[1:]:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            with os.fdopen(write_end, 'w') as out:
                json.dump(check_all(store_dir, part, base_url, ca_bundle), out)
            os._exit(0)
        os.close(write_end)
        children.append((pid, read_end))
    entries = check_all(store_dir, parts[0], base_url, ca_bundle) if parts else []
    for pid, read_end in children:
        with os.fdopen(read_end) as pipe:
            entries.extend(json.load(pipe))
        if os.waitpid(pid, 0)[1] != 0:
            raise RuntimeError('a child process failed')
    return entries


def main():
    module = AnsibleModule(argument_spec={
        'store_dir': {'type': 'path', 'required': True},
        'directory': {'type': 'str', 'required': True},
        'ca_bundle': {'type': 'path', 'required': True},
    })
    params = module.params
    context = ssl.create_default_context(cafile=params['ca_bundle'])
    parts = urlsplit(params['directory'])
    conn = http.client.HTTPSConnection(parts.hostname, parts.port or 443, context=context, timeout=30)
    conn.request('GET', parts.path, headers=HEADERS)
    base_url = json.loads(conn.getresponse().read())['renewalInfo']
    conn.close()
    names = sorted(entry for entry in os.listdir(params['store_dir'])
                   if os.path.isfile(os.path.join(params['store_dir'], entry, 'cert.pem')))
    try:
        entries = in_processes(params['store_dir'], names, base_url, params['ca_bundle'])
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, certificates=entries)


if __name__ == '__main__':
    main()
