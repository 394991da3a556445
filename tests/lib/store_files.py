# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What tests look at in a certificate store on disk (the product never lists its archive)."""

import os


def archives(store_dir, name):
    """The archived versions of certificate ``name``: ``archive/<time>/`` folders, oldest first."""
    root = os.path.join(store_dir, name, 'archive')
    if not os.path.isdir(root):
        return []
    return [os.path.join(root, entry) for entry in sorted(os.listdir(root))]
