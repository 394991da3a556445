# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_deploy: take certificates from the store (whichever CA issued them) to
cloud resources through a deploy target (_deploy/), idempotently.

For one certificate: read and check it from the store; find its upload (the id
kept in the entry's cloud.json, re-checked at the cloud, else looked up by its
fingerprint) or upload it; resume a deployment job a previous run left (wait:
false, or a run that died); resolve the resources; bind the certificate where
it is not bound yet (a job, or a product's own call) and poll with back-off
until every resource has succeeded or failed; then, only when every resource
serves the new certificate, remove the earlier uploads this collection made
(remove_superseded) that nothing is bound to any more.

cloud.json ({target: {uploads: [...], job: {...}}}) is written after every step
that creates something, so an upload or a job is never forgotten."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline, wait_until
from ansible_collections.certflow.ssl.plugins.module_utils._deploy import DEPLOY_TARGETS
from ansible_collections.certflow.ssl.plugins.module_utils._run import Run, run_batch
from ansible_collections.certflow.ssl.plugins.module_utils._store import check_name

LOAD_BALANCERS = ('slb', 'alb', 'nlb', 'ga')


def _spec_problem(spec):
    product = spec.get('product')
    if spec.get('resource_id'):
        return None
    if product in LOAD_BALANCERS:
        return None if spec.get('instance_id') else 'a %s listener needs instance_id (and port, default 443) or resource_id' % product
    return None if spec.get('domain') else 'a %s resource needs domain or resource_id' % product


def _entries(params):
    if params.get('certificates'):
        entries = [dict(entry) for entry in params['certificates']]
    elif params.get('name'):
        entries = [{'name': params['name'], 'resources': params.get('resources')}]
    else:
        raise CertflowError('name (with resources) or certificates is required')
    for index, entry in enumerate(entries):
        check_name(entry.get('name'))
        if not entry.get('resources'):
            raise CertflowError('%s: no resources to deploy to' % entry['name'])
        for spec in entry['resources']:
            problem = _spec_problem(spec)
            if problem:
                raise CertflowError('%s: resources: %s' % (entry['name'], problem))
    return entries


def read_certificate(store, name):
    """The stored certificate ``name`` as a deploy target takes it (the key checked against it)."""
    cert_pem = store.read(name, 'cert')
    key_pem = store.read(name, 'privkey')
    if not cert_pem or not key_pem:
        raise CertflowError('no issued certificate named %s in the store %s (run cert_request and cert_validate first)'
                            % (name, store.root))
    leaf = _crypto.load_certificate(cert_pem)
    if not _crypto.cert_matches_key(leaf, _crypto.load_private_key(key_pem)):
        raise CertflowError('%s: privkey.pem does not belong to cert.pem in the store: refused, nothing was uploaded' % name)
    summary = _crypto.cert_summary(leaf)
    return {'name': name, 'serial': _crypto.cert_serial_hex(leaf), 'fingerprint': _crypto.cert_sha256_hex(cert_pem),
            'cert': _crypto.cert_to_pem(leaf), 'chain': store.read(name, 'chain') or '', 'key': key_pem,
            'domains': summary['domains'], 'not_after': summary['not_after']}


class _Deployment:
    """One certificate's deployment through one target."""

    def __init__(self, run, target, name, specs, params):
        self.run = run
        self.target = target
        self.name = name
        self.specs = specs
        self.params = params
        self.changed = False
        self.state_all = run.store.load_cloud(name)
        self.state = self.state_all.setdefault(target.NAME, {'uploads': [], 'job': None})
        self.state.setdefault('uploads', [])
        self.state.setdefault('job', None)

    def save(self):
        if not self.run.check_mode:
            self.run.store.save_cloud(self.name, self.state_all)

    # -- upload ----------------------------------------------------------------

    def ensure_upload(self, certificate):
        """(cloud certificate id or None in check mode, uploaded)."""
        uploads = self.state['uploads']
        known = [upload for upload in uploads if upload['fingerprint'] == certificate['fingerprint']]
        for upload in known:
            if self.target.exists(upload['cloud_cert_id'], certificate):
                return upload['cloud_cert_id'], False
            self.run.log('upload %s of serial %s is gone from the cloud; looking again' % (upload['cloud_cert_id'], upload['serial']))
            uploads.remove(upload)
        found = self.target.find(certificate)
        uploaded = False
        if found is None:
            if self.run.check_mode:
                return None, True
            found = self.target.upload(certificate)
            uploaded = self.changed = True
        else:
            self.run.log('certificate serial %s was uploaded before: %s' % (certificate['serial'], found[0]))
        cloud_cert_id, upload_name = found
        uploads.append({'serial': certificate['serial'], 'fingerprint': certificate['fingerprint'],
                        'cloud_cert_id': cloud_cert_id, 'name': upload_name})
        self.save()
        return cloud_cert_id, uploaded

    # -- jobs --------------------------------------------------------------------

    def record_job(self, job):
        self.state['job'] = job
        self.save()

    def poll(self, job, wait):
        status = self.target.status(job)
        if status['done'] or not wait:
            return status
        deadline = Deadline(max(1.0, self.run.deadline.remaining()))
        holder = {}

        def check():
            holder['status'] = self.target.status(job)
            return holder['status']['done']
        try:
            wait_until(check, deadline, 'deployment job %s' % job['job_id'], initial=0.1, maximum=5.0)
        except CertflowError as exc:
            raise CertflowError('%s: %s; the job is kept in the store: run cert_deploy again to resume it'
                                % (self.name, exc.msg), job_id=job['job_id'])
        return holder['status']

    def finish(self, job, status, results):
        results.update(status['resources'])
        if status['done']:
            self.state['job'] = None
            self.save()
            self.run.log('deployment job %s ended %s' % (job['job_id'], status['state']))


def _resource_entry(resource, result, serial, cloud_cert_id):
    entry = {'product': resource['product'], 'id': resource['id'], 'key': resource['key'], 'domain': resource.get('domain'),
             'instance_id': resource.get('instance_id'), 'port': resource.get('port'), 'method': resource['method'],
             'status': result['status'], 'serial': serial if result['status'] == 'deployed' else None,
             'message': result.get('message'), 'cloud_cert_id': cloud_cert_id}
    return entry


def _serial_of(state, cloud_cert_id):
    for upload in state['uploads']:
        if upload['cloud_cert_id'] == cloud_cert_id:
            return upload['serial']
    return None


def deploy_certificate(run, target, entry, params):
    name = entry['name']
    wait = params.get('wait', True) is not False
    with run.certificate(name) as work:
        certificate = read_certificate(run.store, name)
        deployment = _Deployment(run, target, name, entry['resources'], params)
        cloud_cert_id, uploaded = deployment.ensure_upload(certificate)
        results = {}
        job = deployment.state.get('job')
        job_id = None
        if job and job['cloud_cert_id'] != cloud_cert_id:
            run.warn('deployment job %s of an earlier certificate (serial %s) is no longer followed' % (job['job_id'], job['serial']))
            deployment.state['job'] = job = None
            deployment.save()
        if job:
            job_id = job['job_id']
            deployment.finish(job, deployment.poll(job, wait), results)
        resources = target.resources(entry['resources'])
        before = dict((resource['key'], _serial_of(deployment.state, resource['bound']) or
                       ('CAS certificate %s' % resource['bound'] if resource['bound'] else 'none')) for resource in resources)
        # (cloud_cert_id is None only in check mode, before the first upload: nothing serves it yet.)
        to_bind = [resource for resource in resources
                   if (cloud_cert_id is None or resource['bound'] != cloud_cert_id) and resource['id'] not in results]
        for resource in resources:
            if resource['id'] not in results and cloud_cert_id is not None and resource['bound'] == cloud_cert_id:
                results[resource['id']] = {'status': 'deployed', 'message': None}
        if to_bind and run.check_mode:
            for resource in to_bind:
                results[resource['id']] = {'status': 'pending', 'message': 'check mode: would deploy serial %s' % certificate['serial']}
            deployment.changed = True
        elif to_bind:
            new_job, direct = target.deploy(cloud_cert_id, certificate, to_bind, deployment.record_job)
            deployment.changed = True
            results.update(direct)
            if new_job:
                job_id = new_job['job_id']
                deployment.finish(new_job, deployment.poll(new_job, wait), results)
        entries = [_resource_entry(resource, results[resource['id']], certificate['serial'], cloud_cert_id) for resource in resources]
        statuses = set(item['status'] for item in entries)
        status = 'failed' if 'failed' in statuses else ('pending' if 'pending' in statuses else 'deployed')
        removed = _remove_superseded(deployment, certificate, status) if params.get('remove_superseded') else []
        result = {'name': name, 'serial': certificate['serial'], 'cloud_cert_id': cloud_cert_id, 'uploaded': uploaded,
                  'job_id': job_id, 'resources': entries, 'removed': removed, 'status': status,
                  'changed': deployment.changed}
        if status == 'failed':
            result['error'] = '; '.join('%s: %s' % (item['key'], item['message']) for item in entries if item['status'] == 'failed')
        if run.diff and deployment.changed:
            after = dict((item['key'], certificate['serial'] if item['status'] in ('deployed', 'pending') else before[item['key']])
                         for item in entries)
            run.add_diff({'before_header': '%s: serials per resource (before)' % name,
                          'after_header': '%s: serials per resource (after)' % name,
                          'before': ''.join('%s: %s\n' % item for item in sorted(before.items())),
                          'after': ''.join('%s: %s\n' % item for item in sorted(after.items()))})
        return work.result(result, 'deploy')


def _remove_superseded(deployment, certificate, status):
    """Earlier uploads recorded by this collection, once every resource is deployed and nothing is bound to them."""
    if status != 'deployed':
        if status == 'failed':
            deployment.run.log('superseded uploads kept: not every resource took serial %s' % certificate['serial'])
        return []
    removed = []
    for upload in list(deployment.state['uploads']):
        if upload['fingerprint'] == certificate['fingerprint']:
            continue
        bound = deployment.target.bound_anywhere(upload['cloud_cert_id'])
        if bound:
            deployment.run.warn('upload %s (serial %s) is kept: resources %s still use it'
                                % (upload['cloud_cert_id'], upload['serial'], ', '.join(bound)))
            continue
        if not deployment.run.check_mode:
            deployment.target.remove(upload['cloud_cert_id'])
            deployment.state['uploads'].remove(upload)
            deployment.save()
        deployment.changed = True
        removed.append({'cloud_cert_id': upload['cloud_cert_id'], 'serial': upload['serial']})
    return removed


def deploy_all(module):
    params = module.params
    entries = _entries(params)
    run = Run(params, check_mode=module.check_mode, diff=module.diff)
    target_class = DEPLOY_TARGETS.get(params.get('target') or DEPLOY_TARGETS.default)
    target = target_class(target_class.settings_from(params), run.context())
    try:
        items = [{'entry': entry, 'fallback': {'name': entry['name'], 'changed': False}} for entry in entries]
        certificates = run_batch(run, items, lambda item: deploy_certificate(run, target, item['entry'], params), 1)
    finally:
        target.close()
        run.close()
    changed = any(item.get('changed') for item in certificates)
    result = {'changed': changed, 'certificates': certificates}
    if run.diffs:
        result['diff'] = run.diffs
    failed = [item for item in certificates if item.get('status') == 'failed']
    if failed:
        raise CertflowError('cloud deployment failed for %s' % '; '.join('%s (%s)' % (item['name'], item.get('error')) for item in failed),
                            **result)
    return result
