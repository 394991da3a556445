# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DNS provider for manual DNS validation: the user creates the TXT record."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._dns.base import DNSProvider


class ManualProvider(DNSProvider):
    """``method: dns_manual``: nothing is created or removed here.

    The record to add is returned by ``cert_request`` (record_name,
    record_type, record_value) and the user adds it at whatever DNS host they
    use. ``present`` cannot do it for them, and ``cleanup`` must not delete a
    record this collection did not create (the user may keep it, or it may be
    shared with another validation), so both are no-ops. ``cert_validate``
    still waits until the value is visible on every authoritative server
    before it tells the CA.
    """

    NAME = 'manual'
    OPTION = None
    # Chosen by cert_validate's method dns_manual, not by dns_provider.
    CHOOSABLE = False

    def present(self, name, value):
        """The user adds the record; nothing to do."""

    def cleanup(self, name, value):
        """The user's record is left alone."""
