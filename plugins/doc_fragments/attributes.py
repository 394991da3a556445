# -*- coding: utf-8 -*-
# Copyright (c) certflow.ssl contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the attributes every module shares."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying the target, or the CA.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  action_group:
    description: Use C(group/certflow.ssl.certflow) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - certflow.ssl.certflow
'''
