# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja2 filter tls_file_problems: which certificate, key and chain files of the nginx and apache sites are
missing, not regular files or empty, from the results of the roles' ansible.builtin.stat loop."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError


def _usable(stat):
    return bool(stat.get('exists') and stat.get('isreg') and stat.get('size', 0) > 0)


def tls_file_problems(results, check_mode=False):
    """One message per file that cannot be served. Each result's ``item`` is [site, key] (the key names the file in
    the site: certificate, private_key or chain); a result without ``stat`` was skipped (the site has no such file).
    In check mode a file that does not exist yet is no problem: its certificate is only ordered in check mode."""
    if not isinstance(results, list):
        raise AnsibleFilterError('tls_file_problems expects the results of the stat loop, got %s' % type(results).__name__)
    problems = []
    for result in results:
        stat = result.get('stat')
        if stat is None or (check_mode and not stat.get('exists')) or _usable(stat):
            continue
        site, key = result['item']
        problems.append('site %s: %s file %s does not exist, is not a regular file or is empty' % (site['name'], key, site[key]))
    return problems


class FilterModule(object):
    def filters(self):
        return {'tls_file_problems': tls_file_problems}
