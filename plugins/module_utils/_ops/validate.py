# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_validate for one certificate: put the proofs in place, check they
are visible, tell the CA, wait out its review, install the issued files, and
remove what we put in place."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.certflow.ssl.plugins.module_utils._ca.base import DNS_VALIDATIONS
from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError, Deadline, wait_until
from ansible_collections.certflow.ssl.plugins.module_utils import _crypto
from ansible_collections.certflow.ssl.plugins.module_utils._dns import DNS_PROVIDERS
from ansible_collections.certflow.ssl.plugins.module_utils._dns.base import RecordTracker
from ansible_collections.certflow.ssl.plugins.module_utils._ops import renewal as _renewal
from ansible_collections.certflow.ssl.plugins.module_utils._ops.results import certificate_entry, current_certificate
from ansible_collections.certflow.ssl.plugins.module_utils._proofs import webroot as _webroot

FINAL_STATUSES = ('issued', 'failed')
# The first look at an order the CA was told about just now. A look at once
# would nearly always find it still validating: one request for nothing.
FIRST_LOOK_AFTER = 0.05


def spec_from_order(name, order):
    identifiers = order.get('identifiers') or []
    domains = [i['value'] for i in identifiers if i['type'] == 'dns']
    return {
        'name': name,
        'domains': domains,
        'domains_unicode': order.get('domains_unicode') or [_crypto.from_punycode(d) for d in domains],
        'ip_addresses': [i['value'] for i in identifiers if i['type'] == 'ip'],
        'identifiers': identifiers,
        'validation': order.get('validation'),
    }


# The only TXT names dns validation creates: ACME dns-01 (and the local CA),
# dns-account-01 (an account's base32 label first), dns-persist-01, and
# Alibaba Cloud. A name from the CA or from proofs.json is used only after a
# full match.
RECORD_NAME = re.compile(r'(?:(?:_[a-z2-7]{16}\.)?_acme-challenge|_validation-persist|_dnsauth)(?:\.(?!-)[a-z0-9_-]{1,63}(?<!-))+',
                         re.IGNORECASE)
DNS_METHODS = DNS_VALIDATIONS + ('dns_manual',)
HOST_NAME = re.compile(r'(?=.{1,253}\Z)(?:(?!-)[a-z0-9_-]{1,63}(?<!-)\.)*(?!-)[a-z0-9_-]{1,63}(?<!-)', re.IGNORECASE)


def _is_dns(challenge):
    return bool(challenge.get('record_value'))


def _is_file(challenge):
    return bool(challenge.get('file_path')) and not _is_dns(challenge)


def check_record_name(name):
    if not isinstance(name, str) or not RECORD_NAME.fullmatch(name) or len(name) > 253:
        raise CertflowError('TXT record name %r refused: dns validation only creates records named _acme-challenge.<domain>, '
                            '_<account label>._acme-challenge.<domain>, _validation-persist.<domain> or _dnsauth.<domain>'
                            % (name,), record=name)
    return name


def _proof_label(proof):
    if not isinstance(proof, dict):
        return repr(proof)[:100]
    if proof.get('type') == 'dns':
        return 'TXT %s' % (proof.get('record') or proof.get('name'))
    return 'file %s in %s' % (proof.get('path'), proof.get('webroot'))


class _Proofs:
    """Puts proofs in place and takes away exactly what it put there.

    Each proof is noted in the store (proofs.json) before it is put in place,
    and the note goes when the proof does: what a killed run, or one that
    returned with ``wait: false``, left in DNS or in a webroot is removed by
    the run that finishes the order, whatever its method. proofs.json may be
    shared with other jobs, so a note is trusted only when it is one of this
    order's challenges, under this run's webroot and a challenge prefix."""

    def __init__(self, run, options, method, name=None):
        self.run = run
        self.options = options
        self.method = method
        self.nameservers = options.get('nameservers') or None
        self.tracker = None
        self.files = []
        self.name = name
        self.noted = run.store.load_proofs(name) if name else []
        self.ours = []
        # The dns-persist-01 records of this run (result field persistent_records): never noted, never removed.
        self.persistent = []

    def _dns_provider_name(self):
        return 'manual' if self.method == 'dns_manual' else (self.options.get('dns_provider') or DNS_PROVIDERS.default)

    def _dns_tracker(self):
        if self.tracker is None:
            self.tracker = RecordTracker(self.run.dns(self.options, self._dns_provider_name()))
        return self.tracker

    def _note(self, proof):
        self.ours.append(proof)
        if self.name and proof not in self.noted:
            self.noted.append(proof)
            self.run.store.save_proofs(self.name, self.noted)

    def _unnote(self, proof):
        self.ours.remove(proof)
        if self.name and proof in self.noted:
            self.noted.remove(proof)
            self.run.store.save_proofs(self.name, self.noted)

    def place(self, challenges):
        waits = []
        for challenge in challenges:
            if challenge.get('refused'):
                raise CertflowError(challenge['refused'])
            if _is_dns(challenge):
                if self.method not in DNS_METHODS:
                    raise CertflowError('the CA asks for a DNS record for %s but method is %s' % (challenge['domain'], self.method))
                check_record_name(challenge.get('record_name'))
                # dnspython only for DNS proofs (imported here, not for every run)
                from ansible_collections.certflow.ssl.plugins.module_utils._proofs import propagation
                target = propagation.follow_cname(challenge['record_name'], self.nameservers)
                if challenge.get('persistent'):
                    self._ensure_persistent(target, challenge)
                    waits.append(('persist', target, challenge))
                    continue
                if self._dns_provider_name() != 'manual':
                    self._note({'type': 'dns', 'provider': self._dns_provider_name(), 'name': target,
                                'record': challenge['record_name'], 'value': challenge['record_value']})
                self._dns_tracker().present(target, challenge['record_value'])
                waits.append(('dns', target, challenge))
            elif _is_file(challenge):
                if self.method != 'http':
                    raise CertflowError('the CA asks for a file for %s but method is %s' % (challenge['domain'], self.method))
                _webroot.check_challenge_path(challenge['file_path'])
                webroot = self.options.get('webroot')
                if webroot:
                    proof = {'type': 'file', 'webroot': webroot, 'path': challenge['file_path']}
                    # Noted by an earlier run of this order that was interrupted: its file is ours.
                    earlier = proof in self.noted
                    self._note(proof)
                    try:
                        _webroot.write_challenge(webroot, challenge['file_path'], challenge['file_content'], same_ok=earlier)
                    except CertflowError:
                        self._unnote(proof)
                        raise
                    self.files.append((webroot, challenge['file_path'], challenge['file_content']))
                waits.append(('http', challenge['url'], challenge))
        return waits

    def _ensure_persistent(self, target, challenge):
        """Create the dns-persist-01 record unless one that serves is in place
        already: created once, then no DNS change per issuance. It is not
        noted for removal: it is meant to stay (the user is told so)."""
        from ansible_collections.certflow.ssl.plugins.module_utils._proofs import propagation
        value = challenge['record_value']
        if any(p['value'] == value and p['name'] == target for p in self.persistent):
            return      # a name and its wildcard share the record
        record = {'name': target, 'type': 'TXT', 'value': value, 'created': False}
        self.persistent.append(record)
        if self._dns_provider_name() == 'manual':
            return      # the user creates it; the pre-check names it exactly
        try:
            servers = propagation.authoritative_servers(target, self.nameservers)
            # Some servers have it already: it is there and still spreading.
            in_place = len(propagation.missing_txt(target, persist_accepts(challenge), servers)) < len(servers)
        except CertflowError as exc:
            self.run.log('could not look for the dns-persist-01 record %s (%s): adding it (a value already there is left as it is)'
                         % (target, exc.msg))
            in_place = False
        if in_place:
            self.run.log('the dns-persist-01 record TXT %s is in place: no DNS change' % target)
            return
        # Not through the tracker: that one removes what it placed.
        self.run.dns(self.options, self._dns_provider_name()).present(target, value)
        record['created'] = True
        self.run.warn('created the dns-persist-01 record TXT %s "%s"; it stays in place on purpose: later orders of this ACME '
                      'account reuse it with no DNS change. Delete it yourself to withdraw the permission' % (target, value))

    def check_visible(self, waits):
        timeout = float(self.options.get('propagation_timeout') or 120)
        deadline = Deadline(min(timeout, max(self.run.deadline.remaining(), 1.0)))
        for kind, where, challenge in waits:
            if kind == 'persist':
                _wait_for_persistent(where, challenge, deadline, self.nameservers)
            elif kind == 'dns':
                from ansible_collections.certflow.ssl.plugins.module_utils._proofs import propagation
                propagation.wait_for_txt(where, challenge['record_value'], deadline, nameservers=self.nameservers)
            else:
                from ansible_collections.certflow.ssl.plugins.module_utils._proofs.http_check import wait_for_http_file
                wait_for_http_file(where, challenge['file_content'], deadline, nameservers=self.nameservers,
                                   port=self.options.get('http_check_port'))

    def remove(self, challenges):
        """Remove this run's proofs and the trusted ones earlier runs noted for
        this order (``challenges``: the order's); return what could not be
        removed, as messages. Notes not trusted are dropped with a warning."""
        errors = self.tracker.cleanup() if self.tracker else []
        while self.files:
            webroot, path, content = self.files.pop()
            try:
                _webroot.remove_challenge(webroot, path, content=content)
            except Exception as exc:  # noqa: BLE001 - report, keep cleaning
                errors.append('%s: %s' % (path, exc))
        return errors + self._remove_noted(challenges or [], this_run_failed=bool(errors))

    def result_fields(self):
        return {'persistent_records': self.persistent} if self.persistent else {}

    def _untrusted(self, proof, challenges):
        """Why the note ``proof`` is not one of ours to remove, or None."""
        if not isinstance(proof, dict):
            return 'not a proof note'
        if proof.get('type') == 'dns':
            record, name, value = proof.get('record') or proof.get('name'), proof.get('name'), proof.get('value')
            try:
                check_record_name(record)
            except CertflowError as exc:
                return exc.msg
            if any(c.get('persistent') and c.get('record_name') == record for c in challenges):
                return 'a dns-persist-01 record is meant to stay'
            # Only a provider with settings creates records ('manual' has none).
            if not DNS_PROVIDERS.settings_option(proof.get('provider')):
                return 'unknown DNS provider %r' % (proof.get('provider'),)
            if not any(c.get('record_name') == record and c.get('record_value') == value for c in challenges):
                return 'not a TXT value this order asked for'
            if not isinstance(name, str) or not HOST_NAME.fullmatch(name):
                return 'record name %r is not a DNS name' % (name,)
            if name.lower() != record.lower():
                from ansible_collections.certflow.ssl.plugins.module_utils._proofs import propagation
                if propagation.follow_cname(record, self.nameservers).lower() != name.lower():
                    return '%s is not where the CNAME of %s points' % (name, record)
            return None
        if proof.get('type') == 'file':
            path, webroot = proof.get('path'), self.options.get('webroot')
            try:
                _webroot.check_challenge_path(path)
            except CertflowError as exc:
                return exc.msg
            if not webroot or not isinstance(proof.get('webroot'), str) or \
                    os.path.abspath(proof['webroot']) != os.path.abspath(webroot):
                return 'this run\'s webroot is %s' % (webroot or 'not set')
            if not any(c.get('file_path') == path for c in challenges):
                return 'not a file this order asked for'
            return None
        return 'unknown proof type %r' % (proof.get('type'),)

    def _remove_noted(self, challenges, this_run_failed):
        """Remove what earlier runs noted and left; keep the notes of whatever
        could not be removed (this run's too, when its cleanup failed)."""
        keep, errors = [], []
        for proof in self.noted:
            if proof in self.ours:
                if this_run_failed:
                    keep.append(proof)
                continue
            try:
                reason = self._untrusted(proof, challenges)
            except CertflowError as exc:
                keep.append(proof)
                errors.append('%s (left by an earlier run): %s' % (_proof_label(proof), exc.msg))
                continue
            if reason:
                # Dropped: kept, it would be refused again on every run.
                self.run.warn('not removed, not a proof certflow made for this order: %s (%s)' % (_proof_label(proof), reason))
                continue
            try:
                if proof['type'] == 'dns':
                    self.run.dns(self.options, proof['provider']).cleanup(proof['name'], proof['value'])
                else:
                    content = [c.get('file_content') for c in challenges if c.get('file_path') == proof['path']][0]
                    _webroot.remove_challenge(proof['webroot'], proof['path'], content=content)
            except Exception as exc:  # noqa: BLE001 - report, keep cleaning
                keep.append(proof)
                errors.append('%s (left by an earlier run): %s' % (_proof_label(proof), getattr(exc, 'msg', None) or exc))
        if self.name and keep != self.noted:
            self.noted = keep
            self.run.store.save_proofs(self.name, keep)
        return errors


def persist_accepts(challenge):
    """A test of the TXT values at a dns-persist-01 name: does one of them serve ``challenge``?"""
    from ansible_collections.certflow.ssl.plugins.module_utils._proofs import dns_records

    def accepts(values):
        return any(dns_records.persist_problem(value, challenge['record_value'], challenge.get('issuer_domain_names')) is None
                   for value in values)
    return accepts


def persist_wanted(challenge):
    return 'TXT %s "%s"' % (challenge['record_name'], challenge['record_value'])


def _wait_for_persistent(where, challenge, deadline, nameservers):
    """Wait until a record serving the dns-persist-01 challenge is seen on every
    authoritative server; else fail naming the record to create and what is there."""
    from ansible_collections.certflow.ssl.plugins.module_utils._proofs import dns_records, propagation
    try:
        propagation.wait_for_txt(where, persist_accepts(challenge), deadline, nameservers=nameservers)
    except CertflowError as exc:
        try:
            found = propagation.visible_txt(where, nameservers)
        except CertflowError:
            found = []
        seen = ['"%s" is %s' % (value, dns_records.persist_problem(value, challenge['record_value'], challenge.get('issuer_domain_names'))
                                or 'right') for value in found]
        place = where if where.lower() == challenge['record_name'].lower() else '%s (where its CNAME points)' % where
        raise CertflowError('the dns-persist-01 record for %s is missing or wrong: create %s (it stays in place, bound to this ACME '
                            'account). At %s: %s; no record that serves on %s' % (
                                challenge['domain'], persist_wanted(challenge), place, '; '.join(seen) or 'no TXT record',
                                ', '.join(exc.details.get('missing') or []) or 'every server'),
                            record=challenge['record_name'], value=challenge['record_value'])


def _refused(name, order):
    """The CA's refusal, with the dns-persist-01 records it looked for."""
    wanted = sorted(set(persist_wanted(c) for c in order.get('challenges') or [] if c.get('persistent') and c.get('record_name')))
    return CertflowError('the CA refused %s: %s%s' % (name, order.get('error') or 'no reason given',
                                                      '; the dns-persist-01 record it looks for: %s' % ', '.join(wanted) if wanted else ''))


def validate_certificate(run, name, options):
    with run.certificate(name) as cert:
        return cert.result(_validate(run, name, options), 'validate and install')


def _validate(run, name, options):
    store = run.store
    order = store.load_order(name)
    if order is None and run.check_mode:
        return certificate_entry(spec_from_order(name, {}), store, 'processing', None, None, changed=True,
                                 msg='no order yet; cert_request would create one')
    if order is None:
        raise CertflowError('no order for certificate %s in %s: run certflow.ssl.cert_request first' % (name, store.root))
    spec = spec_from_order(name, order)
    status = order.get('status')
    summary = current_certificate(store, name)
    if status == 'issued':
        return certificate_entry(spec, store, 'issued', order, summary, changed=False)
    if status not in ('created', 'pending_validation', 'processing'):
        raise CertflowError('the order for %s is %s; run certflow.ssl.cert_request again to start a new one' % (name, status))
    if status == 'created':
        raise CertflowError('the order for %s was created without submitting it (quick_issue: false); '
                            'submit it with certflow.ssl.cert_request quick_issue: true' % name)
    method = options.get('method') or order.get('validation') or 'dns'
    if run.check_mode:
        return certificate_entry(spec, store, 'processing', order, summary, changed=True)

    provider = run.ca(dict(options, provider=order['provider']))
    proofs = _Proofs(run, options, method, name)
    wait = options.get('wait', True) is not False
    cleanup = options.get('cleanup', True) is not False
    try:
        if status == 'pending_validation':
            challenges = provider.challenges(order)
            order['challenges'] = challenges
            pending = [c for c in challenges if c.get('status') not in ('valid', 'processing')]
            waits = proofs.place(pending)
            if options.get('precheck', True) is not False:
                proofs.check_visible(waits)
            elif waits:
                run.warn('pre-check skipped (precheck: false): the CA was told at once, without checking from here that %s '
                         'can be seen' % ', '.join(sorted(set(where for _kind, where, _challenge in waits))))
            for challenge in pending:
                provider.ready(order, challenge)
            order['status'] = 'processing'
            order = store.save_order(name, order)
        if not wait:
            polled, _retry = provider.poll(order)
            order['status'] = polled if polled != 'pending_validation' else 'processing'
            order = store.save_order(name, order)
            if order['status'] != 'issued':
                if order['status'] == 'failed':
                    raise _refused(name, order)
                # Changed when proofs were placed now or the CA moved the order on.
                return certificate_entry(spec, store, order['status'], order, summary,
                                         changed=status == 'pending_validation' or order['status'] != status, **proofs.result_fields())
        else:
            _wait_for_issue(run, provider, order, name, just_told=status == 'pending_validation')
    except CertflowError:
        if order.get('status') == 'failed':
            store.save_order(name, order)
        raise
    finally:
        if cleanup and (wait or order.get('status') in FINAL_STATUSES):
            leftover = proofs.remove(order.get('challenges'))
            if leftover:
                run.warn('could not remove: %s' % '; '.join(leftover))
    summary = install_issued(run, provider, order, name)
    order['status'] = 'issued'
    order['serial'] = summary['serial']
    order['challenges'] = []
    order = store.save_order(name, order)
    return certificate_entry(spec, store, 'issued', order, summary, changed=True, **proofs.result_fields())


def _wait_for_issue(run, provider, order, name, just_told=False):
    def check():
        status, retry_after = provider.poll(order)
        order['status'] = status
        return status in FINAL_STATUSES, retry_after

    wait_until(check, run.deadline, 'the CA to issue %s' % name, first=FIRST_LOOK_AFTER if just_told else None)
    if order['status'] == 'failed':
        raise _refused(name, order)


def install_issued(run, provider, order, name):
    """Fetch, check and store the issued files. Nothing is written unless the
    certificate matches our key, covers the names and its chain verifies."""
    store = run.store
    issued = provider.fetch(order)
    cert = _crypto.load_certificate(issued['cert'])
    chain = _crypto.load_certificates(issued['chain']) if issued.get('chain') else []
    key_pem = store.read_pending_key(name) or issued.get('key')
    if not key_pem and order.get('own_key'):
        # A run stopped between moving the key into place and noting the order
        # issued: the installed key is the order's when the certificate is for it.
        installed = store.read(name, 'privkey')
        if installed and _crypto.cert_matches_key(cert, _crypto.load_private_key(installed)):
            key_pem = installed
    if not key_pem and order.get('own_key'):
        raise CertflowError('the private key made for the order of %s is missing from %s; nothing was installed. '
                            'Start a new order with certflow.ssl.cert_request force: true' % (name, store.cert_dir(name)))
    if key_pem and not _crypto.cert_matches_key(cert, _crypto.load_private_key(key_pem)):
        raise CertflowError('the certificate the CA issued for %s does not match our private key; nothing was installed' % name)
    # The renewal rule cert_request was given for this order (None: the CA's advice, else the lifetime share).
    days, ratio = order.get('renew_before_days'), order.get('renew_before_ratio')
    summary = _crypto.cert_summary(cert, renew_before_days=days, renew_before_ratio=ratio)
    wanted = set(i['value'] for i in order.get('identifiers') or [])
    have = set(summary['domains']) | set(summary['ip_addresses'])
    if not wanted <= have:
        raise CertflowError('the certificate issued for %s lacks %s; nothing was installed' % (name, ', '.join(sorted(wanted - have))))
    ok, reason = _crypto.verify_chain(cert, chain)
    if not ok:
        raise CertflowError('the chain the CA returned for %s does not verify (%s); nothing was installed' % (name, reason))
    store.install(name, cert=issued['cert'], chain=issued.get('chain') or '', fullchain=issued.get('fullchain') or issued['cert'],
                  key=key_pem)
    # RFC 9773 asks for the renewal information right after issuance; kept, it spares the next runs the question.
    return _renewal.advise(store, name, summary, cert, provider, renew_before_days=days, warn=run.warn)
