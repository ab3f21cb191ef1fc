"""evolution_instances: a declared list with webhooks and settings, reconciled in one call."""

from evolution_harness import Step, api_call, create_instance

TOKEN = "INSTANCE-TOKEN-77c2a1"
SECRET = "HEADER-SECRET-0d9b5e"


def declared(sink, events=("MESSAGES_UPSERT",), reject_call=True):
    return [
        {
            "name": "support",
            "webhook": {
                "url": sink.url + "/support",
                "events": list(events),
                "headers": {"X-Webhook-Token": SECRET},
            },
            "settings": {"reject_call": reject_call, "msg_call": "No calls, please"},
        },
        {"name": "sales", "token": TOKEN, "webhook": {"url": sink.url + "/sales", "events": []}},
        {"name": "bare"},
    ]


def fleet(name, instances, check=False, **args):
    return Step(name, "evolution_instances", {"instances": instances, **args}, check=check)


def test_instances_rhythm(ansible, double, sink):
    create_instance(double, "legacy")
    first = declared(sink)
    changed = declared(sink, events=("MESSAGES_UPSERT", "CALL"), reject_call=False)
    run = ansible.run(
        [
            fleet("present_1_check", first, check=True),
            fleet("present_1", first),
            fleet("present_1_idempotent_check", first, check=True),
            fleet("present_1_idempotent", first),
            fleet("present_2_check", changed, check=True),
            fleet("present_2", changed),
            fleet("present_2_idempotent", changed),
        ]
    )
    check = run.results["present_1_check"]
    assert check["changed"] is True
    assert check["msg"] == (
        "3 declared instances: 3 would be created, 0 would be changed, 0 would be deleted, "
        "0 unchanged; 0 undeclared would be pruned."
    )
    assert check["undeclared"] == ["legacy"]
    assert run.calls("present_1_check") == ["GET /instance/fetchInstances"]
    assert set(check["diff"]["after"]) == {"support", "sales", "bare"}
    assert check["diff"]["after"]["support"]["webhook"]["headers"] == {
        "X-Webhook-Token": "********"
    }

    apply = run.results["present_1"]
    assert apply["changed"] is True
    assert apply["msg"] == (
        "3 declared instances: 3 created, 0 changed, 0 deleted, 0 unchanged; 0 undeclared pruned."
    )
    calls = sorted(run.calls("present_1"))
    assert calls == sorted(
        [
            "GET /instance/fetchInstances",
            "POST /instance/create",
            "POST /instance/create",
            "POST /instance/create",
            "POST /webhook/set/support",
            "GET /webhook/find/support",
            "POST /webhook/set/sales",
            "GET /webhook/find/sales",
        ]
    )
    # The settings travel in the create request: no separate /settings/set.
    creates = {
        r.body["instanceName"]: r.body
        for r in run.requests["present_1"]
        if r.path.endswith("create")
    }
    assert creates["support"]["rejectCall"] is True
    assert creates["support"]["msgCall"] == "No calls, please"
    assert creates["sales"]["token"] == TOKEN
    assert double.instance("sales")["token"] == TOKEN
    assert [entry["msg"] for entry in apply["instances"]] == [
        "Instance 'support' created. Webhook of instance 'support' created. Settings of "
        "instance 'support' created.",
        "Instance 'sales' created. Webhook of instance 'sales' created.",
        "Instance 'bare' created.",
    ]

    assert run.results["present_1_idempotent_check"]["msg"] == (
        "3 declared instances: 0 would be created, 0 would be changed, 0 would be deleted, "
        "3 unchanged; 0 undeclared would be pruned."
    )
    assert run.results["present_1_idempotent"]["msg"] == (
        "3 declared instances: 0 created, 0 changed, 0 deleted, 3 unchanged; 0 undeclared pruned."
    )
    for step in ("present_1_idempotent_check", "present_1_idempotent"):
        result = run.results[step]
        assert result["changed"] is False, step
        # One list for all, one webhook read per declared webhook; settings come with the list.
        assert sorted(run.calls(step)) == [
            "GET /instance/fetchInstances",
            "GET /webhook/find/sales",
            "GET /webhook/find/support",
        ]

    check = run.results["present_2_check"]
    assert check["changed"] is True
    support = check["instances"][0]
    assert support["msg"] == (
        "Webhook of instance 'support' would be updated: events changed. Settings of instance "
        "'support' would be updated: reject_call changed."
    )
    assert check["diff"]["before"]["support"]["settings"]["reject_call"] is True
    assert check["diff"]["after"]["support"]["settings"]["reject_call"] is False
    assert set(check["diff"]["after"]) == {"support"}
    assert run.writes("present_2_check") == []

    apply = run.results["present_2"]
    assert apply["msg"] == (
        "3 declared instances: 0 created, 1 changed, 0 deleted, 2 unchanged; 0 undeclared pruned."
    )
    assert sorted(f"{r.method} {r.path}" for r in run.writes("present_2")) == [
        "POST /settings/set/support",
        "POST /webhook/set/support",
    ]
    assert run.results["present_2_idempotent"]["changed"] is False
    assert run.writes("present_2_idempotent") == []
    stored = api_call(double, "GET", "/webhook/find/support")
    assert stored["events"] == ["MESSAGES_UPSERT", "CALL"]
    assert stored["headers"] == {"X-Webhook-Token": SECRET}
    assert api_call(double, "GET", "/settings/find/support")["rejectCall"] is False


def test_instances_prune_and_absent(ansible, double, sink):
    for name in ("support", "legacy", "old", "gone"):
        create_instance(double, name)
    keep = [{"name": "support"}, {"name": "gone", "state": "absent"}]
    run = ansible.run(
        [
            fleet("prune_1_check", keep, check=True, prune=True),
            fleet("prune_1", keep, prune=True),
            fleet("prune_1_idempotent", keep, prune=True),
        ]
    )
    check = run.results["prune_1_check"]
    assert check["msg"] == (
        "2 declared instances: 0 would be created, 0 would be changed, 1 would be deleted, "
        "1 unchanged; 2 undeclared would be pruned."
    )
    assert check["pruned"] == ["legacy", "old"]
    assert run.writes("prune_1_check") == []

    apply = run.results["prune_1"]
    assert apply["changed"] is True
    assert sorted(f"{r.method} {r.path}" for r in run.writes("prune_1")) == [
        "DELETE /instance/delete/gone",
        "DELETE /instance/delete/legacy",
        "DELETE /instance/delete/old",
    ]
    assert [row["name"] for row in api_call(double, "GET", "/instance/fetchInstances")] == [
        "support"
    ]
    idempotent = run.results["prune_1_idempotent"]
    assert idempotent["changed"] is False
    assert idempotent["pruned"] == []
    assert run.calls("prune_1_idempotent") == ["GET /instance/fetchInstances"]


def test_instances_validate_everything_before_the_first_write(ansible, double, sink):
    create_instance(double, "support", token="STORED-TOKEN-1a2b3c")
    items = declared(sink)
    items[0]["token"] = "DECLARED-TOKEN-4d5e6f"
    bad_event = declared(sink)
    bad_event[1]["webhook"]["events"] = ["MESSAGES_UPSERT", "MESAGES_UPDATE"]
    run = ansible.run(
        [
            Step("drift", "evolution_instances", {"instances": items}, expect_failure=True),
            Step("bad_event", "evolution_instances", {"instances": bad_event}, expect_failure=True),
        ]
    )
    drift = run.results["drift"]
    assert drift["msg"] == (
        "instances[0]: Instance 'support' exists with a different token than declared. The API "
        "cannot change it, and replacing the instance deletes its WhatsApp session, chats and "
        "messages. Declare the stored value (see srcardoso.evolution.evolution_instance_info), "
        "or set recreate: true to delete and re-create the instance. Nothing was changed."
    )
    # The other two instances were not created either.
    assert run.writes("drift") == []
    assert run.results["bad_event"]["msg"].startswith(
        "instances[1].webhook.events: 'MESAGES_UPDATE' is not an Evolution API 2.3 event."
    )
    assert run.requests["bad_event"] == []
