#!/usr/bin/python
# Copyright: (c) 2026, srcardoso.evolution developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: evolution_instances
short_description: Reconcile a declared list of Evolution API v2 instances with their webhooks
  and settings
description:
  - Makes the instances of one Evolution API server match a declared list, each with its
    webhook and settings, in one module call.
  - Reads once for all instances (C(GET /instance/fetchInstances), whose rows carry the
    settings) and once per declared webhook (C(GET /webhook/find)); a run that changes nothing
    sends only those reads. Instances are read and written in parallel (O(parallel)).
  - Validates every item and compares every instance before the first write. An invalid
    option, or an instance whose token, integration or number drifted without
    O(instances[].recreate=true), fails the run with nothing changed.
  - Instances the list does not declare are left alone and reported in RV(undeclared), unless
    O(prune=true).
  - Uses the same comparison rules as M(srcardoso.evolution.evolution_instance),
    M(srcardoso.evolution.evolution_webhook) and M(srcardoso.evolution.evolution_settings);
    see them for the meaning of each option.
version_added: 0.1.0
author:
  - srcardoso.evolution developers (@srcardoso)
extends_documentation_fragment:
  - srcardoso.evolution.connection
  - srcardoso.evolution.connection.action_group
attributes:
  check_mode:
    description: Reads everything and reports what would change, without writing.
    support: full
  diff_mode:
    description: Shows each changed instance, webhook and settings before and after, secrets
      masked.
    support: full
  idempotent:
    description: A second run with the same list changes nothing and sends only reads.
    support: partial
    details: With O(instances[].recreate=true) and a drifted instance the instance is
      re-created once; after that the run is idempotent.
options:
  instances:
    description: The instances that must exist (or, with O(instances[].state=absent), not).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the instance (case-sensitive). Each name may appear once.
        type: str
        required: true
      state:
        description: V(present) or V(absent), as in M(srcardoso.evolution.evolution_instance).
        type: str
        choices: [present, absent]
        default: present
      integration:
        description: The channel; only used on creation, a different stored value is drift.
        type: str
        choices: [WHATSAPP-BAILEYS, WHATSAPP-BUSINESS, EVOLUTION]
        default: WHATSAPP-BAILEYS
      token:
        description: The instance's own API key; not compared when not set. Never shown.
        type: str
      number:
        description: Phone number (digits); only used on creation, not compared when not set.
        type: str
      recreate:
        description:
          - Delete and re-create the instance when its token, integration or number drifted.
          - B(This deletes its WhatsApp session, chats and messages.)
        type: bool
        default: false
      webhook:
        description:
          - The instance's webhook, as in M(srcardoso.evolution.evolution_webhook). Not
            managed when not set; V(enabled=false) disables it.
        type: dict
        suboptions:
          url:
            description: The URL that receives the events (C(http://) or C(https://)).
            type: str
            required: true
          enabled:
            description: Whether the webhook is called.
            type: bool
            default: true
          events:
            description:
              - Event names (V(MESSAGES_UPSERT) or V(messages.upsert)); V([]) or V([ALL]) mean
                every event. When not set the stored events are kept.
            type: list
            elements: str
          by_events:
            description: Call a URL per event (C(<url>/<event-name>)).
            type: bool
          base64:
            description: Put media in messages as base64 (applied at the next reconnect).
            type: bool
          headers:
            description:
              - HTTP headers added to every webhook call; values must be strings and are
                secrets, compared but never shown. V({}) removes them.
            type: dict
      settings:
        description:
          - The instance's settings, as in M(srcardoso.evolution.evolution_settings). Not
            managed when not set; settings left out inside it are kept.
        type: dict
        suboptions:
          reject_call:
            description: Reject incoming calls.
            type: bool
          msg_call:
            description: Message sent to a rejected caller (at most 100 characters).
            type: str
          groups_ignore:
            description: Ignore messages from groups.
            type: bool
          always_online:
            description: Show the instance as online all the time (applied at the next
              reconnect).
            type: bool
          read_messages:
            description: Mark received messages as read.
            type: bool
          read_status:
            description: Mark status updates as seen.
            type: bool
          sync_full_history:
            description: Ask for the full history when pairing (applied at the next reconnect).
            type: bool
  prune:
    description:
      - Delete the instances the API lists that O(instances) does not declare.
      - B(Deleting an instance deletes its WhatsApp session, chats and messages.)
    type: bool
    default: false
  wait_timeout_s:
    description:
      - Seconds to wait, after each delete, until the API no longer lists the instance.
      - V(0) does not wait.
    type: float
    default: 60
  parallel:
    description: How many instances are read and written at the same time (1 to 16).
    type: int
    default: 4
notes:
  - Creation sends the declared settings in the create request and never opens a WhatsApp
    connection; use M(srcardoso.evolution.evolution_pairing) to pair a phone.
  - When one instance fails during the writes, the others are still reconciled; the task
    then fails with every error and returns the results of all instances.
seealso:
  - module: srcardoso.evolution.evolution_instance
  - module: srcardoso.evolution.evolution_webhook
  - module: srcardoso.evolution.evolution_settings
"""

EXAMPLES = r"""
---
- name: Reconcile the instances of this host
  srcardoso.evolution.evolution_instances:
    api_key: "{{ evolution_api_key }}"
    instances:
      - name: support
        webhook:
          url: https://backend.example.com/whatsapp
          events: [MESSAGES_UPSERT, CONNECTION_UPDATE]
          headers:
            X-Webhook-Token: "{{ vault_webhook_token }}"
        settings:
          reject_call: true
          msg_call: Please send a message instead.
          groups_ignore: true
      - name: sales
        token: "{{ vault_sales_token }}"
        webhook:
          url: https://backend.example.com/whatsapp
          events: [ALL]
      - name: old-campaign
        state: absent
"""

RETURN = r"""
msg:
  description: A summary of the run.
  returned: always
  type: str
  sample: "3 declared instances: 1 created, 0 changed, 1 deleted, 1 unchanged; 0 undeclared
    pruned."
instances:
  description:
    - One entry per declared instance, in the declared order, with the result of each
      resource (see M(srcardoso.evolution.evolution_instance) for their keys). Secrets masked.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The instance name.
      type: str
    state:
      description: The declared state.
      type: str
    changed:
      description: Whether anything of this instance changed (or would change).
      type: bool
    failed:
      description: Whether a write for this instance failed.
      type: bool
    msg:
      description: What happened to this instance.
      type: str
    instance:
      description: C(msg), C(existing), C(proposed), C(end_state) and C(differences) of the
        instance.
      type: dict
    webhook:
      description: The same for its webhook, or V(null) when not declared.
      type: dict
    settings:
      description: The same for its settings, or V(null) when not declared.
      type: dict
pruned:
  description: Names of the undeclared instances deleted (or that would be) with O(prune=true).
  returned: always
  type: list
  elements: str
undeclared:
  description: Names of the instances the API lists that the list does not declare (left
    alone because O(prune=false)).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.srcardoso.evolution.plugins.module_utils._api import EvolutionError
from ansible_collections.srcardoso.evolution.plugins.module_utils._evolution import INTEGRATIONS
from ansible_collections.srcardoso.evolution.plugins.module_utils._fleet import Reconciler
from ansible_collections.srcardoso.evolution.plugins.module_utils._managers import (
    SETTINGS_OPTIONS,
    WEBHOOK_OPTIONS,
    argument_spec,
    run_module,
)


def reconcile(module, client):
    parallel = module.params["parallel"]
    if not 1 <= parallel <= 16:
        raise EvolutionError(f"parallel must be between 1 and 16, not {parallel}.")
    reconciler = Reconciler(
        client,
        check_mode=module.check_mode,
        wait_timeout_s=module.params["wait_timeout_s"],
        parallel=parallel,
        prune=module.params["prune"],
    )
    return reconciler.run(module.params["instances"], diff=module._diff)


def main():
    webhook_options = dict(WEBHOOK_OPTIONS, url=dict(type="str", required=True))
    module = AnsibleModule(
        argument_spec=argument_spec(
            instances=dict(
                type="list",
                elements="dict",
                required=True,
                options=dict(
                    name=dict(type="str", required=True),
                    state=dict(type="str", choices=["present", "absent"], default="present"),
                    integration=dict(
                        type="str", choices=list(INTEGRATIONS), default=INTEGRATIONS[0]
                    ),
                    token=dict(type="str", no_log=True),
                    number=dict(type="str"),
                    recreate=dict(type="bool", default=False),
                    webhook=dict(type="dict", options=webhook_options),
                    settings=dict(type="dict", options=SETTINGS_OPTIONS),
                ),
            ),
            prune=dict(type="bool", default=False),
            wait_timeout_s=dict(type="float", default=60.0),
            parallel=dict(type="int", default=4),
        ),
        supports_check_mode=True,
    )
    run_module(module, lambda client: reconcile(module, client))


if __name__ == "__main__":
    main()
