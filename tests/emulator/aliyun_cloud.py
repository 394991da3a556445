# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cloud-deployment half of the Alibaba Cloud emulator (mixed into
``AliyunEmulator``): uploaded certificates, cloud resources, deployment jobs
of Certificate Management Service (cas 2020-04-07) and the CDN certificate
call (cdn 2018-05-10).

What it does like the real service (parameters, fields and error codes from
the API reference of each action):

* UploadUserCertificate (Name, Cert, Key): the name must be unique in the
  account (``NameRepeat``); the key must belong to the certificate. The
  certificate lives in the account's region: ``cn-hangzhou`` for a China-site
  account, ``ap-southeast-1`` for an international one (``cas_region``).
* ListUserCertificateOrder with OrderType UPLOAD, GetUserCertificateDetail
  (CertId; Cert and Key unless CertFilter=true), DeleteUserCertificate (a
  certificate still bound to a resource is refused).
* ListCloudResources (CloudName, CloudProduct, Keyword, CertIds, CurrentPage,
  ShowSize): the resources the account has (``add_cloud_resource``), each with
  the certificate bound to it.
* ListContact; CreateDeploymentJob (Name, JobType user|cloud, CertIds,
  ResourceIds, ContactIds, ScheduleTime): the job starts in ``editing`` and
  runs only after UpdateDeploymentJobStatus (Status=pending); then it moves
  pending -> scheduling -> processing -> success | error, one step every
  ``deploy_step_seconds``. DescribeDeploymentJob (JobId), ListWorkerResource
  (JobId: one worker per certificate and resource, with its status) and
  ListDeploymentJobResource (JobId). A resource set to fail
  (``fail_resource``) ends its worker in ``error`` (the emulator adds the
  reason as ``ErrorMsg``: the console shows it, the API model has no field for
  it) while the others succeed, and the job ends in ``error``.
* SetCdnDomainSSLCertificate (DomainName, SSLProtocol on|off, CertType cas,
  CertId, CertRegion cn-hangzhou|ap-southeast-1): a CAS certificate asked for
  in the region it is not in is ``ServerCertificateId.NotFound``.
"""

import datetime
import hashlib
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

CDN_VERSION = '2018-05-10'
REGIONS = ('cn-hangzhou', 'ap-southeast-1')
JOB_STEPS = ('pending', 'scheduling', 'processing')
LOAD_BALANCERS = ('SLB', 'ALB', 'NLB', 'GA')

CLOUD_ERROR_STATUS = {
    'NameRepeat': 400, 'NotFoundCertificate': 404, 'NotFoundResource': 404, 'NotFoundJob': 404,
    'NotFoundContact': 404, 'OperationDenied.JobStatus': 403, 'OperationDenied.CertificateInUse': 403,
    'InvalidDomain.NotFound': 404, 'InvalidSSLProtocol.ValueNotSupported': 400, 'ServerCertificateId.NotFound': 404,
    'InvalidCertificate': 400, 'CertificateKeyMismatch': 400,
}


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _millis(moment):
    return str(int(moment.timestamp() * 1000))


def _serial_hex(number):
    digits = '%x' % number
    return '0' + digits if len(digits) % 2 else digits


def _ids(text, what, error):
    """A comma-separated list of ids (the SDKs send a JSON array for some actions: both are read)."""
    text = (text or '').strip()
    if text.startswith('['):
        try:
            values = json.loads(text)
        except ValueError:
            raise error('InvalidParameter', '%s is not a list of ids.' % what) from None
    else:
        values = [part for part in text.split(',') if part.strip()]
    try:
        return [int(value) for value in values]
    except (TypeError, ValueError):
        raise error('InvalidParameter', '%s must be ids separated by commas.' % what) from None


class CloudDeployMixin:
    """State and handlers of the cloud deployment actions (see the module doc)."""

    def _init_cloud(self, cas_region='cn-hangzhou', deploy_step_seconds=0.2):
        self.cas_region = cas_region
        self.deploy_step_seconds = float(deploy_step_seconds)
        self.uploads = {}
        self.cloud_resources = {}
        self.contacts = {}
        self.jobs = {}
        self.workers = {}
        self._failing_resources = {}
        self._next_upload = 20000001
        self._next_resource = 7000001
        self._next_job = 8801
        self._next_worker = 22001
        self._next_contact = 1

    # -- admin (Python) ---------------------------------------------------

    def set_cas_region(self, region):
        """The account's site: 'cn-hangzhou' (China site) or 'ap-southeast-1' (international)."""
        if region not in REGIONS:
            raise ValueError('region must be one of %s' % ', '.join(REGIONS))
        with self._lock:
            self.cas_region = region

    def add_cloud_resource(self, product, domain=None, instance_id=None, port=None, region='cn-hangzhou'):
        """A cloud resource of the account (what ListCloudResources finds); returns its Id."""
        with self._lock:
            resource_id = self._next_resource
            self._next_resource += 1
            product = product.upper() if product.upper() in LOAD_BALANCERS + ('CDN', 'DCDN', 'WAF', 'OSS') else product
            self.cloud_resources[resource_id] = {
                'Id': resource_id, 'CloudName': 'aliyun', 'CloudProduct': product, 'CloudRegion': region, 'RegionId': region,
                'Domain': domain, 'InstanceId': instance_id or (domain if product not in LOAD_BALANCERS else None),
                'ListenerId': ('lsn-%s@%s' % (instance_id, port)) if port else None,
                'ListenerPort': str(port) if port else None, 'CertId': None, 'EnableHttps': 0, 'Status': 'online',
            }
            return resource_id

    def fail_resource(self, resource_id, message='the listener is locked by another operation'):
        """Deployment to this resource fails (with ``message``) until ``heal_resource``."""
        with self._lock:
            self._failing_resources[int(resource_id)] = message

    def heal_resource(self, resource_id):
        with self._lock:
            self._failing_resources.pop(int(resource_id), None)

    def add_contact(self, name='Ops', email='ops@certflow.test'):
        with self._lock:
            contact_id = self._next_contact
            self._next_contact += 1
            self.contacts[contact_id] = {'ContactId': contact_id, 'Name': name, 'Email': email, 'Mobile': '13800000000'}
            return contact_id

    def bound_cert(self, resource_id):
        """The CAS certificate id bound to a resource (None when none)."""
        with self._lock:
            return self.cloud_resources[int(resource_id)]['CertId']

    def upload_serial(self, cert_id):
        with self._lock:
            upload = self.uploads.get(int(cert_id))
            return upload['serial'] if upload else None

    def upload_ids(self):
        with self._lock:
            return sorted(self.uploads)

    # -- CAS: uploaded certificates -----------------------------------------

    def cas_UploadUserCertificate(self, params):
        name, cert_pem, key_pem = params.get('Name'), params.get('Cert'), params.get('Key')
        for field, value in (('Name', name), ('Cert', cert_pem), ('Key', key_pem)):
            if not value:
                raise self.api_error('MissingParameter', 'The input parameter "%s" that is mandatory for processing this request '
                                     'is not supplied.' % field)
        if len(name) > 128:
            raise self.api_error('InvalidParameter', 'The certificate name can contain up to 128 characters.')
        if any(upload['name'] == name for upload in self.uploads.values()):
            raise self.api_error('NameRepeat', 'The certificate name already exists.')
        try:
            leaf = x509.load_pem_x509_certificates(cert_pem.encode('utf-8'))[0]
        except ValueError:
            raise self.api_error('InvalidCertificate', 'The certificate is not a valid PEM certificate.') from None
        try:
            key = serialization.load_pem_private_key(key_pem.encode('utf-8'), password=None)
        except (ValueError, TypeError):
            raise self.api_error('InvalidParameter', 'The private key is not a valid PEM key.') from None
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if key.public_key().public_bytes(*spki) != leaf.public_key().public_bytes(*spki):
            raise self.api_error('CertificateKeyMismatch', 'The certificate and the private key do not match.')
        cert_id = self._next_upload
        self._next_upload += 1
        try:
            san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
        except x509.ExtensionNotFound:
            san = []
        self.uploads[cert_id] = {
            'id': cert_id, 'name': name, 'cert': cert_pem, 'key': key_pem, 'region': self.cas_region,
            'serial': _serial_hex(leaf.serial_number), 'fingerprint': leaf.fingerprint(hashes.SHA1()).hex().upper(),
            'domains': list(san), 'not_before': leaf.not_valid_before_utc, 'not_after': leaf.not_valid_after_utc,
            'issuer': leaf.issuer.rfc4514_string(),
        }
        return {'CertId': cert_id}

    def _upload(self, params):
        try:
            cert_id = int(params.get('CertId') or '')
        except ValueError:
            raise self.api_error('MissingParameter', 'The input parameter "CertId" is mandatory.') from None
        upload = self.uploads.get(cert_id)
        if upload is None:
            raise self.api_error('NotFoundCertificate', 'The certificate %s does not exist.' % cert_id)
        return upload

    def _upload_item(self, upload):
        return {
            'CertificateId': upload['id'], 'Name': upload['name'], 'CommonName': (upload['domains'] or [''])[0],
            'Sans': ','.join(upload['domains']), 'SerialNo': upload['serial'], 'Fingerprint': upload['fingerprint'],
            'Issuer': upload['issuer'], 'StartDate': upload['not_before'].strftime('%Y-%m-%d'),
            'EndDate': upload['not_after'].strftime('%Y-%m-%d'), 'Expired': upload['not_after'] <= _utcnow(), 'Upload': True,
            'Status': 'ISSUED',
        }

    def _upload_list(self, keyword):
        items = []
        for upload in sorted(self.uploads.values(), key=lambda item: item['id'], reverse=True):
            if keyword and keyword not in upload['name'].lower() and keyword not in ','.join(upload['domains']):
                continue
            items.append(self._upload_item(upload))
        return items

    def cas_GetUserCertificateDetail(self, params):
        upload = self._upload(params)
        answer = dict(self._upload_item(upload), Id=upload['id'], Common=(upload['domains'] or [''])[0], BuyInCloud=False)
        if (params.get('CertFilter') or '').lower() != 'true':
            answer.update({'Cert': upload['cert'], 'Key': upload['key']})
        return answer

    def cas_DeleteUserCertificate(self, params):
        upload = self._upload(params)
        bound = [str(resource['Id']) for resource in self.cloud_resources.values() if resource['CertId'] == upload['id']]
        if bound:
            raise self.api_error('OperationDenied.CertificateInUse', 'The certificate is deployed to cloud resources %s.'
                                 % ', '.join(bound))
        del self.uploads[upload['id']]
        return {}

    # -- CAS: cloud resources and contacts ----------------------------------

    def _resource_item(self, resource):
        item = {key: value for key, value in resource.items() if value is not None}
        cert_id = resource['CertId']
        if cert_id is not None:
            upload = self.uploads.get(cert_id)
            item.update({'CertId': cert_id, 'CertName': upload['name'] if upload else None})
            if upload:
                item.update({'CertStartTime': _millis(upload['not_before']), 'CertEndTime': _millis(upload['not_after'])})
        return item

    def cas_ListCloudResources(self, params):
        cloud_name = params.get('CloudName') or 'aliyun'
        product = params.get('CloudProduct') or ''
        keyword = (params.get('Keyword') or '').lower()
        cert_ids = _ids(params.get('CertIds'), 'CertIds', self.api_error) if params.get('CertIds') else None
        page = max(1, int(params.get('CurrentPage') or 1))
        size = max(1, min(100, int(params.get('ShowSize') or 20)))
        found = []
        for resource in sorted(self.cloud_resources.values(), key=lambda item: item['Id']):
            if resource['CloudName'] != cloud_name or product and resource['CloudProduct'].lower() != product.lower():
                continue
            if keyword and keyword not in (resource['Domain'] or '').lower() and keyword not in (resource['InstanceId'] or '').lower():
                continue
            if cert_ids is not None and resource['CertId'] not in cert_ids:
                continue
            found.append(self._resource_item(resource))
        start = (page - 1) * size
        return {'Data': found[start:start + size], 'Total': len(found), 'CurrentPage': page, 'ShowSize': size}

    def cas_ListContact(self, params):
        keyword = (params.get('Keyword') or '').lower()
        found = [dict(contact) for contact in self.contacts.values()
                 if not keyword or keyword in contact['Name'].lower() or keyword in contact['Email'].lower()]
        return {'ContactList': found, 'Total': len(found), 'CurrentPage': 1, 'ShowSize': len(found) or 20}

    # -- CAS: deployment jobs -------------------------------------------------

    def cas_CreateDeploymentJob(self, params):
        for field in ('Name', 'JobType', 'CertIds', 'ResourceIds', 'ContactIds'):
            if not params.get(field):
                raise self.api_error('MissingParameter', 'The input parameter "%s" that is mandatory for processing this request '
                                     'is not supplied.' % field)
        if params['JobType'] not in ('user', 'cloud'):
            raise self.api_error('InvalidParameter', 'JobType must be user or cloud.')
        cert_ids = _ids(params['CertIds'], 'CertIds', self.api_error)
        resource_ids = _ids(params['ResourceIds'], 'ResourceIds', self.api_error)
        contact_ids = _ids(params['ContactIds'], 'ContactIds', self.api_error)
        for cert_id in cert_ids:
            if cert_id not in self.uploads:
                raise self.api_error('NotFoundCertificate', 'The certificate %s does not exist.' % cert_id)
        for resource_id in resource_ids:
            if resource_id not in self.cloud_resources:
                raise self.api_error('NotFoundResource', 'The cloud resource %s does not exist.' % resource_id)
        for contact_id in contact_ids:
            if contact_id not in self.contacts:
                raise self.api_error('NotFoundContact', 'The contact %s does not exist.' % contact_id)
        job_id = self._next_job
        self._next_job += 1
        now = _utcnow()
        self.jobs[job_id] = {'id': job_id, 'name': params['Name'], 'type': params['JobType'], 'status': 'editing',
                             'cert_ids': cert_ids, 'resource_ids': resource_ids, 'contact_ids': contact_ids, 'created': now,
                             'started': None, 'ended': None, 'schedule': params.get('ScheduleTime')}
        return {'JobId': job_id}

    def _job(self, params):
        try:
            job_id = int(params.get('JobId') or '')
        except ValueError:
            raise self.api_error('MissingParameter', 'The input parameter "JobId" is mandatory.') from None
        job = self.jobs.get(job_id)
        if job is None:
            raise self.api_error('NotFoundJob', 'The deployment job %s does not exist.' % job_id)
        self._advance_job(job)
        return job

    def cas_UpdateDeploymentJobStatus(self, params):
        job = self._job(params)
        status = params.get('Status')
        if status not in ('pending', 'editing'):
            raise self.api_error('InvalidParameter', 'Status must be pending or editing.')
        allowed = {'pending': ('editing',), 'editing': ('pending',)}[status]
        if job['status'] not in allowed:
            raise self.api_error('OperationDenied.JobStatus', 'The deployment job is %s; it cannot become %s.' % (job['status'], status))
        job['status'] = status
        if status == 'pending':
            job['started'] = _utcnow()
            for cert_id in job['cert_ids']:
                for resource_id in job['resource_ids']:
                    worker_id = self._next_worker
                    self._next_worker += 1
                    self.workers[worker_id] = {'id': worker_id, 'job_id': job['id'], 'cert_id': cert_id,
                                               'resource_id': resource_id, 'status': 'pending', 'error': None,
                                               'previous_cert': self.cloud_resources[resource_id]['CertId']}
        else:
            job['started'] = None
            for worker_id in [worker['id'] for worker in self.workers.values() if worker['job_id'] == job['id']]:
                del self.workers[worker_id]
        return {}

    def _job_workers(self, job):
        return [worker for worker in sorted(self.workers.values(), key=lambda item: item['id']) if worker['job_id'] == job['id']]

    def _advance_job(self, job):
        """pending -> scheduling -> processing -> success | error, one step per deploy_step_seconds."""
        if job['status'] not in JOB_STEPS:
            return
        step = int((_utcnow() - job['started']).total_seconds() / max(self.deploy_step_seconds, 1e-6))
        if step < len(JOB_STEPS):
            job['status'] = JOB_STEPS[step]
            for worker in self._job_workers(job):
                worker['status'] = job['status']
            return
        failed = False
        for worker in self._job_workers(job):
            message = self._failing_resources.get(worker['resource_id'])
            if message:
                worker.update(status='error', error=message)
                failed = True
            else:
                self.cloud_resources[worker['resource_id']].update(CertId=worker['cert_id'], EnableHttps=1)
                worker['status'] = 'success'
        job['status'] = 'error' if failed else 'success'
        job['ended'] = _utcnow()

    def cas_DescribeDeploymentJob(self, params):
        job = self._job(params)
        products = sorted({self.cloud_resources[resource_id]['CloudProduct'] for resource_id in job['resource_ids']})
        domains = sorted({domain for cert_id in job['cert_ids'] for domain in (self.uploads.get(cert_id) or {}).get('domains', [])})
        answer = {'Id': job['id'], 'Name': job['name'], 'JobType': job['type'], 'Status': job['status'], 'CertType': 'upload',
                  'CertDomain': ','.join(domains), 'ProductName': ','.join(products), 'Del': 0, 'Rollback': 0,
                  'Config': json.dumps({'certIds': job['cert_ids'], 'shareCertIds': []}), 'GmtCreate': _millis(job['created']),
                  'GmtModified': _millis(_utcnow())}
        if job['started']:
            answer['StartTime'] = _millis(job['started'])
        if job['ended']:
            answer['EndTime'] = _millis(job['ended'])
        return answer

    def cas_ListWorkerResource(self, params):
        job = self._job(params)
        status = params.get('Status')
        page = max(1, int(params.get('CurrentPage') or 1))
        size = max(1, min(100, int(params.get('ShowSize') or 50)))
        data = []
        for worker in self._job_workers(job):
            if status and worker['status'] != status:
                continue
            resource = self.cloud_resources[worker['resource_id']]
            upload = self.uploads.get(worker['cert_id']) or {}
            item = {'Id': worker['id'], 'JobId': job['id'], 'CertId': worker['cert_id'], 'CertName': upload.get('name'),
                    'CertDomain': ','.join(upload.get('domains') or []), 'CloudProduct': resource['CloudProduct'],
                    'RegionId': resource['RegionId'], 'ResourceId': resource['Id'], 'ResourceDomain': resource['Domain'],
                    'Status': worker['status']}
            if resource['CloudProduct'] in LOAD_BALANCERS:
                item.update({'InstanceId': resource['InstanceId'], 'ListenerId': resource['ListenerId'],
                             'Port': int(resource['ListenerPort'] or 0)})
            if worker['previous_cert'] is not None:
                item['ResourceCertId'] = worker['previous_cert']
            if worker['error']:
                item['ErrorMsg'] = worker['error']
            data.append(item)
        start = (page - 1) * size
        return {'Data': data[start:start + size], 'Total': len(data), 'CurrentPage': page, 'ShowSize': size}

    def cas_ListDeploymentJobResource(self, params):
        job = self._job(params)
        return {'Data': [self._resource_item(self.cloud_resources[resource_id]) for resource_id in job['resource_ids']]}

    # -- CDN ------------------------------------------------------------------

    def cdn_SetCdnDomainSSLCertificate(self, params):
        domain = (params.get('DomainName') or '').lower()
        if not domain:
            raise self.api_error('MissingParameter', 'The input parameter "DomainName" is mandatory.')
        protocol = params.get('SSLProtocol')
        if protocol not in ('on', 'off'):
            raise self.api_error('InvalidSSLProtocol.ValueNotSupported', 'The specified SSLProtocol is invalid.')
        resources = [resource for resource in self.cloud_resources.values()
                     if resource['CloudProduct'] == 'CDN' and (resource['Domain'] or '').lower() == domain]
        if not resources:
            raise self.api_error('InvalidDomain.NotFound', 'The domain does not exist or does not belong to you.')
        if protocol == 'off':
            for resource in resources:
                resource.update(CertId=None, EnableHttps=0)
            return {}
        if (params.get('CertType') or 'upload') != 'cas':
            raise self.api_error('InvalidParameter', 'The emulator binds CAS certificates only (CertType=cas).')
        region = params.get('CertRegion') or 'cn-hangzhou'
        if region not in REGIONS:
            raise self.api_error('InvalidParameter', 'CertRegion must be cn-hangzhou or ap-southeast-1.')
        upload = self.uploads.get(int(params.get('CertId') or 0))
        if upload is None or upload['region'] != region:
            raise self.api_error('ServerCertificateId.NotFound', 'The certificate ID does not exist in region %s.' % region)
        for resource in resources:
            resource.update(CertId=upload['id'], EnableHttps=1)
        return {}


def cloud_fingerprint(cert_pem):
    """SHA-256 of the first certificate of ``cert_pem`` (for tests)."""
    leaf = x509.load_pem_x509_certificates(cert_pem.encode('utf-8'))[0]
    return hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest()
