#!/usr/bin/python
# Copyright: (c) 2026, srcardoso.evolution developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: evolution_webhook
short_description: Configure the webhook of an Evolution API v2 instance
description:
  - Sets the URL, the events, the per-event URLs, the base64 flag and the custom headers of an
    instance's webhook, and enables or disables it.
  - Compares with C(GET /webhook/find) first and only sends C(POST /webhook/set) when something
    differs; after a set it reads the webhook back and fails if the stored URL or events are
    not those sent.
  - Options left out (V(null)) are neither compared nor changed, except O(events), see there.
  - Options use Ansible's names (O(by_events)); the module translates them to the API's fields.
version_added: 0.1.0
author:
  - srcardoso.evolution developers (@srcardoso)
extends_documentation_fragment:
  - srcardoso.evolution.connection
  - srcardoso.evolution.connection.action_group
attributes:
  check_mode:
    description: Reads the webhook and reports what would change, without writing.
    support: full
  diff_mode:
    description: Shows the webhook before and after; header values are masked.
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
  state:
    description:
      - V(present) configures the webhook as declared.
      - V(absent) disables it (the API has no way to delete it). Other options are ignored.
    type: str
    choices: [present, absent]
    default: present
  url:
    description:
      - The URL that receives the events (C(http://) or C(https://)). Required when
        O(state=present).
    type: str
  enabled:
    description: Whether the webhook is called. A disabled webhook stores no events.
    type: bool
    default: true
  events:
    description:
      - Event names, for example V(MESSAGES_UPSERT) or V(messages.upsert) (both spellings are
        accepted and validated against the 31 events of Evolution API 2.3 before any request).
      - V([]) or V([ALL]) means every event; it compares equal to the full list the API stores.
      - When not set, the stored events are kept (every event for a new webhook).
    type: list
    elements: str
  by_events:
    description:
      - Call a URL per event, the event name in kebab case appended to O(url)
        (for example C(<url>/messages-upsert)).
    type: bool
  base64:
    description:
      - Put media in messages as base64. The server applies a change at the next reconnect of
        the instance.
    type: bool
  headers:
    description:
      - HTTP headers the server adds to every webhook call, for example a token the receiver
        checks. Values must be strings.
      - Values are secrets; they are compared with the stored values but never returned or
        shown in the diff.
      - V({}) removes all custom headers; when not set the stored headers are kept.
    type: dict
notes:
  - Header values are compared with what the API stores, so a changed secret is detected and
    reported as C(******** (changed)) in the diff.
seealso:
  - module: srcardoso.evolution.evolution_instances
"""

EXAMPLES = r"""
---
- name: Send message and connection events to the backend
  srcardoso.evolution.evolution_webhook:
    name: support
    url: https://backend.example.com/whatsapp
    events:
      - MESSAGES_UPSERT
      - CONNECTION_UPDATE
      - QRCODE_UPDATED
    headers:
      X-Webhook-Token: "{{ vault_webhook_token }}"

- name: Send every event, one URL per event
  srcardoso.evolution.evolution_webhook:
    name: support
    url: https://backend.example.com/whatsapp
    events: [ALL]
    by_events: true

- name: Disable the webhook
  srcardoso.evolution.evolution_webhook:
    name: support
    state: absent
"""

RETURN = r"""
msg:
  description: What happened, in one sentence.
  returned: always
  type: str
  sample: "Webhook of instance 'support' updated: url, events changed."
existing:
  description: The webhook before the run (header values masked), or V(null) if none was set.
  returned: always
  type: dict
  sample: {"url": "https://old.example.com/hook", "enabled": true,
           "events": ["MESSAGES_UPSERT"], "by_events": false, "base64": false,
           "headers": {"X-Webhook-Token": "********"}}
proposed:
  description:
    - The body sent (or, in check mode, that would be sent) to C(POST /webhook/set), header
      values masked; V(null) when nothing changes.
  returned: always
  type: dict
  sample: {"webhook": {"enabled": true, "url": "https://backend.example.com/whatsapp",
           "events": ["MESSAGES_UPSERT"], "byEvents": false, "base64": false,
           "headers": {"X-Webhook-Token": "********"}}}
end_state:
  description: The webhook after the run, as read back from the API (header values masked).
  returned: always
  type: dict
differences:
  description: The fields that differ between the stored and the declared webhook.
  returned: always
  type: list
  elements: dict
  sample: [{"field": "url", "before": "https://old.example.com/hook",
            "after": "https://backend.example.com/whatsapp"}]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.srcardoso.evolution.plugins.module_utils._evolution import (
    validate_instance_name,
)
from ansible_collections.srcardoso.evolution.plugins.module_utils._managers import (
    WEBHOOK_OPTIONS,
    WebhookManager,
    argument_spec,
    desired_webhook,
    run_module,
)


def reconcile(module, client):
    name = validate_instance_name(module.params["name"])
    desired = desired_webhook(module.params, state=module.params["state"])
    manager = WebhookManager(client, module.check_mode)
    outcome, body = manager.plan(name, desired, manager.read(name))
    if body is not None and not module.check_mode:
        manager.apply(name, outcome, body)
    return outcome.result(module._diff)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(
            name=dict(type="str", required=True, aliases=["instance_name"]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            **WEBHOOK_OPTIONS,
        ),
        required_if=[("state", "present", ["url"])],
        supports_check_mode=True,
    )
    run_module(module, lambda client: reconcile(module, client))


if __name__ == "__main__":
    main()
