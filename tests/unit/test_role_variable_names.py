# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every variable a role defines carries that role's certflow prefix.

.ansible-lint skips var-naming[no-role-prefix]: ansible-lint wants the bare folder name
(nginx_, apache_...) as the prefix, and the collection namespaces its roles as
certflow_<role>_ instead (see docs/dev/conventions.md). This test checks our prefixes where
that sub-rule checked its own: the keys of roles/<role>/defaults/*.yml and vars/*.yml, and
the set_fact keys and register names of roles/<role>/tasks and handlers. Allowed:

* certflow_<role>_...    public variables (documented in the role's README and argument specs)
* __certflow_<role>_...  internal variables
* __<role>_...           internal variables (the older internal style of some roles)
* the collection-wide settings in COLLECTION_WIDE, in the roles listed for each."""

import glob
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROLES = sorted(os.path.basename(path) for path in glob.glob(os.path.join(ROOT, 'roles', '*')) if os.path.isdir(path))

# The certificate role's settings predate per-role prefixes and are the collection's own
# (certflow_<setting>); certflow_store_dir is the store that the deploy and iis roles read too.
# A name goes here only on purpose: it is public interface of every role that lists it.
_CERTIFICATE_SETTINGS = (
    'certflow_certificates', 'certflow_provider', 'certflow_acme', 'certflow_aliyun', 'certflow_local_ca',
    'certflow_timeout', 'certflow_validation', 'certflow_key_type', 'certflow_renew_before_days', 'certflow_renew_before_ratio',
    'certflow_product', 'certflow_contact', 'certflow_company', 'certflow_dns_provider', 'certflow_rfc2136',
    'certflow_alidns', 'certflow_nameservers', 'certflow_propagation_timeout', 'certflow_http_check_port',
    'certflow_precheck',
)
COLLECTION_WIDE = dict.fromkeys(_CERTIFICATE_SETTINGS, ('certificate',))
COLLECTION_WIDE['certflow_store_dir'] = ('certificate', 'deploy', 'iis')

SET_FACT_KEYS = ('ansible.builtin.set_fact', 'set_fact')
BLOCK_KEYS = ('block', 'rescue', 'always')


def _load(path):
    with open(path, encoding='utf-8') as handle:
        return yaml.safe_load(handle)


def _task_variables(node):
    """(kind, name) of every set_fact key and register name in a task list, blocks included."""
    if isinstance(node, list):
        for item in node:
            yield from _task_variables(item)
        return
    if not isinstance(node, dict):
        return
    for key in BLOCK_KEYS:
        yield from _task_variables(node.get(key))
    if isinstance(node.get('register'), str):
        yield 'register', node['register']
    for key in SET_FACT_KEYS:
        facts = node.get(key)
        if isinstance(facts, dict):
            yield from (('set_fact', name) for name in facts if name != 'cacheable')
        elif facts is not None:
            yield 'set_fact', f'{facts!r} (free-form set_fact: write it as a mapping)'


def role_variables(role_dir):
    """(file relative to the role, kind, name) of every variable the role defines."""
    found = []
    for folder in ('defaults', 'vars'):
        for path in sorted(glob.glob(os.path.join(role_dir, folder, '*.yml')) + glob.glob(os.path.join(role_dir, folder, '*.yaml'))):
            data = _load(path) or {}
            assert isinstance(data, dict), f'{path} is not a mapping'
            found.extend((os.path.relpath(path, role_dir), folder, name) for name in data)
    for folder in ('tasks', 'handlers'):
        for path in sorted(glob.glob(os.path.join(role_dir, folder, '*.yml')) + glob.glob(os.path.join(role_dir, folder, '*.yaml'))):
            found.extend((os.path.relpath(path, role_dir), kind, name) for kind, name in _task_variables(_load(path)))
    return found


def misnamed(role_dir):
    """The variables of roles/<role> that carry none of the role's allowed prefixes."""
    role = os.path.basename(os.path.normpath(role_dir))
    prefixes = (f'certflow_{role}_', f'__certflow_{role}_', f'__{role}_')
    return [f'{path}: {name} ({kind})' for path, kind, name in role_variables(role_dir)
            if not (isinstance(name, str) and name.startswith(prefixes)) and role not in COLLECTION_WIDE.get(name, ())]


def test_roles_are_found():
    assert {'apache', 'certificate', 'deploy', 'iis', 'nginx'} <= set(ROLES)


@pytest.mark.parametrize('role', ROLES)
def test_role_variables_carry_the_role_prefix(role):
    role_dir = os.path.join(ROOT, 'roles', role)
    assert role_variables(role_dir), f'no variables found in roles/{role}: the test reads the wrong files'
    assert misnamed(role_dir) == [], (
        f'roles/{role}: name these certflow_{role}_<name> (public) or __certflow_{role}_<name> (internal)')


def test_a_name_without_the_role_prefix_is_caught(tmp_path):
    role_dir = tmp_path / 'nginx'
    for folder, content in (('defaults', 'certflow_nginx_sites: []\nnginx_port: 80\ncertflow_store_dir: /tmp\n'),
                            ('vars', '__certflow_nginx_ok: 1\n__nginx_ok: 1\n__apache_other: 1\n'),
                            ('tasks', '- block:\n    - ansible.builtin.set_fact:\n        certflow_result: 1\n'
                                      '      register: __certflow_nginx_ok\n  rescue:\n    - ansible.builtin.set_fact:\n'
                                      '        cacheable: true\n        __certflow_nginx_fine: 1\n      register: result\n')):
        (role_dir / folder).mkdir(parents=True)
        (role_dir / folder / 'main.yml').write_text(content, encoding='utf-8')
    assert misnamed(str(role_dir)) == [
        'defaults/main.yml: nginx_port (defaults)',
        'defaults/main.yml: certflow_store_dir (defaults)',
        'vars/main.yml: __apache_other (vars)',
        'tasks/main.yml: certflow_result (set_fact)',
        'tasks/main.yml: result (register)',
    ]
