# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The certificate role puts challenge files on web hosts: a file of the site's own at a
challenge path is neither overwritten nor removed (issue 12, item 3, for web hosts)."""

import os
import secrets

from tests.lib.playbook import run_playbook

HERE = os.path.dirname(os.path.abspath(__file__))
SINGLE_TASK = os.path.join(HERE, 'playbooks', 'single_task.yml')
ROLE_PLAYBOOK = os.path.join(HERE, 'playbooks', 'hostile_proofs_role.yml')


def test_a_file_of_the_site_at_the_challenge_path_is_left_alone(services, store_dir, reliability):
    name = 'rolefile'
    domain = 'rolefile-%s.certflow.test' % secrets.token_hex(3)
    acme = {'directory': services.pebble.directory_url, 'ca_bundle': services.pebble.ca_bundle}
    requested = run_playbook(SINGLE_TASK, {
        'certflow_defaults': {'provider': 'acme', 'acme': acme, 'store_dir': store_dir, 'timeout': 60},
        'module': 'cert_request', 'module_args': {'name': name, 'domains': [domain], 'validation': 'http'},
    }).assert_ok()
    (challenge,) = requested.task('Request')['result']['certificates'][0]['challenges']
    path = os.path.join(services.web.webroot, challenge['file_path'].lstrip('/'))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write('the site owner put this here\n')

    role_vars = {'certflow_certificates': [{'name': name, 'domains': [domain]}], 'certflow_store_dir': store_dir,
                 'certflow_validation': 'http', 'certflow_certificate_webroot': services.web.webroot,
                 'certflow_certificate_webroot_hosts': ['localhost'], 'certflow_http_check_port': services.web.http_port,
                 'certflow_nameservers': [services.bind.nameserver], 'certflow_timeout': 60, 'certflow_acme': acme}
    refused = run_playbook(ROLE_PLAYBOOK, role_vars)
    failed = refused.failed_tasks()
    message = failed[0]['result'].get('msg', '') if failed else ''
    reliability.record('Hostile input', 'role-file-at-challenge-path', 'certificate role, file validation on a web host '
                       'where the challenge path already holds a file of the site', 'fails naming the file; file kept',
                       'failed' if failed else 'NOT REFUSED', message=message)
    assert refused.rc != 0
    assert 'localhost: %s already exist(s) and are not challenge files of these orders' % path in message, message
    with open(path) as handle:
        assert handle.read() == 'the site owner put this here\n'
    assert not os.path.exists(os.path.join(store_dir, name, 'cert.pem'))

    # The same path holding this order's own file (an interrupted run left it): used, then removed.
    with open(path, 'w') as handle:
        handle.write(challenge['file_content'])
    issued = run_playbook(ROLE_PLAYBOOK, role_vars).assert_ok()
    assert issued.task('Validate the names and fetch the issued certificates')['result']['certificates'][0]['status'] == 'issued'
    assert not os.path.exists(path)
