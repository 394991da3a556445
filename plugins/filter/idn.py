# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja2 filters to_punycode and from_punycode: domain names between Unicode and ASCII (IDNA 2008 / UTS #46)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._crypto import from_punycode as _from_punycode
from ansible_collections.certflow.ssl.plugins.module_utils._deps import require_packages
from ansible_collections.certflow.ssl.plugins.module_utils._crypto import to_punycode as _to_punycode


def _each(convert, filter_name, value):
    """Apply ``convert`` to a string, or to every item of a list (keeping the list)."""
    try:
        require_packages(filter_name)
        if isinstance(value, str):
            return convert(value)
        if isinstance(value, (list, tuple)):
            return [convert(item) for item in value]
    except CertflowError as exc:
        raise AnsibleFilterError('%s: %s' % (filter_name, exc.msg)) from exc
    raise AnsibleFilterError('%s expects a domain name or a list of domain names, got %s' % (filter_name, type(value).__name__))


def to_punycode(value):
    return _each(_to_punycode, 'to_punycode', value)


def from_punycode(value):
    return _each(_from_punycode, 'from_punycode', value)


class FilterModule(object):
    def filters(self):
        return {
            'to_punycode': to_punycode,
            'from_punycode': from_punycode,
        }
