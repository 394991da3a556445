#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module cert_deploy: upload certificates from the store to a cloud and bind them to its resources."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cert_deploy
short_description: Deploy certificates from the store to cloud products (Alibaba Cloud CDN, SLB, ALB, WAF, OSS, ...)
version_added: 0.2.0
description:
  - The cloud half of the deploy step of the workflow. Takes certificates from the store, whichever CA issued them
    (ACME, Alibaba Cloud, the local CA), uploads each to the cloud's certificate service once and binds it to the
    cloud resources named in O(resources).
  - With O(target=aliyun) a certificate is uploaded to Certificate Management Service (C(UploadUserCertificate)) under
    the unique name C(certflow-<name>-<serial>); an upload made before (by this module or by hand) is found by its
    fingerprint and never uploaded twice. Resources are found with C(ListCloudResources) and bound through a CAS
    deployment job (C(CreateDeploymentJob), then C(UpdateDeploymentJobStatus) so it runs), polled with back-off until
    every resource reports success or failure. CDN domains can instead be bound at once with
    C(SetCdnDomainSSLCertificate) (O(resources[].method=direct)).
  - A resource that already serves the certificate is left alone, so a second run uploads and deploys nothing.
  - With O(wait=false) the task returns as soon as the job runs; the job is kept in the store entry (C(cloud.json))
    and the next run resumes it.
  - A failed resource fails the task with its reason while the other resources are deployed.
  - The private key goes to the cloud's certificate service only; it is never printed or returned.
  - The CA options (O(provider), O(acme), O(local_ca)) are accepted and not used, so one C(module_defaults) entry for
    C(group/certflow.ssl.certflow) serves every module of the collection; O(aliyun) is the CA provider's dict plus
    O(aliyun.cdn_endpoint) and O(aliyun.contact_ids).
author: certflow.ssl contributors (@certflow-ssl)
extends_documentation_fragment:
  - certflow.ssl.attributes
  - certflow.ssl.cloud
  - certflow.ssl.provider
attributes:
  check_mode:
    support: full
    details: Reports what would be uploaded, bound and removed; uploads, starts and removes nothing.
  diff_mode:
    support: full
    details: The serial each resource serves, before and after.
options:
  name:
    description: Name of the certificate in the store. One of O(name) (with O(resources)) or O(certificates) is required.
    type: str
  resources:
    description: The cloud resources certificate O(name) goes to.
    type: list
    elements: dict
    suboptions:
      product:
        description:
          - The cloud product, for example V(cdn), V(dcdn), V(waf), V(oss), V(live), V(vod), V(fc), V(apigateway) (addressed
            by O(resources[].domain)) or V(slb), V(alb), V(nlb), V(ga) (load balancer listeners, addressed by
            O(resources[].instance_id) and O(resources[].port)).
        type: str
        required: true
      domain:
        description: The domain name of a domain-addressed resource (a CDN accelerated domain, a WAF site, an OSS bucket domain).
        type: str
      instance_id:
        description: The instance ID of a load balancer.
        type: str
      port:
        description: The HTTPS listener port of a load balancer. Default 443.
        type: int
      resource_id:
        description: The resource's id as C(ListCloudResources) lists it, instead of O(resources[].domain) or O(resources[].instance_id).
        type: str
      method:
        description:
          - V(job) binds through a deployment job of the certificate service.
          - V(direct) binds a CDN domain at once through the CDN API (C(SetCdnDomainSSLCertificate) with C(CertRegion) from
            O(aliyun.region)).
        type: str
        choices: [job, direct]
        default: job
  certificates:
    description: Several certificates, each a dict with C(name) and C(resources) (as O(name) and O(resources)).
    type: list
    elements: dict
  wait:
    description: Wait until every resource reports success or failure. When false, return once the deployment runs; the next run resumes it.
    type: bool
    default: true
  remove_superseded:
    description:
      - After every resource of a certificate serves it, delete the earlier uploads of that certificate this module made
        (recorded in the store entry) that no resource uses any more.
      - Never before the new certificate is deployed everywhere; never an upload still bound to a resource.
    type: bool
    default: false
seealso:
  - module: certflow.ssl.cert_request
  - module: certflow.ssl.cert_validate
'''

EXAMPLES = r'''
- name: Deploy the certificate www to a CDN domain and an SLB listener
  certflow.ssl.cert_deploy:
    name: www
    aliyun:
      endpoint: cas.aliyuncs.com
      access_key_id: "{{ vault_aliyun_access_key_id }}"
      access_key_secret: "{{ vault_aliyun_access_key_secret }}"
    resources:
      - product: cdn
        domain: www.example.com
      - product: slb                   # its HTTPS listener on port 443 (give port for another)
        instance_id: lb-bp1o94dp5i6earr9g6d1l
  register: deployed

- name: Bind a CDN domain at once (credentials from module_defaults or ALIBABA_CLOUD_*), then drop earlier uploads
  certflow.ssl.cert_deploy:
    name: shop
    resources:
      - product: cdn
        domain: shop.example.com
        method: direct
    remove_superseded: true

- name: Start the deployments and return; the next run resumes them
  certflow.ssl.cert_deploy:
    certificates:
      - name: www
        resources:
          - {product: alb, instance_id: alb-8ldmmc6hprzt2b1c4f}
      - name: api
        resources:
          - {product: waf, domain: api.example.com}
    wait: false
  register: started
'''

RETURN = r'''
certificates:
  description: One entry per certificate, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the certificate in the store.
      type: str
    serial:
      description: Serial number (hex) of the certificate deployed.
      type: str
    cloud_cert_id:
      description: Id of the certificate at the cloud's certificate service (null in check mode before the first upload).
      type: str
    uploaded:
      description: Whether this run uploaded it (in check mode, whether it would).
      type: bool
    job_id:
      description: The deployment job this run started or resumed (null when none was needed).
      type: str
    status:
      description: V(deployed) (every resource serves it), V(pending) (a job still runs, O(wait=false)) or V(failed).
      type: str
    error:
      description: Which resources failed and why.
      type: str
      returned: when status is failed
    removed:
      description: Superseded uploads removed (C(cloud_cert_id), C(serial)).
      type: list
      elements: dict
    resources:
      description: One entry per resource.
      type: list
      elements: dict
      contains:
        product:
          description: The product, as given.
          type: str
        id:
          description: The resource's id at the cloud.
          type: str
        key:
          description: The resource as named, for example C(cdn:www.example.com) or C(slb:lb-xxx:443).
          type: str
        domain:
          description: Its domain (domain-addressed products).
          type: str
        instance_id:
          description: Its instance (load balancers).
          type: str
        port:
          description: Its listener port (load balancers).
          type: int
        method:
          description: V(job) or V(direct).
          type: str
        status:
          description: V(deployed), V(pending) or V(failed).
          type: str
        serial:
          description: The serial it serves when deployed.
          type: str
        message:
          description: Why it failed (or what check mode would do).
          type: str
        cloud_cert_id:
          description: The cloud certificate id it was bound to.
          type: str
    messages:
      description: What happened, step by step.
      type: list
      elements: str
      returned: when there is something to say
'''

from ansible_collections.certflow.ssl.plugins.module_utils._module import CertflowModule, provider_argument_spec
from ansible_collections.certflow.ssl.plugins.module_utils._deploy import DEPLOY_TARGETS
from ansible_collections.certflow.ssl.plugins.module_utils._ops.cloud_deploy import deploy_all

RESOURCE_OPTIONS = dict(
    product=dict(type='str', required=True),
    domain=dict(type='str'),
    instance_id=dict(type='str'),
    port=dict(type='int'),
    resource_id=dict(type='str'),
    method=dict(type='str', choices=['job', 'direct'], default='job'),
)


def main():
    # The CA options too (see the description); the target's aliyun dict replaces the CA's (it is a superset).
    argument_spec = dict(
        provider_argument_spec(),
        **DEPLOY_TARGETS.argument_spec()
    )
    argument_spec.update(
        name=dict(type='str'),
        resources=dict(type='list', elements='dict', options=RESOURCE_OPTIONS),
        wait=dict(type='bool', default=True),
        remove_superseded=dict(type='bool', default=False),
    )
    module = CertflowModule(argument_spec, entry_options=dict(name=dict(type='str', required=True),
                                                              resources=argument_spec['resources']),
                            mutually_exclusive=[('name', 'certificates')], required_one_of=[('name', 'certificates')],
                            required_by={'name': 'resources'}, supports_check_mode=True)
    module.run(deploy_all)


if __name__ == '__main__':
    main()
