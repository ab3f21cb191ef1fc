"""evolution_instance against the double: check, apply, idempotent, drift, re-create, absent."""

from evolution_harness import Step


def instance(name, check=False, **args):
    return Step(name, "evolution_instance", {"name": "support", **args}, check=check)


def test_instance_rhythm(ansible, double):
    run = ansible.run(
        [
            instance("present_1_check", check=True),
            instance("present_1"),
            instance("present_1_idempotent_check", check=True),
            instance("present_1_idempotent"),
        ]
    )
    check, apply = run.results["present_1_check"], run.results["present_1"]
    assert check["changed"] is True
    assert check["msg"] == "Instance 'support' would be created."
    assert check["proposed"] == {
        "instanceName": "support",
        "integration": "WHATSAPP-BAILEYS",
        "qrcode": False,
    }
    assert check["diff"]["before"] == {}
    assert check["diff"]["after"]["name"] == "support"
    assert run.calls("present_1_check") == ["GET /instance/fetchInstances"]

    assert apply["changed"] is True
    assert apply["msg"] == "Instance 'support' created."
    assert apply["differences"] == [{"field": "exists", "before": False, "after": True}]
    assert apply["end_state"]["token"] == "********"
    assert run.calls("present_1") == ["GET /instance/fetchInstances", "POST /instance/create"]
    stored = double.instance("support")
    assert stored["integration"] == "WHATSAPP-BAILEYS"
    assert apply["end_state"]["id"] == stored["id"]

    for step in ("present_1_idempotent_check", "present_1_idempotent"):
        result = run.results[step]
        assert result["changed"] is False, step
        assert result["msg"] == "Instance 'support' is up to date."
        assert result["existing"]["id"] == stored["id"]
        assert run.calls(step) == ["GET /instance/fetchInstances"], step


def test_instance_token_drift_is_refused_then_recreated_on_request(ansible, double):
    first = ansible.run([instance("present_1", token="TOKEN-ONE-5f1c")])
    assert first.results["present_1"]["changed"] is True
    original = double.instance("support")
    assert original["token"] == "TOKEN-ONE-5f1c"

    run = ansible.run(
        [
            Step(
                "drift",
                "evolution_instance",
                {"name": "support", "token": "TOKEN-TWO-9e2d"},
                expect_failure=True,
            ),
            instance("present_2_check", check=True, token="TOKEN-TWO-9e2d", recreate=True),
            instance("present_2", token="TOKEN-TWO-9e2d", recreate=True),
            instance("present_2_idempotent", token="TOKEN-TWO-9e2d", recreate=True),
        ]
    )
    drift = run.results["drift"]
    assert drift["failed"] is True
    assert drift["msg"] == (
        "Instance 'support' exists with a different token than declared. The API cannot change "
        "it, and replacing the instance deletes its WhatsApp session, chats and messages. "
        "Declare the stored value (see srcardoso.evolution.evolution_instance_info), or set "
        "recreate: true to delete and re-create the instance."
    )
    assert run.writes("drift") == []

    check = run.results["present_2_check"]
    assert check["changed"] is True
    assert check["msg"] == "Instance 'support' would be re-created because its token differed."
    assert check["differences"] == [
        {"field": "token", "before": "********", "after": "******** (changed)"}
    ]
    assert check["diff"]["before"]["token"] == "********"
    assert check["diff"]["after"]["token"] == "******** (changed)"
    assert run.writes("present_2_check") == []

    apply = run.results["present_2"]
    assert apply["changed"] is True
    assert apply["msg"] == "Instance 'support' re-created because its token differed."
    calls = run.calls("present_2")
    assert calls[:2] == ["GET /instance/fetchInstances", "DELETE /instance/delete/support"]
    assert calls[-1] == "POST /instance/create"
    # Between the delete and the create it polled until the API no longer listed the name.
    assert set(calls[2:-1]) == {"GET /instance/fetchInstances"}
    recreated = double.instance("support")
    assert recreated["token"] == "TOKEN-TWO-9e2d"
    assert recreated["id"] != original["id"]

    assert run.results["present_2_idempotent"]["changed"] is False
    assert run.writes("present_2_idempotent") == []


def test_instance_absent_waits_until_it_is_gone(ansible, double):
    ansible.run([instance("present_1")])
    run = ansible.run(
        [
            instance("absent_1_check", check=True, state="absent"),
            instance("absent_1", state="absent"),
            instance("absent_1_idempotent", state="absent"),
        ]
    )
    check = run.results["absent_1_check"]
    assert check["changed"] is True
    assert check["msg"] == "Instance 'support' would be deleted."
    assert check["diff"]["after"] == {}
    assert run.writes("absent_1_check") == []

    apply = run.results["absent_1"]
    assert apply["changed"] is True
    assert apply["msg"] == "Instance 'support' deleted."
    assert apply["end_state"] is None
    calls = run.calls("absent_1")
    assert calls[:2] == ["GET /instance/fetchInstances", "DELETE /instance/delete/support"]
    # The double keeps a deleted instance listed for 0.2 s: the module polled until it was not.
    assert len(calls) >= 4
    assert double.instance("support") is None

    idempotent = run.results["absent_1_idempotent"]
    assert idempotent["changed"] is False
    assert idempotent["msg"] == "Instance 'support' is absent."
    assert run.calls("absent_1_idempotent") == ["GET /instance/fetchInstances"]


def test_instance_absent_gives_up_after_wait_timeout(ansible, double, sink):
    ansible.run([instance("present_1")])
    # A webhook receiver that fails keeps the deletion pending (the REMOVE_INSTANCE delivery is
    # retried for minutes), so the instance stays listed.
    from evolution_harness import api_call

    api_call(
        double,
        "POST",
        "/webhook/set/support",
        {"webhook": {"enabled": True, "url": sink.url + "/hook", "events": ["REMOVE_INSTANCE"]}},
    )
    sink.status = 500
    run = ansible.run(
        [
            Step(
                "absent_timeout",
                "evolution_instance",
                {"name": "support", "state": "absent", "wait_timeout_s": 1},
                expect_failure=True,
            )
        ]
    )
    result = run.results["absent_timeout"]
    assert result["failed"] is True
    assert result["msg"] == (
        "Instance 'support' was deleted but is still listed after 1 s. The server finishes a "
        "deletion only after delivering the REMOVE_INSTANCE webhook, which it retries for up "
        "to 20 minutes when the receiver fails. Check the webhook receiver, then run again or "
        "raise wait_timeout_s."
    )
