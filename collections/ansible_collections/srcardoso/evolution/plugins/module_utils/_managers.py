# Copyright: (c) 2026, srcardoso.evolution developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resource managers for Evolution API instances, webhooks and settings.

This module util is PRIVATE to the collection; its interface may change without notice.

Each manager reads, compares (``plan``) and writes (``apply``) one kind of resource. ``plan`` is
pure: it records every difference in one Differences object, from which ``changed``, the diff
and ``msg`` of the Outcome come. ``apply`` is never called in check mode, so a check run and a
no-op run only read.
"""

from __future__ import annotations

import time

from ansible_collections.srcardoso.evolution.plugins.module_utils._api import (
    CONNECTION_ARGSPEC,
    EvolutionClient,
    EvolutionError,
    EvolutionNotFound,
)
from ansible_collections.srcardoso.evolution.plugins.module_utils._evolution import (
    CREATE_ONLY_FIELDS,
    EVENTS,
    INSTANCE_FIELDS,
    SETTINGS_BOOLEANS,
    SETTINGS_FIELDS,
    WEBHOOK_FIND_FIELDS,
    Differences,
    events_equal,
    events_request,
    from_api,
    mask_instance,
    mask_instance_body,
    mask_webhook,
    mask_webhook_body,
    normalize_events,
    stored_events,
    validate_headers,
    validate_instance_name,
    validate_number,
    validate_webhook_url,
)

# Options shared by evolution_webhook / evolution_settings and the items of
# evolution_instances (documented in each module).
WEBHOOK_OPTIONS = dict(
    url=dict(type="str"),
    enabled=dict(type="bool", default=True),
    events=dict(type="list", elements="str"),
    by_events=dict(type="bool"),
    base64=dict(type="bool"),
    headers=dict(type="dict", no_log=True),
)
SETTINGS_OPTIONS = dict(
    reject_call=dict(type="bool"),
    msg_call=dict(type="str"),
    groups_ignore=dict(type="bool"),
    always_online=dict(type="bool"),
    read_messages=dict(type="bool"),
    read_status=dict(type="bool"),
    sync_full_history=dict(type="bool"),
)


def argument_spec(**options):
    """The module's options plus the shared connection options."""
    spec = dict(CONNECTION_ARGSPEC)
    spec.update(options)
    return spec


def run_module(module, work):
    """Build the client, run ``work(client)`` and exit; every EvolutionError fails the task
    with its message (and the partial results it carries, if any)."""
    try:
        client = EvolutionClient.from_params(module.params)
        result = work(client)
    except EvolutionError as exc:
        module.fail_json(msg=exc.msg, **getattr(exc, "results", {}))
    module.exit_json(**result)


def desired_instance(params, field=""):
    """Validated instance options (name, state, integration, token, number, recreate)."""
    return {
        "name": validate_instance_name(params.get("name"), f"{field}name"),
        "state": params.get("state") or "present",
        "integration": params.get("integration") or "WHATSAPP-BAILEYS",
        "token": params.get("token"),
        "number": validate_number(params.get("number"), f"{field}number"),
        "recreate": bool(params.get("recreate")),
    }


def desired_webhook(params, field="", state="present"):
    """Validated webhook options; events normalised; raises before any request."""
    desired = {name: params.get(name) for name in WEBHOOK_OPTIONS}
    desired["state"] = state
    if desired["enabled"] is None:
        desired["enabled"] = True
    if state == "present":
        if desired["url"] is None:
            raise EvolutionError(f"{field}url is required to configure a webhook.")
        validate_webhook_url(desired["url"], f"{field}url")
    desired["events"] = normalize_events(desired["events"], f"{field}events")
    desired["headers"] = validate_headers(desired["headers"], f"{field}headers")
    return desired


def desired_settings(params, field=""):
    desired = {name: params.get(name) for name in SETTINGS_OPTIONS}
    msg_call = desired["msg_call"]
    if msg_call is not None and len(msg_call) > 100:
        raise EvolutionError(
            f"{field}msg_call is {len(msg_call)} characters long; the API stores 100."
        )
    return desired


class Outcome:
    """What one module call did (or would do) to one resource, in the result contract."""

    def __init__(self, label, check_mode, plural=False):
        self.label = label
        self.be = "are" if plural else "is"
        self.check_mode = check_mode
        self.differences = Differences()
        self.existing = None
        self.proposed = None
        self.end_state = None
        self.before = None
        self.after = None
        self.verb = "updated"
        self.noop_state = None

    @property
    def changed(self):
        return bool(self.differences)

    @property
    def msg(self):
        if not self.changed:
            state = self.noop_state or ("absent" if self.end_state is None else "up to date")
            return f"{self.label} {self.be} {state}."
        would = "would be " if self.check_mode else ""
        if self.verb == "updated":
            return f"{self.label} {would}updated: {self.differences.summary()} changed."
        if self.verb == "re-created":
            drift = ", ".join(f for f in self.differences.fields() if f != "exists")
            return f"{self.label} {would}re-created because its {drift} differed."
        return f"{self.label} {would}{self.verb}."

    def result(self, diff=False):
        result = {
            "changed": self.changed,
            "msg": self.msg,
            "existing": self.existing,
            "proposed": self.proposed,
            "end_state": self.end_state,
            "differences": self.differences.items,
        }
        if diff:
            result["diff"] = {"before": self.before or {}, "after": self.after or {}}
        return result


def _pause(attempt):
    return min(0.2 * (2**attempt), 2.0)


# ---------------------------------------------------------------------------------------------


class InstanceManager:
    """Instances: read through fetchInstances, create, delete (and wait), re-create."""

    def __init__(self, client, check_mode=False, wait_timeout_s=60.0, sleep=time.sleep):
        self.client = client
        self.check_mode = check_mode
        self.wait_timeout_s = wait_timeout_s
        self._sleep = sleep

    @staticmethod
    def view(row):
        return from_api(row, INSTANCE_FIELDS)

    def fetch_all(self):
        rows = self.client.get("instance", "fetchInstances", what="list the instances")
        if not isinstance(rows, list):
            raise EvolutionError(
                f"Could not list the instances: GET {self.client.api_url}/instance/fetchInstances "
                f"did not answer a JSON list. Check that api_url points at Evolution API v2."
            )
        return rows

    def fetch(self, name):
        """The fetchInstances row of ``name``, or None when the API does not list it."""
        try:
            rows = self.client.get(
                "instance",
                "fetchInstances",
                query={"instanceName": name},
                what=f"read instance {name!r}",
            )
        except EvolutionNotFound as exc:
            if exc.api_message and exc.api_message.startswith("Cannot "):
                raise
            return None
        for row in rows or []:
            if isinstance(row, dict) and row.get("name") == name:
                return row
        return None

    def plan(self, desired, row):
        """Compare; return (Outcome, action) with action none|create|delete|recreate."""
        name = desired["name"]
        outcome = Outcome(f"Instance {name!r}", self.check_mode)
        current = self.view(row)
        outcome.existing = mask_instance(current)
        outcome.before = outcome.existing
        if desired.get("state", "present") == "absent":
            if current is None:
                return outcome, "none"
            outcome.differences.add("exists", True, False)
            outcome.verb = "deleted"
            return outcome, "delete"
        wanted = {"name": name}
        wanted.update({field: desired.get(field) for field in CREATE_ONLY_FIELDS})
        if current is None:
            outcome.differences.add("exists", False, True)
            outcome.verb = "created"
            outcome.proposed = mask_instance_body(self.create_body(desired))
            outcome.end_state = mask_instance(self._predicted(wanted))
            outcome.after = outcome.end_state
            return outcome, "create"
        for field in CREATE_ONLY_FIELDS:
            outcome.differences.compare(
                field, current.get(field), wanted[field], secret=field == "token"
            )
        if not outcome.differences:
            outcome.end_state = outcome.existing
            outcome.after = outcome.existing
            return outcome, "none"
        drift = outcome.differences.fields()
        if not desired.get("recreate"):
            raise EvolutionError(
                f"Instance {name!r} exists with a different {' and '.join(drift)} than declared. "
                f"The API cannot change {'it' if len(drift) == 1 else 'them'}, and replacing the "
                f"instance deletes its WhatsApp session, chats and messages. Declare the stored "
                f"value (see srcardoso.evolution.evolution_instance_info), or set recreate: true "
                f"to delete and re-create the instance."
            )
        outcome.verb = "re-created"
        outcome.proposed = mask_instance_body(self.create_body(desired))
        predicted = dict(current, **{k: v for k, v in wanted.items() if v is not None})
        outcome.end_state = mask_instance(predicted, compare_to=current)
        outcome.after = outcome.end_state
        return outcome, "recreate"

    @staticmethod
    def _predicted(wanted):
        view = dict.fromkeys(INSTANCE_FIELDS)
        view.update({k: v for k, v in wanted.items() if v is not None})
        view["connection_status"] = "close"
        return view

    @staticmethod
    def create_body(desired, settings_body=None):
        body = {
            "instanceName": desired["name"],
            "integration": desired["integration"],
            "qrcode": False,
        }
        if desired.get("token") is not None:
            body["token"] = desired["token"]
        if desired.get("number") is not None:
            body["number"] = desired["number"]
        if settings_body:
            body.update(settings_body)
        return body

    def apply(self, desired, outcome, action, settings_body=None):
        """Carry out ``action``; fill outcome.end_state. Never called in check mode."""
        name = desired["name"]
        if action in ("delete", "recreate"):
            self.delete(name)
            self.wait_gone([name])
        if action == "delete":
            outcome.end_state = None
            outcome.after = None
            return
        if action in ("create", "recreate"):
            body = self.create_body(desired, settings_body)
            outcome.proposed = mask_instance_body(body)
            answer = self.create(name, body, retry_taken=action == "recreate")
            created = answer.get("instance") or {}
            view = dict.fromkeys(INSTANCE_FIELDS)
            view.update(
                name=created.get("instanceName", name),
                id=created.get("instanceId"),
                integration=created.get("integration", desired["integration"]),
                number=desired.get("number"),
                token=answer.get("hash"),
                connection_status=created.get("status"),
            )
            outcome.end_state = mask_instance(view)
            outcome.after = outcome.end_state

    def create(self, name, body, retry_taken=False):
        """POST /instance/create. A 403 means the name is taken; after a delete that is the
        asynchronous removal still running, so ``retry_taken`` waits for it (bounded)."""
        deadline = time.monotonic() + self.wait_timeout_s
        attempt = 0
        while True:
            try:
                answer = self.client.post(
                    "instance",
                    "create",
                    body=body,
                    what=f"create instance {name!r}",
                    idempotent=False,
                )
                return answer if isinstance(answer, dict) else {}
            except EvolutionError as exc:
                if exc.status != 403:
                    raise
                if not retry_taken or time.monotonic() >= deadline:
                    raise EvolutionError(
                        f"Could not create instance {name!r}: the API says the name is already "
                        f"in use (HTTP 403 from POST {self.client.api_url}/instance/create) "
                        f"although it does not list it. It is probably still being deleted, or "
                        f"it belongs to another DATABASE_CONNECTION_CLIENT_NAME. Wait and run "
                        f"again, or choose another name.",
                        status=403,
                        api_message=exc.api_message,
                    ) from None
                self._sleep(_pause(attempt))
                attempt += 1

    def delete(self, name):
        self.client.delete(
            "instance", "delete", name, what=f"delete instance {name!r}", instance=name
        )

    def wait_gone(self, names):
        """Poll until the API no longer lists any of ``names`` (deletion is asynchronous)."""
        pending = set(names)
        if not pending or self.wait_timeout_s <= 0:
            return
        deadline = time.monotonic() + self.wait_timeout_s
        attempt = 0
        while True:
            if len(pending) == 1:
                (only,) = pending
                listed = {only} if self.fetch(only) is not None else set()
            else:
                listed = {row.get("name") for row in self.fetch_all()}
            pending &= listed
            if not pending:
                return
            if time.monotonic() >= deadline:
                raise EvolutionError(
                    f"Instance {', '.join(repr(n) for n in sorted(pending))} was deleted but is "
                    f"still listed after {self.wait_timeout_s:g} s. The server finishes a "
                    f"deletion only after delivering the REMOVE_INSTANCE webhook, which it "
                    f"retries for up to 20 minutes when the receiver fails. Check the webhook "
                    f"receiver, then run again or raise wait_timeout_s."
                )
            self._sleep(_pause(attempt))
            attempt += 1


# ---------------------------------------------------------------------------------------------


class WebhookManager:
    """The webhook of one instance: /webhook/find and /webhook/set (state absent disables)."""

    def __init__(self, client, check_mode=False):
        self.client = client
        self.check_mode = check_mode

    @staticmethod
    def view(body):
        view = from_api(body if isinstance(body, dict) else None, WEBHOOK_FIND_FIELDS)
        if view is not None:
            view["events"] = list(view.get("events") or [])
        return view

    def read(self, name):
        body = self.client.get(
            "webhook", "find", name, what=f"read the webhook of instance {name!r}", instance=name
        )
        return body if isinstance(body, dict) else None

    def plan(self, name, desired, stored):
        """``desired`` holds validated options (events already normalised); ``stored`` is the
        /webhook/find answer or None. Returns (Outcome, body or None)."""
        outcome = Outcome(f"Webhook of instance {name!r}", self.check_mode)
        current = self.view(stored)
        outcome.existing = mask_webhook(current)
        outcome.before = outcome.existing
        diffs = outcome.differences
        if desired.get("state", "present") == "absent":
            if current is None or not current["enabled"]:
                outcome.noop_state = "absent" if current is None else "disabled"
                outcome.end_state = outcome.existing
                outcome.after = outcome.existing
                return outcome, None
            diffs.add("enabled", True, False)
            target = dict(current, enabled=False, events=[])
            body = {"webhook": {"enabled": False, "url": current["url"], "events": []}}
        else:
            target, body = self._target(desired, current)
            base = current or {}
            diffs.compare("url", base.get("url"), target["url"])
            diffs.compare("enabled", base.get("enabled"), target["enabled"])
            if target["enabled"] and desired.get("events") is not None:
                diffs.compare(
                    "events",
                    None if current is None else base.get("events"),
                    list(desired["events"]),
                    equal=lambda a, b: a is not None and events_equal(a, b),
                )
            diffs.compare("by_events", base.get("by_events"), desired.get("by_events"))
            diffs.compare("base64", base.get("base64"), desired.get("base64"))
            if desired.get("headers") is not None:
                before = base.get("headers") or {}
                if before != desired["headers"]:
                    diffs.add(
                        "headers",
                        mask_webhook({"headers": before})["headers"],
                        mask_webhook(
                            {"headers": desired["headers"]}, compare_to={"headers": before}
                        )["headers"],
                    )
            if current is None:
                outcome.verb = "created"
        outcome.after = mask_webhook(target, compare_to=current)
        if not diffs:
            outcome.end_state = outcome.existing
            return outcome, None
        outcome.proposed = mask_webhook_body(body)
        outcome.end_state = outcome.after
        return outcome, body

    @staticmethod
    def _target(desired, current):
        """The stored state after /webhook/set, and the body that gets there."""
        base = current or {}
        enabled = desired.get("enabled", True)
        if desired.get("events") is not None:
            events = list(desired["events"])
        elif base.get("events"):
            events = list(base["events"])
        else:
            events = list(EVENTS)
        by_events = desired.get("by_events")
        base64 = desired.get("base64")
        inner = {
            "enabled": enabled,
            "url": desired["url"],
            "events": events_request(events) if enabled else [],
            "byEvents": bool(base.get("by_events")) if by_events is None else by_events,
            "base64": bool(base.get("base64")) if base64 is None else base64,
        }
        headers = base.get("headers")
        if desired.get("headers") is not None:
            inner["headers"] = dict(desired["headers"])
            headers = inner["headers"]
        target = {
            "url": inner["url"],
            "enabled": enabled,
            "events": list(events) if enabled else [],
            "by_events": inner["byEvents"],
            "base64": inner["base64"],
            "headers": headers,
        }
        return target, {"webhook": inner}

    def apply(self, name, outcome, body):
        """POST /webhook/set, then read it back and fail if the stored URL or events differ."""
        self.client.post(
            "webhook",
            "set",
            name,
            body=body,
            what=f"set the webhook of instance {name!r}",
            instance=name,
        )
        stored = self.read(name)
        current = self.view(stored)
        sent = body["webhook"]
        problems = []
        if current is None:
            problems.append("no webhook is stored")
        else:
            if current["url"] != sent["url"]:
                problems.append(f"url is {current['url']!r}, not {sent['url']!r}")
            if current["enabled"] != sent["enabled"]:
                problems.append(f"enabled is {current['enabled']}, not {sent['enabled']}")
            want = (sent["events"] or list(EVENTS)) if sent["enabled"] else []
            if stored_events(current["events"]) != set(want):
                problems.append(
                    f"events are {sorted(stored_events(current['events']))}, not {sorted(want)}"
                )
        if problems:
            raise EvolutionError(
                f"The webhook of instance {name!r} was set, but reading it back shows "
                f"{'; '.join(problems)}. The server did not store what was sent: check the "
                f"Evolution API version (2.3 is supported) and its log."
            )
        outcome.end_state = mask_webhook(current)


# ---------------------------------------------------------------------------------------------


class SettingsManager:
    """The settings of one instance: /settings/find and /settings/set."""

    def __init__(self, client, check_mode=False):
        self.client = client
        self.check_mode = check_mode

    @staticmethod
    def view(body):
        return from_api(body if isinstance(body, dict) else None, SETTINGS_FIELDS)

    def read(self, name):
        body = self.client.get(
            "settings",
            "find",
            name,
            what=f"read the settings of instance {name!r}",
            instance=name,
        )
        return body if isinstance(body, dict) else None

    @staticmethod
    def body(desired, current):
        """The /settings/set body: all six booleans (declared, else stored, else false) and
        msgCall only when declared (the API keeps it when it is left out)."""
        base = current or {}
        body = {}
        for name in SETTINGS_BOOLEANS:
            value = desired.get(name)
            if value is None:
                value = bool(base.get(name))
            body[SETTINGS_FIELDS[name]] = value
        if desired.get("msg_call") is not None:
            body["msgCall"] = desired["msg_call"]
        return body

    def plan(self, name, desired, stored):
        outcome = Outcome(f"Settings of instance {name!r}", self.check_mode, plural=True)
        current = self.view(stored)
        outcome.existing = current
        outcome.before = current
        if current is None:
            outcome.verb = "created"
        for field in SETTINGS_FIELDS:
            before = None if current is None else current.get(field)
            outcome.differences.compare(field, before, desired.get(field))
        body = self.body(desired, current)
        target = {field: body.get(api) for field, api in SETTINGS_FIELDS.items()}
        if target["msg_call"] is None:
            target["msg_call"] = (current or {}).get("msg_call", "")
        outcome.after = target
        if not outcome.differences:
            outcome.end_state = current
            return outcome, None
        outcome.proposed = body
        outcome.end_state = target
        return outcome, body

    def apply(self, name, outcome, body):
        self.client.post(
            "settings",
            "set",
            name,
            body=body,
            what=f"set the settings of instance {name!r}",
            instance=name,
        )
