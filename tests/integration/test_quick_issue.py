# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""quick_issue: false keeps a new order with us; a later cert_request submits it
and cert_validate finishes it, with every CA that has such a step (ACME and the
local CA here; Alibaba Cloud in test_aliyun_workflow.py). And a failed order can
be cancelled by name."""

import os


from tests.lib.playbook import run_playbook

PLAYBOOKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'playbooks')


def run_module(variables, module, args, check=False):
    task = {'cert_request': 'Request', 'cert_validate': 'Validate', 'cert_revoke': 'Revoke'}[module]
    result = run_playbook(os.path.join(PLAYBOOKS, 'single_task.yml'), dict(variables, module=module, module_args=args), check=check)
    return result, result.task(task)['result']


def test_created_order_is_submitted_by_the_next_request_then_issued(provider_vars):
    name = 'later-' + provider_vars['provider']
    domain = '%s.%s' % (name, provider_vars['zone'])
    request = {'name': name, 'domains': [domain], 'validation': provider_vars['validation']}

    result, created = run_module(provider_vars, 'cert_request', dict(request, quick_issue=False))
    result.assert_ok()
    assert created['certificates'][0]['status'] == 'created' and created['changed'] is True

    result, again = run_module(provider_vars, 'cert_request', dict(request, quick_issue=False))
    result.assert_ok()
    assert again['certificates'][0]['status'] == 'created' and again['changed'] is False

    result, checked = run_module(provider_vars, 'cert_request', request, check=True)
    result.assert_ok()
    assert checked['certificates'][0]['action'] == 'submit' and checked['changed'] is True

    result, submitted = run_module(provider_vars, 'cert_request', request)
    result.assert_ok()
    entry = submitted['certificates'][0]
    assert entry['action'] == 'submit' and entry['status'] == 'pending_validation' and entry['changed'] is True
    assert entry['order_id']

    validate = {'name': name, 'method': provider_vars['validation'], 'rfc2136': provider_vars['rfc2136_settings'],
                'nameservers': [provider_vars['nameserver']], 'propagation_timeout': 20}
    result, validated = run_module(provider_vars, 'cert_validate', validate)
    result.assert_ok()
    assert validated['certificates'][0]['status'] == 'issued'
    assert os.path.isfile(os.path.join(provider_vars['store_dir'], name, 'fullchain.pem'))

    result, refused = run_module(provider_vars, 'cert_revoke', {'name': name, 'state': 'cancelled'})
    assert result.rc != 0 and refused['changed'] is False
    assert refused['msg'] == ('the order for %s is issued; only a pending or failed order can be cancelled '
                              '(revoke an issued certificate)' % name)


def test_failed_order_can_be_cancelled_by_name(acme_vars):
    name = 'failed-cancel'
    result, requested = run_module(acme_vars, 'cert_request', {'name': name, 'domains': ['%s.%s' % (name, acme_vars['zone'])],
                                                               'validation': 'dns'})
    result.assert_ok()
    order_json = os.path.join(acme_vars['store_dir'], name, 'order.json')
    with open(order_json) as handle:
        text = handle.read()
    # As a run leaves it when the CA refused the validation.
    failed = text.replace('"status": "pending_validation"', '"status": "failed"', 1)
    assert failed != text, text
    with open(order_json, 'w') as handle:
        handle.write(failed)
    result, cancelled = run_module(acme_vars, 'cert_revoke', {'name': name, 'state': 'cancelled'})
    result.assert_ok()
    assert cancelled['status'] == 'cancelled' and cancelled['changed'] is True
    result, again = run_module(acme_vars, 'cert_revoke', {'name': name, 'state': 'cancelled'})
    result.assert_ok()
    assert again['changed'] is False


def test_open_order_of_another_acme_directory_is_not_resumed(acme_vars, services):
    """Switching acme.directory (staging to production, one CA to another) with an
    order still open: the old one cannot be finished at the new CA, so a new one is made."""
    name = 'moved-ca'
    request = {'name': name, 'domains': ['%s.%s' % (name, acme_vars['zone'])], 'validation': 'dns'}
    result, first = run_module(acme_vars, 'cert_request', request)
    result.assert_ok()
    first_order = first['certificates'][0]['order_id']

    result, same = run_module(acme_vars, 'cert_request', request)
    result.assert_ok()
    assert same['certificates'][0]['order_id'] == first_order and same['changed'] is False

    moved = dict(acme_vars)
    other_url = services.pebble.directory_url.replace('127.0.0.1', 'localhost')
    assert other_url != services.pebble.directory_url
    moved['certflow_defaults'] = dict(acme_vars['certflow_defaults'], acme=dict(acme_vars['certflow_defaults']['acme'], directory=other_url))
    result, second = run_module(moved, 'cert_request', request)
    result.assert_ok()
    entry = second['certificates'][0]
    assert entry['action'] == 'create' and entry['changed'] is True and entry['order_id'] != first_order

    validate = {'name': name, 'method': 'dns', 'rfc2136': acme_vars['rfc2136_settings'], 'nameservers': [acme_vars['nameserver']],
                'propagation_timeout': 20}
    result, validated = run_module(moved, 'cert_validate', validate)
    result.assert_ok()
    assert validated['certificates'][0]['status'] == 'issued'
