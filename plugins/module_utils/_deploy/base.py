# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seam every cloud deploy target implements (cert_deploy speaks only to it
and to the store, never to a cloud's wire format).

certificate -- one stored certificate, read and checked once by _ops/cloud_deploy.py::

    {'name': 'www', 'serial': '0a1b...', 'fingerprint': '<sha256 hex of the leaf>',
     'cert': '<leaf PEM>', 'chain': '<intermediates PEM>', 'key': '<private key PEM>',
     'domains': [...], 'not_after': '2026-...Z'}

    The key is secret: a target sends it to its cloud and nowhere else.

resource spec -- what the user named: ``{'product': 'cdn', 'domain': ...}``,
``{'product': 'slb', 'instance_id': ..., 'port': 443}`` or ``{'product': ..., 'resource_id': ...}``,
plus ``method`` (``job``: through the cloud's deployment service; ``direct``: the product's own API).

resource -- a spec resolved at the cloud::

    {'key': 'cdn:www.example.com', 'product': 'cdn', 'id': '<the cloud's id>', 'domain': ..., 'instance_id': ...,
     'port': ..., 'method': 'job'|'direct', 'bound': '<cloud certificate id bound now>' or None}

job -- a started deployment, kept in the store so a later run resumes it::

    {'job_id': '...', 'cloud_cert_id': '...', 'serial': '...', 'resources': ['<resource id>', ...]}

status -- ``{'done': bool, 'state': '<the cloud's word>', 'resources': {id: {'status': 'deployed'|'pending'|'failed',
'message': text or None}}}``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._providers import Provider

RESOURCE_STATUSES = ('deployed', 'pending', 'failed')


class DeployTarget(Provider):
    """A cloud that keeps certificates and binds them to its resources."""

    def __init__(self, settings, context):
        self.settings = settings or {}
        self.context = context

    def find(self, certificate):
        """``(cloud_cert_id, upload_name)`` of ``certificate`` already uploaded under the name this
        target gives it (matched by fingerprint), or None. The ids recorded in the store are tried
        first by the caller, through ``exists``."""
        raise NotImplementedError

    def exists(self, cloud_cert_id, certificate):
        """True when ``cloud_cert_id`` is still at the cloud and holds exactly ``certificate``."""
        raise NotImplementedError

    def upload(self, certificate):
        """Upload ``certificate`` (with its key); returns ``(cloud_cert_id, upload_name)``."""
        raise NotImplementedError

    def resources(self, specs):
        """Resolve every spec to one resource (a CertflowError names a spec that matches none or several)."""
        raise NotImplementedError

    def deploy(self, cloud_cert_id, certificate, resources, record):
        """Bind ``cloud_cert_id`` to ``resources``. Returns ``(job, results)``: the job started for the
        resources deployed through the cloud's deployment service (None when there are none) and
        ``{resource id: status entry}`` for those bound at once (``method: direct``). ``record(job)``
        is called as soon as the job exists, before it is started, so it is never forgotten."""
        raise NotImplementedError

    def status(self, job):
        """Where ``job`` stands (see the module doc)."""
        raise NotImplementedError

    def bound_anywhere(self, cloud_cert_id):
        """The resource ids ``cloud_cert_id`` is bound to (an upload still in use is never removed)."""
        raise NotImplementedError

    def remove(self, cloud_cert_id):
        """Delete the upload ``cloud_cert_id``."""
        raise NotImplementedError

    def close(self):
        pass
