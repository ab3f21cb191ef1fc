# Copyright: (c) 2026, srcardoso.evolution developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers for Evolution API resources: names, validation, comparison and masking.

This module util is PRIVATE to the collection; its interface may change without notice.

Everything here is free of I/O so that it can be tested as tables. Ansible option names
(snake_case) are translated to the API's camelCase in this file only.
"""

from __future__ import annotations

import urllib.parse

from ansible_collections.srcardoso.evolution.plugins.module_utils._api import EvolutionError

# The 31 event names that Evolution API 2.3 accepts on /webhook/set, in the order the API
# stores them when it is sent `events: []` (EventController.events).
EVENTS = (
    "APPLICATION_STARTUP",
    "QRCODE_UPDATED",
    "MESSAGES_SET",
    "MESSAGES_UPSERT",
    "MESSAGES_EDITED",
    "MESSAGES_UPDATE",
    "MESSAGES_DELETE",
    "SEND_MESSAGE",
    "SEND_MESSAGE_UPDATE",
    "CONTACTS_SET",
    "CONTACTS_UPSERT",
    "CONTACTS_UPDATE",
    "PRESENCE_UPDATE",
    "CHATS_SET",
    "CHATS_UPSERT",
    "CHATS_UPDATE",
    "CHATS_DELETE",
    "GROUPS_UPSERT",
    "GROUP_UPDATE",
    "GROUP_PARTICIPANTS_UPDATE",
    "CONNECTION_UPDATE",
    "LABELS_EDIT",
    "LABELS_ASSOCIATION",
    "CALL",
    "TYPEBOT_START",
    "TYPEBOT_CHANGE_STATUS",
    "REMOVE_INSTANCE",
    "LOGOUT_INSTANCE",
    "INSTANCE_CREATE",
    "INSTANCE_DELETE",
    "STATUS_INSTANCE",
)
ALL_EVENTS = "ALL"
INTEGRATIONS = ("WHATSAPP-BAILEYS", "WHATSAPP-BUSINESS", "EVOLUTION")
DEFAULT_INTEGRATION = "WHATSAPP-BAILEYS"

# What replaces a secret in every result, warning and diff.
MASK = "********"
# A masked secret whose value differs from the stored one.
MASK_CHANGED = "******** (changed)"

# Option name -> API field name, one table per API shape.
SETTINGS_FIELDS = {
    "reject_call": "rejectCall",
    "msg_call": "msgCall",
    "groups_ignore": "groupsIgnore",
    "always_online": "alwaysOnline",
    "read_messages": "readMessages",
    "read_status": "readStatus",
    "sync_full_history": "syncFullHistory",
}
# The six booleans /settings/set requires in every request.
SETTINGS_BOOLEANS = tuple(name for name in SETTINGS_FIELDS if name != "msg_call")
# /webhook/set request body (inside the "webhook" wrapper).
WEBHOOK_SET_FIELDS = {
    "url": "url",
    "enabled": "enabled",
    "events": "events",
    "by_events": "byEvents",
    "base64": "base64",
    "headers": "headers",
}
# /webhook/find answer (the database row).
WEBHOOK_FIND_FIELDS = {
    "url": "url",
    "enabled": "enabled",
    "events": "events",
    "by_events": "webhookByEvents",
    "base64": "webhookBase64",
    "headers": "headers",
}
# /instance/fetchInstances rows.
INSTANCE_FIELDS = {
    "name": "name",
    "id": "id",
    "integration": "integration",
    "number": "number",
    "token": "token",
    "connection_status": "connectionStatus",
    "owner_jid": "ownerJid",
    "profile_name": "profileName",
    "created_at": "createdAt",
}
# Instance fields the API cannot change after create: a difference is drift.
CREATE_ONLY_FIELDS = ("integration", "token", "number")
SECRET_INSTANCE_FIELDS = ("token",)


def from_api(body, fields):
    """The Ansible-named view of an API object (only the fields of the table)."""
    if body is None:
        return None
    return {name: body.get(api_name) for name, api_name in fields.items()}


def to_api(values, fields):
    """The API body for Ansible-named values, leaving out those that are None."""
    return {fields[name]: value for name, value in values.items() if value is not None}


# ---------------------------------------------------------------------------------------------
# Validation (before any request)


def validate_instance_name(name, field="name"):
    """Raise EvolutionError unless ``name`` can be used as an instance name."""
    if not isinstance(name, str) or not name:
        raise EvolutionError(f"{field} must be a non-empty string.")
    if name != name.strip():
        raise EvolutionError(
            f"{field} {name!r} starts or ends with white space; the API keeps it as part of the "
            f"name (and Evolution API 2.4 trims it): remove it."
        )
    if len(name) > 255:
        raise EvolutionError(f"{field} is {len(name)} characters long; the API allows 255.")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise EvolutionError(f"{field} {name!r} contains control characters: remove them.")
    return name


def validate_webhook_url(url, field="url"):
    """Raise EvolutionError unless ``url`` is an absolute http(s) URL with a host."""
    text = url if isinstance(url, str) else ""
    parts = urllib.parse.urlsplit(text)
    try:
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        port_ok = False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or any(char.isspace() for char in text)
    ):
        raise EvolutionError(
            f"{field} {url!r} is not an http(s) URL: the API stores any string but only calls "
            f"URLs like https://example.com/hook. Give a full http:// or https:// URL."
        )
    if len(text) > 500:
        raise EvolutionError(f"{field} is {len(text)} characters long; the API stores 500.")
    return text


def validate_headers(headers, field="headers"):
    """Raise EvolutionError unless ``headers`` maps header names to string values.

    The error names the header but never shows its value (header values are secrets).
    """
    if headers is None:
        return None
    if not isinstance(headers, dict):
        raise EvolutionError(f"{field} must be a mapping of header names to string values.")
    for key, value in headers.items():
        if not isinstance(key, str) or not key.strip():
            raise EvolutionError(f"{field}: header names must be non-empty strings.")
        if not isinstance(value, str):
            raise EvolutionError(
                f"{field}: the value of header {key!r} is a {type(value).__name__}, not a "
                f'string. Quote it in YAML (for example {key}: "..."), or use '
                f"'{{{{ value | string }}}}'."
            )
    return dict(headers)


def normalize_event(name, field="events"):
    """The canonical event name: ``messages.upsert`` or ``Messages_Upsert`` -> MESSAGES_UPSERT."""
    if not isinstance(name, str):
        raise EvolutionError(f"{field}: every event must be a string, not {name!r}.")
    canonical = name.strip().upper().replace(".", "_").replace("-", "_")
    if canonical not in EVENTS:
        raise EvolutionError(
            f"{field}: {name!r} is not an Evolution API 2.3 event. Valid events: "
            f"{', '.join(EVENTS)}; use [] or [ALL] for every event."
        )
    return canonical


def normalize_events(events, field="events"):
    """Validate a declared event list; return the canonical names in the API's order.

    ``[]`` and any list holding ``ALL`` mean every event and give the full list, which is what
    /webhook/find answers once the API has stored ``events: []``. Duplicates collapse.
    ``None`` (not declared) stays None.
    """
    if events is None:
        return None
    if isinstance(events, str) or not isinstance(events, (list, tuple)):
        raise EvolutionError(f"{field} must be a list of event names.")
    if not events or any(isinstance(e, str) and e.strip().upper() == ALL_EVENTS for e in events):
        for item in events:
            if not (isinstance(item, str) and item.strip().upper() == ALL_EVENTS):
                normalize_event(item, field)
        return EVENTS
    wanted = {normalize_event(item, field) for item in events}
    return tuple(event for event in EVENTS if event in wanted)


def stored_events(events):
    """The set of event names in a /webhook/find answer (unknown names are kept as they are)."""
    return {str(event).upper() for event in events or ()}


def events_request(events):
    """The ``events`` list to send: [] when every event is wanted, else the names."""
    return [] if set(events) == set(EVENTS) else list(events)


def validate_number(number, field="number"):
    if number is None:
        return None
    text = str(number).strip()
    digits = text.lstrip("+")
    if not digits.isdigit() or len(digits) < 8:
        raise EvolutionError(
            f"{field} {number!r} is not a phone number: give the country code and number, "
            f"digits only, for example 5511999998888."
        )
    return digits


# ---------------------------------------------------------------------------------------------
# Masking


def mask_value(value):
    return None if value is None else MASK


def mask_headers(headers, compare_to=None):
    """Header values replaced by MASK, or MASK_CHANGED where they differ from ``compare_to``."""
    if headers is None:
        return None
    if not isinstance(headers, dict):
        return MASK
    if compare_to is None or not isinstance(compare_to, dict):
        return {key: MASK for key in headers}
    return {
        key: MASK if compare_to.get(key) == value or key not in compare_to else MASK_CHANGED
        for key, value in headers.items()
    }


def mask_webhook(view, reveal=False, compare_to=None):
    if view is None or reveal:
        return view
    masked = dict(view)
    masked["headers"] = mask_headers(view.get("headers"), (compare_to or {}).get("headers"))
    return masked


def mask_instance(view, reveal=False, compare_to=None):
    if view is None or reveal:
        return view
    masked = dict(view)
    for key in SECRET_INSTANCE_FIELDS:
        if masked.get(key) is None:
            continue
        changed = compare_to is not None and compare_to.get(key) not in (None, masked[key])
        masked[key] = MASK_CHANGED if changed else MASK
    return masked


def mask_webhook_body(body):
    """A /webhook/set body with header values masked, for the ``proposed`` result."""
    if body is None:
        return None
    inner = dict(body["webhook"])
    if "headers" in inner:
        inner["headers"] = mask_headers(inner["headers"])
    return {"webhook": inner}


def mask_instance_body(body):
    if body is None:
        return None
    masked = dict(body)
    if "token" in masked:
        masked["token"] = MASK
    return masked


# ---------------------------------------------------------------------------------------------
# The record of differences: `changed`, the diff and `msg` all come from it.


class Differences:
    """The fields that differ between the stored and the declared state of one resource."""

    def __init__(self):
        self.items = []

    def add(self, field, before, after, secret=False):
        if secret:
            before = mask_value(before)
            after = None if after is None else (MASK_CHANGED if before is not None else MASK)
        self.items.append({"field": field, "before": before, "after": after})

    def compare(self, field, before, after, secret=False, equal=None):
        """Record ``field`` unless ``after`` is None (not declared) or equals ``before``."""
        if after is None:
            return False
        same = equal(before, after) if equal else before == after
        if not same:
            self.add(field, before, after, secret=secret)
        return not same

    def __bool__(self):
        return bool(self.items)

    def fields(self):
        return [item["field"] for item in self.items]

    def summary(self):
        return ", ".join(self.fields())


def events_equal(stored, declared):
    return stored_events(stored) == set(declared)
