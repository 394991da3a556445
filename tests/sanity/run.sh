#!/usr/bin/env bash
# Runs `ansible-test sanity` and `ansible-test units` on a copy of the collection laid
# out as ansible_collections/certflow/ssl, with ansible-test's pip bootstrap seeded so
# that no host other than the package index is needed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-python3}
pyver=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

pip_version=$("$python" - <<'PY'
import os, re, ansible_test
source = open(os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')).read()
print(re.search(r"pip='([0-9.]+)'", source).group(1))
PY
)
mkdir -p ~/.ansible/test/cache
cp "$repo/tests/sanity/get_pip_offline.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target="$work/ansible_collections/certflow/ssl"
mkdir -p "$target"
(cd "$repo" && git ls-files -co --exclude-standard -z | while IFS= read -r -d '' file; do
  if [ -e "$file" ]; then cp --parents -P "$file" "$target/"; fi
done)
cd "$target"
ansible-test sanity --python "$pyver" --color no "$@"
ansible-test units --python "$pyver" --color no --requirements
# ansible-test can exit 0 when pytest's workers crash before a test ran: count them.
"$python" - <<'PY'
import glob
import sys
import xml.etree.ElementTree as ElementTree
tests = failures = 0
for path in glob.glob('tests/output/junit/*units.xml'):
    root = ElementTree.parse(path).getroot()
    for suite in ([root] if root.tag == 'testsuite' else root.iter('testsuite')):
        tests += int(suite.get('tests', 0))
        failures += int(suite.get('failures', 0)) + int(suite.get('errors', 0))
print('ansible-test units: %d tests, %d failed' % (tests, failures))
sys.exit(0 if tests and not failures else 1)
PY
