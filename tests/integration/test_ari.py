# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ACME Renewal Information (RFC 9773) and lifetime-relative renewal, through
ansible-playbook against the current Pebble: the CA's window decides when a
certificate is renewed, its answer is kept until Retry-After, a renewal names
the certificate it replaces (once only), a revoked certificate is renewed at
once, and without usable ARI the lifetime rule decides."""

import datetime
import json
import os
import re

import pytest
import requests

from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from tests.lib import services as service_lib
from tests.lib.fault_proxy import NEW_ORDER, Fault, FaultProxy
from tests.lib.playbook import run_playbook

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CYCLE = os.path.join(HERE, 'playbooks', 'ari_cycle.yml')
SINGLE = os.path.join(HERE, 'playbooks', 'single_task.yml')
SIX_DAYS = 6 * 86400
UTC = datetime.timezone.utc


@pytest.fixture(scope='module')
def pebble_six_days(services, tmp_path_factory):
    """A Pebble whose only profile issues 6-day certificates."""
    pebble = service_lib.start_pebble(str(tmp_path_factory.mktemp('pebble-6d')), services.bind.port, services.web.http_port,
                                      env={'PEBBLE_AUTHZREUSE': '0'},
                                      config={'profiles': {'default': {'description': 'six days', 'validityPeriod': SIX_DAYS}}})
    yield pebble
    pebble.stop()


def _vars(acme_vars, pebble, name, **acme):
    values = dict(acme_vars, cert_name=name, cert_domains=['%s.%s' % (name, acme_vars['zone'])])
    defaults = dict(values['certflow_defaults'])
    defaults['acme'] = dict(defaults['acme'], directory=pebble.directory_url, ca_bundle=pebble.ca_bundle, **acme)
    values['certflow_defaults'] = defaults
    return values


def cycle(values, check=False):
    return run_playbook(CYCLE, values, check=check)


def requested(result):
    return result.task('Request')['result']['certificates'][0]


def info(result):
    return result.task('Info')['result']


def stored_cert(values):
    with open(os.path.join(values['store_dir'], values['cert_name'], 'cert.pem')) as handle:
        return handle.read()


def renewal_file(values):
    return os.path.join(values['store_dir'], values['cert_name'], 'renewal.json')


def renewal_record(values):
    with open(renewal_file(values)) as handle:
        return json.load(handle)


def retry_after_elapsed(values):
    """Time passes: the kept answer's Retry-After is over (as six hours later)."""
    record = renewal_record(values)
    record['next_check'] = '2000-01-01T00:00:00Z'
    with open(renewal_file(values), 'w') as handle:
        json.dump(record, handle)


def set_renewal_info(pebble, cert_pem, answer):
    """What Pebble answers for this certificate from now on (any text, even broken JSON)."""
    text = answer if isinstance(answer, str) else json.dumps(answer)
    response = requests.post(pebble.management_url + '/set-renewal-info/', json={'Certificate': cert_pem, 'ARIResponse': text},
                             verify=pebble.ca_bundle, timeout=5)
    response.raise_for_status()


def window_now(explanation=None):
    now = datetime.datetime.now(UTC)
    answer = {'suggestedWindow': {'start': (now - datetime.timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%SZ'),
                                  'end': (now - datetime.timedelta(minutes=1)).strftime('%Y-%m-%dT%H:%M:%SZ')}}
    if explanation:
        answer['explanationURL'] = explanation
    return answer


def log_lines(pebble, text):
    with open(pebble.log_path) as handle:
        return sum(1 for line in handle if text in line)


def renewal_info_gets(pebble):
    return log_lines(pebble, 'renewalInfo')


def replacements(pebble):
    return log_lines(pebble, 'is a replacement of')


def parse(text):
    return datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))


def test_six_day_certificate_kept_then_renewed_inside_its_window(services, pebble_six_days, acme_vars):
    values = _vars(acme_vars, pebble_six_days, 'sixday')
    first = cycle(values).assert_ok()
    issued = info(first)
    lifetime = parse(issued['not_after']) - parse(issued['not_before'])
    assert abs(lifetime.total_seconds() - SIX_DAYS) < 120
    assert issued['renewal_source'] == 'ari'
    window = issued['renewal_window']
    chosen = parse(issued['renewal_time'])
    assert parse(window['start']) <= chosen <= parse(window['end'])
    # Pebble suggests the middle of the lifetime: nowhere near now, and not the old fixed 30 days.
    assert parse(window['start']) > datetime.datetime.now(UTC) + datetime.timedelta(days=2)
    assert issued['needs_renewal'] is False

    gets = renewal_info_gets(pebble_six_days)
    assert gets == 1, 'asked once, right after issuance'
    second = cycle(values).assert_ok()
    assert requested(second)['action'] == 'none' and requested(second)['changed'] is False
    assert info(second)['serial'] == issued['serial']
    assert info(second)['renewal_time'] == issued['renewal_time'], 'the time picked in the window is kept'
    assert renewal_info_gets(pebble_six_days) == gets, 'within Retry-After the CA is not asked again'

    # The CA moves the window to now (and says why); once Retry-After is over the renewal starts.
    set_renewal_info(pebble_six_days, stored_cert(values), window_now('https://ca.example/incident/42'))
    retry_after_elapsed(values)
    before = replacements(pebble_six_days)
    third = cycle(values).assert_ok()
    renewed = requested(third)
    assert renewed['action'] == 'renew' and renewed['renewal_source'] == 'ari'
    assert renewed['explanation_url'] == 'https://ca.example/incident/42'
    assert any('https://ca.example/incident/42' in w for w in renewed.get('warnings', [])), renewed
    assert replacements(pebble_six_days) == before + 1, 'the renewal order names the certificate it replaces'
    assert info(third)['serial'] != issued['serial']
    order = json.load(open(os.path.join(values['store_dir'], 'sixday', 'order.json')))
    assert order['provider_data']['replaces']

    fourth = cycle(values).assert_ok()
    assert requested(fourth)['action'] == 'none'
    assert info(fourth)['serial'] == info(third)['serial']


def test_a_replacing_order_is_sent_once_even_when_its_answer_is_lost(services, acme_vars):
    """Pebble accepts one order replacing a certificate: the lost answer of a
    replacing newOrder is found in the account's order list and resumed, in the
    same run or in the next one after a run that died, never sent again."""
    pebble = services.pebble
    with FaultProxy(pebble, lifetime=240) as proxy:
        values = _vars(acme_vars, proxy, 'lostreplace')
        cycle(values).assert_ok()
        first_serial = _crypto.cert_summary(stored_cert(values))['serial']

        # The answer to the replacing newOrder is lost: the same run finds the order and goes on with it.
        set_renewal_info(pebble, stored_cert(values), window_now())
        retry_after_elapsed(values)
        before = replacements(pebble)
        proxy.add(Fault('drop_after', path=NEW_ORDER, times=1))
        lost = cycle(values).assert_ok()
        assert proxy.fired('drop_after') == 1
        assert requested(lost)['action'] == 'renew'
        assert replacements(pebble) == before + 1, 'newOrder with replaces went out once'
        second_serial = info(lost)['serial']
        assert second_serial != first_serial

        # Now the run dies after the CA made the replacing order (its answer lost and the order list unreachable) ...
        set_renewal_info(pebble, stored_cert(values), window_now())
        retry_after_elapsed(values)
        proxy.add(Fault('drop_after', path=NEW_ORDER, times=1), Fault('status', path='/my-account/', status=500, times=None))
        died = cycle(values)
        assert died.rc != 0
        assert replacements(pebble) == before + 2
        proxy.clear()
        # ... and the next run resumes that order instead of sending a second one (which Pebble would take as well).
        resumed = cycle(values).assert_ok()
        assert requested(resumed)['action'] == 'renew'
        assert any('already replaces' in m for m in requested(resumed).get('messages', [])), requested(resumed)
        assert replacements(pebble) == before + 2, 'the replacing order was resumed, not sent again'
        assert info(resumed)['serial'] not in (first_serial, second_serial)


def test_a_revoked_certificate_is_renewed_at_once(services, acme_vars):
    values = _vars(acme_vars, services.pebble, 'arirevoked')
    issued = info(cycle(values).assert_ok())
    assert issued['needs_renewal'] is False and issued['renewal_source'] == 'ari'
    revoke_args = {'name': 'arirevoked', 'reason': 'key_compromise', 'confirm': True}
    run_playbook(SINGLE, dict(values, module='cert_revoke', module_args=revoke_args)).assert_ok()
    described = run_playbook(SINGLE, dict(values, module='cert_info', module_args={'name': 'arirevoked'})).assert_ok()
    now_says = described.task('Info')['result']
    assert now_says['renewal_source'] == 'ari', 'the CA is asked again once the certificate is revoked'
    assert parse(now_says['renewal_window']['end']) < datetime.datetime.now(UTC)
    assert now_says['needs_renewal'] is True
    renewed = cycle(values).assert_ok()
    assert requested(renewed)['changed'] is True
    assert info(renewed)['serial'] != issued['serial'] and info(renewed)['needs_renewal'] is False


@pytest.mark.parametrize('answer, problem', [
    ('{"suggestedWindow": {"start": "2026-', 'not a JSON object'),
    (json.dumps({'suggestedWindow': {'start': 'soon', 'end': '2030-01-01T00:00:00Z'}}), 'not an RFC 3339 time'),
    (json.dumps({'explanationURL': 'https://ca.example/'}), 'no suggestedWindow'),
    (json.dumps({'suggestedWindow': {'start': '2030-01-02T00:00:00Z', 'end': '2030-01-01T00:00:00Z'}}), 'ends'),
])
def test_a_broken_answer_falls_back_to_the_lifetime_with_a_warning(pebble_six_days, acme_vars, answer, problem):
    values = _vars(acme_vars, pebble_six_days, 'aribroken')
    cycle(values).assert_ok()
    set_renewal_info(pebble_six_days, stored_cert(values), answer)
    retry_after_elapsed(values)
    kept = cycle(values).assert_ok()
    entry = requested(kept)
    assert entry['action'] == 'none' and entry['renewal_source'] == 'ratio' and entry['renewal_window'] is None
    assert any(problem in w and 'lifetime rule' in w for w in entry.get('warnings', [])), entry
    # The lifetime rule decides meanwhile: with (almost) all of the lifetime as the margin it renews.
    renewed = cycle(dict(values, renew_before_ratio=0.9999999)).assert_ok()
    assert requested(renewed)['action'] == 'renew'


def test_ari_false_uses_the_lifetime_rule(pebble_six_days, acme_vars):
    values = _vars(acme_vars, pebble_six_days, 'arioff', ari=False)
    gets = renewal_info_gets(pebble_six_days)
    first = info(cycle(values).assert_ok())
    assert first['renewal_source'] == 'ratio' and first['renewal_window'] is None
    not_before, not_after = parse(first['not_before']), parse(first['not_after'])
    expected = not_after - (not_after - not_before) / 3
    assert abs((parse(first['renewal_time']) - expected).total_seconds()) <= 1
    # The CA would say "now", but it is not asked.
    set_renewal_info(pebble_six_days, stored_cert(values), window_now())
    second = cycle(values).assert_ok()
    assert requested(second)['action'] == 'none'
    assert renewal_info_gets(pebble_six_days) == gets
    before = replacements(pebble_six_days)
    renewed = cycle(dict(values, renew_before_ratio=0.9999999)).assert_ok()
    assert requested(renewed)['action'] == 'renew' and requested(renewed)['renewal_source'] == 'ratio'
    assert replacements(pebble_six_days) == before, 'ari: false sends no replaces either'


def test_ninety_days_not_renewed_early_and_renew_before_days_still_works(services, acme_vars):
    values = _vars(acme_vars, services.pebble, 'ninety')
    first = info(cycle(values).assert_ok())
    assert parse(first['not_after']) - parse(first['not_before']) > datetime.timedelta(days=89)
    assert first['renewal_source'] == 'ari'
    assert parse(first['renewal_window']['start']) > datetime.datetime.now(UTC) + datetime.timedelta(days=55)
    assert requested(cycle(values).assert_ok())['action'] == 'none'
    not_yet = requested(cycle(dict(values, renew_before_days=89)).assert_ok())
    assert not_yet['action'] == 'none' and not_yet['renewal_source'] == 'days'
    renewed = cycle(dict(values, renew_before_days=90)).assert_ok()
    assert requested(renewed)['action'] == 'renew' and requested(renewed)['renewal_source'] == 'days'
    assert info(renewed)['serial'] != first['serial']


def doc_block(path, marker):
    with open(path, encoding='utf-8') as handle:
        match = re.search(r'<!-- %s -->\n```yaml\n(.*?)```' % re.escape(marker), handle.read(), re.S)
    assert match, '%s has no yaml block after <!-- %s -->' % (path, marker)
    return match.group(1)


def test_the_renewal_page_example_runs_against_pebble(services, store_dir, tmp_path):
    example = tmp_path / 'ari_example.yml'
    example.write_text(doc_block(os.path.join(ROOT, 'docs', 'workflow', '09-renew.md'), 'example: ari-renewal'))
    env = {'CERTFLOW_ACME_CA_BUNDLE': services.pebble.ca_bundle, 'CERTFLOW_RFC2136_PORT': str(services.bind.port),
           'CERTFLOW_DNS_NAMESERVERS': services.bind.nameserver}
    extra = {'acme_directory': services.pebble.directory_url, 'zone': services.bind.zone, 'dns_server': '127.0.0.1',
             'tsig_key_name': services.bind.tsig_name, 'tsig_secret': services.bind.tsig_secret, 'store_dir': store_dir}
    first = run_playbook(str(example), extra, env=env).assert_ok()
    due = first.task('When is it due, and who said so')['result']
    assert due['renewal_source'] == 'ari' and due['renewal_window'] and due['needs_renewal'] is False
    assert due['renewal'] == {'source': 'ari', 'window_start': due['renewal_window']['start'],
                              'window_end': due['renewal_window']['end'], 'renew_at': due['renewal_time'], 'explanation_url': None}
    again = run_playbook(str(example), extra, env=env).assert_ok()
    assert again.task('Keep it, or renew it inside the CA\'s window')['result']['certificates'][0]['action'] == 'none'
    assert again.task('When is it due, and who said so')['result']['renewal_time'] == due['renewal_time']


def test_the_report_shows_when_each_certificate_is_due(services, acme_vars, tmp_path):
    values = _vars(acme_vars, services.pebble, 'reported')
    cycle(values).assert_ok()
    set_renewal_info(services.pebble, stored_cert(values), window_now('https://ca.example/why'))
    retry_after_elapsed(values)
    report_dir = tmp_path / 'report'
    run_playbook(os.path.join(ROOT, 'playbooks', 'report.yml'), {
        'certflow_report_hosts': 'nowhere', 'certflow_store_dir': values['store_dir'], 'certflow_report_dir': str(report_dir),
        'certflow_report_check_revocation': 'none', 'certflow_acme': values['certflow_defaults']['acme']}).assert_ok()
    with open(report_dir / 'certflow-report.json') as handle:
        row = json.load(handle)['certificates'][0]
    assert row['renewal_source'] == 'ari' and row['needs_renewal'] is True
    assert row['explanation_url'] == 'https://ca.example/why' and parse(row['renewal_window']['end']) < datetime.datetime.now(UTC)
    page = (report_dir / 'certflow-report.html').read_text()
    assert 'data-source="ari"' in page and 'href="https://ca.example/why"' in page and 'data-state="due"' in page


def test_already_replaced_is_ordered_again_without_replaces(services, acme_vars):
    pebble = services.pebble
    values = _vars(acme_vars, pebble, 'restored')
    cycle(values).assert_ok()
    folder = os.path.join(values['store_dir'], 'restored')
    backup = {}
    for entry in ('cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem', 'order.json'):
        with open(os.path.join(folder, entry)) as handle:
            backup[entry] = handle.read()
    set_renewal_info(pebble, backup['cert.pem'], window_now())
    retry_after_elapsed(values)
    cycle(values).assert_ok()
    # A backup of the store brings the replaced certificate back; the CA still says "renew it now".
    for entry, text in backup.items():
        with open(os.path.join(folder, entry), 'w') as handle:
            handle.write(text)
    os.unlink(renewal_file(values))
    before = replacements(pebble)
    again = cycle(values).assert_ok()
    entry = requested(again)
    assert entry['action'] == 'renew'
    assert any('replaced already' in w and 'alreadyReplaced' in w for w in entry.get('warnings', [])), entry
    assert replacements(pebble) == before, 'the order that went through names no certificate it replaces'
    assert info(again)['serial'] != _crypto.cert_summary(backup['cert.pem'])['serial']
