# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Alibaba Cloud Certificate Management Service (cas 2020-04-07) CA provider.

How the seam maps onto the API (RPC style, see ``_aliyun_client``):

quota           DescribePackageState: TotalCount, UsedCount (applications
                submitted, issued or not), IssuedCount; remaining = total - used.
find_order      ListUserCertificateOrder (OrderType CPACK, Keyword = first name):
                an order for exactly the same names that is under way
                (CHECKING) or issued (ISSUED / WILLEXPIRED), so a re-run never
                spends quota twice.
create_order    CreateCertificateForPackageRequest: Domain (comma-joined), Csr,
                ValidateType DNS/FILE (left out for email: OV/EV validation is
                the CA's mail to the applicant), Username/Email/Phone,
                CompanyName (OV/EV), ProductCode. That call always submits to
                the CA ("Quick Issue"): the quota-package API has no "create
                but do not submit" call. ``submit=False`` therefore creates
                nothing at Alibaba Cloud: the order stays local with status
                ``created`` and no quota is spent until ``submit(order)`` (or
                ``create_order(..., submit=True)``) sends it.
challenges      DescribeCertificateState while Type is domain_verify:
                RecordDomain/RecordType/RecordValue (DNS; RecordDomain is a host
                record such as ``_dnsauth`` and is made fully qualified per
                domain) or Uri/Content (FILE; ``http://<domain><Uri>``).
ready           nothing: the CA checks the proof by itself.
poll            DescribeCertificateState Type: payed -> created,
                domain_verify -> pending_validation, process -> processing,
                verify_fail -> failed, certificate -> issued.
fetch           DescribeCertificateState: Certificate (leaf + chain PEM) and
                PrivateKey when the CA made the key (no CSR given).
renew           RenewCertificateOrderForPackageRequest (OrderId, Csr). Alibaba
                Cloud renews only orders that are about to expire; for any other
                order (OrderStateError) a new order is created instead.
cancel          CancelOrderRequest (pending -> payed) then
                DeleteCertificateRequest: the order is gone and its quota is
                returned. A failed order is only deleted.
revoke          CancelCertificateForPackageRequest on the issued order (found
                from ``order`` or by matching the certificate among the orders
                ListUserCertificateOrder returns for its names). The API takes
                no revocation reason.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.certflow.ssl.plugins.module_utils._aliyun.client import (
    AliyunAPIError, AliyunClient, cas_endpoint, resolve_credentials)
from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import CAProvider, excluded_ids
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline, wait_until
from ansible_collections.certflow.ssl.plugins.module_utils import _crypto

API_VERSION = '2020-04-07'
DEFAULT_PRODUCT = 'digicert-free-1-free'     # the API's default ProductCode
VALIDATE_TYPES = {'dns': 'DNS', 'http': 'FILE', 'email': None}

STATUS_OF_TYPE = {
    'payed': 'created',
    'domain_verify': 'pending_validation',
    'process': 'processing',
    'verify_fail': 'failed',
    'certificate': 'issued',
}
# ListUserCertificateOrder (CPACK) statuses of orders worth resuming, best first.
RESUMABLE_LIST_STATUSES = ('CHECKING', 'ISSUED', 'WILLEXPIRED')
ISSUED_LIST_STATUSES = ('ISSUED', 'WILLEXPIRED', 'EXPIRED', 'REVOKED')
LIST_PAGE_SIZE = 50
LIST_MAX_PAGES = 20
CHALLENGE_WAIT = 30.0      # seconds the CA may take to publish validation data after a submit
CANCEL_WAIT = 60.0         # seconds a withdrawn order may take to become deletable


def is_organization_product(product):
    """OV and EV product codes carry -ov- / -ev- (e.g. geotrust-ov-1-personal, cfca-ev-w-advanced)."""
    code = (product or '').lower()
    return '-ov-' in code or '-ev-' in code


# The validation file of Alibaba Cloud lives in this folder; any other Uri
# (/index.html, /.htaccess, ../) would have us overwrite a page of the site.
FILE_URI = re.compile(r'/?\.well-known/pki-validation/[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}')
RECORD_LABEL = '_dnsauth'


def _base(domain):
    domain = domain.lower()
    return domain[2:] if domain.startswith('*.') else domain


def dns_record_name(record_domain, domain, names=None):
    """Fully qualified name of the validation record for ``domain``.

    DescribeCertificateState gives RecordDomain as the host record
    "_dnsauth" (made fully qualified per domain) or as "_dnsauth.<domain>"
    for one of the order's ``names`` (default: ``domain``); a wildcard is
    validated at its base name. Anything else is refused: it would have us
    create (and later delete) a TXT record at a name the CA chose freely."""
    bases = [_base(name) for name in (names or [domain])]
    text = record_domain if isinstance(record_domain, str) else ''
    record = text[:-1] if text.endswith('.') else text
    if record.lower() == RECORD_LABEL:
        return '%s.%s' % (RECORD_LABEL, _base(domain))
    if any(record.lower() == '%s.%s' % (RECORD_LABEL, base) for base in bases):
        return record.lower()
    raise CertflowError('aliyun: Alibaba Cloud asked for the validation record at RecordDomain %r; only %s or %s.<domain> '
                        'of the order (%s) is accepted: refused, nothing was created' % (
                            record_domain, RECORD_LABEL, RECORD_LABEL, ', '.join(bases)), record_domain=record_domain)


def file_uri(uri):
    """The URL path of the validation file, refused outside /.well-known/pki-validation/."""
    if not isinstance(uri, str) or not FILE_URI.fullmatch(uri):
        raise CertflowError('aliyun: Alibaba Cloud asked for the validation file at Uri %r; validation files go only under '
                            '/.well-known/pki-validation/: refused, nothing was written' % (uri,), uri=uri)
    return uri if uri.startswith('/') else '/' + uri


class AliyunProvider(CAProvider):
    """Alibaba Cloud SSL certificates bought as a resource plan (quota)."""

    NAME = 'aliyun'
    OPTION = 'aliyun'
    ARGUMENT_SPEC = dict(
        access_key_id=dict(type='str', no_log=False, fallback=CAProvider.env('ALIBABA_CLOUD_ACCESS_KEY_ID')),
        access_key_secret=dict(type='str', no_log=True, fallback=CAProvider.env('ALIBABA_CLOUD_ACCESS_KEY_SECRET')),
        security_token=dict(type='str', no_log=True, fallback=CAProvider.env('ALIBABA_CLOUD_SECURITY_TOKEN')),
        endpoint=dict(type='str'),
        region=dict(type='str'),
        product=dict(type='str'),
        ca_bundle=dict(type='path'),
        validate_certs=dict(type='bool', default=True),
        # Read by the cloud deploy target (cert_deploy), which takes this same dict.
        cdn_endpoint=dict(type='str'),
        contact_ids=dict(type='list', elements='int'),
    )

    def __init__(self, settings, context, client=None):
        super(AliyunProvider, self).__init__(settings, context)
        self._client = client

    # -- plumbing ---------------------------------------------------------

    @property
    def client(self):
        if self._client is None:
            settings = self.settings
            self._client = AliyunClient(
                'cas', API_VERSION, settings.get('endpoint') or cas_endpoint(settings.get('region')),
                resolve_credentials(settings, what='aliyun'),
                validate_certs=settings.get('validate_certs', True) is not False, ca_bundle=settings.get('ca_bundle'),
                deadline=Deadline(float(getattr(self.context, 'timeout', None) or 300.0)),
                log=getattr(self.context, 'log', None), warn=self._warn, option='aliyun')
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()

    def _log(self, msg):
        log = getattr(self.context, 'log', None)
        if log:
            log(msg)

    def _warn(self, msg):
        warn = getattr(self.context, 'warn', None) or getattr(self.context, 'log', None)
        if warn:
            warn(msg)

    def _call(self, action, params=None, idempotent=True):
        return self.client.call(action, dict((k, v) for k, v in (params or {}).items() if v not in (None, '')),
                                idempotent=idempotent)

    def _product(self, request):
        return request.product or self.settings.get('product') or None

    @staticmethod
    def _names(request):
        return [identifier['value'] for identifier in request.identifiers]

    @staticmethod
    def _order_number(order):
        number = (order.get('provider_data') or {}).get('order_id') or order.get('order_id')
        if not number:
            raise CertflowError('aliyun: the order of %s was never submitted to Alibaba Cloud (no OrderId)'
                                % (order.get('name') or ', '.join(i['value'] for i in order.get('identifiers') or [])))
        return int(number)

    def _describe(self, order):
        return self._call('DescribeCertificateState', {'OrderId': self._order_number(order)})

    # -- quota ------------------------------------------------------------

    def quota(self, product=None):
        product = product or self.settings.get('product')
        answer = self._call('DescribePackageState', {'ProductCode': product})
        total = int(answer.get('TotalCount') or 0)
        used = int(answer.get('UsedCount') or 0)
        return {'product': answer.get('ProductCode') or product or DEFAULT_PRODUCT, 'total': total, 'used': used,
                'issued': int(answer.get('IssuedCount') or 0), 'remaining': max(0, total - used), 'unlimited': False}

    # -- creating ---------------------------------------------------------

    def _request_data(self, request, product):
        """What CreateCertificateForPackageRequest needs besides Domain and Csr
        (kept in provider_data so a 'created' order can be submitted later).
        The request's names and validation were checked where it was built;
        left is what Alibaba Cloud offers for the product."""
        validation = request.validation
        if validation not in VALIDATE_TYPES:
            raise CertflowError("aliyun: validation '%s' is not offered by Alibaba Cloud; use dns, http or email (OV/EV)" % validation)
        organization = is_organization_product(product)
        if validation == 'email' and not organization:
            raise CertflowError("aliyun: validation 'email' is for OV/EV products; product %s is domain-validated: use dns or http"
                                % (product or DEFAULT_PRODUCT))
        contact = request.contact
        company = request.company
        data = {'product': product, 'validate_type': VALIDATE_TYPES[validation], 'username': contact.get('name'),
                'email': contact.get('email'), 'phone': contact.get('phone'),
                'company_name': company.get('name') if organization else None}
        if organization and not data['company_name']:
            self._warn('aliyun: no company name given for %s; Alibaba Cloud uses the latest company profile of the account' % product)
        return data

    def _new_order(self, request, csr_pem, data):
        return {
            'provider': self.name, 'order_id': None, 'status': 'created', 'identifiers': [dict(i) for i in request.identifiers],
            'validation': request.validation, 'csr': csr_pem, 'challenges': [], 'error': None,
            'provider_data': dict(data, order_id=None, submitted=False, cert_id=None, ca_generated_key=not csr_pem,
                                  renewed_from=None),
        }

    def create_order(self, request, csr_pem, submit=True):
        order = self._new_order(request, csr_pem, self._request_data(request, self._product(request)))
        if submit:
            self.submit(order)
        return order

    def submit(self, order):
        """Send a locally ``created`` order to the CA (spends one quota)."""
        data = order['provider_data']
        if data.get('submitted'):
            return order
        if data.get('renewed_from') and self._submit_renewal(order):
            return order
        names = [identifier['value'] for identifier in order['identifiers']]
        params = {'Domain': ','.join(names), 'Csr': order.get('csr'), 'ProductCode': data.get('product'),
                  'ValidateType': data.get('validate_type'), 'Username': data.get('username'), 'Email': data.get('email'),
                  'Phone': data.get('phone'), 'CompanyName': data.get('company_name')}
        answer = self._call('CreateCertificateForPackageRequest', params, idempotent=False)
        self._mark_submitted(order, answer)
        self._log('aliyun: order %s created for %s' % (order['order_id'], ', '.join(names)))
        self._settle(order)
        return order

    def _mark_submitted(self, order, answer):
        order_id = answer.get('OrderId')
        if not order_id:
            raise CertflowError('aliyun: Alibaba Cloud accepted the request but returned no OrderId (RequestId %s)'
                                % answer.get('RequestId'))
        order['order_id'] = str(order_id)
        order['provider_data'].update(order_id=int(order_id), submitted=True)
        order['status'] = 'pending_validation'

    def _settle(self, order):
        """Read the new order's state; wait (briefly) until the CA publishes
        what it wants as proof."""
        status, _hint = self.poll(order)
        if status != 'pending_validation' or order['challenges']:
            return
        deadline = Deadline(min(CHALLENGE_WAIT, max(self.client.deadline.remaining(), 1.0)))
        try:
            wait_until(lambda: self.poll(order)[0] != 'pending_validation' or bool(order['challenges']), deadline,
                       'Alibaba Cloud to publish the validation data of order %s' % order['order_id'], initial=0.5)
        except CertflowError:
            self._log('aliyun: no validation data for order %s yet; cert_validate will ask again' % order['order_id'])

    # -- finding ----------------------------------------------------------

    def _list_orders(self, keyword, order_type='CPACK', status=None):
        items = []
        for page in range(1, LIST_MAX_PAGES + 1):
            answer = self._call('ListUserCertificateOrder', {'OrderType': order_type, 'Keyword': keyword, 'Status': status,
                                                             'ShowSize': LIST_PAGE_SIZE, 'CurrentPage': page})
            batch = answer.get('CertificateOrderList') or []
            items.extend(batch)
            if not batch or len(items) >= int(answer.get('TotalCount') or 0):
                break
        return items

    @staticmethod
    def _item_names(item):
        return set(name.strip().lower() for name in (item.get('Domain') or item.get('Sans') or '').split(',') if name.strip())

    def find_order(self, request, exclude=()):
        names = self._names(request)
        wanted = set(name.lower() for name in names)
        product = self._product(request) or DEFAULT_PRODUCT
        excluded = excluded_ids(exclude)
        candidates = []
        for item in self._list_orders(names[0]):
            if item.get('Status') not in RESUMABLE_LIST_STATUSES or self._item_names(item) != wanted:
                continue
            if item.get('ProductCode') and item['ProductCode'] != product:
                continue
            if excluded(str(item.get('OrderId'))):
                continue
            candidates.append(item)
        if not candidates:
            return None
        # An order under way first (newest), else the issued one that lasts longest.
        candidates.sort(key=lambda item: (item['Status'] == 'CHECKING', int(item.get('CertEndTime') or 0), int(item['OrderId'])),
                        reverse=True)
        item = candidates[0]
        order = self._new_order(request, None, self._request_data(request, item.get('ProductCode') or product))
        order['provider_data']['ca_generated_key'] = None       # unknown: fetch returns a key only if the CA made one
        self._mark_submitted(order, {'OrderId': item['OrderId']})
        self.poll(order)
        self._log('aliyun: resuming order %s (%s) for %s' % (item['OrderId'], item['Status'], ', '.join(names)))
        return order

    # -- validation -------------------------------------------------------

    def _challenges_from(self, order, answer):
        names = [identifier['value'] for identifier in order['identifiers']]
        if order.get('validation') == 'email' or not (order['provider_data'].get('validate_type') or answer.get('ValidateType')):
            return [self._challenge(name, 'email') for name in names]
        validate_type = (answer.get('ValidateType') or order['provider_data'].get('validate_type') or '').upper()
        challenges = []
        try:
            if validate_type == 'DNS':
                record_domain, value = answer.get('RecordDomain'), answer.get('RecordValue')
                if not record_domain or not value:
                    return []
                seen = set()
                for name in names:
                    record_name = dns_record_name(record_domain, name, names)
                    if record_name in seen:
                        continue
                    seen.add(record_name)
                    challenges.append(self._challenge(name, 'dns', record_name=record_name,
                                                      record_type=(answer.get('RecordType') or 'TXT').upper(), record_value=value,
                                                      provider_data={'RecordDomain': record_domain}))
            elif validate_type == 'FILE':
                uri, content = answer.get('Uri'), answer.get('Content')
                if not uri or not content:
                    return []
                uri = file_uri(uri)
                for name in names:
                    challenges.append(self._challenge(name, 'file', file_path=uri, file_content=content,
                                                      url='http://%s%s' % (name, uri)))
        except CertflowError as refused:
            # Not raised here: poll runs right after the order is made, and the
            # order (quota spent) must reach the store. cert_validate refuses it.
            self._warn(refused.msg)
            return [self._challenge(name, validate_type.lower() if validate_type == 'DNS' else 'file', refused=refused.msg)
                    for name in names]
        return challenges

    @staticmethod
    def _challenge(domain, kind, status='pending', **fields):
        challenge = {'domain': domain, 'type': kind, 'record_name': None, 'record_type': None, 'record_value': None,
                     'file_path': None, 'file_content': None, 'url': None, 'status': status, 'provider_data': {}}
        challenge.update(fields)
        return challenge

    def challenges(self, order):
        if not order['provider_data'].get('submitted'):
            return []
        self.poll(order)
        for challenge in order['challenges']:
            if challenge.get('refused'):
                raise CertflowError(challenge['refused'])
        return order['challenges']

    def ready(self, order, challenge):
        """Nothing to do: Alibaba Cloud checks the record or file by itself."""

    def poll(self, order):
        data = order['provider_data']
        if not data.get('submitted') or order.get('status') in ('revoked', 'cancelled'):
            return order['status'], None
        answer = self._describe(order)
        kind = answer.get('Type')
        status = STATUS_OF_TYPE.get(kind)
        if status is None:
            self._warn('aliyun: order %s reports state %r; treating it as under review' % (order['order_id'], kind))
            status = 'processing'
        order['status'] = status
        if answer.get('CertId'):
            data['cert_id'] = str(answer['CertId'])
        if status == 'pending_validation':
            order['challenges'] = self._challenges_from(order, answer)
        elif status in ('processing', 'issued'):
            if not order['challenges'] and order.get('validation') == 'email':
                order['challenges'] = self._challenges_from(order, answer)
            done = 'valid' if status == 'issued' or order.get('validation') != 'email' else 'pending'
            for challenge in order['challenges']:
                challenge['status'] = done
        if status == 'failed':
            reason = answer.get('Message') or answer.get('Reason')
            order['error'] = ('Alibaba Cloud CA review failed for order %s%s; cancel it (cert_revoke state=cancelled) to get the '
                              'quota back and request again' % (order['order_id'], ': %s' % reason if reason else ''))
            for challenge in order['challenges']:
                challenge['status'] = 'invalid'
        else:
            order['error'] = None
        return status, None

    # -- issued -----------------------------------------------------------

    def fetch(self, order):
        answer = self._describe(order)
        if answer.get('Type') != 'certificate':
            raise CertflowError('aliyun: order %s is not issued yet (state %s)' % (order['order_id'], answer.get('Type')))
        blocks = _crypto.split_pem(answer.get('Certificate') or '')
        if not blocks:
            raise CertflowError('aliyun: order %s is issued but Alibaba Cloud returned no certificate' % order['order_id'])
        key = (answer.get('PrivateKey') or '').strip()
        if order['provider_data'].get('ca_generated_key') is False or order.get('csr'):
            key = ''         # we sent a CSR: our own key is the one that counts
        return {'cert': blocks[0], 'chain': ''.join(blocks[1:]), 'fullchain': ''.join(blocks),
                'key': key + '\n' if key else None}

    def renew(self, order, request, csr_pem, submit=True):
        new_order = self._new_order(request, csr_pem, self._request_data(request, self._product(request)))
        new_order['provider_data']['renewed_from'] = self._order_number(order)
        if submit:
            self.submit(new_order)
        return new_order

    def _submit_renewal(self, order):
        """RenewCertificateOrderForPackageRequest for an order made by renew();
        False when the old order cannot be renewed (a new request is made instead)."""
        data = order['provider_data']
        try:
            answer = self._call('RenewCertificateOrderForPackageRequest', {'OrderId': data['renewed_from'], 'Csr': order.get('csr')},
                                idempotent=False)
        except AliyunAPIError as error:
            if error.code not in ('OrderStateError', 'NotFoundOrder'):
                raise
            self._warn('aliyun: order %s cannot be renewed (%s); requesting a new certificate instead' % (data['renewed_from'], error.code))
            data['renewed_from'] = None
            return False
        self._mark_submitted(order, answer)
        self._settle(order)
        return True

    def cancel(self, order):
        data = order.get('provider_data') or {}
        if not data.get('submitted'):
            changed = order.get('status') != 'cancelled'
            order['status'] = 'cancelled'
            return changed
        try:
            kind = self._describe(order).get('Type')
        except AliyunAPIError as error:
            if error.code == 'NotFoundOrder':
                order['status'] = 'cancelled'
                return False
            raise
        number = self._order_number(order)
        if kind == 'certificate':
            raise CertflowError('aliyun: order %s is already issued; revoke the certificate instead of cancelling the order' % number)
        if kind in ('domain_verify', 'process'):
            self._call('CancelOrderRequest', {'OrderId': number}, idempotent=False)
            self._delete_when_withdrawn(order, number)
        else:
            self._call('DeleteCertificateRequest', {'OrderId': number}, idempotent=False)
        order['status'] = 'cancelled'
        for challenge in order.get('challenges') or []:
            challenge['status'] = 'invalid'
        return True

    def _delete_when_withdrawn(self, order, number):
        try:
            self._call('DeleteCertificateRequest', {'OrderId': number}, idempotent=False)
            return
        except AliyunAPIError as error:
            if error.code != 'OrderStateError':
                raise
        # The withdrawal may take a moment to reach 'payed'.
        deadline = Deadline(min(CANCEL_WAIT, max(self.client.deadline.remaining(), 1.0)))
        wait_until(lambda: self._describe(order).get('Type') in ('payed', 'verify_fail'), deadline,
                   'Alibaba Cloud to withdraw order %s' % number, initial=0.5)
        self._call('DeleteCertificateRequest', {'OrderId': number}, idempotent=False)

    # -- revocation -------------------------------------------------------

    def _issued_order_of(self, cert):
        """(OrderId, list status) of the order that issued ``cert``."""
        summary = _crypto.cert_summary(cert)
        names = list(summary['domains']) + list(summary['ip_addresses'])
        if not names:
            raise CertflowError('aliyun: the certificate names no domain, so its order cannot be found')
        serial = _crypto.cert_serial_hex(cert)
        for item in self._list_orders(names[0]):
            if item.get('Status') not in ISSUED_LIST_STATUSES or not (self._item_names(item) & set(names)):
                continue
            answer = self._call('DescribeCertificateState', {'OrderId': item['OrderId']})
            blocks = _crypto.split_pem(answer.get('Certificate') or '')
            if blocks and _crypto.cert_serial_hex(_crypto.load_certificate(blocks[0])) == serial:
                return int(item['OrderId']), item['Status']
        raise CertflowError('aliyun: no Alibaba Cloud order in this account issued the certificate with serial %s (%s)'
                            % (serial, ', '.join(names)))

    def _list_status(self, number, keyword):
        for item in self._list_orders(keyword):
            if int(item.get('OrderId') or 0) == number:
                return item.get('Status')
        return None

    def revoke(self, cert_pem, reason='unspecified', key_pem=None, order=None):
        cert = _crypto.load_certificate(cert_pem)
        serial = _crypto.cert_serial_hex(cert)
        number, listed = None, None
        if order and (order.get('provider_data') or {}).get('order_id'):
            candidate = self._order_number(order)
            blocks = _crypto.split_pem(self._call('DescribeCertificateState', {'OrderId': candidate}).get('Certificate') or '')
            if blocks and _crypto.cert_serial_hex(_crypto.load_certificate(blocks[0])) == serial:
                number = candidate
        if number is None:
            number, listed = self._issued_order_of(cert)
        summary = _crypto.cert_summary(cert)
        names = summary['domains'] + summary['ip_addresses']
        keyword = names[0] if names else None
        if listed is None:
            listed = self._list_status(number, keyword)
        if reason and reason != 'unspecified':
            self._warn('aliyun: Alibaba Cloud takes no revocation reason; %s is not sent' % reason)
        if listed == 'REVOKED':
            changed = False
        else:
            try:
                self._call('CancelCertificateForPackageRequest', {'OrderId': number}, idempotent=False)
                changed = True
            except AliyunAPIError as error:
                if error.code != 'OrderStateError' or self._list_status(number, keyword) != 'REVOKED':
                    raise
                changed = False
        if order is not None:
            order['status'] = 'revoked'
        return changed
