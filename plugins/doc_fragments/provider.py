# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the CA provider and store options every module shares."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  provider:
    description:
      - The certificate authority to talk to.
      - V(acme) is any RFC 8555 CA (Let's Encrypt, ZeroSSL, Google, Buypass, step-ca, Pebble, ...), configured with O(acme).
      - V(aliyun) is Alibaba Cloud Certificate Management Service, configured with O(aliyun).
      - V(local) is the CA the collection keeps on disk, configured with O(local_ca). It checks DNS and file proofs
        itself, using O(certflow.ssl.cert_validate#module:nameservers) and O(certflow.ssl.cert_validate#module:http_check_port).
    type: str
    choices: [acme, aliyun, local]
    default: acme
  acme:
    description: Settings of the ACME provider.
    type: dict
    suboptions:
      directory:
        description:
          - URL of the ACME directory, for example U(https://acme-v02.api.letsencrypt.org/directory).
          - Falls back to the environment variable E(CERTFLOW_ACME_DIRECTORY).
        type: str
      account_key_src:
        description:
          - Path of the ACME account private key (PEM). Falls back to E(CERTFLOW_ACME_ACCOUNT_KEY_SRC).
          - Without O(acme.account_key_src) and O(acme.account_key_content) an account key is generated
            and kept in the store (mode 0600) and reused by later runs.
        type: path
      account_key_content:
        description: The ACME account private key as PEM text. Falls back to E(CERTFLOW_ACME_ACCOUNT_KEY_CONTENT).
        type: str
      account_email:
        description: Contact e-mail address of the account. Falls back to E(CERTFLOW_ACME_ACCOUNT_EMAIL).
        type: str
      eab_kid:
        description: Key identifier of the External Account Binding (ZeroSSL, Google, DigiCert, Sectigo). Falls back to E(CERTFLOW_ACME_EAB_KID).
        type: str
      eab_hmac_key:
        description:
          - Base64url HMAC key of the External Account Binding. Falls back to E(CERTFLOW_ACME_EAB_HMAC_KEY).
          - Never sent to an C(http://) directory; the task fails naming this option instead.
        type: str
      ca_bundle:
        description: CA certificates (PEM file) used to verify the ACME server. Falls back to E(CERTFLOW_ACME_CA_BUNDLE).
        type: path
      validate_certs:
        description:
          - Verify the ACME server's TLS certificate. Only turn off for throw-away test CAs.
          - When false (and no O(acme.ca_bundle)), every run warns. An C(http://) directory also warns on every run.
        type: bool
        default: true
      preferred_chain:
        description: Common name of the top issuer of an alternate chain to prefer when the CA offers several.
        type: str
      ari:
        description:
          - Ask the CA when to renew (ACME Renewal Information, RFC 9773) when its directory offers C(renewalInfo), and
            name the certificate a renewal replaces. The answer is kept in the store until its C(Retry-After).
          - When false, or when the CA offers no renewal information or a broken answer (a warning),
            the lifetime rule C(renew_before_ratio) decides. Falls back to E(CERTFLOW_ACME_ARI).
        type: bool
        default: true
  aliyun:
    description: Settings of the Alibaba Cloud Certificate Management Service provider.
    type: dict
    suboptions:
      access_key_id:
        description: AccessKey ID. Falls back to E(ALIBABA_CLOUD_ACCESS_KEY_ID).
        type: str
      access_key_secret:
        description: AccessKey secret. Falls back to E(ALIBABA_CLOUD_ACCESS_KEY_SECRET).
        type: str
      security_token:
        description:
          - STS security token for temporary credentials. Falls back to E(ALIBABA_CLOUD_SECURITY_TOKEN).
          - Never sent to an C(http://) endpoint; the task fails naming this option instead.
        type: str
      endpoint:
        description:
          - API endpoint, a host name or a full URL with scheme and port. Default U(https://cas.aliyuncs.com).
          - An C(http://) endpoint (an emulator, a lab) works but warns on every run.
        type: str
      region:
        description: Region ID, for example V(cn-hangzhou); picks the endpoint when O(aliyun.endpoint) is unset.
        type: str
      product:
        description: Default product code (certificate package) for orders, for example V(digicert-free-1-free).
        type: str
      ca_bundle:
        description: CA certificates (PEM file) used to verify the endpoint.
        type: path
      validate_certs:
        description: Verify the endpoint's TLS certificate. When false (and no O(aliyun.ca_bundle)), every run warns.
        type: bool
        default: true
      cdn_endpoint:
        description: CDN API endpoint, used by M(certflow.ssl.cert_deploy) only (this dict serves every module).
        type: str
      contact_ids:
        description: Certificate Management Service contacts of deployment jobs, used by M(certflow.ssl.cert_deploy) only.
        type: list
        elements: int
  local_ca:
    description: Settings of the local CA kept on disk.
    type: dict
    suboptions:
      path:
        description: Folder of the local CA. Default V(_local_ca) inside O(store_dir).
        type: path
      key_type:
        description: Key type of the CA keys made on first use.
        type: str
        choices: [ec256, ec384, rsa2048, rsa3072, rsa4096]
        default: ec256
      validity_days:
        description: Lifetime of issued certificates in days.
        type: int
        default: 90
      quota:
        description: Number of certificates the local CA may issue, so the purchase (quota) step works offline. Unlimited when unset.
        type: int
      crl_url:
        description: URL put into issued certificates as CRL distribution point. Default the C(file://) URI of the CA's C(crl.pem).
        type: str
      root_name:
        description: Common name of the root CA made on first use. Default V(certflow local root CA).
        type: str
      intermediate_name:
        description: Common name of the intermediate CA made on first use. Default V(certflow local intermediate CA).
        type: str
  store_dir:
    description:
      - The certificate store, one folder per certificate name. Falls back to E(CERTFLOW_STORE_DIR).
    type: path
    default: ~/.certflow
  timeout:
    description: Overall time budget of the task in seconds, for every network wait together.
    type: int
    default: 600
'''
