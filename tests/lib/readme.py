# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's examples that are real files: the yaml block after a <!-- marker --> comment."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme_block(marker, path='README.md'):
    """The yaml block after <!-- marker --> in the README (or another page, ``path`` from the repository root)."""
    with open(os.path.join(ROOT, path), encoding='utf-8') as handle:
        text = handle.read()
    match = re.search(r'<!-- %s -->\n```yaml\n(.*?)```' % re.escape(marker), text, re.S)
    assert match, '%s has no yaml block after <!-- %s -->' % (path, marker)
    return match.group(1)
