# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cloud deploy target ``aliyun``: Alibaba Cloud Certificate Management Service
(cas 2020-04-07) and CDN (cdn 2018-05-10), through the one signed client of
_aliyun/client.py (the CA and DNS providers use the same).

How the seam maps onto the API:

find / exists   ListUserCertificateOrder (OrderType UPLOAD, Keyword = the
                upload name) then GetUserCertificateDetail (CertId): the
                certificate it holds must be ours, byte for byte (SHA-256 of
                the leaf), before an id is reused.
upload          UploadUserCertificate (Name, Cert = leaf + chain, Key). Names
                are unique per account: ``certflow-<store name>-<serial>``.
resources       ListCloudResources (CloudName aliyun, CloudProduct, Keyword =
                domain or instance id): exactly one resource must match the
                domain (CDN, DCDN, WAF, OSS, ...) or the instance id and
                listener port (SLB, ALB, NLB, GA); or ``resource_id`` as listed.
deploy          CreateDeploymentJob (Name, JobType user, CertIds, ResourceIds,
                ContactIds) then UpdateDeploymentJobStatus (Status pending):
                a job left in ``editing`` never runs. ``method: direct`` for
                CDN: SetCdnDomainSSLCertificate (SSLProtocol on, CertType cas,
                CertId, CertRegion = the CAS region).
status          DescribeDeploymentJob (editing, pending, scheduling,
                processing, success, error) and ListWorkerResource (one
                worker per resource: its status, and the reason when given).
bound_anywhere  ListCloudResources (CertIds).
remove          DeleteUserCertificate (CertId).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.certflow.ssl.plugins.module_utils._aliyun.client import (
    AliyunAPIError, AliyunClient, cas_endpoint, resolve_credentials)
from ansible_collections.certflow.ssl.plugins.module_utils._ca.aliyun import API_VERSION as CAS_VERSION, AliyunProvider
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline
from ansible_collections.certflow.ssl.plugins.module_utils._deploy.base import DeployTarget
from ansible_collections.certflow.ssl.plugins.module_utils import _crypto

CDN_VERSION = '2018-05-10'
DEFAULT_CDN_ENDPOINT = 'cdn.aliyuncs.com'
# Where CAS keeps certificates: the China site in cn-hangzhou, the international site in ap-southeast-1.
REGIONS = ('cn-hangzhou', 'ap-southeast-1')
# Our product names -> CAS CloudProduct.
PRODUCTS = {
    'cdn': 'CDN', 'dcdn': 'DCDN', 'waf': 'WAF', 'oss': 'OSS', 'slb': 'SLB', 'alb': 'ALB', 'nlb': 'NLB', 'ga': 'GA',
    'live': 'LIVE', 'vod': 'VOD', 'fc': 'FC', 'apigateway': 'APIGateway', 'mse': 'MSE', 'sae': 'SAE', 'ddos': 'DDOS',
    'cr': 'CR', 'webhosting': 'webHosting',
}
LOAD_BALANCERS = ('slb', 'alb', 'nlb', 'ga')
DIRECT_PRODUCTS = ('cdn',)
JOB_DONE = {'success': True, 'error': True}
WORKER_STATUS = {'success': 'deployed', 'error': 'failed', 'rollback': 'failed', 'rollback_success': 'failed',
                 'rollback_error': 'failed'}
PAGE_SIZE = 100
MAX_PAGES = 20
NAME_PREFIX = 'certflow-'
_ID_RE = re.compile(r'[0-9]{1,20}')


def upload_name(store_name, serial):
    """A name unique in the account for one certificate: the store name and its serial (up to 128 characters)."""
    room = 128 - len(NAME_PREFIX) - 1 - len(serial)
    return '%s%s-%s' % (NAME_PREFIX, store_name[:max(8, room)], serial)


def _cloud_id(value, what):
    """An id from an answer, full-matched before it is used or stored."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _ID_RE.fullmatch(text):
        raise CertflowError('aliyun: Alibaba Cloud answered %s %r, which is not an id: refused' % (what, value))
    return text


def resource_key(spec):
    product = spec['product']
    if spec.get('resource_id'):
        return '%s:#%s' % (product, spec['resource_id'])
    if product in LOAD_BALANCERS:
        return '%s:%s:%s' % (product, spec.get('instance_id'), spec.get('port') or 443)
    return '%s:%s' % (product, (spec.get('domain') or '').lower())


class AliyunCasTarget(DeployTarget):
    """Alibaba Cloud: CAS uploads, CAS deployment jobs, CDN certificates."""

    NAME = 'aliyun'
    OPTION = 'aliyun'
    # The CA provider's settings: one aliyun dict serves every module (module_defaults); its
    # cdn_endpoint and contact_ids are read here only.
    ARGUMENT_SPEC = AliyunProvider.ARGUMENT_SPEC

    def __init__(self, settings, context, cas=None, cdn=None):
        super(AliyunCasTarget, self).__init__(settings, context)
        region = self.settings.get('region') or 'cn-hangzhou'
        if region not in REGIONS:
            raise CertflowError('aliyun.region %r: Certificate Management Service keeps certificates in cn-hangzhou (China site, '
                                'aliyun.com) or ap-southeast-1 (international site, alibabacloud.com); choose one of them'
                                % (region,))
        self.region = region
        self._cas = cas
        self._cdn = cdn

    def _client(self, product, version, endpoint):
        settings = self.settings
        return AliyunClient(product, version, endpoint, resolve_credentials(settings, what='aliyun'),
                            validate_certs=settings.get('validate_certs', True) is not False, ca_bundle=settings.get('ca_bundle'),
                            deadline=Deadline(float(getattr(self.context, 'timeout', None) or 300.0)),
                            log=getattr(self.context, 'log', None), warn=getattr(self.context, 'warn', None), option='aliyun')

    @property
    def cas(self):
        if self._cas is None:
            self._cas = self._client('cas', CAS_VERSION, self.settings.get('endpoint') or cas_endpoint(self.region))
        return self._cas

    @property
    def cdn(self):
        if self._cdn is None:
            self._cdn = self._client('cdn', CDN_VERSION, self.settings.get('cdn_endpoint') or DEFAULT_CDN_ENDPOINT)
        return self._cdn

    def close(self):
        for client in (self._cas, self._cdn):
            if client is not None:
                client.close()

    def _call(self, action, params=None, idempotent=True, form=None):
        return self.cas.call(action, dict((k, v) for k, v in (params or {}).items() if v not in (None, '')), idempotent=idempotent,
                             form=form)

    # -- uploads -------------------------------------------------------------

    def exists(self, cloud_cert_id, certificate):
        try:
            detail = self._call('GetUserCertificateDetail', {'CertId': cloud_cert_id, 'CertFilter': 'false'})
        except AliyunAPIError as error:
            if error.http_status == 404 or (error.code or '').startswith('NotFound'):
                return False
            raise
        cert = detail.get('Cert')
        if not isinstance(cert, str) or not cert.strip():
            return False
        try:
            return _crypto.cert_sha256_hex(cert) == certificate['fingerprint']
        except CertflowError:
            return False

    def find(self, certificate):
        name = upload_name(certificate['name'], certificate['serial'])
        for page in range(1, MAX_PAGES + 1):
            answer = self._call('ListUserCertificateOrder', {'OrderType': 'UPLOAD', 'Keyword': name, 'CurrentPage': page,
                                                             'ShowSize': 50})
            items = answer.get('CertificateOrderList') or []
            for item in items:
                if not isinstance(item, dict) or item.get('Name') != name:
                    continue
                cloud_cert_id = _cloud_id(item.get('CertificateId'), 'CertificateId')
                if self.exists(cloud_cert_id, certificate):
                    return cloud_cert_id, name
                raise CertflowError('aliyun: an uploaded certificate named %s (CAS id %s) exists but holds another certificate '
                                    'than %s serial %s: names are unique per account, so it cannot be uploaded again; delete '
                                    'or rename that upload' % (name, cloud_cert_id, certificate['name'], certificate['serial']))
            if len(items) < 50:
                return None
        return None

    def upload(self, certificate):
        name = upload_name(certificate['name'], certificate['serial'])
        answer = self._call('UploadUserCertificate', {'Name': name}, idempotent=False,
                            form={'Cert': certificate['cert'] + certificate['chain'], 'Key': certificate['key']})
        return _cloud_id(answer.get('CertId'), 'CertId'), name

    # -- resources -------------------------------------------------------------

    def _list_resources(self, product=None, keyword=None, cert_ids=None):
        found = []
        for page in range(1, MAX_PAGES + 1):
            answer = self._call('ListCloudResources', {'CloudName': 'aliyun', 'CloudProduct': product, 'Keyword': keyword,
                                                       'CertIds': cert_ids, 'CurrentPage': page, 'ShowSize': PAGE_SIZE})
            data = answer.get('Data') or []
            found.extend(item for item in data if isinstance(item, dict))
            if len(data) < PAGE_SIZE:
                break
        return found

    def resources(self, specs):
        unknown = sorted(set(spec['product'] for spec in specs if spec['product'] not in PRODUCTS))
        if unknown:
            raise CertflowError('aliyun: unknown product %s; the products Certificate Management Service deploys to are %s'
                                % (', '.join(unknown), ', '.join(sorted(PRODUCTS))))
        return [self._resolve(spec) for spec in specs]

    def _resolve(self, spec):
        product = spec['product']
        cloud_product = PRODUCTS[product]
        key = resource_key(spec)
        if spec.get('resource_id'):
            matches = [item for item in self._list_resources(cloud_product) if str(item.get('Id')) == str(spec['resource_id'])]
        elif product in LOAD_BALANCERS:
            port = str(spec.get('port') or 443)
            matches = [item for item in self._list_resources(cloud_product, spec['instance_id'])
                       if item.get('InstanceId') == spec['instance_id'] and str(item.get('ListenerPort')) == port]
        else:
            domain = spec['domain'].lower()
            matches = [item for item in self._list_resources(cloud_product, domain) if (item.get('Domain') or '').lower() == domain]
        if not matches:
            raise CertflowError('aliyun: no %s resource %s in Certificate Management Service (ListCloudResources found none): '
                                'check the name, or let CAS sync the resources of %s in its console'
                                % (cloud_product, key.split(':', 1)[1], cloud_product), resource=key)
        if len(matches) > 1:
            raise CertflowError('aliyun: %d %s resources match %s (ids %s): name one with resource_id'
                                % (len(matches), cloud_product, key.split(':', 1)[1],
                                   ', '.join(str(item.get('Id')) for item in matches)), resource=key)
        item = matches[0]
        method = spec.get('method') or 'job'
        if method == 'direct' and product not in DIRECT_PRODUCTS:
            raise CertflowError('aliyun: method direct binds CDN domains only (SetCdnDomainSSLCertificate); %s goes through '
                                'a deployment job (method: job)' % key, resource=key)
        bound = item.get('CertId')
        return {'key': key, 'product': product, 'id': _cloud_id(item.get('Id'), 'resource Id'), 'domain': item.get('Domain'),
                'instance_id': item.get('InstanceId'), 'port': int(item['ListenerPort']) if item.get('ListenerPort') else None,
                'method': method, 'bound': _cloud_id(bound, 'CertId') if bound not in (None, '', 0) else None}

    # -- deployment --------------------------------------------------------------

    def _contacts(self):
        ids = self.settings.get('contact_ids')
        if ids:
            return ','.join(str(item) for item in ids)
        answer = self._call('ListContact', {'CurrentPage': 1, 'ShowSize': 20})
        contacts = [item for item in answer.get('ContactList') or [] if isinstance(item, dict) and item.get('ContactId')]
        if not contacts:
            raise CertflowError('aliyun: a deployment job needs a contact of Certificate Management Service to notify, and the '
                                'account has none: add one in the CAS console (or CreateContact) or set aliyun.contact_ids')
        return _cloud_id(contacts[0]['ContactId'], 'ContactId')

    def deploy(self, cloud_cert_id, certificate, resources, record):
        results = {}
        for resource in resources:
            if resource['method'] == 'direct':
                self._set_cdn(cloud_cert_id, resource)
                results[resource['id']] = {'status': 'deployed', 'message': None}
        through_job = [resource for resource in resources if resource['method'] != 'direct']
        if not through_job:
            return None, results
        answer = self._call('CreateDeploymentJob', {
            'Name': ('certflow-%s-%s' % (certificate['name'], certificate['serial'][-8:]))[:64], 'JobType': 'user',
            'CertIds': cloud_cert_id, 'ResourceIds': ','.join(resource['id'] for resource in through_job),
            'ContactIds': self._contacts()}, idempotent=False)
        job_id = _cloud_id(answer.get('JobId'), 'JobId')
        job = {'job_id': job_id, 'cloud_cert_id': cloud_cert_id, 'serial': certificate['serial'],
               'resources': [resource['id'] for resource in through_job]}
        # Noted before it is started: a run that dies now leaves a job the next run starts and follows.
        record(job)
        # A job stays in "editing" until told to run.
        self.start(job)
        return job, results

    def start(self, job):
        """Run a job that was created but never told to (a run that died in between)."""
        self._call('UpdateDeploymentJobStatus', {'JobId': job['job_id'], 'Status': 'pending'})

    def _set_cdn(self, cloud_cert_id, resource):
        try:
            self.cdn.call('SetCdnDomainSSLCertificate', {'DomainName': resource['domain'], 'SSLProtocol': 'on', 'CertType': 'cas',
                                                         'CertId': cloud_cert_id, 'CertRegion': self.region})
        except AliyunAPIError as error:
            if error.code == 'ServerCertificateId.NotFound':
                other = [region for region in REGIONS if region != self.region][0]
                raise CertflowError(
                    'aliyun: CDN domain %s: CAS certificate %s is not in region %s (ServerCertificateId.NotFound). Certificates '
                    'of a China-site (aliyun.com) account live in cn-hangzhou, those of an international-site '
                    '(alibabacloud.com) account in ap-southeast-1: set aliyun.region to the region of this account (%s?)'
                    % (resource['domain'], cloud_cert_id, self.region, other), resource=resource['key'], code=error.code)
            raise

    def status(self, job):
        answer = self._call('DescribeDeploymentJob', {'JobId': job['job_id']})
        state = answer.get('Status')
        if state == 'editing':
            self.start(job)
            state = 'pending'
        results = {}
        if state in JOB_DONE:
            for page in range(1, MAX_PAGES + 1):
                listed = self._call('ListWorkerResource', {'JobId': job['job_id'], 'CurrentPage': page, 'ShowSize': PAGE_SIZE})
                data = [item for item in listed.get('Data') or [] if isinstance(item, dict)]
                for item in data:
                    resource_id = str(item.get('ResourceId'))
                    status = WORKER_STATUS.get(item.get('Status'), 'pending')
                    message = None
                    if status == 'failed':
                        message = item.get('ErrorMsg') if isinstance(item.get('ErrorMsg'), str) else None
                        message = '%s (worker %s of deployment job %s: %s)' % (
                            message or 'the deployment to this resource failed', item.get('Id'), job['job_id'], item.get('Status'))
                    results[resource_id] = {'status': status, 'message': message}
                if len(data) < PAGE_SIZE:
                    break
        for resource_id in job['resources']:
            results.setdefault(resource_id, {'status': 'failed' if state in JOB_DONE else 'pending',
                                             'message': ('deployment job %s ended %s without a result for this resource'
                                                         % (job['job_id'], state)) if state in JOB_DONE else None})
        return {'done': state in JOB_DONE, 'state': state, 'resources': results}

    # -- clean-up ------------------------------------------------------------------

    def bound_anywhere(self, cloud_cert_id):
        return [str(item.get('Id')) for item in self._list_resources(cert_ids=cloud_cert_id)
                if str(item.get('CertId')) == str(cloud_cert_id)]

    def remove(self, cloud_cert_id):
        self._call('DeleteUserCertificate', {'CertId': cloud_cert_id}, idempotent=False)
