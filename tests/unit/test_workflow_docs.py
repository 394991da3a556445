# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/workflow/ stays honest: the index lists exactly the pages there are, every ```yaml
block parses, every certflow.ssl module option it uses (suboptions and ``certificates:``
entries included, also through ``module_defaults``) is in that module's argument spec, every
certflow.ssl role it uses exists and takes the variables it is given (roles/<role>/meta/
argument_specs.yml), registered results are read only through return keys the module has, the
playbooks and task lists pass ``ansible-playbook --syntax-check``, and relative links point at
files (and headings) that exist.

The argument specs are the real ones: each module file is imported and its main() run with
CertflowModule.__init__ replaced by a recorder, so a renamed or removed option fails here."""

import functools
import glob
import importlib
import os
import re
import subprocess
import unicodedata

import pytest
import yaml

from ansible_collections.certflow.ssl.plugins.module_utils import _module
from tests.lib.tools import tool

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCS = os.path.join(ROOT, 'docs', 'workflow')
INDEX = os.path.join(DOCS, 'README.md')
COLLECTION = 'certflow.ssl.'
MODULES = sorted(os.path.splitext(os.path.basename(path))[0] for path in glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py')))
ROLES = sorted(os.path.basename(os.path.dirname(os.path.dirname(path)))
               for path in glob.glob(os.path.join(ROOT, 'roles', '*', 'meta', 'argument_specs.yml')))
INCLUDE_ROLE_KEYS = ('ansible.builtin.include_role', 'ansible.builtin.import_role', 'include_role', 'import_role')
IMPORT_PLAYBOOK_KEYS = ('ansible.builtin.import_playbook', 'import_playbook')
# Task keywords whose string values are Jinja expressions without {{ }}.
CONDITION_KEYS = ('when', 'changed_when', 'failed_when', 'until', 'that')
# What every registered task result has besides the module's own return values.
COMMON_RESULT_KEYS = ('changed', 'failed', 'msg', 'skipped')
# Role variables that are handed to a module option unchanged: their keys are that option's suboptions.
MODULE_OPTION_OF = {
    'certflow_acme': ('cert_request', 'acme'), 'acme': ('cert_request', 'acme'),
    'certflow_aliyun': ('cert_request', 'aliyun'), 'aliyun': ('cert_request', 'aliyun'),
    'certflow_local_ca': ('cert_request', 'local_ca'), 'local_ca': ('cert_request', 'local_ca'),
    'certflow_contact': ('cert_request', 'contact'), 'contact': ('cert_request', 'contact'),
    'certflow_company': ('cert_request', 'company'), 'company': ('cert_request', 'company'),
    'certflow_rfc2136': ('cert_validate', 'rfc2136'), 'rfc2136': ('cert_validate', 'rfc2136'),
    'certflow_alidns': ('cert_validate', 'alidns'), 'alidns': ('cert_validate', 'alidns'),
}
FENCE = re.compile(r'^([ \t]*)```([\w+-]*)[^\n]*\n(.*?)^\1```[ \t]*$', re.M | re.S)
LINK = re.compile(r'(?<!!)\[[^\]\n]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)')


# ----------------------------------------------------------------- the real interfaces

class _Recorded(Exception):
    def __init__(self, argument_spec, kwargs):
        super(_Recorded, self).__init__('argument spec recorded')
        self.argument_spec = argument_spec
        self.kwargs = kwargs


def _record(self, argument_spec, **kwargs):
    raise _Recorded(argument_spec, kwargs)


@functools.lru_cache(maxsize=None)
def module_interface(name):
    """{'spec', 'mutually_exclusive', 'required_one_of', 'returns'} of plugins/modules/<name>.py."""
    module = importlib.import_module('ansible_collections.certflow.ssl.plugins.modules.' + name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_module.CertflowModule, '__init__', _record)
        try:
            module.main()
        except _Recorded as recorded:
            spec = dict(recorded.argument_spec)
            if recorded.kwargs.get('entry_options') is not None:
                # Batch entries checked by CertflowModule itself rather than as suboptions of certificates.
                spec['certificates'] = dict(spec.get('certificates') or {}, type='list', elements='dict',
                                            options=recorded.kwargs['entry_options'])
            return {
                'spec': spec,
                'mutually_exclusive': [tuple(group) for group in recorded.kwargs.get('mutually_exclusive') or []],
                'required_one_of': [tuple(group) for group in recorded.kwargs.get('required_one_of') or []],
                'returns': sorted((yaml.safe_load(module.RETURN) or {}).keys()),
            }
    raise AssertionError('%s.main() did not build a CertflowModule' % name)


@functools.lru_cache(maxsize=None)
def role_options(role):
    with open(os.path.join(ROOT, 'roles', role, 'meta', 'argument_specs.yml'), encoding='utf-8') as handle:
        return yaml.safe_load(handle)['argument_specs']['main']['options']


@functools.lru_cache(maxsize=None)
def action_group():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml'), encoding='utf-8') as handle:
        return tuple(yaml.safe_load(handle)['action_groups']['certflow'])


@functools.lru_cache(maxsize=None)
def known_variables():
    """certflow_* variables a vars file or a play may set: those of every role's argument
    spec, the certificate role's certflow_<option> of every provider settings option (its
    argument spec describes them, it cannot list them), and those the collection's playbooks read."""
    names = set()
    for role in ROLES:
        names.update(role_options(role))
    names.update('certflow_' + option for option in _module.ca_settings_options() + _module.dns_settings_options())
    for path in glob.glob(os.path.join(ROOT, 'playbooks', '*.yml')):
        with open(path, encoding='utf-8') as handle:
            names.update(re.findall(r'\bcertflow_\w+', handle.read()))
    return frozenset(names)


# ----------------------------------------------------------------- the pages

def read(path):
    with open(path, encoding='utf-8') as handle:
        return handle.read()


def pages():
    return sorted(glob.glob(os.path.join(DOCS, '*.md')))


def checked_pages():
    """The workflow pages and every other Markdown page users copy examples from."""
    others = [os.path.join(ROOT, 'README.md')] + glob.glob(os.path.join(ROOT, 'roles', '*', 'README.md')) \
        + glob.glob(os.path.join(ROOT, 'docs', '*.md')) + glob.glob(os.path.join(ROOT, 'docs', 'awx', '*.md'))
    return pages() + sorted(others)


def code_blocks(text):
    """[(line, language, dedented body)] of the fenced blocks of a Markdown text."""
    blocks = []
    for match in FENCE.finditer(text):
        indent = match.group(1)
        body = ''.join(line[len(indent):] if line.startswith(indent) else line.lstrip(' \t')
                       for line in match.group(3).splitlines(True))
        blocks.append((text.count('\n', 0, match.start()) + 1, match.group(2).lower(), body))
    return blocks


def without_code(text):
    return FENCE.sub('', text)


def yaml_blocks():
    found = []
    for path in checked_pages():
        for line, language, body in code_blocks(read(path)):
            if language in ('yaml', 'yml'):
                found.append(pytest.param(path, line, body, id='%s:%d' % (os.path.relpath(path, ROOT), line)))
    return found


def index_links():
    return sorted(set(target.split('#')[0] for target in LINK.findall(without_code(read(INDEX)))
                      if re.match(r'^[\w.-]+\.md(#.*)?$', target) and not target.startswith('README.md')))


def heading_anchors(path):
    """GitHub's anchors of a Markdown file: one per heading (punctuation dropped, spaces to
    hyphens, -1, -2 ... for repeats) plus explicit <a id="...">."""
    text = read(path)
    anchors = set(re.findall(r'<a\s+(?:id|name)="([^"]+)"', text))
    seen = {}
    for title in re.findall(r'^#{1,6}\s+(.+?)\s*#*\s*$', without_code(text), re.M):
        slug = ''.join(char for char in title.strip().lower()
                       if char in ' -_' or unicodedata.category(char)[0] in 'LN').replace(' ', '-')
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else '%s-%d' % (slug, count))
    return anchors


# ----------------------------------------------------------------- the checker

def _templated(value):
    return isinstance(value, str) and ('{{' in value or '{%' in value)


class Checker:
    """Walks the documents of one YAML block and notes every use of a certflow.ssl module,
    role or registered result that the collection does not have. ``problems`` holds
    ``(kind, message)`` with kind ``module``, ``role`` or ``result``."""

    def __init__(self):
        self.problems = []
        self.calls = 0
        self.registered = {}        # register name -> (module, looped)

    def problem(self, kind, message):
        self.problems.append((kind, message))

    def messages(self, kind):
        return [message for problem_kind, message in self.problems if problem_kind == kind]

    # -- entry point ---------------------------------------------------

    def check(self, documents):
        for document in documents:
            if isinstance(document, dict) and document and all(isinstance(key, str) and key.startswith('certflow_') for key in document):
                self._vars(document, 'vars file')
            self._walk(document, [], 'document')
        self._check_results(documents)
        return self

    # -- walking -------------------------------------------------------

    def _walk(self, node, scope, where):
        if isinstance(node, list):
            for index, item in enumerate(node):
                self._walk(item, scope, '%s[%d]' % (where, index))
            return
        if not isinstance(node, dict):
            return
        if 'module_defaults' in node:
            scope = scope + [self._module_defaults(node['module_defaults'], where)]
        if 'hosts' in node and isinstance(node.get('vars'), dict):
            self._vars(node['vars'], '%s vars' % where)
        for key, value in node.items():
            if not isinstance(key, str):
                continue
            if key.startswith(COLLECTION):
                self._module_call(key[len(COLLECTION):], value, node, scope, where)
            elif key in MODULES:
                self.problem('module', '%s: %s without its collection; write %s%s' % (where, key, COLLECTION, key))
            elif key in INCLUDE_ROLE_KEYS:
                name = value.get('name') if isinstance(value, dict) else value
                self._role(name, node.get('vars'), '%s %s' % (where, key))
            elif key == 'roles' and isinstance(value, list):
                for index, entry in enumerate(value):
                    self._roles_entry(entry, '%s roles[%d]' % (where, index))
            elif key in IMPORT_PLAYBOOK_KEYS and isinstance(value, str) and value.startswith(COLLECTION):
                playbook = value[len(COLLECTION):]
                if not os.path.exists(os.path.join(ROOT, 'playbooks', playbook + '.yml')):
                    self.problem('role', '%s: playbook %s does not exist (playbooks/%s.yml)' % (where, value, playbook))
            if key != 'module_defaults':
                self._walk(value, scope, '%s.%s' % (where, key))

    # -- modules -------------------------------------------------------

    def _module_call(self, name, options, task, scope, where):
        label = '%s %s%s' % (where, COLLECTION, name)
        if name not in MODULES:
            if name in ROLES:
                self.problem('module', '%s: %s%s is a role: use ansible.builtin.include_role or roles:' % (label, COLLECTION, name))
            else:
                self.problem('module', '%s: there is no module %s%s (plugins/modules/%s.py)' % (label, COLLECTION, name, name))
            return
        self.calls += 1
        interface = module_interface(name)
        if options is None:
            options = {}
        if not isinstance(options, dict):
            self.problem('module', '%s: give the options as a mapping, not %r' % (label, options))
            return
        self._keys('module', interface['spec'], options, label, top=True)
        for group in interface['mutually_exclusive']:
            both = [option for option in group if option in options]
            if len(both) > 1:
                self.problem('module', '%s: %s exclude each other' % (label, ' and '.join(both)))
        available = set(options)
        for defaults in scope:
            available.update(defaults.get(name, ()))
        for group in interface['required_one_of']:
            if not available.intersection(group):
                self.problem('module', '%s: needs one of %s' % (label, ', '.join(group)))
        if isinstance(task.get('register'), str):
            looped = 'loop' in task or any(key.startswith('with_') for key in task)
            self.registered[task['register']] = (name, looped)

    def _module_defaults(self, defaults, where):
        """Check module_defaults; return {module: option names it provides}."""
        provided = {}
        if not isinstance(defaults, dict):
            return provided
        for key, options in defaults.items():
            if not isinstance(options, dict):
                continue
            if key == 'group/%scertflow' % COLLECTION:
                members = action_group()
            elif isinstance(key, str) and key.startswith(COLLECTION) and key[len(COLLECTION):] in MODULES:
                members = (key[len(COLLECTION):],)
            elif isinstance(key, str) and key.startswith(COLLECTION) or str(key).startswith('group/' + COLLECTION):
                self.problem('module', '%s module_defaults: %s is neither a module nor the action group of the collection' % (where, key))
                continue
            else:
                continue
            for member in members:
                self.calls += 1
                self._keys('module', module_interface(member)['spec'], options, '%s module_defaults %s (for %s)' % (where, key, member), top=True)
                provided.setdefault(member, set()).update(options)
        return provided

    # -- roles ---------------------------------------------------------

    def _roles_entry(self, entry, where):
        if isinstance(entry, str):
            self._role(entry, None, where)
            return
        if not isinstance(entry, dict):
            self.problem('role', '%s: a role entry must be a name or a mapping' % where)
            return
        role_vars = dict(entry.get('vars') or {})
        role_vars.update((key, value) for key, value in entry.items() if isinstance(key, str) and key.startswith('certflow_'))
        self._role(entry.get('role') or entry.get('name'), role_vars, where)

    def _role(self, name, role_vars, where):
        if not isinstance(name, str) or not name.startswith(COLLECTION):
            return
        role = name[len(COLLECTION):]
        if role not in ROLES:
            self.problem('role', '%s: there is no role %s (roles/%s/meta/argument_specs.yml)' % (where, name, role))
            return
        self.calls += 1
        if isinstance(role_vars, dict):
            self._keys('role', role_options(role), role_vars, '%s %s vars' % (where, name), top=True)

    def _vars(self, variables, where):
        for key, value in variables.items():
            if not isinstance(key, str) or not key.startswith('certflow_'):
                continue
            if key not in known_variables():
                self.problem('role', '%s: %s is not a variable of any role (meta/argument_specs.yml) or playbook' % (where, key))
                continue
            for role in ROLES:
                if key in role_options(role):
                    self._value('role', role_options(role)[key], value, '%s.%s' % (where, key), key)
                    break

    # -- options -------------------------------------------------------

    def _keys(self, kind, spec, values, where, top=False):
        for key, value in values.items():
            if key not in spec:
                self.problem(kind, '%s: %s is not an option (known: %s)' % (where, key, ', '.join(sorted(spec))))
                continue
            self._value(kind, spec[key] or {}, value, '%s.%s' % (where, key), key)
        if not top:
            for key, option in spec.items():
                if (option or {}).get('required') and key not in values:
                    self.problem(kind, '%s: the required %s is missing' % (where, key))

    def _value(self, kind, option, value, where, name):
        if value is None or _templated(value):
            return
        choices = option.get('choices')
        if choices and isinstance(value, (str, int, bool)) and not isinstance(value, list) \
                and str(value) not in [str(choice) for choice in choices]:
            self.problem(kind, '%s: %r is not one of %s' % (where, value, ', '.join(str(choice) for choice in choices)))
        suboptions = option.get('options')
        if not suboptions and kind == 'role' and name in MODULE_OPTION_OF:
            module, module_option = MODULE_OPTION_OF[name]
            suboptions = module_interface(module)['spec'][module_option].get('options')
        if not suboptions:
            return
        if option.get('type') == 'list' and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, dict):
                    self._keys(kind, suboptions, item, '%s[%d]' % (where, index))
        elif isinstance(value, dict):
            self._keys(kind, suboptions, value, where)

    # -- registered results --------------------------------------------

    def _check_results(self, documents):
        texts = []

        def collect(node, key):
            if isinstance(node, str):
                # Jinja: the {{ }} and {% %} parts of a string; conditions are Jinja as a whole.
                texts.extend([node] if key in CONDITION_KEYS else re.findall(r'\{\{.*?\}\}|\{%.*?%\}', node, re.S))
            elif isinstance(node, list):
                for item in node:
                    collect(item, key)
            elif isinstance(node, dict):
                for item_key, item in node.items():
                    collect(item, item_key)
        collect(documents, None)
        for register, (module, looped) in self.registered.items():
            allowed = set(module_interface(module)['returns']) | set(COMMON_RESULT_KEYS) | ({'results'} if looped else set())
            pattern = re.compile(r'(?<![\w.])%s(?:\.(\w+)|\[[\'"](\w+)[\'"]\])' % re.escape(register))
            for text in texts:
                for match in pattern.finditer(text):
                    key = match.group(1) or match.group(2)
                    if key not in allowed:
                        self.problem('result', '%s (registered from %s%s%s) has no %r: it returns %s' % (
                            register, COLLECTION, module, ', in a loop' if looped else '', key, ', '.join(sorted(allowed))))


@functools.lru_cache(maxsize=None)
def checked(path, line, body):
    return Checker().check(list(yaml.safe_load_all(body)))


# ----------------------------------------------------------------- the tests

def test_the_modules_and_roles_are_found():
    assert set(MODULES) >= {'cert_quota', 'cert_request', 'cert_validate', 'cert_info', 'cert_revoke'}
    assert set(ROLES) >= {'certificate', 'deploy', 'nginx', 'apache', 'iis'}
    for name in MODULES:
        assert module_interface(name)['spec'], name


def test_index_lists_every_page_and_every_listed_page_exists():
    listed = index_links()
    missing = [page for page in listed if not os.path.isfile(os.path.join(DOCS, page))]
    assert not missing, 'docs/workflow/README.md links pages that do not exist: %s' % missing
    present = sorted(os.path.basename(path) for path in pages() if os.path.basename(path) != 'README.md')
    unlisted = sorted(set(present) - set(listed))
    assert not unlisted, 'pages not listed in docs/workflow/README.md: %s' % unlisted
    assert len(present) >= 11


def test_readme_links_the_workflow_index():
    links = LINK.findall(without_code(read(os.path.join(ROOT, 'README.md'))))
    assert any(target.split('#')[0].rstrip('/') in ('docs/workflow/README.md', 'docs/workflow') for target in links), \
        'README.md has no link to docs/workflow/README.md'


@pytest.mark.parametrize('path', [path for path in pages() if os.path.basename(path) != 'README.md'],
                         ids=os.path.basename)
def test_every_step_page_has_a_runnable_example(path):
    calls = 0
    for line, language, body in code_blocks(read(path)):
        if language in ('yaml', 'yml'):
            calls += checked(path, line, body).calls
    assert calls, '%s has no yaml example that uses a certflow.ssl module or role' % os.path.basename(path)


@pytest.mark.parametrize('path,line,body', yaml_blocks())
def test_yaml_block_parses(path, line, body):
    try:
        documents = list(yaml.safe_load_all(body))
    except yaml.YAMLError as exc:
        pytest.fail('%s:%d: the yaml block does not parse: %s' % (os.path.relpath(path, ROOT), line, exc))
    assert any(document is not None for document in documents)


@pytest.mark.parametrize('path,line,body', yaml_blocks())
def test_yaml_block_uses_real_module_options(path, line, body):
    problems = checked(path, line, body).messages('module')
    assert not problems, '%s:%d:\n  %s' % (os.path.relpath(path, ROOT), line, '\n  '.join(problems))


@pytest.mark.parametrize('path,line,body', yaml_blocks())
def test_yaml_block_uses_real_roles_and_role_variables(path, line, body):
    problems = checked(path, line, body).messages('role')
    assert not problems, '%s:%d:\n  %s' % (os.path.relpath(path, ROOT), line, '\n  '.join(problems))


@pytest.mark.parametrize('path,line,body', yaml_blocks())
def test_yaml_block_reads_real_return_values(path, line, body):
    problems = checked(path, line, body).messages('result')
    assert not problems, '%s:%d:\n  %s' % (os.path.relpath(path, ROOT), line, '\n  '.join(problems))


def as_playbook(document):
    """The plays of a YAML document: a playbook as it is, a task list (or a bare
    module_defaults) wrapped into a play on localhost; None for anything else (a vars file)."""
    wrapper = {'name': 'wrapper', 'hosts': 'localhost', 'gather_facts': False}
    if isinstance(document, list) and document and all(isinstance(item, dict) for item in document):
        if all('hosts' in item for item in document):
            return document
        if not any('hosts' in item for item in document):
            return [dict(wrapper, tasks=document)]
    if isinstance(document, dict) and list(document) == ['module_defaults']:
        return [dict(wrapper, tasks=[], **document)]
    return None


def test_examples_pass_ansible_playbook_syntax_check(tmp_path):
    ansible_playbook = tool('ansible-playbook')
    files = []
    for param in yaml_blocks():
        path, line, body = param.values
        for number, document in enumerate(yaml.safe_load_all(body)):
            plays = as_playbook(document)
            if plays is not None:
                target = tmp_path / ('%s-%d-%d.yml' % (os.path.basename(path)[:-3], line, number))
                target.write_text(yaml.safe_dump(plays, allow_unicode=True, sort_keys=False), encoding='utf-8')
                files.append(str(target))
    assert len(files) >= 11
    done = subprocess.run([ansible_playbook, '--syntax-check', '-i', 'localhost,'] + files, capture_output=True, text=True,
                          env=dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_HOST_PATTERN_MISMATCH='ignore'), check=False, timeout=300)
    assert done.returncode == 0, '(files are named page-line-document)\n%s%s' % (done.stdout[-3000:], done.stderr[-3000:])


@pytest.mark.parametrize('path', checked_pages(), ids=lambda path: os.path.relpath(path, ROOT))
def test_relative_links_point_at_existing_files_and_headings(path):
    broken = []
    for target in LINK.findall(without_code(read(path))):
        if re.match(r'^[a-z][a-z0-9+.-]*:', target):
            continue                                    # http:, https:, mailto:
        file_part, anchor = (target.split('#', 1) + [''])[:2]
        linked = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if not os.path.exists(linked):
            broken.append('%s (no such file)' % target)
        elif anchor and linked.endswith('.md') and anchor not in heading_anchors(linked):
            broken.append('%s (no heading #%s in %s)' % (target, anchor, os.path.relpath(linked, ROOT)))
    assert not broken, '%s: broken links: %s' % (os.path.relpath(path, ROOT), '; '.join(broken))


# ----------------------------------------------------------------- the checker can fail

WRONG = '''
- name: A play with one mistake of each kind
  hosts: localhost
  vars:
    certflow_no_such_variable: 1
  module_defaults:
    group/certflow.ssl.certflow:
      provider: acme
      acme: {directory: https://acme.example/directory, account_mail: x@example.com}
  tasks:
    - certflow.ssl.cert_request:
        domain: [www.example.com]
        validation: dnss
      register: ordered
    - certflow.ssl.cert_validate:
        method: dns
        rfc2136: {server: ns1.example.com, secret: x}
        certificates:
          - name: www
            provider: acme
    - certflow.ssl.cert_revoke:
        reason: superseded
        confirm: true
    - cert_info:
        name: www
    - certflow.ssl.cert_nothing:
        name: www
    - ansible.builtin.debug:
        msg: "{{ ordered.certificate }}"
    - ansible.builtin.include_role:
        name: certflow.ssl.deploy
      vars:
        certflow_deploy_certificate: []
        certflow_deploy_certificates:
          - dest: /etc/ssl/www
    - ansible.builtin.include_role:
        name: certflow.ssl.no_such_role
  roles:
    - role: certflow.ssl.nginx
      vars:
        certflow_nginx_tls_profile: old
'''


def test_the_checker_finds_wrong_options_roles_and_results():
    found = Checker().check(list(yaml.safe_load_all(WRONG)))
    modules, roles, results = found.messages('module'), found.messages('role'), found.messages('result')
    expected_module = ['account_mail is not an option', 'domain is not an option', "'dnss' is not one of",
                       'provider is not an option', 'needs one of name, path, content, order_id', 'secret is not an option',
                       'cert_info without its collection', 'there is no module certflow.ssl.cert_nothing']
    for words in expected_module:
        assert any(words in message for message in modules), (words, modules)
    expected_role = ['certflow_no_such_variable is not a variable', 'certflow_deploy_certificate is not an option',
                     'the required name is missing', 'there is no role certflow.ssl.no_such_role', "'old' is not one of"]
    for words in expected_role:
        assert any(words in message for message in roles), (words, roles)
    assert any("has no 'certificate'" in message for message in results), results


def test_the_checker_accepts_the_corrected_play():
    corrected = (WRONG.replace('    certflow_no_such_variable: 1\n', '    certflow_store_dir: /etc/certflow\n')
                 .replace('account_mail', 'account_email').replace('domain: [', 'domains: [').replace('dnss', 'dns')
                 .replace('            provider: acme\n', '').replace('secret: x', 'key_secret: x')
                 .replace('        reason: superseded\n', '        name: www\n        reason: superseded\n')
                 .replace('    - cert_info:', '    - certflow.ssl.cert_info:').replace('cert_nothing', 'cert_info')
                 .replace('ordered.certificate }}', 'ordered.certificates }}')
                 .replace('        certflow_deploy_certificate: []\n', '')
                 .replace('          - dest: /etc/ssl/www', '          - name: www\n            dest: /etc/ssl/www')
                 .replace('certflow.ssl.no_such_role', 'certflow.ssl.apache').replace('profile: old', 'profile: modern'))
    found = Checker().check(list(yaml.safe_load_all(corrected)))
    assert not found.problems, found.problems
