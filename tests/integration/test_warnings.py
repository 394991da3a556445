# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a provider says reaches the user: warnings as module warnings and in the
certificate's result, the rest of what happened as the certificate's ``messages``."""

import os

from tests.lib.playbook import run_playbook

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks')


def test_preferred_chain_not_offered_is_a_warning(services, acme_vars):
    acme_vars['cert_name'] = 'nochain'
    acme_vars['cert_domains'] = ['nochain.' + acme_vars['zone']]
    acme_vars['certflow_defaults']['acme'] = dict(acme_vars['certflow_defaults']['acme'], preferred_chain='No Such Root X9')
    result = run_playbook(os.path.join(PLAYBOOKS, 'acme_dns.yml'), acme_vars).assert_ok()

    validated = result.task('Validate')['result']
    expected = "no alternate chain ends at issuer 'No Such Root X9'; using the default chain"
    assert any(expected in warning for warning in validated.get('warnings', [])), validated.get('warnings')
    assert any('nochain: ' + expected == warning for warning in validated['warnings'])
    entry = validated['certificates'][0]
    assert entry['status'] == 'issued'
    assert entry['warnings'] == [expected]
    assert '[WARNING]: nochain: ' + expected in ' '.join(result.output.split())
    # What happened on the way is kept too, without being a warning.
    assert 'warnings' not in result.task('Request')['result']['certificates'][0]
