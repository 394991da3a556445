# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja2 filters web_site_problems and web_path_problems: what in a site definition of the nginx and
apache roles cannot be pasted into a web server configuration as it is.

The roles render these values into nginx and Apache configuration files. A ';', a brace, a quote,
a '#' or a line break in one of them ends the directive and starts another one that the
configuration test accepts (a server name can add a location that serves /etc), so every value is
checked against a full-match pattern of what it may be before anything is written."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json
import re

from ansible.errors import AnsibleFilterError

# A DNS name in ASCII (IDN names in punycode), optionally with a leading wildcard label, or an IPv4 address.
_LABEL = r'[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?'
_SERVER_NAME = re.compile(r'(?:\*\.)?%s(?:\.%s)*\.?' % (_LABEL, _LABEL))
# An absolute path without white space, quotes, ';', '#', braces, '$' or backslashes.
_PATH = re.compile(r'/[A-Za-z0-9._+@,:=~%/-]*')
# http(s)://host[:port][/path]: no query, no variables, nothing nginx or Apache would read as syntax.
_PROXY = re.compile(r'https?://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>[0-9]{1,5}))?(?:/[A-Za-z0-9._~%/-]*)?')

# The site name becomes part of a file name.
_SITE_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9_.-]*')
# A file name prefix: no folder part.
_FILE_PREFIX = re.compile(r'(?:[A-Za-z0-9_-][A-Za-z0-9_.-]*)?')
# One word of a directive (a cache spec, a duration, a curve, a resolver address): nothing the server reads as syntax.
_SETTING_WORD = re.compile(r'[A-Za-z0-9_.:\[\]/()=+%@,-]+')

SITE_PATH_KEYS = ('certificate', 'private_key', 'chain', 'root', 'challenge_root')


def _shown(value):
    """A value as the message shows it: JSON quoting makes a newline or a trailing space visible."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def _path_problem(where, value):
    if not isinstance(value, str):
        return '%s: %s is not a path' % (where, _shown(value))
    if value == '':
        return None  # not given: whether it is required is checked with the other site keys
    if not _PATH.fullmatch(value):
        return ('%s: %s is not a plain absolute path (it must start with / and may hold letters, digits and . _ + @ , : = ~ %% / -;'
                ' no white space, quotes, ;, #, braces or $)' % (where, _shown(value)))
    return None


def _listen_problem(where, value):
    if value == '*':
        return None
    text = value if isinstance(value, str) else ''
    try:
        if text.startswith('[') and text.endswith(']'):
            ipaddress.IPv6Address(text[1:-1])
            return None
        ipaddress.IPv4Address(text)
        return None
    except ValueError:
        pass
    hint = ''
    try:
        ipaddress.IPv6Address(text)
        hint = ' (write an IPv6 address in brackets: [%s])' % text
    except ValueError:
        pass
    return '%s: %s is not an IPv4 address, an IPv6 address in brackets or *%s' % (where, _shown(value), hint)


def _port_problem(where, value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return '%s: %s is not a port number' % (where, _shown(value))
    if isinstance(value, bool) or not 1 <= number <= 65535 or str(number) != str(value).strip():
        return '%s: %s is not a port number (1-65535)' % (where, _shown(value))
    return None


def _proxy_problem(where, value):
    if not isinstance(value, str):
        return '%s: %s is not a URL' % (where, _shown(value))
    if value == '':
        return None
    match = _PROXY.fullmatch(value)
    if match and match.group('port') is not None and not 1 <= int(match.group('port')) <= 65535:
        match = None
    if match and match.group('host').startswith('['):
        try:
            ipaddress.IPv6Address(match.group('host')[1:-1])
        except ValueError:
            match = None
    if not match:
        return ('%s: %s is not a plain http:// or https:// URL (scheme, host, optional :port and /path;'
                ' no query, white space, quotes, ;, #, braces or $)' % (where, _shown(value)))
    return None


def web_site_problems(site, variable):
    """Problems of one resolved site of ``variable`` (certflow_nginx_sites or certflow_apache_sites), as a list
    of messages naming the key and the value; empty when every value is safe to render."""
    if not isinstance(site, dict):
        raise AnsibleFilterError('web_site_problems expects a site (a dict), got %s' % type(site).__name__)
    name = site.get('name')
    safe_name = isinstance(name, str) and _SITE_NAME.fullmatch(name)
    where = '%s[%s]' % (variable, name if safe_name else _shown(name))
    problems = []
    if not safe_name:
        problems.append("%s.name: %s is not a site name (letters, digits, '.', '_', '-', starting with a letter or digit)"
                        % (where, _shown(name)))
    if site.get('state', 'present') == 'absent':
        return problems
    names = site.get('server_names')
    if not isinstance(names, list):
        names = [names]
    for name in names:
        if not isinstance(name, str) or not _SERVER_NAME.fullmatch(name) or len(name) > 253:
            problems.append('%s.server_names: %s is not a host name (letters, digits, - and _ in dot-separated labels, an optional'
                            ' leading *.; write internationalised names in punycode, see the certflow.ssl.to_punycode filter)'
                            % (where, _shown(name)))
    for key in SITE_PATH_KEYS:
        problem = _path_problem('%s.%s' % (where, key), site.get(key, ''))
        if problem:
            problems.append(problem)
    problem = _proxy_problem(where + '.proxy_pass', site.get('proxy_pass', ''))
    if problem:
        problems.append(problem)
    addresses = site.get('listen_addresses', [])
    for address in addresses if isinstance(addresses, list) else [addresses]:
        problem = _listen_problem(where + '.listen_addresses', address)
        if problem:
            problems.append(problem)
    for key in ('https_port', 'http_port'):
        if key in site:
            problem = _port_problem('%s.%s' % (where, key), site[key])
            if problem:
                problems.append(problem)
    return problems


def web_path_problems(paths):
    """Problems of role-wide directories ({variable name: value}) that end up in file names or configuration."""
    if not isinstance(paths, dict):
        raise AnsibleFilterError('web_path_problems expects a dict of variable names and paths, got %s' % type(paths).__name__)
    problems = [_path_problem(name, value) or ('%s: a folder is required' % name if value == '' else None)
                for name, value in sorted(paths.items())]
    return [problem for problem in problems if problem]


def web_setting_problems(settings):
    """Problems of role-wide settings ({variable name: value}) rendered into the configuration or into file names:
    a ``*_file_prefix`` is a plain file name prefix, every other value (or each element of a list) one word."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError('web_setting_problems expects a dict of variable names and values, got %s' % type(settings).__name__)
    problems = []
    for name, value in sorted(settings.items()):
        if name.endswith('file_prefix'):
            if not isinstance(value, str) or not _FILE_PREFIX.fullmatch(value):
                problems.append("%s: %s is not a file name prefix (letters, digits, '.', '_', '-'; no folder part)" % (name, _shown(value)))
            continue
        for word in value if isinstance(value, list) else [value]:
            if isinstance(word, bool) or not isinstance(word, (str, int)) or not _SETTING_WORD.fullmatch(str(word)):
                problems.append('%s: %s is not one word of a directive (letters, digits and . _ : [ ] / ( ) = + %% @ , -;'
                                ' no white space, quotes, ;, #, braces or $)' % (name, _shown(word)))
    return problems


class FilterModule(object):
    def filters(self):
        return {
            'web_site_problems': web_site_problems,
            'web_path_problems': web_path_problems,
            'web_setting_problems': web_setting_problems,
        }
