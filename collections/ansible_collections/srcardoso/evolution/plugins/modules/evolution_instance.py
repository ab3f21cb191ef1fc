#!/usr/bin/python
# Copyright: (c) 2026, srcardoso.evolution developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: evolution_instance
short_description: Create or delete one WhatsApp instance on an Evolution API v2 server
description:
  - Makes sure an instance exists (O(state=present)) or does not (O(state=absent)).
  - The API cannot change an instance's token, integration or number after creation. When the
    stored values differ from the declared ones the module fails and says so, because the only
    fix, deleting and re-creating the instance, loses its WhatsApp session, chats and messages.
    Set O(recreate=true) to accept that loss.
  - Options use Ansible's names; the module translates them to the API's camelCase fields.
  - To manage many instances with their webhooks and settings in one call, use
    M(srcardoso.evolution.evolution_instances).
version_added: 0.1.0
author:
  - srcardoso.evolution developers (@srcardoso)
extends_documentation_fragment:
  - srcardoso.evolution.connection
  - srcardoso.evolution.connection.action_group
attributes:
  check_mode:
    description: Reads the instance and reports what would change, without writing.
    support: full
  diff_mode:
    description: Shows the instance before and after; the token is masked.
    support: full
  idempotent:
    description: A second run with the same options changes nothing and sends only one read.
    support: partial
    details: With O(recreate=true) and a drifted token, integration or number the instance is
      deleted and created again, once; after that the run is idempotent.
options:
  name:
    description:
      - Name of the instance, exactly as stored (case-sensitive, no surrounding spaces).
    type: str
    required: true
    aliases: [instance_name]
  state:
    description:
      - V(present) creates the instance when the API does not list it.
      - V(absent) deletes it and waits until the API no longer lists it (see O(wait_timeout_s)).
    type: str
    choices: [present, absent]
    default: present
  integration:
    description:
      - The channel of the instance. Only used on creation; a different stored value is drift.
    type: str
    choices: [WHATSAPP-BAILEYS, WHATSAPP-BUSINESS, EVOLUTION]
    default: WHATSAPP-BAILEYS
  token:
    description:
      - The instance's own API key. When not set, the API generates one at creation and the
        stored token is not compared.
      - Never shown in results or the diff.
    type: str
  number:
    description:
      - Phone number of the instance (country code and number, digits only). Only used on
        creation; a different stored value is drift. When not set it is not compared.
    type: str
  recreate:
    description:
      - Delete and re-create the instance when its stored token, integration or number differ
        from the declared ones.
      - B(This deletes the WhatsApp session, chats and messages of the instance.)
    type: bool
    default: false
  wait_timeout_s:
    description:
      - Seconds to wait, after a delete, until the API no longer lists the instance.
      - The server finishes a deletion only after it has delivered the E(REMOVE_INSTANCE)
        webhook, and retries that delivery for about 20 minutes when the receiver fails.
      - V(0) does not wait.
    type: float
    default: 60
notes:
  - Creation never opens a WhatsApp connection (C(qrcode=false)); use
    M(srcardoso.evolution.evolution_pairing) to pair a phone.
seealso:
  - module: srcardoso.evolution.evolution_instances
  - module: srcardoso.evolution.evolution_instance_info
  - module: srcardoso.evolution.evolution_pairing
"""

EXAMPLES = r"""
---
- name: Ensure the support instance exists
  srcardoso.evolution.evolution_instance:
    api_url: http://127.0.0.1:8080
    api_key: "{{ evolution_api_key }}"
    name: support

- name: Ensure the sales instance exists with a known token
  srcardoso.evolution.evolution_instance:
    name: sales
    token: "{{ vault_sales_token }}"
    number: "5511999998888"

- name: Delete an old instance and wait until it is gone
  srcardoso.evolution.evolution_instance:
    name: old-campaign
    state: absent
    wait_timeout_s: 120
"""

RETURN = r"""
msg:
  description: What happened, in one sentence.
  returned: always
  type: str
  sample: Instance 'support' created.
existing:
  description:
    - The instance as the API listed it before the run (token masked), or V(null).
  returned: always
  type: dict
  sample: {"name": "support", "id": "9758cc6c-...", "integration": "WHATSAPP-BAILEYS",
           "number": null, "token": "********", "connection_status": "close",
           "owner_jid": null, "profile_name": null, "created_at": "2026-12-03T16:25:00.435Z"}
proposed:
  description:
    - The body sent (or, in check mode, that would be sent) to C(POST /instance/create), token
      masked; V(null) when nothing is created.
  returned: always
  type: dict
  sample: {"instanceName": "support", "integration": "WHATSAPP-BAILEYS", "qrcode": false}
end_state:
  description: The instance after the run (token masked), or V(null) when it is absent.
  returned: always
  type: dict
differences:
  description:
    - The fields that differ between the stored and the declared state; the pseudo-field
      C(exists) stands for creation or deletion. Secrets are masked.
  returned: always
  type: list
  elements: dict
  sample: [{"field": "exists", "before": false, "after": true}]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.srcardoso.evolution.plugins.module_utils._evolution import INTEGRATIONS
from ansible_collections.srcardoso.evolution.plugins.module_utils._managers import (
    InstanceManager,
    argument_spec,
    desired_instance,
    run_module,
)


def reconcile(module, client):
    desired = desired_instance(module.params)
    manager = InstanceManager(client, module.check_mode, module.params["wait_timeout_s"])
    outcome, action = manager.plan(desired, manager.fetch(desired["name"]))
    if action != "none" and not module.check_mode:
        manager.apply(desired, outcome, action)
    return outcome.result(module._diff)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            name=dict(type="str", required=True, aliases=["instance_name"]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            integration=dict(type="str", choices=list(INTEGRATIONS), default=INTEGRATIONS[0]),
            token=dict(type="str", no_log=True),
            number=dict(type="str"),
            recreate=dict(type="bool", default=False),
            wait_timeout_s=dict(type="float", default=60.0),
        ),
        supports_check_mode=True,
    )
    run_module(module, lambda client: reconcile(module, client))


if __name__ == "__main__":
    main()
