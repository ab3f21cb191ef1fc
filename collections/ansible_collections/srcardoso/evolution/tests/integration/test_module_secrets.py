"""No secret (API key, instance token, webhook header value) in any output, even with -vvv."""

from evolution_harness import API_KEY, Step, create_instance

TOKEN = "INSTANCE-TOKEN-e4f5a6b7"
OTHER_TOKEN = "INSTANCE-TOKEN-c8d9e0f1"
SECRET = "HEADER-SECRET-1f2e3d4c"
OTHER_SECRET = "HEADER-SECRET-5b6a7988"


def test_verbose_output_holds_no_secret(ansible, double, sink):
    create_instance(double, "drifted", token=OTHER_TOKEN)
    items = [
        {
            "name": "support",
            "token": TOKEN,
            "webhook": {"url": sink.url + "/h", "events": [], "headers": {"X-Token": SECRET}},
            "settings": {"reject_call": True},
        }
    ]
    changed_items = [
        dict(items[0], webhook=dict(items[0]["webhook"], headers={"X-Token": OTHER_SECRET}))
    ]
    key_from_env = {"name": "support", "api_key": "{{ omit }}"}
    run = ansible.run(
        [
            Step("create_check", "evolution_instances", {"instances": items}, check=True),
            Step("create", "evolution_instances", {"instances": items}),
            Step("noop", "evolution_instances", {"instances": items}),
            Step("header_change", "evolution_instances", {"instances": changed_items}),
            Step(
                "webhook",
                "evolution_webhook",
                {"name": "support", "url": sink.url + "/h", "headers": {"X-Token": SECRET}},
            ),
            Step(
                "drift",
                "evolution_instance",
                {"name": "drifted", "token": TOKEN},
                expect_failure=True,
            ),
            Step(
                "recreate_check",
                "evolution_instance",
                {"name": "drifted", "token": TOKEN, "recreate": True},
                check=True,
            ),
            Step("info", "evolution_instance_info", {}),
            Step(
                "wrong_key",
                "evolution_instance_info",
                {"api_key": API_KEY[::-1]},
                expect_failure=True,
            ),
            Step("key_from_environment", "evolution_instance_info", key_from_env),
        ],
        verbosity=3,
        callback="default",
        env={"EVOLUTION_API_KEY": API_KEY},
    )
    output = run.stdout + run.stderr
    # The run did what it should, so the absence of secrets means something.
    assert "AnsiballZ_evolution_instances.py" in output
    assert output.count("FAILED!") == 2
    assert "******** (changed)" in output
    assert double.instance("support")["token"] == TOKEN
    assert run.requests["key_from_environment"][0].headers.get("apikey") == API_KEY
    for secret in (API_KEY, TOKEN, OTHER_TOKEN, SECRET, OTHER_SECRET, API_KEY[::-1]):
        assert secret not in output, secret
