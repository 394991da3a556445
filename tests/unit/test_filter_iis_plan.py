# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The iis_plan filter without Windows: the thumbprints, the microsoft.iis.website bindings to add or rebind and
the superseded certificates the iis role works from."""

import subprocess

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.certflow.ssl.plugins.filter.iis_plan import iis_plan
from tests.lib.iis_data import STORE, binding, make_certificate, pem, site, windows_thumbprint


@pytest.fixture(scope='module')
def certs():
    return {name: make_certificate(name + '.example.com') for name in ('shop', 'old', 'other')}


# --------------------------------------------------------------------------- the plan

def render_plan(sites, pems, current_sites, store_name=STORE):
    return iis_plan(sites, pems, current_sites, store_name)


def test_thumbprint_is_the_sha1_of_the_der_certificate_like_windows_and_openssl(certs, tmp_path):
    cert = certs['shop'][0]
    plan = render_plan([site()], {'shop': pem(cert)}, [])
    assert plan['thumbprints'] == {'shop': windows_thumbprint(cert)}
    path = tmp_path / 'cert.pem'
    path.write_text(pem(cert))
    openssl = subprocess.run(['openssl', 'x509', '-in', str(path), '-noout', '-fingerprint', '-sha1'],
                             capture_output=True, text=True, check=True).stdout
    assert openssl.strip().split('=', 1)[1].replace(':', '').upper() == plan['thumbprints']['shop']


def test_new_site_gets_one_sni_binding_per_host_name(certs):
    cert = certs['shop'][0]
    plan = render_plan([site(port=8443, ip='10.0.0.5')], {'shop': pem(cert)}, [])
    (shop,) = plan['sites']
    assert shop['exists'] is False and shop['rebind'] == [] and shop['unchanged'] == []
    assert shop['add'] == [
        {'ip': '10.0.0.5', 'port': 8443, 'hostname': hostname, 'protocol': 'https', 'use_sni': True,
         'certificate_hash': windows_thumbprint(cert), 'certificate_store_name': STORE}
        for hostname in ('shop.example.com', 'www.shop.example.com')]
    assert plan['superseded'] == []


def test_bindings_that_already_use_the_certificate_change_nothing(certs):
    thumbprint = windows_thumbprint(certs['shop'][0])
    current = [{'name': 'shop', 'bindings': [binding('SHOP.example.com', thumbprint.lower(), store='webhosting'),
                                             binding('www.shop.example.com', thumbprint, store=STORE)]}]
    plan = render_plan([site()], {'shop': pem(certs['shop'][0])}, current)
    (shop,) = plan['sites']
    assert shop['exists'] is True, 'site names and host names compare without case, as IIS does'
    assert (shop['add'], shop['rebind'], len(shop['unchanged'])) == ([], [], 2)
    assert plan['superseded'] == []


def test_renewed_certificate_rebinds_and_supersedes_the_old_one(certs):
    old, new = windows_thumbprint(certs['old'][0]), windows_thumbprint(certs['shop'][0])
    current = [{'name': 'Shop', 'bindings': [binding('shop.example.com', old, store=STORE), binding('www.shop.example.com', old, store=STORE),
                                             binding('shop.example.com', protocol='http', port=80)]}]
    plan = render_plan([site()], {'shop': pem(certs['shop'][0])}, current)
    (shop,) = plan['sites']
    assert shop['add'] == []
    assert [entry['hostname'] for entry in shop['rebind']] == ['shop.example.com', 'www.shop.example.com']
    assert all(entry['certificate_hash'] == new and entry['use_sni'] is True for entry in shop['rebind'])
    assert plan['superseded'] == [old]


def test_binding_without_sni_or_over_http_on_the_https_port_is_rebound(certs):
    new = windows_thumbprint(certs['shop'][0])
    current = [{'name': 'Shop', 'bindings': [binding('shop.example.com', new, store=STORE, use_sni=False),
                                             binding('www.shop.example.com', protocol='http')]}]
    plan = render_plan([site()], {'shop': pem(certs['shop'][0])}, current)
    assert [entry['hostname'] for entry in plan['sites'][0]['rebind']] == ['shop.example.com', 'www.shop.example.com']
    assert plan['superseded'] == [], 'the certificate stays: it is the new one'


def test_old_certificate_still_used_elsewhere_or_in_another_store_is_kept(certs):
    old, other = windows_thumbprint(certs['old'][0]), windows_thumbprint(certs['other'][0])
    current = [
        {'name': 'Shop', 'bindings': [binding('shop.example.com', old, store=STORE), binding('www.shop.example.com', other, store='My')]},
        {'name': 'Legacy', 'bindings': [binding('legacy.example.com', old, store=STORE)]},
    ]
    plan = render_plan([site()], {'shop': pem(certs['shop'][0])}, current)
    assert len(plan['sites'][0]['rebind']) == 2
    # "old" still serves legacy.example.com; "other" lives in My, which this role does not manage.
    assert plan['superseded'] == []


def test_two_sites_share_one_certificate_and_drop_the_same_old_one_once(certs):
    old = windows_thumbprint(certs['old'][0])
    current = [{'name': 'A', 'bindings': [binding('a.example.com', old, store=STORE)]},
               {'name': 'B', 'bindings': [binding('b.example.com', old, store=STORE)]}]
    sites = [site('A', hostnames=['a.example.com']), site('B', hostnames=['b.example.com'])]
    plan = render_plan(sites, {'shop': pem(certs['shop'][0])}, current)
    assert [len(entry['rebind']) for entry in plan['sites']] == [1, 1]
    assert plan['superseded'] == [old]


def test_a_site_whose_certificate_has_no_pem_or_a_broken_one_is_named(certs):
    with pytest.raises(AnsibleFilterError, match='no certificate PEM for shop of site Shop'):
        render_plan([site()], {}, [])
    with pytest.raises(AnsibleFilterError, match='iis_plan: .*shop'):
        render_plan([site()], {'shop': 'not a certificate'}, [])


def test_wrong_input_types_are_refused():
    with pytest.raises(AnsibleFilterError):
        render_plan({'name': 'Shop'}, {}, [])
