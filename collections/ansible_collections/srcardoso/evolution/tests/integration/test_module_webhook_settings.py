"""evolution_webhook and evolution_settings against the double, in the check/apply rhythm."""

from evolution_harness import Step, api_call, create_instance

# Declared in the order the API lists its events, which is the order the module sends.
EVENTS = ["QRCODE_UPDATED", "MESSAGES_UPSERT", "CONNECTION_UPDATE"]
HEADER_SECRET = "HEADER-SECRET-3b7f0c"
NEW_SECRET = "HEADER-SECRET-8a1e44"


def hook(name, sink, check=False, **args):
    options = {"name": "support", "url": sink.url + "/hook", "events": EVENTS}
    options.update(args)
    return Step(name, "evolution_webhook", options, check=check)


def test_webhook_rhythm(ansible, double, sink):
    create_instance(double, "support")
    headers = {"X-Webhook-Token": HEADER_SECRET}
    run = ansible.run(
        [
            hook("present_1_check", sink, check=True, headers=headers),
            hook("present_1", sink, headers=headers),
            hook("present_1_idempotent_check", sink, check=True, headers=headers),
            hook("present_1_idempotent", sink, headers=headers),
            # The same webhook spelled differently: dotted names, another order, no headers.
            hook(
                "present_1_spelling",
                sink,
                events=["connection.update", "messages.upsert", "qrcode.updated"],
            ),
            hook(
                "present_2_check",
                sink,
                check=True,
                events=["ALL"],
                headers={"X-Webhook-Token": NEW_SECRET},
            ),
            hook("present_2", sink, events=["ALL"], headers={"X-Webhook-Token": NEW_SECRET}),
            hook("present_2_idempotent", sink, events=[], headers={"X-Webhook-Token": NEW_SECRET}),
            Step(
                "absent_1_check",
                "evolution_webhook",
                {"name": "support", "state": "absent"},
                check=True,
            ),
            Step("absent_1", "evolution_webhook", {"name": "support", "state": "absent"}),
            Step(
                "absent_1_idempotent", "evolution_webhook", {"name": "support", "state": "absent"}
            ),
        ]
    )
    url = sink.url + "/hook"
    check = run.results["present_1_check"]
    assert check["changed"] is True
    assert check["msg"] == "Webhook of instance 'support' would be created."
    assert check["existing"] is None
    assert check["proposed"] == {
        "webhook": {
            "enabled": True,
            "url": url,
            "events": EVENTS,
            "byEvents": False,
            "base64": False,
            "headers": {"X-Webhook-Token": "********"},
        }
    }
    assert check["diff"] == {
        "before": {},
        "after": {
            "url": url,
            "enabled": True,
            "events": EVENTS,
            "by_events": False,
            "base64": False,
            "headers": {"X-Webhook-Token": "********"},
        },
    }
    assert run.calls("present_1_check") == ["GET /webhook/find/support"]

    apply = run.results["present_1"]
    assert apply["changed"] is True
    assert apply["msg"] == "Webhook of instance 'support' created."
    assert run.calls("present_1") == [
        "GET /webhook/find/support",
        "POST /webhook/set/support",
        "GET /webhook/find/support",
    ]
    sent = run.requests["present_1"][1].body
    assert sent["webhook"]["headers"] == {"X-Webhook-Token": HEADER_SECRET}
    # end_state is what the module read back after the set (the playbook goes on, so the
    # double's final state is checked at the end).
    assert apply["end_state"] == check["diff"]["after"]

    for step in ("present_1_idempotent_check", "present_1_idempotent", "present_1_spelling"):
        result = run.results[step]
        assert result["changed"] is False, step
        assert result["msg"] == "Webhook of instance 'support' is up to date.", step
        assert run.calls(step) == ["GET /webhook/find/support"], step

    check = run.results["present_2_check"]
    assert check["changed"] is True
    assert (
        check["msg"] == "Webhook of instance 'support' would be updated: events, headers changed."
    )
    assert check["differences"][1] == {
        "field": "headers",
        "before": {"X-Webhook-Token": "********"},
        "after": {"X-Webhook-Token": "******** (changed)"},
    }
    assert run.writes("present_2_check") == []

    apply = run.results["present_2"]
    assert apply["changed"] is True
    assert run.requests["present_2"][1].body["webhook"]["events"] == []
    assert run.requests["present_2"][1].body["webhook"]["headers"] == {
        "X-Webhook-Token": NEW_SECRET
    }
    assert len(apply["end_state"]["events"]) == 31
    # [] against the 31 events the API stored for [ALL]: nothing to do.
    assert run.results["present_2_idempotent"]["changed"] is False
    assert run.writes("present_2_idempotent") == []

    check = run.results["absent_1_check"]
    assert check["changed"] is True
    assert check["msg"] == "Webhook of instance 'support' would be updated: enabled changed."
    assert run.writes("absent_1_check") == []
    assert run.results["absent_1"]["changed"] is True
    assert run.requests["absent_1"][1].body == {
        "webhook": {"enabled": False, "url": url, "events": []}
    }
    stored = api_call(double, "GET", "/webhook/find/support")
    assert stored["enabled"] is False
    assert stored["headers"] == {"X-Webhook-Token": NEW_SECRET}
    idempotent = run.results["absent_1_idempotent"]
    assert idempotent["changed"] is False
    assert idempotent["msg"] == "Webhook of instance 'support' is disabled."
    assert run.writes("absent_1_idempotent") == []


def test_webhook_headers_reach_the_receiver(ansible, double, sink):
    """The configured header travels with each delivery; connect makes the double send one."""
    create_instance(double, "support")
    ansible.run(
        [
            hook(
                "present_1",
                sink,
                events=["QRCODE_UPDATED"],
                by_events=True,
                headers={"X-Webhook-Token": HEADER_SECRET},
            )
        ]
    )
    api_call(double, "GET", "/instance/connect/support")
    (delivery,) = sink.wait_for("qrcode.updated")
    assert delivery.path == "/hook/qrcode-updated"
    assert delivery.headers.get("X-Webhook-Token") == HEADER_SECRET


def settings(name, check=False, **args):
    return Step(name, "evolution_settings", {"name": "support", **args}, check=check)


def test_settings_rhythm(ansible, double):
    create_instance(double, "support")
    declared = {"reject_call": True, "msg_call": "Calls are not answered", "groups_ignore": True}
    run = ansible.run(
        [
            settings("present_1_check", check=True, **declared),
            settings("present_1", **declared),
            settings("present_1_idempotent_check", check=True, **declared),
            settings("present_1_idempotent", **declared),
            settings("present_2_check", check=True, always_online=True, msg_call=""),
            settings("present_2", always_online=True, msg_call=""),
            settings("present_2_idempotent", always_online=True),
        ]
    )
    check = run.results["present_1_check"]
    assert check["changed"] is True
    assert check["msg"] == (
        "Settings of instance 'support' would be updated: reject_call, msg_call, groups_ignore "
        "changed."
    )
    assert check["diff"]["before"]["reject_call"] is False
    assert check["diff"]["after"]["reject_call"] is True
    assert run.calls("present_1_check") == ["GET /settings/find/support"]

    assert run.results["present_1"]["changed"] is True
    assert run.calls("present_1") == ["GET /settings/find/support", "POST /settings/set/support"]
    assert run.requests["present_1"][1].body == {
        "rejectCall": True,
        "groupsIgnore": True,
        "alwaysOnline": False,
        "readMessages": False,
        "readStatus": False,
        "syncFullHistory": False,
        "msgCall": "Calls are not answered",
    }
    for step in ("present_1_idempotent_check", "present_1_idempotent", "present_2_idempotent"):
        assert run.results[step]["changed"] is False, step
        assert run.results[step]["msg"] == "Settings of instance 'support' are up to date."
        assert run.writes(step) == [], step

    assert run.results["present_2_check"]["differences"] == [
        {"field": "msg_call", "before": "Calls are not answered", "after": ""},
        {"field": "always_online", "before": False, "after": True},
    ]
    assert run.writes("present_2_check") == []
    stored = api_call(double, "GET", "/settings/find/support")
    assert stored["alwaysOnline"] is True
    assert stored["msgCall"] == ""
    # Declared in the first steps and left out later: kept.
    assert stored["rejectCall"] is True
    assert stored["groupsIgnore"] is True
