# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution environment of docs/execution-environment.md, as far as it can be checked
without a container engine: the collection tarball (ansible-galaxy collection build) carries
meta/execution-environment.yml with requirements.txt and bindep.txt; `ansible-builder create`
turns the page's execution-environment.yml and requirements.yml into a complete build context;
the tarball installs from that context the way the image's galaxy stage installs it; and
ansible-builder's introspection (the CLI and the context's own introspect.py, which the image
build runs) finds every Python requirement of requirements.txt (but ansible-core, which
ansible-builder leaves to the EE definition) and every bindep entry, as the page shows."""

import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
import yaml
from bindep.depends import Depends

from tests.lib.tools import tool

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DOC = os.path.join(REPO, 'docs', 'execution-environment.md')
MARKER = re.compile(r'<!-- ee: ([^>]+?) -->\s*```[a-z]*\n(.*?)```', re.S)
# Requirement names ansible-builder never installs from a collection (its introspect.py EXCLUDE_REQUIREMENTS).
LEFT_TO_THE_DEFINITION = {'ansible-core'}
FROM_US = '  # from collection certflow.ssl'
TIMEOUT = 120


def doc_blocks():
    """{label: text} of the blocks of docs/execution-environment.md marked <!-- ee: label -->."""
    with open(DOC) as handle:
        return dict(MARKER.findall(handle.read()))


def requirement_lines(path):
    """The entries of a requirements or bindep file: no comments, no blank lines."""
    with open(path) as handle:
        return [line.split('#', 1)[0].strip() for line in handle if line.split('#', 1)[0].strip()]


def _run(argv, cwd=None, env=None):
    completed = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert completed.returncode == 0, '%s failed (rc %d):\n%s\n%s' % (' '.join(argv), completed.returncode, completed.stdout, completed.stderr)
    return completed.stdout


@pytest.fixture(scope='module')
def ee(tmp_path_factory):
    """The EE folder of the page (tarball + the two files) and the build context ansible-builder makes of it."""
    base = tmp_path_factory.mktemp('ee')
    folder = base / 'certflow-ee'
    folder.mkdir()
    # An empty collections path: the development checkout must not count as "already installed".
    isolated = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(base / 'nothing'))
    _run([tool('ansible-galaxy'), 'collection', 'build', '--output-path', str(base), REPO], env=isolated)
    [built] = [name for name in os.listdir(base) if name.startswith('certflow-ssl-') and name.endswith('.tar.gz')]

    blocks = doc_blocks()
    definition = yaml.safe_load(blocks['execution-environment.yml'])
    [build_file] = definition['additional_build_files']
    shutil.copy(base / built, folder / build_file['src'])
    for name in ('execution-environment.yml', 'requirements.yml'):
        (folder / name).write_text(blocks[name])
    context = base / 'context'
    _run([tool('ansible-builder'), 'create', '--file', str(folder / 'execution-environment.yml'), '--context', str(context),
          '--output-filename', 'Containerfile'], cwd=str(folder), env=isolated)
    return {'base': base, 'folder': folder, 'tarball': folder / build_file['src'], 'build_file': build_file,
            'definition': definition, 'context': context, 'env': isolated}


def test_the_tarball_carries_the_requirements(ee):
    with tarfile.open(ee['tarball']) as archive:
        names = set(archive.getnames())
        meta = yaml.safe_load(archive.extractfile('meta/execution-environment.yml'))
    assert meta['version'] == 1
    for kind in ('python', 'system'):
        path = meta['dependencies'][kind]
        assert not os.path.isabs(path) and path in names, (kind, path)
    assert meta['dependencies'] == {'python': 'requirements.txt', 'system': 'bindep.txt'}


def test_builder_create_makes_a_complete_build_context(ee):
    context = ee['context']
    containerfile = (context / 'Containerfile').read_text()
    build = context / '_build'
    # the tarball and the galaxy requirements, where the galaxy stage looks for them
    copied = build / ee['build_file']['dest'] / os.path.basename(ee['build_file']['src'])
    assert copied.read_bytes() == ee['tarball'].read_bytes()
    requirements = yaml.safe_load((build / 'requirements.yml').read_text())
    [collection] = requirements['collections']
    assert collection == {'name': '/build/%s/%s' % (ee['build_file']['dest'], os.path.basename(ee['build_file']['src'])), 'type': 'file'}
    for script in ('assemble', 'install-from-bindep', 'introspect.py', 'check_galaxy', 'check_ansible', 'pip_install', 'entrypoint'):
        assert (build / 'scripts' / script).is_file(), script
    steps = [
        'FROM $EE_BASE_IMAGE AS base',
        'FROM base AS galaxy',
        'COPY _build /build',
        'WORKDIR /build',
        'ansible-galaxy collection install $ANSIBLE_GALAXY_CLI_COLLECTION_OPTS -r requirements.yml --collections-path "/usr/share/ansible/collections"',
        'FROM base AS builder',
        'COPY --from=galaxy /usr/share/ansible /usr/share/ansible',
        # the definition's own Python requirements (dns-lexicon) merged with what introspection finds
        'COPY _build/requirements.txt requirements.txt',
        'RUN $PYCMD /output/scripts/introspect.py introspect --user-pip=requirements.txt --write-bindep=/tmp/src/bindep.txt '
        '--write-pip=/tmp/src/requirements.txt',
        'RUN /output/scripts/assemble',
        'FROM base AS final',
        'RUN /output/scripts/install-from-bindep',
    ]
    position = 0
    for step in steps:
        found = containerfile.find(step, position)
        assert found >= 0, 'Containerfile lacks %r (after position %d):\n%s' % (step, position, containerfile)
        position = found + len(step)
    assert 'ARG EE_BASE_IMAGE="%s"' % ee['definition']['images']['base_image']['name'] in containerfile
    assert 'ansible-core>=2.15' in containerfile and 'ansible-runner' in containerfile
    # the optional dns-lexicon (dns_provider: lexicon) goes into the image through the definition
    assert 'dns-lexicon>=3.25,<3.26' in (build / 'requirements.txt').read_text().splitlines()


def test_introspection_finds_the_collections_python_and_system_requirements(ee):
    # The galaxy stage: `ansible-galaxy collection install -r requirements.yml` in /build (here: the context's _build).
    build = ee['context'] / '_build'
    requirements = (build / 'requirements.yml').read_text().replace('/build/', str(build) + '/')
    (ee['base'] / 'requirements-here.yml').write_text(requirements)
    collections = ee['base'] / 'usr-share-ansible-collections'
    _run([tool('ansible-galaxy'), 'collection', 'install', '-r', str(ee['base'] / 'requirements-here.yml'), '--collections-path',
          str(collections)], cwd=str(build), env=ee['env'])
    installed = collections / 'ansible_collections' / 'certflow' / 'ssl'
    assert (installed / 'meta' / 'execution-environment.yml').is_file()

    python = [line + FROM_US for line in requirement_lines(os.path.join(REPO, 'requirements.txt'))
              if re.split(r'[<>=!~\[; ]', line, maxsplit=1)[0].lower() not in LEFT_TO_THE_DEFINITION]
    system = [line + FROM_US for line in requirement_lines(os.path.join(REPO, 'bindep.txt'))]
    assert len(python) >= 4 and any(line.startswith('openssl') for line in system)

    # what `ansible-builder introspect` prints (docs/execution-environment.md shows it)
    printed = _run([tool('ansible-builder'), 'introspect', str(collections)], env=ee['env'])
    data = yaml.safe_load(printed[printed.index('---'):])
    assert data == {'python': python, 'system': system}
    documented = doc_blocks()['introspect output']
    assert yaml.safe_load(documented[documented.index('---'):]) == data, 'update the introspection output in docs/execution-environment.md'

    # what the image build runs: the context's own introspect.py, writing the files assemble installs from
    written_pip, written_bindep = ee['base'] / 'pip.txt', ee['base'] / 'bindep.txt'
    _run([sys.executable, str(build / 'scripts' / 'introspect.py'), 'introspect', str(collections),
          '--write-pip', str(written_pip), '--write-bindep', str(written_bindep)], env=ee['env'])
    assert written_pip.read_text().splitlines() == python
    assert written_bindep.read_text().splitlines() == system

    # bindep picks openssl and the ssh client on the CentOS Stream base image (rpm) and on Debian
    depends = Depends(written_bindep.read_text())
    assert [rule[0] for rule in depends.active_rules(['platform:rpm', 'platform:centos', 'platform:redhat', 'default'])] == [
        'openssl', 'openssh-clients']
    assert [rule[0] for rule in depends.active_rules(['platform:dpkg', 'platform:debian', 'default'])] == ['openssl', 'openssh-client']
