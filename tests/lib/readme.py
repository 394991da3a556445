# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's examples that are real files: the yaml block after a <!-- marker --> comment."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme_block(marker):
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as handle:
        text = handle.read()
    match = re.search(r'<!-- %s -->\n```yaml\n(.*?)```' % re.escape(marker), text, re.S)
    assert match, 'README has no yaml block after <!-- %s -->' % marker
    return match.group(1)
