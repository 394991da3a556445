# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja2 test certificate_name: the store's own rule for certificate names, for the roles."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._store import is_valid_name


class TestModule(object):
    def tests(self):
        return {'certificate_name': is_valid_name}
