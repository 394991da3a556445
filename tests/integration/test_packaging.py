# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection as users get it: `ansible-galaxy collection build` makes a
tarball without test or build clutter, it installs into an empty collections
path, and the demo runs from the installed copy."""

import os
import subprocess
import tarfile

from tests.lib.playbook import run_playbook
from tests.lib.services import free_port
from tests.lib.tools import system_tool, tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_build_install_and_run_the_demo_from_the_installed_copy(tmp_path):
    built = subprocess.run([tool('ansible-galaxy'), 'collection', 'build', '--output-path', str(tmp_path)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 0, built.stderr
    tarball = str(tmp_path / 'certflow-ssl-0.1.0.tar.gz')
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    tops = {name.split('/')[0] for name in names}
    assert {'plugins', 'roles', 'playbooks', 'meta', 'README.md', 'LICENSE', 'MANIFEST.json'} <= tops
    assert not tops & {'tests', 'bench', 'build', '.ci', '.collections', '.venv', 'Makefile'}, tops
    assert not [name for name in names if '__pycache__' in name or name.endswith('.pyc')]

    collections = tmp_path / 'collections'
    # Only the empty path: the development checkout must not count as "already installed".
    isolated = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections))
    installed = subprocess.run([tool('ansible-galaxy'), 'collection', 'install', tarball, '-p', str(collections)],
                               capture_output=True, text=True, timeout=120, check=False, env=isolated)
    assert installed.returncode == 0, installed.stderr
    demo = collections / 'ansible_collections' / 'certflow' / 'ssl' / 'playbooks' / 'demo.yml'
    assert demo.is_file()

    home = tmp_path / 'home'
    home.mkdir()
    demo_dir = home / 'certflow-demo'
    env = {'HOME': str(home), 'ANSIBLE_COLLECTIONS_PATH': str(collections), 'CERTFLOW_DEMO_DIR': str(demo_dir)}
    ports = {'certflow_demo_https_port': free_port(), 'certflow_demo_http_port': free_port()}
    try:
        result = run_playbook(str(demo), ports, env=env, timeout=240).assert_ok()
        issued = result.task('Validate, wait for the CA and install into the store')['result']['certificates']
        assert [c['status'] for c in issued] == ['issued', 'issued', 'issued']
        assert (demo_dir / 'report.html').is_file()
    finally:
        nginx_dir = demo_dir / 'nginx'
        if (nginx_dir / 'nginx.pid').exists():
            subprocess.run([system_tool('nginx'), '-e', str(nginx_dir / 'error.log'), '-p', str(nginx_dir), '-c', str(nginx_dir / 'nginx.conf'),
                            '-s', 'stop'], check=False)
