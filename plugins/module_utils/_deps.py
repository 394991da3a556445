# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The third-party libraries the collection needs, checked in one place.

Every file that uses one of them guards its import (ansible-test's import
sanity test, and ansible-doc listing the filters, load each file without
them); the module wrapper and the filters call :func:`missing_packages`
first, so a missing library is a clear "install X" failure rather than a
NameError wherever it is first touched."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError

# import name -> the package to install
REQUIRED = (
    ('cryptography', 'cryptography'),
    ('requests', 'requests'),
    ('dns', 'dnspython'),
    ('idna', 'idna'),
)


def missing_packages():
    """Names of the required packages that cannot be imported; find_spec does
    not import them, so a run that never touches a library does not pay for it."""
    missing = []
    for import_name, package in REQUIRED:
        try:
            found = importlib.util.find_spec(import_name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(package)
    return missing


def require_packages(user):
    """Raise CertflowError naming what to install when a package is missing."""
    missing = missing_packages()
    if missing:
        raise CertflowError('%s needs the Python package%s %s where it runs; install %s (pip install %s)' % (
            user, 's' if len(missing) > 1 else '', ', '.join(missing), 'them' if len(missing) > 1 else 'it', ' '.join(missing)))
