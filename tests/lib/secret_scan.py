# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find secrets in what ansible-playbook printed.

Two ways to use it:

* ``tests/integration/test_secrets.py`` (part of ``make test``) runs a
  representative set of playbooks with -vvv and checks their output, the
  store and the report files with ``secrets_in`` / ``leaks``.
* The whole suite at -vvv, once (about as long as ``make test``)::

      CERTFLOW_TEST_VERBOSITY=3 python -m pytest tests/integration

  Every run_playbook() then uses -vvv and its output is kept; at the end of
  the session every secret the tests used is looked for in all of it: private
  keys and account keys anywhere under pytest's temporary directory, the TSIG
  secret of every BIND, the EAB HMAC keys of every Pebble, the Alibaba Cloud
  emulator's AccessKey secret and whatever a test passed to ``register``.
  A leak fails the session and names the secret's source and the playbook.
"""

import json
import os
import re

import pytest

from tests.lib import playbook as playbook_lib

ENV = 'CERTFLOW_TEST_VERBOSITY'
MIN_FRAGMENT = 24
# Secrets that are made up per session and never written to disk by the harness.
SECRET_PATTERNS = (re.compile(r'integration-secret-[0-9a-f]{16}'),)

_KEY_BLOCK = re.compile(r'-----BEGIN [A-Z ]*PRIVATE KEY-----(.*?)-----END [A-Z ]*PRIVATE KEY-----', re.S)
_PUBLIC_BLOCK = re.compile(r'-----BEGIN (?:CERTIFICATE|CERTIFICATE REQUEST|PUBLIC KEY)-----(.*?)-----END', re.S)
_outputs = []
_registered = {}


def register(secret, source):
    """Look for ``secret`` too (whole-suite mode)."""
    if secret:
        _registered[secret] = source


def _collect(result):
    _outputs.append((' '.join(os.path.basename(a) for a in result.argv[-1:]), result.output))


def pem_fragments(pem):
    """The base64 body lines of a PEM block: any of them in an output is a leak."""
    return [line.strip() for line in pem.splitlines() if line.strip() and not line.startswith('-----')
            and len(line.strip()) >= MIN_FRAGMENT]


def secrets_in(root):
    """{secret text: where it comes from} for every secret found under ``root``:
    private keys (PEM body lines), TSIG secrets in named.conf, EAB keys in pebble-config.json."""
    found = {}
    public = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if name == 'named.conf':
                for secret in re.findall(r'secret "([^"]+)"', _read(path)):
                    found[secret] = 'TSIG secret in %s' % path
            elif name == 'pebble-config.json':
                try:
                    keys = json.loads(_read(path)).get('pebble', {}).get('externalAccountMACKeys') or {}
                except ValueError:
                    keys = {}
                for kid, secret in keys.items():
                    found[secret] = 'EAB HMAC key %s in %s' % (kid, path)
            else:
                # Any file: backups such as privkey.pem.certflow-previous hold keys too.
                text = _read(path, limit=200000)
                for block in _KEY_BLOCK.findall(text):
                    for line in pem_fragments(block):
                        found[line] = 'private key %s' % path
                public.extend(_PUBLIC_BLOCK.findall(text))
    # A PKCS#8 EC key ends with its public key, which its certificate and CSR show too: public, not a secret.
    public_text = '\n'.join(public)
    return dict((secret, source) for secret, source in found.items() if secret not in public_text)


def _read(path, limit=None):
    try:
        with open(path, 'r', errors='replace') as handle:
            return handle.read(limit) if limit else handle.read()
    except OSError:
        return ''


def leaks(text, secrets):
    """[(source, excerpt)] for every secret (dict secret -> source) found in ``text``."""
    found = []
    for secret, source in secrets.items():
        if secret and secret in text:
            found.append((source, secret[:6] + '...'))
    for pattern in SECRET_PATTERNS:
        for match in set(pattern.findall(text)):
            found.append(('secret matching %s' % pattern.pattern, match[:6] + '...'))
    return found


# ------------------------------------------------------------------ pytest hooks (whole-suite mode)

def _enabled():
    try:
        return int(os.environ.get(ENV) or 0) >= 3
    except ValueError:
        return False


def pytest_configure(config):
    if _enabled() and _collect not in playbook_lib.OBSERVERS:
        playbook_lib.OBSERVERS.append(_collect)


def pytest_sessionfinish(session, exitstatus):
    if not _enabled() or not _outputs:
        return
    factory = getattr(session.config, '_tmp_path_factory', None)
    secrets = dict(_registered)
    if factory is not None:
        secrets.update(secrets_in(str(factory.getbasetemp())))
    problems = []
    for label, output in _outputs:
        for source, excerpt in leaks(output, secrets):
            problems.append('%s printed %s (%s)' % (label, source, excerpt))
    reporter = session.config.pluginmanager.get_plugin('terminalreporter')
    summary = 'secret scan: %d playbook runs at -vvv, %d secrets looked for, %d leaks' % (len(_outputs), len(secrets), len(problems))
    if reporter is not None:
        reporter.write_line(summary)
        for problem in problems:
            reporter.write_line('  LEAK: ' + problem)
    if problems:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
