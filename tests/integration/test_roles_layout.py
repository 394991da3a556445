# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the nginx and apache roles put their files: a sites_dir (conf_dir) of the user's own is included
directly, never linked from the OS family's enabled folder under /etc, unless the enabled folder is set too."""

import os

import pytest

from tests.integration.test_hostile_roles import Setup

# The OS family folders the roles used to link into (Debian layout; RHEL includes conf.d directly).
SYSTEM_ENABLED = {'nginx': ['/etc/nginx/sites-enabled'], 'apache': ['/etc/apache2/sites-enabled', '/etc/apache2/conf-enabled']}


@pytest.fixture(params=['nginx', 'apache'])
def setup(request, tmp_path):
    return Setup(request.param, str(tmp_path))


def _system_links(setup):
    """Links in the system folders that point into this test's directory."""
    found = []
    for folder in SYSTEM_ENABLED[setup.kind]:
        if os.path.isdir(folder):
            for name in os.listdir(folder):
                path = os.path.join(folder, name)
                if os.path.islink(path) and os.readlink(path).startswith(setup.workdir):
                    found.append(path)
    return found


def test_a_sites_dir_of_your_own_is_not_linked_from_etc(setup):
    name = 'layout-%d' % os.getpid()
    try:
        result = setup.run({'name': name}).assert_ok()
        assert _system_links(setup) == []
        assert os.path.isfile(os.path.join(setup.sites_dir, 'certflow-%s.conf' % name))
        assert result.task('Enable the site files')['status'] == 'skipped'
    finally:
        for path in _system_links(setup):
            os.unlink(path)


def test_an_enabled_dir_set_as_well_gets_the_links(setup):
    enabled = os.path.join(setup.workdir, 'enabled')
    os.makedirs(enabled)
    try:
        setup.run(role_changes={'sites_enabled_dir': enabled}).assert_ok()
        link = os.path.join(enabled, 'certflow-www.conf')
        assert os.path.islink(link) and os.readlink(link) == os.path.join(setup.sites_dir, 'certflow-www.conf')
        assert _system_links(setup) == []
    finally:
        for path in _system_links(setup):
            os.unlink(path)
