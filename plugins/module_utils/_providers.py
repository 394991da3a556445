# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What CA and DNS providers share: each provider class describes itself
(``Provider``) and a registry (``ProviderRegistry``, one in _ca, one in _dns)
lists the classes, finds one by name and builds the module options from them.
Adding a provider is its file plus one line in its registry; the modules, the
roles and the run name no provider."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import threading

from ansible.module_utils.basic import env_fallback

from ansible_collections.certflow.ssl.plugins.module_utils._common import CertflowError


def from_env(*names):
    """The ``fallback`` of an option read from the environment variables ``names``."""
    return (env_fallback, list(names))


class Provider:
    """What a provider class declares, right under its class line:

    ``NAME``: the value of the registry's option (``provider:``, ``dns_provider:``) that picks it.
    ``OPTION``: the module option (a dict) that carries its settings; None when it takes none.
    ``ARGUMENT_SPEC``: the suboptions of OPTION, with env fallbacks (``Provider.env``) and
    no_log on every secret; the modules' argument specs and documentation follow it.
    None: OPTION is a free-form dict (its keys are another library's), whose secrets
    ``secret_values(value)`` names so the module masks them like no_log ones.
    ``CHOOSABLE``: False when the registry's option cannot pick it (it is chosen some other
    way, e.g. by cert_validate's method), so it is not one of the option's choices.
    ``settings_from(options)``: its settings from one certificate's module options."""

    NAME = None
    OPTION = None
    ARGUMENT_SPEC = {}
    CHOOSABLE = True
    env = staticmethod(from_env)

    @property
    def name(self):
        return self.NAME

    @classmethod
    def secret_values(cls, value):
        """The secrets in ``value``, the OPTION as given, that no_log does not mask (a free-form OPTION's)."""
        return []

    @classmethod
    def settings_from(cls, options):
        """The settings an instance is made with: its own option's dict. A provider
        that also takes other module options (or checks them) overrides this."""
        return dict(options.get(cls.OPTION) or {}) if cls.OPTION else {}


class ProviderRegistry:
    """The providers chosen by the module option ``option`` (default ``default``).

    ``load()`` imports the provider classes and returns them. It is called on
    first use, so a module that never asks (cert_request and the DNS providers)
    never imports them. Each import is written out in the registry, not built
    from a string: AnsiballZ ships with a module only the module_utils it sees
    imported."""

    def __init__(self, option, default, load):
        self.option = option
        self.default = default
        self._load = load
        self._classes = None
        self._guard = threading.Lock()

    def classes(self):
        """{name: class} in registry order."""
        with self._guard:
            if self._classes is None:
                self._classes = dict((cls.NAME, cls) for cls in self._load())
            return self._classes

    def names(self):
        return list(self.classes())

    def get(self, name):
        """The class of provider ``name``; an unknown name is a CertflowError naming the known ones."""
        classes = self.classes()
        if not isinstance(name, str) or name not in classes:
            raise CertflowError('unknown %s %r; choose one of %s' % (self.option, name, ', '.join(sorted(classes))))
        return classes[name]

    def settings_option(self, name):
        """The option carrying provider ``name``'s settings; None for one without any or an unknown name."""
        cls = self.classes().get(name) if isinstance(name, str) else None
        return cls.OPTION if cls else None

    def settings_options(self):
        """The settings options of every provider, in registry order."""
        return [cls.OPTION for cls in self.classes().values() if cls.OPTION]

    def argument_spec(self):
        """The chooser option (its choices: the choosable providers) and each provider's dict option."""
        classes = self.classes()
        spec = {self.option: dict(type='str', choices=[name for name, cls in classes.items() if cls.CHOOSABLE],
                                  default=self.default)}
        for cls in classes.values():
            if cls.OPTION and cls.ARGUMENT_SPEC is None:
                spec[cls.OPTION] = dict(type='dict')
            elif cls.OPTION:
                spec[cls.OPTION] = dict(type='dict', apply_defaults=True, options=copy.deepcopy(cls.ARGUMENT_SPEC))
        return spec

    def secret_values(self, params):
        """The secrets in ``params``' free-form provider options (see Provider.secret_values)."""
        found = []
        for cls in self.classes().values():
            if cls.OPTION and isinstance(params, dict):
                found.extend(cls.secret_values(params.get(cls.OPTION)))
        return found
