#!/usr/bin/python
# Copyright: (c) 2026, srcardoso.evolution developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: evolution_settings
short_description: Set the behaviour settings of an Evolution API v2 instance
description:
  - Sets call rejection (with its reply), group ignoring, always-online, read receipts and
    full history sync of an instance.
  - Compares with C(GET /settings/find) first and only sends C(POST /settings/set) when a
    declared setting differs. Settings left out (V(null)) are neither compared nor changed.
  - Options use Ansible's names (O(reject_call)); the module translates them to the API's
    camelCase fields (C(rejectCall)).
version_added: 0.1.0
author:
  - srcardoso.evolution developers (@srcardoso)
extends_documentation_fragment:
  - srcardoso.evolution.connection
  - srcardoso.evolution.connection.action_group
attributes:
  check_mode:
    description: Reads the settings and reports what would change, without writing.
    support: full
  diff_mode:
    description: Shows the settings before and after.
    support: full
  idempotent:
    description: A second run with the same options changes nothing and sends only one read.
    support: full
options:
  name:
    description: Name of the instance; it must exist.
    type: str
    required: true
    aliases: [instance_name]
  reject_call:
    description: Reject incoming calls.
    type: bool
  msg_call:
    description:
      - Message sent to a caller whose call was rejected (at most 100 characters).
      - V("") clears it.
    type: str
  groups_ignore:
    description: Ignore messages from groups.
    type: bool
  always_online:
    description:
      - Show the instance as online all the time. The server applies a change at the next
        reconnect of the instance.
    type: bool
  read_messages:
    description: Mark received messages as read.
    type: bool
  read_status:
    description: Mark status updates as seen.
    type: bool
  sync_full_history:
    description:
      - Ask WhatsApp for the full message history when pairing. The server applies a change
        at the next reconnect; the history can be large.
    type: bool
notes:
  - The API requires all six booleans in every update; the module sends the stored value for
    each one that is not declared.
seealso:
  - module: srcardoso.evolution.evolution_instances
"""

EXAMPLES = r"""
---
- name: Reject calls with a message and ignore groups
  srcardoso.evolution.evolution_settings:
    name: support
    reject_call: true
    msg_call: Calls are not answered here, please send a message.
    groups_ignore: true
"""

RETURN = r"""
msg:
  description: What happened, in one sentence.
  returned: always
  type: str
  sample: "Settings of instance 'support' updated: reject_call, msg_call changed."
existing:
  description: The settings before the run, or V(null) when the API has none.
  returned: always
  type: dict
  sample: {"reject_call": false, "msg_call": "", "groups_ignore": false,
           "always_online": false, "read_messages": false, "read_status": false,
           "sync_full_history": false}
proposed:
  description:
    - The body sent (or, in check mode, that would be sent) to C(POST /settings/set); V(null)
      when nothing changes.
  returned: always
  type: dict
  sample: {"rejectCall": true, "groupsIgnore": false, "alwaysOnline": false,
           "readMessages": false, "readStatus": false, "syncFullHistory": false,
           "msgCall": "busy"}
end_state:
  description: The settings after the run.
  returned: always
  type: dict
differences:
  description: The settings that differ between the stored and the declared values.
  returned: always
  type: list
  elements: dict
  sample: [{"field": "reject_call", "before": false, "after": true}]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.srcardoso.evolution.plugins.module_utils._evolution import (
    validate_instance_name,
)
from ansible_collections.srcardoso.evolution.plugins.module_utils._managers import (
    SETTINGS_OPTIONS,
    SettingsManager,
    argument_spec,
    desired_settings,
    run_module,
)


def reconcile(module, client):
    name = validate_instance_name(module.params["name"])
    desired = desired_settings(module.params)
    manager = SettingsManager(client, module.check_mode)
    outcome, body = manager.plan(name, desired, manager.read(name))
    if body is not None and not module.check_mode:
        manager.apply(name, outcome, body)
    return outcome.result(module._diff)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            name=dict(type="str", required=True, aliases=["instance_name"]),
            **SETTINGS_OPTIONS,
        ),
        supports_check_mode=True,
    )
    run_module(module, lambda client: reconcile(module, client))


if __name__ == "__main__":
    main()
