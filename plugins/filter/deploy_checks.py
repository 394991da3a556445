# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja2 filters deploy_refusals and deploy_unserved: the messages of the deploy role's two checks, the store
before anything is copied and the endpoints after the reload."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError


def deploy_refusals(entries, store_certificates, check_mode=False):
    """Why the resolved ``entries`` must not be deployed, one message per certificate: missing from the store
    (cert_info's ``certificates`` list), a private key that does not belong to it, a chain that does not verify.
    In check mode a missing certificate is no problem: the certificate role only pretended to issue it."""
    if not isinstance(entries, list) or not isinstance(store_certificates, list):
        raise AnsibleFilterError('deploy_refusals expects the resolved entries and the store certificates as lists')
    stored = {certificate['name']: certificate for certificate in store_certificates}
    problems = []
    for entry in entries:
        certificate = stored.get(entry['name'])
        if certificate is None:
            if not check_mode:
                problems.append('%s: there is no certificate %s/cert.pem in the store' % (entry['name'], entry['source']))
        elif certificate.get('key_matches') is not True:
            problems.append('%s: the private key %s/privkey.pem does not belong to the certificate %s/fullchain.pem'
                            % (entry['name'], entry['source'], entry['source']))
        elif certificate.get('chain_valid') is not True:
            problems.append('%s: the chain in %s/fullchain.pem does not verify (%s)'
                            % (entry['name'], entry['source'], certificate.get('chain_problem') or 'no reason given'))
    return problems


def deploy_unserved(results):
    """The endpoints that do not serve the new certificate, one message each, from the ``results`` of the
    certflow.ssl.cert_info loop over the verify targets (each result holds its target as ``item``)."""
    if not isinstance(results, list):
        raise AnsibleFilterError('deploy_unserved expects the results of the endpoint loop, got %s' % type(results).__name__)
    problems = []
    for result in results:
        target = result['item']
        where = '%s:%s (SNI %s)' % (target['host'], target['port'], target['server_name'])
        if 'serial' not in result:
            problems.append('%s did not answer with a certificate: %s; expected serial %s of %s'
                            % (where, result.get('msg', 'no reason given'), target['serial'], target['name']))
        elif str(result['serial']).lower() != target['serial']:
            problems.append('%s serves serial %s, not the new certificate of %s (serial %s)'
                            % (where, str(result['serial']).lower(), target['name'], target['serial']))
    return problems


class FilterModule(object):
    def filters(self):
        return {
            'deploy_refusals': deploy_refusals,
            'deploy_unserved': deploy_unserved,
        }
