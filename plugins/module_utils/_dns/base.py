# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seam every DNS provider implements."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.certflow.ssl.plugins.module_utils._providers import Provider


class DNSProvider(Provider):
    """Creates and removes the TXT records of dns validation.

    ``present(name, value)`` adds one TXT value at ``name`` (a fully qualified
    name without the trailing dot, already resolved through any
    ``_acme-challenge`` CNAME), leaving other values at that name alone;
    ``cleanup(name, value)`` removes exactly that value. Callers only clean up
    what they presented (see ``RecordTracker``).
    """

    def __init__(self, settings, context):
        self.settings = settings or {}
        self.context = context

    def present(self, name, value):
        raise NotImplementedError

    def cleanup(self, name, value):
        raise NotImplementedError

    def close(self):
        """Release connections."""


class RecordTracker:
    """Remembers what a provider presented so cleanup touches nothing else."""

    def __init__(self, provider):
        self.provider = provider
        self.presented = []

    def present(self, name, value):
        self.provider.present(name, value)
        self.presented.append((name, value))

    def cleanup(self):
        """Remove every presented record; return the errors as messages so one
        failed removal does not keep the others in place."""
        errors = []
        while self.presented:
            name, value = self.presented.pop()
            try:
                self.provider.cleanup(name, value)
            except Exception as exc:  # noqa: BLE001 - report, keep cleaning
                errors.append('%s: %s' % (name, exc))
        return errors
