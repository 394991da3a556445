# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX / Automation Controller: the custom credential types and the job templates of docs/awx/,
checked against the modules and run through ansible-runner (the engine AWX runs every job with).

* The credential types are valid for AWX (the checks AWX makes when one is created), their
  injectors set only environment variables that the modules read (the env fallbacks of the
  argument specs in plugins/module_utils/_module.py), every input that feeds a no_log option is
  `secret: true`, and the values AWX injects for fields left empty are accepted by the modules.
* The job templates of docs/awx/job_template_renew.yml run through ansible-runner against Pebble
  (with External Account Binding and its private TLS root) and BIND: a private data directory
  (tests/integration/awx/) with `env/envvars` rendered from the credential types exactly as AWX
  renders injectors, `env/extravars` from the job template, and `inventory/hosts`. site.yml issues
  and deploys, renew.yml with nothing due changes nothing, renew.yml with everything due renews
  and redeploys. Each job must end `successful` with rc 0, with runner_on_ok events for the
  certificate tasks and no failed event, and no secret (TSIG secret, EAB HMAC key, ACME account
  key, the certificates' private keys) may appear anywhere in the job artifacts (stdout and
  events), even at verbosity 3.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import types

import pytest
import yaml
from ansible.module_utils.basic import env_fallback
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from cryptography import x509
from jinja2 import StrictUndefined, meta, sandbox

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._dns.dns_lexicon import SECRET_NAME, LexiconProvider, _option_names
from ansible_collections.certflow.ssl.plugins.module_utils._module import dns_argument_spec, provider_argument_spec
from tests.lib.secret_scan import pem_fragments, secrets_in

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
AWX_DOCS = os.path.join(REPO, 'docs', 'awx')
TEMPLATE_DIR = os.path.join(HERE, 'awx')
JOB_TEMPLATES_FILE = os.path.join(AWX_DOCS, 'job_template_renew.yml')
CREDENTIAL_TYPE_FILES = ('credential_type_acme.yml', 'credential_type_rfc2136.yml', 'credential_type_aliyun.yml',
                         'credential_type_lexicon_cloudflare.yml')

# Environment variables the modules read that no credential sets, on purpose: a path inside the
# execution environment (CERTFLOW_ACME_ACCOUNT_KEY_SRC: the credential passes the key itself),
# and two settings that are not credentials (the roles take them as variables).
NOT_FROM_CREDENTIALS = {'CERTFLOW_ACME_ACCOUNT_KEY_SRC', 'CERTFLOW_ACME_ARI', 'CERTFLOW_DNS_NAMESERVERS', 'CERTFLOW_STORE_DIR'}
# What AWX accepts in a custom credential type (awx/main/fields.py: CredentialTypeInputField,
# CredentialTypeInjectorField).
FIELD_ID = re.compile(r'^[a-zA-Z_]+[a-zA-Z0-9_]*$')
FIELD_KEYS = {'id', 'label', 'type', 'format', 'choices', 'help_text', 'multiline', 'secret', 'ask_at_runtime', 'default'}
FILE_TEMPLATE = re.compile(r'^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$')
# AWX hides the value of these variables in the job's recorded environment (build_safe_env).
AWX_HIDDEN_ENV = re.compile(r'API|TOKEN|KEY|SECRET|PASS', re.I)

CERT_NAME = 'awx-portal'
JOB_TIMEOUT = 180
VERBOSITY = 3
NO_LOG = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


# --------------------------------------------------------------------------- the definitions

def credential_types():
    """{name: definition} of the credential types in docs/awx/."""
    types_by_name = {}
    for filename in CREDENTIAL_TYPE_FILES:
        with open(os.path.join(AWX_DOCS, filename)) as handle:
            definition = yaml.safe_load(handle)
        types_by_name[definition['name']] = definition
    return types_by_name


def awx_tasks(module):
    """The arguments of every task of docs/awx/job_template_renew.yml that calls awx.awx.<module>."""
    with open(JOB_TEMPLATES_FILE) as handle:
        plays = yaml.safe_load(handle)
    return [task['awx.awx.' + module] for play in plays for task in play['tasks'] if 'awx.awx.' + module in task]


def job_template(name):
    return next(args for args in awx_tasks('job_template') if args['name'] == name)


def env_options():
    """{environment variable: (option path, no_log)} from the modules' argument specs."""
    found = {}

    def walk(spec, prefix):
        for name, option in spec.items():
            fallback = option.get('fallback')
            if fallback and fallback[0] is env_fallback:
                for variable in fallback[1]:
                    found[variable] = (prefix + name, bool(option.get('no_log')))
            if option.get('options'):
                walk(option['options'], prefix + name + '.')

    walk(provider_argument_spec(), '')
    walk(dns_argument_spec(), '')
    return found


def lexicon_env_option(variable):
    """(option path, masked) of a variable dns-lexicon reads for dns_provider lexicon, None for another:
    LEXICON_PROVIDER_NAME, or LEXICON_<PROVIDER>_<OPTION> with an option that provider declares."""
    from lexicon._private.discovery import find_providers, load_provider_module
    if variable == 'LEXICON_PROVIDER_NAME':
        return 'lexicon.provider', False
    for provider in find_providers():
        prefix = 'LEXICON_%s_' % provider.upper()
        if variable.startswith(prefix):
            option = variable[len(prefix):].lower()
            if option in _option_names(load_provider_module(provider).Provider):
                # Masked by the modules as no_log values are (LexiconProvider.secret_values).
                return 'lexicon.' + option, bool(SECRET_NAME.search(option))
    return None


def template_fields(template):
    """The names a Jinja template reads (field ids, and 'tower' for file names)."""
    return meta.find_undeclared_variables(sandbox.ImmutableSandboxedEnvironment().parse(template))


def inject_credential(credential_type, inputs, private_data_dir):
    """The environment AWX gives a job for one credential of this custom type, and the files it writes.

    As CredentialType.inject_credential in awx/main/models/credential/__init__.py does: only the
    inputs that are not empty are defined for the templates (an empty field renders as ''), every
    `file` injector is rendered into a private file under env/ and its path offered as
    tower.filename (or tower.filename.<name>), and every `env` injector is rendered with a
    sandboxed Jinja environment.
    """
    namespace = {}
    for field in credential_type['inputs'].get('fields', []):
        value = inputs.get(field['id'])
        if field.get('type') == 'boolean':
            namespace[field['id']] = bool(value)
        elif value:
            namespace[field['id']] = value
    renderer = sandbox.ImmutableSandboxedEnvironment()
    tower = types.SimpleNamespace()
    for label, template in credential_type['injectors'].get('file', {}).items():
        handle, path = tempfile.mkstemp(dir=os.path.join(private_data_dir, 'env'))
        with os.fdopen(handle, 'w') as output:
            output.write(renderer.from_string(template).render(**namespace))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IWGRP)
        if '.' not in label:
            tower.filename = path
        else:
            if not hasattr(tower, 'filename'):
                tower.filename = types.SimpleNamespace()
            setattr(tower.filename, label.split('.', 1)[1], path)
    namespace['tower'] = tower
    return {name: renderer.from_string(template).render(**namespace)
            for name, template in credential_type['injectors'].get('env', {}).items()}


# --------------------------------------------------------------------------- static checks

@pytest.mark.parametrize('filename', CREDENTIAL_TYPE_FILES)
def test_credential_type_is_what_awx_accepts(filename):
    with open(os.path.join(AWX_DOCS, filename)) as handle:
        definition = yaml.safe_load(handle)
    assert set(definition) <= {'name', 'description', 'kind', 'inputs', 'injectors'}, set(definition)
    assert definition['name'] and definition['kind'] == 'cloud'
    fields = definition['inputs']['fields']
    ids = [field['id'] for field in fields]
    assert len(ids) == len(set(ids)) and 'tower' not in ids
    for field in fields:
        assert set(field) <= FIELD_KEYS, field
        assert FIELD_ID.match(field['id']) and field['label'], field
        assert field.get('type', 'string') in ('string', 'boolean')
        if 'default' in field:
            assert isinstance(field['default'], str if field.get('type', 'string') == 'string' else bool), field
        if 'choices' in field:
            assert field.get('default', field['choices'][0]) in field['choices']
    assert set(definition['inputs'].get('required', [])) <= set(ids)
    injectors = definition['injectors']
    assert set(injectors) <= {'env', 'file', 'extra_vars'} and injectors.get('env')
    assert all(FILE_TEMPLATE.match(label) for label in injectors.get('file', {}))
    for name, template in injectors['env'].items():
        assert FIELD_ID.match(name) and not name.startswith('ANSIBLE_'), name
        assert template.isascii(), name

    # AWX renders every injector with each field set and undefined names fatal before it saves the type.
    tower = types.SimpleNamespace(filename=types.SimpleNamespace())
    for label in injectors.get('file', {}):
        if '.' in label:
            setattr(tower.filename, label.split('.', 1)[1], 'EXAMPLE_FILENAME')
        else:
            tower.filename = 'EXAMPLE_FILENAME'
    namespace = dict((field_id, 'EXAMPLE') for field_id in ids)
    namespace['tower'] = tower
    strict = sandbox.ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for kind in ('env', 'file', 'extra_vars'):
        for template in injectors.get(kind, {}).values():
            strict.from_string(template).render(namespace)

    # Every field is used by an injector.
    used = set()
    for kind in ('env', 'file', 'extra_vars'):
        for template in injectors.get(kind, {}).values():
            used |= template_fields(template)
    assert set(ids) <= used, set(ids) - used


def test_injectors_set_exactly_the_environment_variables_the_modules_read():
    options = env_options()
    injected = {}
    for name, definition in credential_types().items():
        for variable in definition['injectors']['env']:
            assert variable not in injected, '%s is set by %s and %s' % (variable, injected.get(variable), name)
            injected[variable] = name
    unknown = {variable for variable in set(injected) - set(options) if not lexicon_env_option(variable)}
    assert not unknown, 'no module option (nor dns-lexicon) reads %s' % sorted(unknown)
    assert set(options) - set(injected) == NOT_FROM_CREDENTIALS, (
        'environment variables of the modules that no credential type sets: %s' % sorted(set(options) - set(injected)))


def test_secret_inputs_feed_exactly_the_no_log_options():
    options = env_options()
    for name, definition in credential_types().items():
        fields = {field['id']: field for field in definition['inputs']['fields']}
        feeds = {}  # field id -> [(variable, option, no_log)]
        for variable, template in definition['injectors']['env'].items():
            option, no_log = options[variable] if variable in options else lexicon_env_option(variable)
            for field_id in template_fields(template) & set(fields):
                feeds.setdefault(field_id, []).append((variable, option, no_log))
            if no_log:
                assert AWX_HIDDEN_ENV.search(variable), '%s: AWX would show %s in the job environment' % (name, variable)
        for field_id, field in fields.items():
            for variable, option, no_log in feeds.get(field_id, []):
                if no_log:
                    assert field.get('secret') is True, '%s: field %s feeds the no_log option %s (%s) but is not secret' % (
                        name, field_id, option, variable)
                else:
                    assert not field.get('secret'), '%s: field %s is secret but feeds %s (%s), which is not no_log' % (
                        name, field_id, option, variable)


def test_job_templates_use_the_credential_types_and_the_playbooks():
    types_by_name = credential_types()
    # The credential types are created from the files themselves (a loop over them).
    with open(JOB_TEMPLATES_FILE) as handle:
        loops = [task['loop'] for play in yaml.safe_load(handle) for task in play['tasks'] if 'awx.awx.credential_type' in task]
    assert len(loops) == 1 and sorted(re.findall(r"'(credential_type_\w+\.yml)'", loops[0])) == sorted(CREDENTIAL_TYPE_FILES)
    credentials = {args['name']: args for args in awx_tasks('credential')}
    for args in credentials.values():
        fields = {field['id'] for field in types_by_name[args['credential_type']]['inputs']['fields']}
        assert set(args['inputs']) <= fields, (args['name'], set(args['inputs']) - fields)
        required = set(types_by_name[args['credential_type']]['inputs'].get('required', []))
        assert required <= set(args['inputs']), (args['name'], required - set(args['inputs']))
    templates = {args['name']: args for args in awx_tasks('job_template')}
    assert {args['playbook'] for args in templates.values()} == {'site.yml', 'renew.yml'}
    for args in templates.values():
        assert set(args['credentials']) <= set(credentials), args['name']
        assert os.path.isfile(os.path.join(TEMPLATE_DIR, 'project', args['playbook']))
        assert os.path.isfile(os.path.join(REPO, 'playbooks', args['playbook']))
    schedules = awx_tasks('schedule')
    assert [schedule['unified_job_template'] for schedule in schedules] == ['certflow renew']
    assert 'FREQ=DAILY' in schedules[0]['rrule']


def test_fields_left_empty_inject_values_the_modules_accept(tmp_path, monkeypatch):
    """AWX sets every injected variable, also for an empty field: the modules must take those
    values as "not set" (an empty port would not be an int)."""
    (tmp_path / 'env').mkdir()
    types_by_name = credential_types()
    minimal = {
        'certflow ACME account': {'directory': 'https://ca.example/directory'},
        'certflow RFC 2136 TSIG key': {'server': 'ns1.example.com', 'key_name': 'certflow', 'key_secret': 'c2VjcmV0'},
        'certflow Alibaba Cloud AccessKey': {'access_key_id': 'LTAI5tExample', 'access_key_secret': 'example-secret'},
        'certflow dns-lexicon Cloudflare API token': {'auth_token': 'example-cloudflare-token'},
    }
    environment = {}
    for name, inputs in minimal.items():
        environment.update(inject_credential(types_by_name[name], inputs, str(tmp_path)))
    assert set(environment) == set().union(*(definition['injectors']['env'] for definition in types_by_name.values()))
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    spec = provider_argument_spec()
    spec.update(dns_argument_spec())
    result = ArgumentSpecValidator(spec).validate({})
    assert not result.error_messages, result.error_messages
    params = result.validated_parameters
    assert params['rfc2136']['port'] == 53 and params['rfc2136']['key_algorithm'] == 'hmac-sha256'
    assert params['acme']['directory'] == 'https://ca.example/directory'
    # empty means unset for the providers: no CA bundle, no EAB, the store's account key, no STS token
    assert not params['acme']['ca_bundle'] and not params['acme']['eab_kid'] and not params['acme']['account_key_content']
    assert not params['aliyun']['security_token']
    # dns-lexicon's variables: the provider name is taken, the token masked, the empty zone id is unset for lexicon.
    lexicon = LexiconProvider({'lexicon': {}}, None)
    assert lexicon.host == 'cloudflare'
    assert LexiconProvider.secret_values({}) == ['example-cloudflare-token']
    assert lexicon._config('example.com').resolve('lexicon:cloudflare:zone_id') is None
    assert lexicon._config('example.com').resolve('lexicon:cloudflare:auth_token') == 'example-cloudflare-token'


# --------------------------------------------------------------------------- the jobs

class Job:
    """One ansible-runner job: its status, rc, events and stdout, read from the artifacts."""

    def __init__(self, private_data_dir, ident, completed, seconds):
        self.artifact_dir = os.path.join(private_data_dir, 'artifacts', ident)
        self.completed = completed
        self.seconds = seconds
        self.status = _read(os.path.join(self.artifact_dir, 'status')).strip()
        self.rc = _read(os.path.join(self.artifact_dir, 'rc')).strip()
        self.stdout = _read(os.path.join(self.artifact_dir, 'stdout'))
        events = []
        events_dir = os.path.join(self.artifact_dir, 'job_events')
        for name in os.listdir(events_dir):
            with open(os.path.join(events_dir, name)) as handle:
                events.append(json.load(handle))
        self.events = sorted(events, key=lambda event: event['counter'])

    def assert_successful(self):
        failed = [(event['event'], event.get('event_data', {}).get('task'), event.get('event_data', {}).get('res', {}).get('msg'))
                  for event in self.events if event['event'] in ('runner_on_failed', 'runner_on_unreachable')]
        assert (self.status, self.rc, failed) == ('successful', '0', []), 'after %.0f s:\n%s\n%s\n%s' % (
            self.seconds, self.stdout[-6000:], self.completed.stdout[-2000:], self.completed.stderr[-2000:])
        return self

    def ok(self, task, role=None):
        """The result of the runner_on_ok event of this task (of this role)."""
        for event in self.events:
            data = event.get('event_data', {})
            if event['event'] == 'runner_on_ok' and data.get('task') == task and (role is None or data.get('role') == role):
                return data['res']
        raise AssertionError('no runner_on_ok event for %r (role %s); ok tasks: %s' % (task, role, sorted(
            {event.get('event_data', {}).get('task') for event in self.events if event['event'] == 'runner_on_ok'})))

    def changed(self):
        stats = [event.get('event_data', {}) for event in self.events if event['event'] == 'playbook_on_stats']
        assert len(stats) == 1
        return stats[0].get('changed') or {}


def _read(path):
    with open(path, errors='replace') as handle:
        return handle.read()


def run_job(private_data_dir, playbook, ident, extra_vars):
    """Run a playbook of the project through `ansible-runner run`, as AWX starts a job."""
    with open(os.path.join(private_data_dir, 'env', 'extravars'), 'w') as handle:
        json.dump(extra_vars, handle)
    argv = [sys.executable, '-m', 'ansible_runner', 'run', private_data_dir, '--playbook', playbook, '--ident', ident]
    argv += ['-' + 'v' * VERBOSITY] if VERBOSITY else []
    # The job's credentials come from env/envvars only, never from this process's environment;
    # ansible-playbook is the one next to this Python.
    env = {key: value for key, value in os.environ.items() if not key.startswith(('CERTFLOW_', 'ALIBABA_CLOUD_'))}
    env['PATH'] = os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', '')
    started = time.monotonic()
    completed = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=JOB_TIMEOUT, check=False)
    return Job(private_data_dir, ident, completed, time.monotonic() - started)


def serial(path):
    with open(path, 'rb') as handle:
        return x509.load_pem_x509_certificate(handle.read()).serial_number


@pytest.fixture
def awx_job_dir(tmp_path, services, pebble_eab):
    """A private data directory as AWX prepares one for the job templates of docs/awx/: the
    template, the credentials' environment (ACME with EAB and a private CA root, TSIG key)
    and the secrets that must not show in any output."""
    private_data_dir = str(tmp_path / 'private_data_dir')
    shutil.copytree(TEMPLATE_DIR, private_data_dir)
    account_key = _crypto.private_key_to_pem(_crypto.generate_private_key('ec256'))
    with open(pebble_eab.ca_bundle) as handle:
        ca_bundle = handle.read()
    bind = services.bind
    inputs = {
        'certflow ACME account': {'directory': pebble_eab.directory_url, 'account_key': account_key,
                                  'account_email': 'hostmaster@certflow.test', 'eab_kid': pebble_eab.eab_kid,
                                  'eab_hmac_key': pebble_eab.eab_hmac_key, 'ca_bundle': ca_bundle},
        'certflow RFC 2136 TSIG key': {'server': bind.host, 'port': str(bind.port), 'key_name': bind.tsig_name,
                                       'key_secret': bind.tsig_secret, 'key_algorithm': bind.tsig_algorithm},
    }
    types_by_name = credential_types()
    credentials = {args['name']: args for args in awx_tasks('credential')}
    environment = {}
    for credential in job_template('certflow renew')['credentials']:
        type_name = credentials[credential]['credential_type']
        environment.update(inject_credential(types_by_name[type_name], inputs[type_name], private_data_dir))
    with open(os.path.join(private_data_dir, 'env', 'envvars'), 'w') as handle:
        yaml.safe_dump(environment, handle)
    os.chmod(os.path.join(private_data_dir, 'env', 'envvars'), stat.S_IRUSR | stat.S_IWUSR)

    store_dir = str(tmp_path / 'store')
    deploy_dir = str(tmp_path / 'deploy')
    job = types.SimpleNamespace(
        path=private_data_dir, store_dir=store_dir, deploy_dir=deploy_dir,
        # What the modules must have got from the credentials' environment.
        expected_args={'acme': {'directory': pebble_eab.directory_url, 'account_email': 'hostmaster@certflow.test',
                                'eab_kid': pebble_eab.eab_kid, 'account_key_content': NO_LOG, 'eab_hmac_key': NO_LOG},
                       'rfc2136': {'server': bind.host, 'port': bind.port, 'key_name': bind.tsig_name, 'key_secret': NO_LOG,
                                   'key_algorithm': bind.tsig_algorithm}},
        secrets={bind.tsig_secret: 'TSIG secret', pebble_eab.eab_hmac_key: 'EAB HMAC key'},
        # What the test services need besides the job template's extra_vars (in AWX: the inventory).
        extra_vars={'certflow_store_dir': store_dir, 'certflow_deploy_dest_dir': deploy_dir,
                    'certflow_nameservers': [bind.nameserver], 'certflow_propagation_timeout': 20, 'certflow_timeout': 120})
    job.secrets.update((line, 'ACME account key') for line in pem_fragments(account_key))
    return job


def test_site_then_scheduled_renewal_through_ansible_runner(awx_job_dir):
    job_dir = awx_job_dir
    issue_template, renew_template = job_template('certflow issue and deploy'), job_template('certflow renew')
    cert_path = os.path.join(job_dir.store_dir, CERT_NAME, 'cert.pem')
    deployed_cert = os.path.join(job_dir.deploy_dir, CERT_NAME, 'cert.pem')

    # 1. issue and deploy
    site = run_job(job_dir.path, issue_template['playbook'], 'site', dict(issue_template['extra_vars'], **job_dir.extra_vars))
    site.assert_successful()
    requested = site.ok('Create, renew or resume the orders', role='certificate')
    assert [(entry['name'], entry['action']) for entry in requested['certificates']] == [(CERT_NAME, 'create')]
    validated = site.ok('Validate the names and fetch the issued certificates', role='certificate')
    assert [(entry['name'], entry['status']) for entry in validated['certificates']] == [(CERT_NAME, 'issued')]
    # Every CA and DNS setting reached the modules from the credentials' environment, secrets masked.
    module_args = validated['invocation']['module_args']
    for option, expected in job_dir.expected_args.items():
        assert {key: module_args[option][key] for key in expected} == expected
    assert os.path.dirname(module_args['acme']['ca_bundle']) == os.path.join(job_dir.path, 'env')
    first_serial = serial(cert_path)
    assert serial(deployed_cert) == first_serial
    # The account key came from the credential: none was made in the store.
    accounts = os.path.join(job_dir.store_dir, '_accounts')
    assert not [name for _root, _dirs, files in os.walk(accounts) for name in files if name == 'account.key']

    # 2. the schedule on a day nothing is due: nothing changes
    quiet = run_job(job_dir.path, renew_template['playbook'], 'renew-nothing-due', dict(renew_template['extra_vars'], **job_dir.extra_vars))
    quiet.assert_successful()
    assert quiet.ok('Publish the names that got a new certificate in this run', role='certificate')['ansible_facts'] == {
        'certflow_certificate_renewed': []}
    assert quiet.changed() == {}, quiet.changed()
    assert serial(cert_path) == first_serial

    # 3. the schedule once the certificate is due: renewed and redeployed
    due = dict(renew_template['extra_vars'], **job_dir.extra_vars)
    due['certflow_renew_before_days'] = 100000
    renew = run_job(job_dir.path, renew_template['playbook'], 'renew-due', due)
    renew.assert_successful()
    renewed = renew.ok('Create, renew or resume the orders', role='certificate')
    assert [(entry['name'], entry['action']) for entry in renewed['certificates']] == [(CERT_NAME, 'renew')]
    assert renew.ok('Publish the names that got a new certificate in this run', role='certificate')['ansible_facts'] == {
        'certflow_certificate_renewed': [CERT_NAME]}
    new_serial = serial(cert_path)
    assert new_serial != first_serial
    assert serial(deployed_cert) == new_serial

    # No secret in anything the jobs left behind: stdout, events, status. The runner's `command`
    # file records the job's environment (the credentials, as env/envvars does): AWX keeps
    # neither, it stores the environment with secret values hidden.
    secrets = dict(job_dir.secrets)
    key_files = [os.path.join(root, name) for top in (job_dir.store_dir, job_dir.deploy_dir)
                 for root, _dirs, files in os.walk(top) for name in files if name.startswith('privkey')]
    assert len(key_files) >= 2, key_files  # the store's keys (current and archived) and the deployed ones
    for top in (job_dir.store_dir, job_dir.deploy_dir):
        secrets.update(secrets_in(top))
    for path in key_files:
        with open(path) as handle:
            assert [line for line in pem_fragments(handle.read()) if line in secrets], 'the scan looks for %s' % path
    leaks = []
    scanned = 0
    for root, _dirs, files in os.walk(os.path.join(job_dir.path, 'artifacts')):
        for name in files:
            if name == 'command':
                continue
            path = os.path.join(root, name)
            text = _read(path)
            scanned += 1
            leaks += ['%s in %s' % (source, os.path.relpath(path, job_dir.path)) for secret, source in secrets.items() if secret in text]
    assert scanned > 100 and not leaks, leaks
    # ... and the scan does find them where they are meant to be.
    envvars = _read(os.path.join(job_dir.path, 'env', 'envvars'))
    assert all(secret in envvars for secret in job_dir.secrets)
