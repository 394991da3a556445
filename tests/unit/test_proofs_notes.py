# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Notes of proofs.json that are not ours are dropped with a warning and touch
nothing, however malformed (issue 12, item 4)."""

from ansible_collections.certflow.ssl.plugins.module_utils._ops.validate import _Proofs


class FakeStore:
    def __init__(self, notes):
        self.notes = notes
        self.saved = None

    def load_proofs(self, name):
        return list(self.notes)

    def save_proofs(self, name, proofs):
        self.saved = list(proofs)


class FakeRun:
    def __init__(self, notes):
        self.store = FakeStore(notes)
        self.warnings = []
        self.dns_asked = []

    def warn(self, msg):
        self.warnings.append(msg)

    def dns(self, options, name):
        self.dns_asked.append(name)
        raise AssertionError('no DNS provider may be asked to remove a note that is not ours')


CHALLENGES = [{'domain': 'www.example.com', 'record_name': '_acme-challenge.www.example.com', 'record_value': 'ours',
               'file_path': None}]


def test_malformed_and_foreign_notes_are_dropped_with_a_warning_each(tmp_path):
    notes = [
        'not a dict',
        {'type': 'dns', 'provider': ['rfc2136'], 'name': '_acme-challenge.www.example.com', 'value': 'ours'},
        {'type': 'dns', 'provider': 'manual', 'name': '_acme-challenge.www.example.com', 'value': 'ours'},
        {'type': 'dns', 'provider': 'rfc2136', 'name': 'www.example.com', 'value': 'ours'},
        {'type': 'dns', 'provider': 'rfc2136', 'name': '_acme-challenge.www.example.com', 'value': 'theirs'},
        {'type': 'dns', 'provider': 'rfc2136', 'name': {'x': 1}, 'record': '_acme-challenge.www.example.com', 'value': 'ours'},
        {'type': 'file', 'webroot': str(tmp_path), 'path': ['/index.html']},
        {'type': 'file', 'webroot': None, 'path': '/.well-known/acme-challenge/t'},
        {'type': 'file', 'webroot': str(tmp_path), 'path': '/.well-known/acme-challenge/t'},
        {'type': 'shell', 'command': 'rm -rf /'},
    ]
    run = FakeRun(notes)
    proofs = _Proofs(run, {'webroot': str(tmp_path)}, 'email', 'www')
    assert proofs.remove(CHALLENGES) == []
    assert len(run.warnings) == len(notes), run.warnings
    assert all(w.startswith('not removed, not a proof certflow made for this order: ') for w in run.warnings)
    assert run.dns_asked == []
    assert run.store.saved == [], 'refused notes are dropped, not retried on every run'
