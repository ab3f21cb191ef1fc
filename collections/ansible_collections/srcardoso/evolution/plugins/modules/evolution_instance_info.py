#!/usr/bin/python
# Copyright: (c) 2026, srcardoso.evolution developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: evolution_instance_info
short_description: Read one or all instances of an Evolution API v2 server
description:
  - Returns the instances the API lists, each with its live connection state, its settings
    and (unless O(webhook=false)) its webhook.
  - Instance tokens and webhook header values are masked unless O(reveal_secrets=true).
version_added: 0.1.0
author:
  - srcardoso.evolution developers (@srcardoso)
extends_documentation_fragment:
  - srcardoso.evolution.connection
  - srcardoso.evolution.connection.action_group
attributes:
  check_mode:
    description: Only reads; runs the same in check mode.
    support: full
  diff_mode:
    description: Returns no diff.
    support: N/A
  idempotent:
    description: Only reads.
    support: full
options:
  name:
    description:
      - Name of one instance. When not set, every instance is returned.
      - An instance that does not exist gives an empty RV(instances), not an error.
    type: str
    aliases: [instance_name]
  webhook:
    description: Also read each instance's webhook (one request per instance).
    type: bool
    default: true
  reveal_secrets:
    description:
      - Return instance tokens and webhook header values in clear text.
      - B(They then appear in the task result and in any log of it.)
    type: bool
    default: false
seealso:
  - module: srcardoso.evolution.evolution_instances
"""

EXAMPLES = r"""
---
- name: Read every instance
  srcardoso.evolution.evolution_instance_info:
  register: evolution

- name: Show which instances are connected
  ansible.builtin.debug:
    msg: "{{ evolution.instances | items2dict(key_name='name', value_name='connection_state') }}"

- name: Read the token of the support instance for a backend
  srcardoso.evolution.evolution_instance_info:
    name: support
    reveal_secrets: true
  register: support
  no_log: true
"""

RETURN = r"""
msg:
  description: How many instances were found.
  returned: always
  type: str
  sample: 2 instances found.
instances:
  description: The instances, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Instance name.
      type: str
    id:
      description: Instance id (UUID).
      type: str
    integration:
      description: Channel (C(WHATSAPP-BAILEYS), C(WHATSAPP-BUSINESS) or C(EVOLUTION)).
      type: str
    number:
      description: Phone number given at creation, or V(null).
      type: str
    token:
      description: The instance's API key; C(********) unless O(reveal_secrets=true).
      type: str
    connection_status:
      description: Connection status stored in the database.
      type: str
    connection_state:
      description: Live connection state (C(open), C(connecting) or C(close)), or V(null) when
        the server does not have the instance loaded.
      type: str
    owner_jid:
      description: The WhatsApp id of the paired phone, or V(null).
      type: str
    profile_name:
      description: WhatsApp profile name, or V(null).
      type: str
    created_at:
      description: Creation time (ISO 8601).
      type: str
    settings:
      description: The settings (as the options of M(srcardoso.evolution.evolution_settings)).
      type: dict
    webhook:
      description:
        - The webhook (as the options of M(srcardoso.evolution.evolution_webhook)), header
          values masked; V(null) when none is set or O(webhook=false).
      type: dict
  sample: [{"name": "support", "id": "9758cc6c-630a-48e5-82b9-be56946fed8a",
            "integration": "WHATSAPP-BAILEYS", "number": null, "token": "********",
            "connection_status": "close", "connection_state": "close", "owner_jid": null,
            "profile_name": null, "created_at": "2026-12-03T16:25:00.435Z",
            "settings": {"reject_call": false, "msg_call": "", "groups_ignore": false,
                         "always_online": false, "read_messages": false,
                         "read_status": false, "sync_full_history": false},
            "webhook": null}]
"""

from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.srcardoso.evolution.plugins.module_utils._api import EvolutionNotFound
from ansible_collections.srcardoso.evolution.plugins.module_utils._evolution import (
    mask_instance,
    mask_webhook,
    validate_instance_name,
)
from ansible_collections.srcardoso.evolution.plugins.module_utils._managers import (
    InstanceManager,
    SettingsManager,
    WebhookManager,
    argument_spec,
    run_module,
)


def describe_instance(client, row, params):
    name = row.get("name")
    view = InstanceManager.view(row)
    reveal = params["reveal_secrets"]
    try:
        state = client.get(
            "instance", "connectionState", name, what=f"read the state of instance {name!r}"
        )
        view["connection_state"] = ((state or {}).get("instance") or {}).get("state")
    except EvolutionNotFound:
        view["connection_state"] = None
    setting = row.get("Setting")
    if not isinstance(setting, dict):
        setting = SettingsManager(client).read(name)
    view["settings"] = SettingsManager.view(setting)
    webhook = WebhookManager(client).read(name) if params["webhook"] else None
    view["webhook"] = mask_webhook(WebhookManager.view(webhook), reveal)
    return mask_instance(view, reveal)


def gather(module, client):
    params = module.params
    manager = InstanceManager(client)
    if params["name"] is not None:
        row = manager.fetch(validate_instance_name(params["name"]))
        rows = [row] if row else []
    else:
        rows = manager.fetch_all()
    rows = sorted((r for r in rows if isinstance(r, dict)), key=lambda r: str(r.get("name")))
    with ThreadPoolExecutor(max_workers=4) as pool:
        instances = list(pool.map(lambda row: describe_instance(client, row, params), rows))
    count = len(instances)
    if params["name"] is not None and not count:
        msg = f"Instance {params['name']!r} does not exist."
    else:
        msg = f"{count} instance{'s' if count != 1 else ''} found."
    return {"changed": False, "msg": msg, "instances": instances}


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            name=dict(type="str", aliases=["instance_name"]),
            webhook=dict(type="bool", default=True),
            reveal_secrets=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    run_module(module, lambda client: gather(module, client))


if __name__ == "__main__":
    main()
