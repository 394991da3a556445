# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_quota: the provider's quota, and an early, clear failure when it is short."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError
from ansible_collections.certflow.ssl.plugins.module_utils._run import Run


def check_quota(params):
    run = Run(params, check_mode=True)
    try:
        quota = dict(run.ca(params).quota(params.get('product')))
    finally:
        run.close()
    quota.setdefault('unlimited', False)
    for key in ('total', 'used', 'issued', 'remaining'):
        quota.setdefault(key, None)
    wanted = params.get('min_remaining') or 0
    if not quota['unlimited'] and quota['remaining'] is not None and quota['remaining'] < wanted:
        product = params.get('product') or params['provider']
        raise CertflowError('only %d certificate(s) left for product %s, %d needed' % (quota['remaining'], product, wanted),
                            changed=False, **quota)
    quota['changed'] = False
    return quota
