"""Errors a user must be able to act on: one exact message each, and no write on the double."""

import socket

import pytest
from evolution_harness import API_KEY, Step, create_instance

URL = "http://127.0.0.1:9/hook"


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def silent_port():
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield server.getsockname()[1]


def failing(name, module, args):
    return Step(name, module, args, expect_failure=True)


def test_errors_name_the_field_or_url_and_change_nothing(ansible, double, closed_port, silent_port):
    create_instance(double, "support")
    hidden = create_instance(double, "hidden")["instance"]["instanceId"]
    # An instance of another DATABASE_CONNECTION_CLIENT_NAME: not listed, but its name taken.
    double.state.update_instance(hidden, {"clientName": "another_client"})
    api = double.url
    run = ansible.run(
        [
            failing("wrong_key", "evolution_instance", {"name": "support", "api_key": "WRONG-KEY"}),
            failing(
                "missing_key", "evolution_instance", {"name": "support", "api_key": "{{ omit }}"}
            ),
            failing(
                "unreachable",
                "evolution_instance",
                {"name": "support", "api_url": f"http://127.0.0.1:{closed_port}", "retries": 1},
            ),
            failing(
                "unknown_host",
                "evolution_instance",
                {"name": "support", "api_url": "http://evolution.invalid:8080"},
            ),
            failing(
                "timeout",
                "evolution_instance",
                {
                    "name": "support",
                    "api_url": f"http://127.0.0.1:{silent_port}",
                    "timeout_s": 0.5,
                    "retries": 0,
                },
            ),
            failing(
                "malformed_api_url",
                "evolution_instance",
                {"name": "support", "api_url": "127.0.0.1:8080"},
            ),
            failing("name_rejected_by_api", "evolution_instance", {"name": "hidden"}),
            failing("name_with_spaces", "evolution_instance", {"name": "support "}),
            failing(
                "unknown_event",
                "evolution_webhook",
                {"name": "support", "url": URL, "events": ["MESSAGE_UPSERT"]},
            ),
            failing(
                "malformed_url",
                "evolution_webhook",
                {"name": "support", "url": "backend:8000/hook"},
            ),
            failing(
                "header_not_a_string",
                "evolution_webhook",
                {"name": "support", "url": URL, "headers": {"X-Retries": 3}},
            ),
            failing("missing_instance", "evolution_webhook", {"name": "nosuch", "url": URL}),
            failing(
                "missing_instance_settings",
                "evolution_settings",
                {"name": "nosuch", "reject_call": True},
            ),
            failing("missing_instance_pairing", "evolution_pairing", {"name": "nosuch"}),
        ]
    )
    expected = {
        "wrong_key": (
            "Could not read instance 'support': the API key was refused (HTTP 401 from GET "
            f"{api}/instance/fetchInstances). Set api_key (or EVOLUTION_API_KEY) to the "
            f"AUTHENTICATION_API_KEY of the server at {api}."
        ),
        "missing_key": (
            "api_key is missing: set the api_key option (or module_defaults for "
            "group/srcardoso.evolution.api, or the EVOLUTION_API_KEY environment variable) to "
            "the server's AUTHENTICATION_API_KEY."
        ),
        "unreachable": (
            "Could not read instance 'support': the connection to GET "
            f"http://127.0.0.1:{closed_port}/instance/fetchInstances was refused. Check that the "
            "Evolution API is running and that api_url (or EVOLUTION_API_URL) is right."
        ),
        "unknown_host": (
            "Could not read instance 'support': the host name 'evolution.invalid' of api_url "
            "http://evolution.invalid:8080 does not resolve. Check api_url (or "
            "EVOLUTION_API_URL)."
        ),
        "timeout": (
            "Could not read instance 'support': no answer from GET "
            f"http://127.0.0.1:{silent_port}/instance/fetchInstances within 0.5 s. Check that "
            "the Evolution API is up and not overloaded, or raise timeout_s."
        ),
        "malformed_api_url": (
            "api_url '127.0.0.1:8080' is not a valid http(s) URL: give the base URL of the "
            "Evolution API, for example http://127.0.0.1:8080."
        ),
        "name_rejected_by_api": (
            "Could not create instance 'hidden': the API says the name is already in use (HTTP "
            f"403 from POST {api}/instance/create) although it does not list it. It is probably "
            "still being deleted, or it belongs to another DATABASE_CONNECTION_CLIENT_NAME. Wait "
            "and run again, or choose another name."
        ),
        "name_with_spaces": (
            "name 'support ' starts or ends with white space; the API keeps it as part of the "
            "name (and Evolution API 2.4 trims it): remove it."
        ),
        "unknown_event": (
            "events: 'MESSAGE_UPSERT' is not an Evolution API 2.3 event. Valid events: "
            "APPLICATION_STARTUP, QRCODE_UPDATED, MESSAGES_SET, MESSAGES_UPSERT, "
            "MESSAGES_EDITED, MESSAGES_UPDATE, MESSAGES_DELETE, SEND_MESSAGE, "
            "SEND_MESSAGE_UPDATE, CONTACTS_SET, CONTACTS_UPSERT, CONTACTS_UPDATE, "
            "PRESENCE_UPDATE, CHATS_SET, CHATS_UPSERT, CHATS_UPDATE, CHATS_DELETE, "
            "GROUPS_UPSERT, GROUP_UPDATE, GROUP_PARTICIPANTS_UPDATE, CONNECTION_UPDATE, "
            "LABELS_EDIT, LABELS_ASSOCIATION, CALL, TYPEBOT_START, TYPEBOT_CHANGE_STATUS, "
            "REMOVE_INSTANCE, LOGOUT_INSTANCE, INSTANCE_CREATE, INSTANCE_DELETE, "
            "STATUS_INSTANCE; use [] or [ALL] for every event."
        ),
        "malformed_url": (
            "url 'backend:8000/hook' is not an http(s) URL: the API stores any string but only "
            "calls URLs like https://example.com/hook. Give a full http:// or https:// URL."
        ),
        "header_not_a_string": (
            "headers: the value of header 'X-Retries' is a int, not a string. Quote it in YAML "
            "(for example X-Retries: \"...\"), or use '{{ value | string }}'."
        ),
        "missing_instance": (
            "Could not read the webhook of instance 'nosuch': instance 'nosuch' does not exist "
            f"at {api} (HTTP 404 from GET {api}/webhook/find/nosuch). Create it first "
            "(srcardoso.evolution.evolution_instance or evolution_instances), or correct the "
            "instance name."
        ),
        "missing_instance_settings": (
            "Could not read the settings of instance 'nosuch': instance 'nosuch' does not exist "
            f"at {api} (HTTP 404 from GET {api}/settings/find/nosuch). Create it first "
            "(srcardoso.evolution.evolution_instance or evolution_instances), or correct the "
            "instance name."
        ),
        "missing_instance_pairing": (
            "Could not read the state of instance 'nosuch': instance 'nosuch' does not exist at "
            f"{api} (HTTP 404 from GET {api}/instance/connectionState/nosuch). Create it first "
            "(srcardoso.evolution.evolution_instance or evolution_instances), or correct the "
            "instance name."
        ),
    }
    for step, message in expected.items():
        result = run.results[step]
        assert result.get("failed") is True, step
        assert result["msg"] == message, step
        assert API_KEY not in str(result), step
    # Nothing was written: the only write attempt is the create the API refused with 403.
    for step in expected:
        writes = run.writes(step)
        if step == "name_rejected_by_api":
            assert [(w.method, w.path, w.status) for w in writes] == [
                ("POST", "/instance/create", 403)
            ]
        else:
            assert writes == [], step
    # Input errors are found before any request at all.
    for step in (
        "missing_key",
        "malformed_api_url",
        "name_with_spaces",
        "unknown_event",
        "malformed_url",
        "header_not_a_string",
    ):
        assert run.requests[step] == [], step
    # A refused connection is retried (retries: 1), a wrong key is not.
    assert run.calls("wrong_key") == ["GET /instance/fetchInstances"]
