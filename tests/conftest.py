# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make the checkout importable as ``ansible_collections.certflow.ssl`` (for
unit tests and for ansible-playbook, which gets the same path through
ANSIBLE_COLLECTIONS_PATH)."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_ROOT = os.path.join(REPO, '.collections')


def _link_collection():
    namespace_dir = os.path.join(COLLECTIONS_ROOT, 'ansible_collections', 'certflow')
    link = os.path.join(namespace_dir, 'ssl')
    os.makedirs(namespace_dir, exist_ok=True)
    if not os.path.islink(link):
        try:
            os.symlink(REPO, link)
        except FileExistsError:
            pass
    return COLLECTIONS_ROOT


_LAID_OUT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(REPO)))
if os.path.basename(os.path.dirname(os.path.dirname(REPO))) == 'ansible_collections':
    # Already in an ansible_collections/<namespace>/<name> tree (ansible-test units):
    # its collection loader owns the imports, a second path to the same files would confuse it.
    os.environ['ANSIBLE_COLLECTIONS_PATH'] = _LAID_OUT_ROOT
else:
    _link_collection()
    if COLLECTIONS_ROOT not in sys.path:
        sys.path.insert(0, COLLECTIONS_ROOT)
    os.environ['ANSIBLE_COLLECTIONS_PATH'] = COLLECTIONS_ROOT


def pytest_configure(config):
    # The reliability table (docs/reliability.md) and the -vvv secret scan: fixtures and hooks in tests/lib.
    from tests.lib import reliability_report, secret_scan
    for plugin in (reliability_report, secret_scan):
        if not config.pluginmanager.is_registered(plugin):
            config.pluginmanager.register(plugin, 'certflow_' + plugin.__name__.rsplit('.', 1)[-1])
