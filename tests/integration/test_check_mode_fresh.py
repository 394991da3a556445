# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""site.yml --check on a fresh store with the local CA and certflow_deploy_ca_bundle at the local CA's
root.pem, as docs/workflow/08-deploy.md advises: check mode never creates the CA, so the bundle is not
there yet. The check run succeeds, writes nothing and says what it would do; the real run then uses the bundle."""

import os
import sys

from tests.lib.playbook import run_playbook

SITE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'playbooks', 'site.yml')


def _files(top):
    return sorted(os.path.join(folder, name) for folder, _dirs, names in os.walk(top) for name in names)


def test_site_check_mode_on_a_fresh_store_with_the_local_ca_bundle(tmp_path):
    store = tmp_path / 'store'
    store.mkdir(mode=0o700)
    inventory = tmp_path / 'hosts.ini'
    inventory.write_text('[certflow_webservers]\nweb ansible_connection=local ansible_python_interpreter=%s\n' % sys.executable)
    bundle = str(store / '_local_ca' / 'root.pem')
    extra = {'certflow_provider': 'local', 'certflow_store_dir': str(store), 'certflow_validation': 'none',
             'certflow_certificates': [{'name': 'www', 'domains': ['www.test']}],
             'certflow_deploy_certificates': [{'name': 'www'}],
             'certflow_deploy_dest_dir': str(tmp_path / 'deploy'), 'certflow_deploy_owner': '', 'certflow_deploy_group': '',
             'certflow_deploy_ca_bundle': bundle}

    checked = run_playbook(SITE, extra, inventory=str(inventory), check=True)
    assert checked.rc == 0, checked.output
    assert 'cannot read CA bundle' not in checked.output
    assert 'the CA bundle %s does not exist yet' % bundle in checked.output
    assert 'would deploy www to %s/deploy/www once it is issued' % tmp_path in checked.output
    assert _files(str(store)) == [] and not os.path.exists(str(tmp_path / 'deploy'))

    run_playbook(SITE, extra, inventory=str(inventory)).assert_ok()
    assert os.path.isfile(bundle)
    assert os.path.isfile(str(tmp_path / 'deploy' / 'www' / 'fullchain.pem'))
    # Once the bundle exists, check mode checks the chain against it and has nothing to do.
    again = run_playbook(SITE, extra, inventory=str(inventory), check=True)
    assert again.rc == 0 and 'the CA bundle %s does not exist yet' % bundle not in again.output, again.output
