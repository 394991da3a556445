# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The table of faults and bad inputs in docs/reliability.md, generated from the test run.

Tests take the ``reliability`` fixture and record what they tried and what
happened::

    reliability.record('CA faults', '503 on newOrder', fault='...', expected='...', outcome='...', message=msg)

At the end of the session the rows (with pass/fail of their test) are merged
into ``build/reliability/results.json`` (rows of tests that ran replace the
older ones) and docs/reliability.md is written from it. Regenerate by hand:

    python -m tests.lib.reliability_report [results.json] [docs/reliability.md]

Messages are normalised (ports, ACME object ids, temporary paths, tokens) so
the generated file only changes when behaviour does.
"""

import fcntl
import json
import os
import re
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = os.path.join(REPO, 'build', 'reliability', 'results.json')
DOC = os.path.join(REPO, 'docs', 'reliability.md')
MESSAGE_LIMIT = 300

# Order of the sections in the document; unknown areas go last.
AREAS = ('CA faults', 'DNS faults', 'Interruption', 'Concurrency', 'Bad input', 'Hostile input', 'Secrets', 'Revocation safety')

# Written by hand: what these tests found in the collection, and what they show it does not do.
FINDINGS = [
    '**badNonce retries** (`plugins/module_utils/_ca/acme/client.py`): a request gave up after 10 badNonce answers in a row. '
    'With half of all nonces rejected, 20 certificates make about 170 signed requests, so one of them failed that way '
    'in about one run of 12. Now 30 (still bounded by the deadline). Shown by *half of all nonces rejected* and *bad-nonce-burst*.',
    '**Proofs left behind by an interrupted run** (`_validate.py`, `_store.py`): TXT records and challenge files were '
    'removed only by the run that added them. A run killed after telling the CA (or one that returned with `wait: false` '
    'before the order was final) left them in DNS and in the webroot for good: the next run found the order `processing` '
    'and never put them in place, so never took them away. Each proof is now noted in `proofs.json` in the certificate folder '
    'before it is put in place, and the run that finishes the order removes what earlier runs noted. Shown by '
    '*SIGKILL while the CA holds order poll* and *... certificate download*.',
    '**Partial key files after a kill** (`_store.py`): a run killed inside an atomic write left its temporary file '
    '(`.tmp-*`, a partial copy of a key or certificate) in the certificate folder for good. The run that next takes the '
    'certificate\'s lock removes them. Shown by *temporary files of a write cut short* (and checked after every kill).',
    '**cert_revoke ignored the certificate lock** (`_revoke.py`): a revocation could run in the middle of a renewal of the '
    'same name, and both wrote `order.json`. It now takes the lock like `cert_request` and `cert_validate` (not in check '
    'mode). Shown by *while another run holds the certificate*.',
    '**Timeout message** (`_ca/acme/client.py`): a CA that never answered ended in "cannot reach ACME server ...: Read timed out"; '
    'it now says "timed out after N s (option timeout) waiting for ACME server URL to answer". Shown by *CA never answers*.',
]
# Issue 12 (hostile input): what was trusted too far, and where it is now checked.
FINDINGS += [
    '**CA-supplied file paths** (`_webroot.py`, `_ca/aliyun.py`, certificate role): an Alibaba Cloud `Uri` of `/index.html` '
    'overwrote the site\'s page and was deleted at cleanup. Challenge files go only under `/.well-known/acme-challenge/` '
    'and `/.well-known/pki-validation/` (one plain file name); a file already there is never replaced nor removed, on the '
    'control node and on web hosts. Shown by the *uri-...* and *role-file-at-challenge-path* rows.',
    '**The store trusted itself** (`_store.py`, `_validate.py`): `proofs.json` entries could name any file to delete, links '
    'below the store root were followed (a 0600 key became a 0644 archived copy), and a damaged `order.json` ended in '
    '"unexpected AttributeError". Cleanup now re-checks every note against the order and the webroot, nothing below the '
    'root may be a link (`O_NOFOLLOW`, `lstat`), and `order.json`/`proofs.json` are checked field by field, naming the file.',
    '**`$` accepted a trailing newline** (module_utils and the roles): `"x\\n"` made a store folder, a domain with a newline '
    'reached a certificate. Every pattern is a full match; domains with control characters are refused.',
    '**Role variables became web server configuration** (nginx and apache roles): a server name with `;` added a '
    '`location` serving `/etc` that passed `nginx -t`. Site values and role-wide settings are checked before anything is '
    'written (`certflow.ssl.web_site_problems`, `web_path_problems`, `web_setting_problems`); `extra_config` stays raw.',
    '**One order, two names** (`_request.py`, local CA, Alibaba Cloud): `example.com.` and `EXAMPLE.COM` under two names '
    'shared one CA order and serial, so revoking one revoked the other. An order held by one store entry is never taken '
    'over by another.',
    '**Plain HTTP and unchecked TLS** (`_ca/acme/client.py`, `_aliyun/client.py`): accepted silently. Now a warning on every run, '
    'and an EAB key or STS token is never sent over plain HTTP.',
]

LIMITATIONS = [
    'A newOrder that reached the CA but whose answer was lost leaves that order pending at the CA until it expires; the '
    'retry creates a second one (ACME has no idempotent newOrder, and the account\'s order list is not offered by every CA). '
    'The store only ever points at the order it got an answer for (*new-order-dropped-after-ca*).',
    'Ansible\'s worker processes call `setsid()`: killing only the process group of `ansible-playbook` leaves the module '
    'running to its end (still holding the certificate lock, so a new run waits for it, up to its `timeout`). The '
    'interruption tests kill the whole process tree, as a power loss or an OOM kill of the tree would.',
    'After `acme.directory` changes, an order still open at the old CA is left there to expire (a new one is made at '
    'the new CA; test_quick_issue.py); an issued certificate is kept until it is due (use `force: true` to replace it at once).',
    'Empty `.well-known/acme-challenge` folders made by a killed run stay in the webroot (the files in them are removed).',
    'A kill while the current files are copied into `archive/` can leave a partial archived copy (the current files are '
    'never partial: each is replaced by an atomic rename).',
]

_rows = []
_outcomes = {}
_STASH_KEY = pytest.StashKey()

_NORMALISE = [
    (re.compile(r'/tmp/[^\s\'",;)]*'), '<tmp>'),
    (re.compile(r'(127\.0\.0\.1|localhost|\[::1\]):\d+'), r'\1:<port>'),
    (re.compile(r'/(my-order|authZ|chalZ|certZ|finalize-order|my-account|\.well-known/acme-challenge)/[A-Za-z0-9_-]+'), r'/\1/<id>'),
    (re.compile(r'\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ'), '<time>'),
    (re.compile(r'\b(?=[a-f]*[0-9])[0-9a-f]{16,}\b'), '<hex>'),
    (re.compile(r'(?<![A-Za-z0-9_/-])(?=[A-Za-z_-]*[0-9])(?=[0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])'), '<token>'),
    (re.compile(r'(port=)\d+'), r'\1<port>'),
    (re.compile(r'object at 0x[0-9a-f]+'), 'object'),
]
# Measured times in messages vary from run to run.
_DURATIONS = [
    (re.compile(r'(after|within|in) \d+(\.\d+)?\s?s\b'), r'\1 <n>s'),
    (re.compile(r'(timeout=)\d+(\.\d+)?'), r'\1<n>'),
    (re.compile(r'(last request: )[^)]*'), r'\1...'),
]


def normalise(text, durations=False):
    text = ' '.join(str(text or '').split())
    for pattern, replacement in _NORMALISE + (_DURATIONS if durations else []):
        text = pattern.sub(replacement, text)
    if len(text) > MESSAGE_LIMIT:
        text = text[:MESSAGE_LIMIT - 3] + '...'
    return text


class Recorder:
    """What one test tried, row by row."""

    def __init__(self, node, index):
        self.nodeid = node.nodeid
        path, line = node.location[0], node.location[1] or 0
        self._order = [path, line, index]
        self._count = 0

    def record(self, area, case, fault, expected, outcome, message=None):
        self._count += 1
        _rows.append({'test': self.nodeid, 'area': area, 'case': case, 'fault': normalise(fault), 'expected': expected,
                      'outcome': normalise(outcome), 'message': normalise(message, durations=True) if message else '',
                      'order': self._order + [self._count]})


@pytest.fixture
def reliability(request):
    """Record fault and bad-input cases for docs/reliability.md (see tests/lib/reliability_report.py)."""
    index = request.config.stash.get(_STASH_KEY, {}).get(request.node.nodeid, 0)
    return Recorder(request.node, index)


# ------------------------------------------------------------------ pytest hooks

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        _outcomes[item.nodeid] = 'failed'
    elif report.when == 'call' and item.nodeid not in _outcomes:
        _outcomes[item.nodeid] = 'skipped' if report.skipped else 'passed'


def pytest_collection_finish(session):
    session.config.stash[_STASH_KEY] = dict((item.nodeid, index) for index, item in enumerate(session.items))


def pytest_sessionfinish(session, exitstatus):
    if not _rows:
        return
    for row in _rows:
        row['result'] = _outcomes.get(row['test'], 'failed')
    collected = session.config.stash.get(_STASH_KEY, {})
    collected_files = set(nodeid.split('::')[0] for nodeid in collected)
    ran = set(row['test'] for row in _rows) | set(_outcomes)

    def keep(row):
        """An older row stays unless its test ran now or is gone."""
        path = row['test'].split('::')[0]
        if row['test'] in ran or not os.path.exists(os.path.join(REPO, path)):
            return False
        deselecting = bool(session.config.option.keyword or session.config.option.markexpr)
        return path not in collected_files or row['test'] in collected or deselecting

    # pytest-xdist workers each finish with their own rows: one merge at a time, or one loses the other's.
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        merged = [row for row in _load(RESULTS) if keep(row)] + _rows
        merged.sort(key=lambda row: (_area_key(row['area']), row.get('order') or []))
        _save(RESULTS, merged)
        write_markdown(merged, DOC)
    reporter = session.config.pluginmanager.get_plugin('terminalreporter')
    if reporter is not None:
        reporter.write_line('reliability: %d cases recorded, %s written' % (len(_rows), os.path.relpath(DOC, REPO)))


def _load(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return []


def _save(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + '.tmp', 'w') as handle:
        json.dump(rows, handle, indent=1, ensure_ascii=False)
    os.replace(path + '.tmp', path)


# ------------------------------------------------------------------ markdown

def _cell(text):
    return str(text or '').replace('|', '\\|').replace('\n', ' ')


def _area_key(area):
    return (AREAS.index(area) if area in AREAS else len(AREAS), area)


def render(rows):
    by_area = {}
    for row in rows:
        by_area.setdefault(row['area'], []).append(row)
    total = len(rows)
    passed = sum(1 for row in rows if row.get('result') == 'passed')
    lines = [
        '# Reliability: faults and bad input tried, and what happened',
        '',
        '<!-- Generated by tests/lib/reliability_report.py from the test run; do not edit by hand. -->',
        '',
        'Every row is one case of an integration test that runs the real `ansible-playbook` against Pebble, BIND9,',
        'nginx, the Alibaba Cloud emulator or the embedded local CA (faults are injected by a TLS-terminating',
        'proxy in front of Pebble, `tests/lib/fault_proxy.py`, by a second Pebble with `PEBBLE_WFE_NONCEREJECT=50`',
        'and a domain block list, by stopped or unsynchronised DNS servers and by `SIGKILL`). `make test` regenerates',
        'this file; after a partial run: `python -m tests.lib.reliability_report`.',
        '',
        'Messages are the module\'s `msg`, shortened, with ports, object ids, tokens and temporary paths replaced.',
        '',
        '**%d cases, %d passed.**' % (total, passed),
        '',
        '| area | cases | passed |',
        '|---|---|---|',
    ]
    for area in sorted(by_area, key=_area_key):
        area_rows = by_area[area]
        lines.append('| %s | %d | %d |' % (area, len(area_rows), sum(1 for r in area_rows if r.get('result') == 'passed')))
    for area in sorted(by_area, key=_area_key):
        lines += ['', '## %s' % area, '', '| case | fault or input | expected | what happened | message | test |', '|---|---|---|---|---|---|']
        for row in by_area[area]:
            test = row['test'].split('::', 1)
            label = '%s `%s`' % ('✅' if row.get('result') == 'passed' else '❌ ' + str(row.get('result')), test[-1])
            lines.append('| %s | %s | %s | %s | %s | %s |' % (
                _cell(row['case']), _cell(row['fault']), _cell(row['expected']), _cell(row['outcome']),
                _cell('`%s`' % row['message'] if row['message'] else ''), _cell(label)))
    lines += ['', '## Bugs these tests found (fixed)', '']
    lines += ['%d. %s' % (index + 1, text) for index, text in enumerate(FINDINGS)]
    lines += ['', '## Known limitations', '']
    lines += ['* %s' % text for text in LIMITATIONS]
    lines.append('')
    return '\n'.join(lines)


def write_markdown(rows, path=DOC):
    text = render(rows)
    try:
        with open(path) as handle:
            if handle.read() == text:
                return
    except OSError:
        pass
    with open(path + '.tmp', 'w') as handle:
        handle.write(text)
    os.replace(path + '.tmp', path)


def main(argv):
    results = argv[1] if len(argv) > 1 else RESULTS
    doc = argv[2] if len(argv) > 2 else DOC
    rows = _load(results)
    if not rows:
        sys.stderr.write('no results in %s: run the integration tests first (make test)\n' % results)
        return 1
    write_markdown(rows, doc)
    sys.stdout.write('%s: %d cases\n' % (doc, len(rows)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
