# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Alibaba Cloud OpenAPI client: ACS3-HMAC-SHA256 signing, endpoints, retries and error messages."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import hmac
import json
import os
import time
import uuid

try:
    from urllib.parse import quote, urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported at run time, only parsed by sanity tests
    from urllib import quote  # noqa: F401
    from urlparse import urlsplit  # noqa: F401

from ansible.module_utils.common.warnings import warn as module_warning

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline, backoff


def _requests():
    """requests, imported when a client first talks to Alibaba Cloud rather than when a
    module only reads the provider's options (importing it costs every module start
    about 30 ms); None when it is missing (the client's error names it)."""
    try:
        import requests
    except ImportError:  # pragma: no cover - requests is a runtime dependency
        return None
    return requests


ALGORITHM = 'ACS3-HMAC-SHA256'
DATE_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
EMPTY_BODY_SHA256 = hashlib.sha256(b'').hexdigest()

ENV_ACCESS_KEY_ID = 'ALIBABA_CLOUD_ACCESS_KEY_ID'
ENV_ACCESS_KEY_SECRET = 'ALIBABA_CLOUD_ACCESS_KEY_SECRET'
ENV_SECURITY_TOKEN = 'ALIBABA_CLOUD_SECURITY_TOKEN'

# RAM permission prefix of each product, for "not allowed" messages.
RAM_PREFIX = {'cas': 'yundun-cert', 'alidns': 'alidns', 'cdn': 'cdn'}

DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_MAX_ATTEMPTS = 8


# ------------------------------------------------------------------ signing

def percent_encode(value):
    """RFC 3986 encoding as ACS3 wants it: every byte but A-Z a-z 0-9 - _ . ~
    is %XX (so a space is %20, '*' is %2A, '/' is %2F)."""
    if not isinstance(value, str):
        value = str(value)
    return quote(value.encode('utf-8'), safe='-_.~')


def canonical_query_string(params):
    """``key=value`` pairs, both percent-encoded, sorted by the encoded key,
    joined with '&'. The same text is sent on the wire, so what is signed is
    exactly what the server sees."""
    pairs = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = 'true' if value else 'false'
        pairs.append((percent_encode(key), percent_encode(value)))
    pairs.sort()
    return '&'.join('%s=%s' % pair for pair in pairs)


def canonical_request(method, path, query, headers, hashed_payload):
    """Return ``(canonical_request, signed_headers)`` for ``headers`` (a dict
    of the headers to sign; names are lowercased and values trimmed here)."""
    lowered = {}
    for name, value in headers.items():
        lowered[name.strip().lower()] = str(value).strip()
    names = sorted(lowered)
    canonical_headers = ''.join('%s:%s\n' % (name, lowered[name]) for name in names)
    signed_headers = ';'.join(names)
    text = '\n'.join([method.upper(), path or '/', query, canonical_headers, signed_headers, hashed_payload])
    return text, signed_headers


def signature(secret, canonical):
    """Hex HMAC-SHA256 of the string to sign (algorithm + hashed canonical request)."""
    string_to_sign = '%s\n%s' % (ALGORITHM, hashlib.sha256(canonical.encode('utf-8')).hexdigest())
    return hmac.new(secret.encode('utf-8'), string_to_sign.encode('utf-8'), hashlib.sha256).hexdigest()


def sign_request(method, host, path, query, action, version, access_key_id, access_key_secret,
                 security_token=None, body=b'', date=None, nonce=None, content_type=None):
    """Build the headers of one ACS3-HMAC-SHA256 signed request.

    Pure: give ``date`` (``2023-10-26T10:22:32Z``) and ``nonce`` to get a
    reproducible result. ``query`` is the canonical query string (see
    ``canonical_query_string``). Returns ``(headers, canonical_request)``;
    headers include ``Authorization``. The canonical request is for tests and
    debugging: it holds no secret."""
    if isinstance(body, str):
        body = body.encode('utf-8')
    hashed_payload = hashlib.sha256(body or b'').hexdigest()
    headers = {
        'host': host,
        'x-acs-action': action,
        'x-acs-version': version,
        'x-acs-date': date or datetime.datetime.now(datetime.timezone.utc).strftime(DATE_FORMAT),
        'x-acs-signature-nonce': nonce or uuid.uuid4().hex,
        'x-acs-content-sha256': hashed_payload,
    }
    if security_token:
        headers['x-acs-security-token'] = security_token
    if content_type:
        headers['content-type'] = content_type
    canonical, signed_headers = canonical_request(method, path, query, headers, hashed_payload)
    headers['Authorization'] = '%s Credential=%s,SignedHeaders=%s,Signature=%s' % (
        ALGORITHM, access_key_id, signed_headers, signature(access_key_secret, canonical))
    return headers, canonical


# ---------------------------------------------------------------- endpoints

def check_transport(endpoint, verify, credentials, option, warn):
    """Plain HTTP and unchecked TLS stay possible (labs, emulators) but are said
    on every run; an STS token is never sent where anyone on the way can read
    it. Raises before anything is sent."""
    if endpoint.scheme == 'http':
        if credentials is not None and credentials.security_token:
            raise CertflowError('%s.security_token (or %s) is not sent over plain HTTP: the endpoint %s is http://; '
                                'use an https:// endpoint' % (option, ENV_SECURITY_TOKEN, endpoint.url), endpoint=endpoint.url)
        warn('%s endpoint %s is plain HTTP: the requests and answers can be read and changed on the way; use https://'
             % (option, endpoint.url))
    elif verify is False:
        warn("%s.validate_certs is false: the identity of %s is not checked" % (option, endpoint.url))


class Endpoint:
    """Where requests go: ``url`` is scheme://host[:port]/, ``host`` the value
    of the Host header (with the port when it is not the scheme's default)."""

    def __init__(self, scheme, hostname, port):
        self.scheme = scheme
        self.hostname = hostname
        self.port = port
        default_port = 443 if scheme == 'https' else 80
        shown = '[%s]' % hostname if ':' in hostname else hostname
        self.host = shown if port in (None, default_port) else '%s:%d' % (shown, port)
        self.url = '%s://%s/' % (scheme, self.host)

    def __repr__(self):
        return 'Endpoint(%r)' % self.url


def parse_endpoint(endpoint, default):
    """Accept a host name (``cas.aliyuncs.com``), ``host:port``, or a full URL
    with scheme and port (``http://127.0.0.1:8080``). No scheme means https.
    Empty means ``default``."""
    text = (endpoint or '').strip() or default
    if '://' not in text:
        text = 'https://' + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise CertflowError('invalid endpoint %r: %s' % (endpoint, exc), endpoint=endpoint)
    scheme = parts.scheme.lower()
    if scheme not in ('http', 'https'):
        raise CertflowError('invalid endpoint %r: the scheme must be http or https' % endpoint, endpoint=endpoint)
    if not parts.hostname:
        raise CertflowError('invalid endpoint %r: no host name' % endpoint, endpoint=endpoint)
    if parts.path not in ('', '/') or parts.query or parts.fragment or parts.username or parts.password:
        raise CertflowError('invalid endpoint %r: give only scheme, host and port (RPC calls always go to "/")' % endpoint,
                            endpoint=endpoint)
    return Endpoint(scheme, parts.hostname.lower(), port)


def cas_endpoint(region=None):
    """Public CAS endpoint of a region (SSL certificates live in cn-hangzhou and
    ap-southeast-1; cn-hangzhou is the plain ``cas.aliyuncs.com``)."""
    if not region or region == 'cn-hangzhou':
        return 'cas.aliyuncs.com'
    return 'cas.%s.aliyuncs.com' % region


# -------------------------------------------------------------- credentials

class Credentials:
    """AccessKey pair plus optional STS token. ``repr`` never shows the secret."""

    def __init__(self, access_key_id, access_key_secret, security_token=None):
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.security_token = security_token or None

    def __repr__(self):
        return 'Credentials(access_key_id=%r, access_key_secret=<hidden>, security_token=%s)' % (
            mask_key_id(self.access_key_id), '<hidden>' if self.security_token else None)


def mask_key_id(key_id):
    """Enough of an AccessKey ID to recognise it, not the whole of it."""
    key_id = key_id or ''
    if len(key_id) <= 8:
        return key_id[:2] + '****'
    return key_id[:4] + '****' + key_id[-4:]


def resolve_credentials(settings, fallback=None, environ=None, what='aliyun'):
    """Credentials from ``settings``, then ``fallback`` (another settings dict),
    then the ALIBABA_CLOUD_* environment variables. Raises CertflowError naming
    the option and the variable when the id or the secret is missing."""
    environ = os.environ if environ is None else environ
    sources = [settings or {}, fallback or {}]

    def pick(key, env_name):
        for source in sources:
            value = source.get(key)
            if value:
                return value
        return environ.get(env_name) or None

    key_id = pick('access_key_id', ENV_ACCESS_KEY_ID)
    secret = pick('access_key_secret', ENV_ACCESS_KEY_SECRET)
    token = pick('security_token', ENV_SECURITY_TOKEN)
    missing = []
    if not key_id:
        missing.append('the AccessKey ID (%s.access_key_id or %s)' % (what, ENV_ACCESS_KEY_ID))
    if not secret:
        missing.append('the AccessKey secret (%s.access_key_secret or %s)' % (what, ENV_ACCESS_KEY_SECRET))
    if missing:
        raise CertflowError('Alibaba Cloud credentials are missing: set %s' % ' and '.join(missing))
    return Credentials(key_id, secret, token)


# ------------------------------------------------------------------- errors

class AliyunAPIError(CertflowError):
    """An error answer of an Alibaba Cloud API: ``code`` is the API's error
    code (``NotRemainCount``), ``http_status`` and ``request_id`` are kept for
    support tickets."""

    def __init__(self, msg, code=None, http_status=None, request_id=None, action=None, api_message=None):
        super(AliyunAPIError, self).__init__(msg, code=code, http_status=http_status, request_id=request_id, action=action)
        self.code = code
        self.http_status = http_status
        self.request_id = request_id
        self.action = action
        self.api_message = api_message


# Error code -> what it means for the user. Placeholders: {product}, {order},
# {action}, {api}, {key_id}, {domain}, {record}, {message}.
ERROR_MESSAGES = {
    # Gateway / authentication (common to all products)
    'InvalidAccessKeyId.NotFound': 'the AccessKey ID {key_id} does not exist: check access_key_id or ALIBABA_CLOUD_ACCESS_KEY_ID',
    'InvalidAccessKeyId.Inactive': 'the AccessKey ID {key_id} is disabled: enable it in the RAM console or use another AccessKey',
    'SignatureDoesNotMatch': ('the request signature was rejected: the AccessKey secret does not belong to AccessKey ID {key_id} '
                              '(check access_key_secret or ALIBABA_CLOUD_ACCESS_KEY_SECRET)'),
    'IncompleteSignature': 'the request signature is incomplete or malformed ({message})',
    'InvalidTimeStamp.Expired': ('the request time was rejected as expired: check the clock of this machine '
                                 '(it must be within 15 minutes of the real time; the request carries UTC)'),
    'InvalidSecurityToken.Expired': 'the STS security token has expired: get a new one (security_token or ALIBABA_CLOUD_SECURITY_TOKEN)',
    'InvalidSecurityToken.Malformed': 'the STS security token is malformed: check security_token or ALIBABA_CLOUD_SECURITY_TOKEN',
    'InvalidSecurityToken.MismatchWithAccessKey': 'the STS security token does not belong to AccessKey ID {key_id}',
    'Forbidden.RAM': 'the RAM identity of AccessKey {key_id} may not call {action}: grant it the permission {ram}:{action}',
    'Forbidden': 'the RAM identity of AccessKey {key_id} may not call {action}: grant it the permission {ram}:{action}',
    'NoPermission': 'the RAM identity of AccessKey {key_id} may not call {action}: grant it the permission {ram}:{action}',
    'Forbidden.RiskControl': 'Alibaba Cloud risk control refused {action}: {message}',
    'Forbidden.UserVerification': 'the Alibaba Cloud account has not completed real-name verification, which {action} requires',
    'InvalidAction.NotFound': 'the API {action} does not exist in {api} (wrong endpoint or version?)',
    'InvalidVersion': 'the API version of {api} is not served by this endpoint (wrong endpoint?)',
    'NoSuchVersion': 'the API version of {api} is not served by this endpoint (wrong endpoint?)',
    'MissingParameter': '{action} is missing a parameter: {message}',
    'InvalidParameter': '{action} rejected a parameter: {message}',
    'Throttling': 'Alibaba Cloud kept throttling {action}; try again later or lower the concurrency',
    'Throttling.User': 'Alibaba Cloud kept throttling {action} (per-user flow control); try again later or lower the concurrency',
    'Throttling.Api': 'Alibaba Cloud kept throttling {action} (API flow control); try again later',
    'ServiceUnavailable': 'Alibaba Cloud {api} stayed unavailable for {action}; try again later',
    'InternalError': 'Alibaba Cloud {api} failed internally on {action}; try again later',
    # Certificate Management Service (cas 2020-04-07)
    'NotRemainCount': ('no quota left for product {product}: every certificate of the resource plan is in use '
                       '(buy more, or cancel an unused order to get its quota back)'),
    'NotFoundPackage': 'no certificate resource plan has been bought for product {product}',
    'NotFoundOrder': 'certificate order {order} was not found in this Alibaba Cloud account',
    'OrderStateError': 'certificate order {order} is not in a state that allows {action} ({message})',
    'CreateCertificateRequestFailed': 'the certificate request for {domain} was refused: {message}',
    'DeleteFail': 'certificate order {order} could not be deleted: {message}',
    # Certificate Management Service: uploads and deployment jobs
    'NameRepeat': 'an uploaded certificate with this name already exists in the account (names are unique): {message}',
    'NotFoundResource': 'a cloud resource of the deployment job does not exist (any more): {message}',
    'NotFoundContact': 'a contact of the deployment job does not exist: {message}; set aliyun.contact_ids (ListContact)',
    'OperationDenied.CertificateInUse': 'the uploaded certificate is still deployed to cloud resources: {message}',
    # CDN (cdn 2018-05-10)
    'InvalidDomain.NotFound': 'the CDN domain {domain} does not exist in this account',
    # Alibaba Cloud DNS (alidns 2015-01-09)
    'InvalidDomainName.NoExist': 'the domain {domain} is not in this Alibaba Cloud DNS account',
    'IncorrectDomainUser': 'the domain {domain} belongs to another Alibaba Cloud account',
    'DomainRecordNotBelongToUser': 'DNS record {record} does not exist in this Alibaba Cloud DNS account',
    'QuotaExceeded.Record': 'the domain {domain} has reached its maximum number of DNS records',
    'DomainRecordConflict': 'the TXT record for {domain} conflicts with an existing record (a CNAME at the same name?)',
    'Forbidden.RecordLocked': 'DNS records of {domain} are locked',
}

RETRYABLE_CODES = ('ServiceUnavailable', 'SignatureNonceUsed', 'InternalError', 'LastOperationNotFinished')


def is_retryable(code, http_status, idempotent=True):
    """Throttling* and ServiceUnavailable never reached the business logic, so
    they are retried for every call. Other 5xx answers may have done the work:
    they are retried only for calls that can be repeated safely."""
    code = code or ''
    if code.startswith('Throttling') or code in ('ServiceUnavailable', 'SignatureNonceUsed') or http_status == 503:
        return True
    if not idempotent:
        return False
    return code in RETRYABLE_CODES or (http_status or 0) >= 500


def error_message(code, api_message, action, params=None, product=None, key_id=None):
    """The user-facing text for an API error (see ERROR_MESSAGES)."""
    params = params or {}
    domain = params.get('DomainName') or params.get('Domain') or params.get('SubDomain') or params.get('Keyword') or '?'
    values = {
        'product': params.get('ProductCode') or 'digicert-free-1-free (the API default)',
        'order': params.get('OrderId', '?'),
        'action': action,
        'api': product or 'the API',
        'ram': RAM_PREFIX.get(product, product or 'the product'),
        'key_id': mask_key_id(key_id) if key_id else '?',
        'domain': domain,
        'record': params.get('RecordId', '?'),
        'message': (api_message or '').strip() or 'no details given',
    }
    template = ERROR_MESSAGES.get(code)
    if template is None:
        return '%s failed: %s (%s)' % (action, values['message'], code or 'no error code')
    return template.format(**values)


# ------------------------------------------------------------------- client

class AliyunClient:
    """RPC-style client for one Alibaba Cloud product and API version.

    Every call is a POST to ``/`` with the business parameters in the query
    string, signed with ACS3-HMAC-SHA256, answered with JSON. Throttling and
    temporary failures are retried with back-off within ``deadline`` (a
    ``_common.Deadline``; the first attempt always happens)."""

    def __init__(self, product, version, endpoint, credentials, validate_certs=True, ca_bundle=None, deadline=None,
                 request_timeout=DEFAULT_REQUEST_TIMEOUT, max_attempts=DEFAULT_MAX_ATTEMPTS, retry_initial=0.2, retry_maximum=5.0,
                 session=None, sleep=time.sleep, log=None, default_endpoint=None, clock=None, warn=None, option=None):
        if session is None:
            requests = _requests()
            if requests is None:
                raise CertflowError('the Python library "requests" is required to talk to Alibaba Cloud')
            session = requests.Session()
        self.product = product
        self.version = version
        self.endpoint = endpoint if isinstance(endpoint, Endpoint) else parse_endpoint(endpoint, default_endpoint or '%s.aliyuncs.com' % product)
        self.credentials = credentials
        if ca_bundle:
            self.verify = ca_bundle
        else:
            self.verify = bool(validate_certs)
        check_transport(self.endpoint, self.verify, credentials, option or ('alidns' if product == 'alidns' else 'aliyun'),
                        warn or module_warning)
        self.deadline = deadline or Deadline(300.0)
        self.request_timeout = request_timeout
        self.max_attempts = max(1, int(max_attempts))
        self.retry_initial = retry_initial
        self.retry_maximum = retry_maximum
        self.session = session
        self._sleep = sleep
        self._log = log or (lambda msg: None)
        # Where x-acs-date comes from (a callable returning an aware datetime); tests move it.
        self._clock = clock or (lambda: datetime.datetime.now(datetime.timezone.utc))

    def close(self):
        close = getattr(self.session, 'close', None)
        if close:
            close()

    # one request ---------------------------------------------------------

    def _send(self, action, params, form=None):
        query = canonical_query_string(params)
        # Large or secret parameters (a private key) go in a form body, not the URL that proxies and logs keep.
        body = canonical_query_string(form).encode('utf-8') if form else b''
        headers, _canonical = sign_request('POST', self.endpoint.host, '/', query, action, self.version,
                                           self.credentials.access_key_id, self.credentials.access_key_secret,
                                           security_token=self.credentials.security_token,
                                           date=self._clock().strftime(DATE_FORMAT), body=body,
                                           content_type='application/x-www-form-urlencoded' if form else None)
        headers['Accept'] = 'application/json'
        url = self.endpoint.url + ('?' + query if query else '')
        remaining = self.deadline.remaining()
        timeout = self.request_timeout if remaining <= 0 else max(5.0, min(self.request_timeout, remaining))
        # verify= on every request: REQUESTS_CA_BUNDLE in the environment
        # would otherwise override Session.verify.
        return self.session.request('POST', url, headers=headers, data=body, timeout=timeout, verify=self.verify,
                                    allow_redirects=False)

    def _scrub(self, text):
        """Make sure no secret from the credentials is echoed in a message."""
        text = text or ''
        for secret in (self.credentials.access_key_secret, self.credentials.security_token):
            if secret and secret in text:
                text = text.replace(secret, '********')
        return text

    def _parse(self, action, params, response):
        """Return the JSON body of a success, or raise AliyunAPIError."""
        status = getattr(response, 'status_code', 0)
        text = getattr(response, 'text', '') or ''
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            body = None
        if 200 <= status < 300 and isinstance(body, dict) and 'Code' not in body:
            return body
        if 200 <= status < 300 and isinstance(body, dict) and str(body.get('Code')) in ('200', 'OK', 'Success'):
            return body
        if isinstance(body, dict):
            code = body.get('Code')
            api_message = self._scrub(body.get('Message') or '')
            request_id = body.get('RequestId')
        else:
            code = None
            api_message = 'HTTP %d with a non-JSON answer: %s' % (status, self._scrub(text[:200]).strip())
            request_id = None
        msg = error_message(code, api_message, action, params, self.product, self.credentials.access_key_id)
        msg = 'Alibaba Cloud %s %s: %s' % (self.product, action, msg)
        extra = []
        if code:
            extra.append('code %s' % code)
        if status:
            extra.append('HTTP %d' % status)
        if request_id:
            extra.append('RequestId %s' % request_id)
        if extra:
            msg += ' [%s]' % ', '.join(extra)
        raise AliyunAPIError(self._scrub(msg), code=code, http_status=status, request_id=request_id, action=action,
                             api_message=api_message)

    # the public call -----------------------------------------------------

    def call(self, action, params=None, idempotent=True, form=None):
        """Call ``action`` with ``params`` (flat dict; None values are left
        out; ``form``: more of them, sent as a form body) and return the decoded JSON answer.

        ``idempotent=False`` (creating orders, adding records) limits retries
        to answers that prove nothing was done (throttling, 503) and to
        connections that were never established."""
        params = dict(params or {})
        intervals = backoff(initial=self.retry_initial, factor=2.0, maximum=self.retry_maximum)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(action, params, form)
            except Exception as exc:  # noqa: BLE001 - requests' exceptions, classified below
                if not self._transport_retryable(exc, idempotent) or not self._may_retry(attempt):
                    raise CertflowError('Alibaba Cloud %s %s: cannot reach %s after %d attempt(s): %s'
                                        % (self.product, action, self.endpoint.url, attempt, self._scrub(str(exc))),
                                        endpoint=self.endpoint.url)
                delay = next(intervals)
                self._log('aliyun %s: %s, retrying in %.2fs' % (action, type(exc).__name__, delay))
                self._pause(delay)
                continue
            try:
                return self._parse(action, params, response)
            except AliyunAPIError as error:
                if not is_retryable(error.code, error.http_status, idempotent) or not self._may_retry(attempt):
                    if attempt > 1:
                        error.msg = error.args[0] + ' (after %d attempts)' % attempt
                        error.args = (error.msg,)
                    raise
                delay = next(intervals)
                hint = _retry_after(response)
                if hint is not None:
                    delay = max(delay, hint)
                self._log('aliyun %s: %s, retrying in %.2fs' % (action, error.code or error.http_status, delay))
                self._pause(delay)

    def _may_retry(self, attempt):
        return attempt < self.max_attempts and not self.deadline.expired()

    def _pause(self, delay):
        remaining = self.deadline.remaining()
        self._sleep(max(0.0, min(delay, remaining)))

    @staticmethod
    def _transport_retryable(exc, idempotent):
        requests = _requests()
        if requests is None:
            return idempotent
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return True
        if isinstance(exc, requests.exceptions.SSLError):
            return False
        if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)):
            # The request may have been processed; only repeat what is safe to repeat.
            return idempotent
        return False


def _retry_after(response):
    headers = getattr(response, 'headers', None) or {}
    value = headers.get('Retry-After') if hasattr(headers, 'get') else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None
