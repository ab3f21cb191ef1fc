"""Tables over the managers' pure planning: the record of differences, bodies, msg and diff.

``plan`` never sends a request, so these tests pass ``client=None``; a call to the client
would raise AttributeError and fail the test.
"""

import pytest
from ansible_collections.srcardoso.evolution.plugins.module_utils._api import EvolutionError
from ansible_collections.srcardoso.evolution.plugins.module_utils._evolution import (
    EVENTS,
    MASK,
    MASK_CHANGED,
)
from ansible_collections.srcardoso.evolution.plugins.module_utils._managers import (
    InstanceManager,
    SettingsManager,
    WebhookManager,
    desired_instance,
    desired_settings,
    desired_webhook,
)

# A /webhook/find answer as recorded on a real 2.3.6 server.
STORED_WEBHOOK = {
    "id": "cmx7rmq8j0001k47d7ot0g996",
    "url": "http://127.0.0.1:8099/hook",
    "headers": {"X-Probe": "1"},
    "enabled": True,
    "events": ["CONNECTION_UPDATE", "QRCODE_UPDATED", "MESSAGES_UPSERT"],
    "webhookByEvents": False,
    "webhookBase64": False,
    "createdAt": "2026-12-03T16:25:00.499Z",
    "updatedAt": "2026-12-03T16:25:00.499Z",
    "instanceId": "9758cc6c-630a-48e5-82b9-be56946fed8a",
}
STORED_ALL = dict(STORED_WEBHOOK, events=list(EVENTS), headers=None)
STORED_DISABLED = dict(STORED_WEBHOOK, enabled=False, events=[])
STORED_SETTINGS = {
    "rejectCall": True,
    "msgCall": "busy",
    "groupsIgnore": True,
    "alwaysOnline": False,
    "readMessages": False,
    "readStatus": False,
    "syncFullHistory": False,
    "wavoipToken": "",
}
ROW = {
    "id": "9758cc6c-630a-48e5-82b9-be56946fed8a",
    "name": "probe",
    "connectionStatus": "close",
    "integration": "WHATSAPP-BAILEYS",
    "number": None,
    "token": "862BE8EF-630B-413A-95EC-DE577682039F",
    "ownerJid": None,
    "profileName": None,
    "createdAt": "2026-12-03T16:25:00.435Z",
}


def webhook(**options):
    params = {"url": "http://127.0.0.1:8099/hook", "enabled": True}
    params.update(options)
    return desired_webhook(params, state=options.pop("state", "present"))


WEBHOOK_CASES = [
    pytest.param(
        webhook(
            events=["connection.update", "QRCODE_UPDATED", "MESSAGES_UPSERT"],
            headers={"X-Probe": "1"},
            by_events=False,
            base64=False,
        ),
        STORED_WEBHOOK,
        [],
        None,
        "Webhook of instance 'probe' is up to date.",
        id="same webhook, other spelling and order: no-op",
    ),
    pytest.param(
        webhook(events=[]),
        STORED_ALL,
        [],
        None,
        "Webhook of instance 'probe' is up to date.",
        id="[] against the 31 stored events: no-op",
    ),
    pytest.param(
        webhook(events=["ALL"]),
        STORED_ALL,
        [],
        None,
        "Webhook of instance 'probe' is up to date.",
        id="ALL against the 31 stored events: no-op",
    ),
    pytest.param(
        webhook(),
        STORED_WEBHOOK,
        [],
        None,
        "Webhook of instance 'probe' is up to date.",
        id="only url declared: the rest is kept",
    ),
    pytest.param(
        webhook(url="http://127.0.0.1:8099/other", events=["CALL"]),
        STORED_WEBHOOK,
        [
            {
                "field": "url",
                "before": "http://127.0.0.1:8099/hook",
                "after": "http://127.0.0.1:8099/other",
            },
            {
                "field": "events",
                "before": ["CONNECTION_UPDATE", "QRCODE_UPDATED", "MESSAGES_UPSERT"],
                "after": ["CALL"],
            },
        ],
        {
            "webhook": {
                "enabled": True,
                "url": "http://127.0.0.1:8099/other",
                "events": ["CALL"],
                "byEvents": False,
                "base64": False,
            }
        },
        "Webhook of instance 'probe' updated: url, events changed.",
        id="url and events change; headers left out are not sent",
    ),
    pytest.param(
        webhook(headers={"X-Probe": "2"}),
        STORED_WEBHOOK,
        [{"field": "headers", "before": {"X-Probe": MASK}, "after": {"X-Probe": MASK_CHANGED}}],
        {
            "webhook": {
                "enabled": True,
                "url": "http://127.0.0.1:8099/hook",
                "events": ["CONNECTION_UPDATE", "QRCODE_UPDATED", "MESSAGES_UPSERT"],
                "byEvents": False,
                "base64": False,
                "headers": {"X-Probe": "2"},
            }
        },
        "Webhook of instance 'probe' updated: headers changed.",
        id="a header value changes: detected, masked",
    ),
    pytest.param(
        webhook(events=["CALL"], by_events=True),
        None,
        [
            {"field": "url", "before": None, "after": "http://127.0.0.1:8099/hook"},
            {"field": "enabled", "before": None, "after": True},
            {"field": "events", "before": None, "after": ["CALL"]},
            {"field": "by_events", "before": None, "after": True},
        ],
        {
            "webhook": {
                "enabled": True,
                "url": "http://127.0.0.1:8099/hook",
                "events": ["CALL"],
                "byEvents": True,
                "base64": False,
            }
        },
        "Webhook of instance 'probe' created.",
        id="no webhook yet (find answered null)",
    ),
    pytest.param(
        webhook(),
        None,
        [
            {"field": "url", "before": None, "after": "http://127.0.0.1:8099/hook"},
            {"field": "enabled", "before": None, "after": True},
        ],
        {
            "webhook": {
                "enabled": True,
                "url": "http://127.0.0.1:8099/hook",
                "events": [],
                "byEvents": False,
                "base64": False,
            }
        },
        "Webhook of instance 'probe' created.",
        id="new webhook without events: every event, sent as []",
    ),
    pytest.param(
        webhook(enabled=False, events=["CALL"]),
        STORED_DISABLED,
        [],
        None,
        "Webhook of instance 'probe' is up to date.",
        id="disabled stays disabled: stored events [] are not compared",
    ),
    pytest.param(
        webhook(state="absent"),
        STORED_WEBHOOK,
        [{"field": "enabled", "before": True, "after": False}],
        {"webhook": {"enabled": False, "url": "http://127.0.0.1:8099/hook", "events": []}},
        "Webhook of instance 'probe' updated: enabled changed.",
        id="absent disables",
    ),
    pytest.param(
        webhook(state="absent"),
        STORED_DISABLED,
        [],
        None,
        "Webhook of instance 'probe' is disabled.",
        id="absent when already disabled: no-op",
    ),
    pytest.param(
        webhook(state="absent"),
        None,
        [],
        None,
        "Webhook of instance 'probe' is absent.",
        id="absent when never set: no-op",
    ),
]


@pytest.mark.parametrize(("desired", "stored", "differences", "body", "msg"), WEBHOOK_CASES)
def test_webhook_plan(desired, stored, differences, body, msg):
    outcome, sent = WebhookManager(None).plan("probe", desired, stored)
    assert outcome.differences.items == differences
    assert sent == body
    assert outcome.msg == msg
    assert outcome.changed is bool(differences)


def test_webhook_plan_never_returns_header_values():
    desired = webhook(headers={"X-Token": "s3cret-value"})
    outcome, body = WebhookManager(None, check_mode=True).plan("probe", desired, STORED_WEBHOOK)
    result = outcome.result(diff=True)
    assert "s3cret-value" not in repr(result)
    assert "1" not in repr(result["existing"]["headers"])
    assert body["webhook"]["headers"] == {"X-Token": "s3cret-value"}
    assert result["proposed"]["webhook"]["headers"] == {"X-Token": MASK}
    assert result["msg"] == "Webhook of instance 'probe' would be updated: headers changed."
    assert result["diff"]["after"]["headers"] == {"X-Token": MASK}


SETTINGS_CASES = [
    pytest.param(
        {"reject_call": True, "msg_call": "busy"},
        STORED_SETTINGS,
        [],
        None,
        id="same values: no-op",
    ),
    pytest.param(
        {},
        STORED_SETTINGS,
        [],
        None,
        id="nothing declared: no-op",
    ),
    pytest.param(
        {"always_online": True},
        STORED_SETTINGS,
        [{"field": "always_online", "before": False, "after": True}],
        {
            "rejectCall": True,
            "groupsIgnore": True,
            "alwaysOnline": True,
            "readMessages": False,
            "readStatus": False,
            "syncFullHistory": False,
        },
        id="one boolean: all six sent, stored values kept, msgCall left out",
    ),
    pytest.param(
        {"msg_call": ""},
        STORED_SETTINGS,
        [{"field": "msg_call", "before": "busy", "after": ""}],
        {
            "rejectCall": True,
            "groupsIgnore": True,
            "alwaysOnline": False,
            "readMessages": False,
            "readStatus": False,
            "syncFullHistory": False,
            "msgCall": "",
        },
        id="clearing msg_call sends an empty string",
    ),
    pytest.param(
        {"read_messages": True},
        None,
        [{"field": "read_messages", "before": None, "after": True}],
        {
            "rejectCall": False,
            "groupsIgnore": False,
            "alwaysOnline": False,
            "readMessages": True,
            "readStatus": False,
            "syncFullHistory": False,
        },
        id="no settings stored (find answered null)",
    ),
]


@pytest.mark.parametrize(("declared", "stored", "differences", "body"), SETTINGS_CASES)
def test_settings_plan(declared, stored, differences, body):
    outcome, sent = SettingsManager(None).plan("probe", desired_settings(declared), stored)
    assert outcome.differences.items == differences
    assert sent == body


def test_settings_msg_too_long_is_rejected_before_any_request():
    with pytest.raises(EvolutionError) as caught:
        desired_settings({"msg_call": "x" * 101}, "instances[1].settings.")
    assert caught.value.msg == (
        "instances[1].settings.msg_call is 101 characters long; the API stores 100."
    )


def instance(**options):
    return desired_instance({"name": "probe", **options})


INSTANCE_CASES = [
    pytest.param(instance(), ROW, "none", [], "Instance 'probe' is up to date.", id="exists"),
    pytest.param(
        instance(token=ROW["token"]),
        ROW,
        "none",
        [],
        "Instance 'probe' is up to date.",
        id="same token",
    ),
    pytest.param(
        instance(),
        None,
        "create",
        [{"field": "exists", "before": False, "after": True}],
        "Instance 'probe' created.",
        id="missing: create",
    ),
    pytest.param(
        instance(state="absent"),
        ROW,
        "delete",
        [{"field": "exists", "before": True, "after": False}],
        "Instance 'probe' deleted.",
        id="absent: delete",
    ),
    pytest.param(
        instance(state="absent"),
        None,
        "none",
        [],
        "Instance 'probe' is absent.",
        id="absent and missing",
    ),
    pytest.param(
        instance(token="OTHER", recreate=True),
        ROW,
        "recreate",
        [{"field": "token", "before": MASK, "after": MASK_CHANGED}],
        "Instance 'probe' re-created because its token differed.",
        id="token drift with recreate",
    ),
]


@pytest.mark.parametrize(("desired", "row", "action", "differences", "msg"), INSTANCE_CASES)
def test_instance_plan(desired, row, action, differences, msg):
    outcome, planned = InstanceManager(None).plan(desired, row)
    assert planned == action
    assert outcome.differences.items == differences
    assert outcome.msg == msg
    assert ROW["token"] not in repr(outcome.result(diff=True))


@pytest.mark.parametrize(
    ("desired", "message"),
    [
        (
            instance(token="OTHER"),
            "Instance 'probe' exists with a different token than declared. The API cannot "
            "change it, and replacing the instance deletes its WhatsApp session, chats and "
            "messages. Declare the stored value (see srcardoso.evolution.evolution_instance_info), "
            "or set recreate: true to delete and re-create the instance.",
        ),
        (
            instance(token="OTHER", integration="EVOLUTION"),
            "Instance 'probe' exists with a different integration and token than declared. The "
            "API cannot change them, and replacing the instance deletes its WhatsApp session, "
            "chats and messages. Declare the stored value (see "
            "srcardoso.evolution.evolution_instance_info), or set recreate: true to delete and "
            "re-create the instance.",
        ),
    ],
)
def test_instance_drift_fails_without_recreate(desired, message):
    with pytest.raises(EvolutionError) as caught:
        InstanceManager(None).plan(desired, ROW)
    assert caught.value.msg == message
    assert "OTHER" not in caught.value.msg


def test_create_body_carries_settings_and_never_connects():
    body = InstanceManager.create_body(
        instance(token="T", number="5511999998888"), {"rejectCall": True}
    )
    assert body == {
        "instanceName": "probe",
        "integration": "WHATSAPP-BAILEYS",
        "qrcode": False,
        "token": "T",
        "number": "5511999998888",
        "rejectCall": True,
    }
    outcome, _action = InstanceManager(None).plan(instance(token="T"), None)
    assert outcome.proposed["token"] == MASK
