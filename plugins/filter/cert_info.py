# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja2 filter cert_info: the facts (subject, expiry, names, ...) of the first certificate in PEM text."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._crypto import cert_summary, load_certificate
from ansible_collections.certflow.ssl.plugins.module_utils._deps import require_packages


def cert_info(value, renew_before_days=None):
    if not isinstance(value, (str, bytes)):
        raise AnsibleFilterError('cert_info expects PEM certificate text, got %s' % type(value).__name__)
    try:
        renew_before_days = None if renew_before_days is None else int(renew_before_days)
    except (TypeError, ValueError):
        raise AnsibleFilterError('cert_info: renew_before_days must be a number of days, got %r' % (renew_before_days,)) from None
    try:
        require_packages('cert_info')
        return cert_summary(load_certificate(value, 'the cert_info input'), renew_before_days=renew_before_days)
    except CertflowError as exc:
        raise AnsibleFilterError('cert_info: %s' % exc.msg) from exc


class FilterModule(object):
    def filters(self):
        return {'cert_info': cert_info}
