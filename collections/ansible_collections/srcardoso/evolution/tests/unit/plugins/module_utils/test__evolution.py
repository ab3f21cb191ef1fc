"""Tables over the pure helpers: event normalisation, validation, comparison, masking."""

import pytest
from ansible_collections.srcardoso.evolution.plugins.module_utils._api import EvolutionError
from ansible_collections.srcardoso.evolution.plugins.module_utils._evolution import (
    EVENTS,
    MASK,
    MASK_CHANGED,
    SETTINGS_FIELDS,
    Differences,
    events_equal,
    events_request,
    from_api,
    mask_headers,
    mask_instance,
    mask_webhook_body,
    normalize_events,
    to_api,
    validate_headers,
    validate_instance_name,
    validate_number,
    validate_webhook_url,
)

# What /webhook/find answered on a real 2.3.6 server after `events: []`.
RECORDED_ALL_EVENTS = [
    "APPLICATION_STARTUP", "QRCODE_UPDATED", "MESSAGES_SET", "MESSAGES_UPSERT",
    "MESSAGES_EDITED", "MESSAGES_UPDATE", "MESSAGES_DELETE", "SEND_MESSAGE",
    "SEND_MESSAGE_UPDATE", "CONTACTS_SET", "CONTACTS_UPSERT", "CONTACTS_UPDATE",
    "PRESENCE_UPDATE", "CHATS_SET", "CHATS_UPSERT", "CHATS_UPDATE", "CHATS_DELETE",
    "GROUPS_UPSERT", "GROUP_UPDATE", "GROUP_PARTICIPANTS_UPDATE", "CONNECTION_UPDATE",
    "LABELS_EDIT", "LABELS_ASSOCIATION", "CALL", "TYPEBOT_START", "TYPEBOT_CHANGE_STATUS",
    "REMOVE_INSTANCE", "LOGOUT_INSTANCE", "INSTANCE_CREATE", "INSTANCE_DELETE",
    "STATUS_INSTANCE",
]  # fmt: skip


def test_event_list_is_the_recorded_one():
    assert list(EVENTS) == RECORDED_ALL_EVENTS


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        (None, None),
        ([], EVENTS),
        (["ALL"], EVENTS),
        (["all"], EVENTS),
        (["MESSAGES_UPSERT", "all"], EVENTS),
        (["MESSAGES_UPSERT"], ("MESSAGES_UPSERT",)),
        (["messages.upsert"], ("MESSAGES_UPSERT",)),
        (["group-participants.update"], ("GROUP_PARTICIPANTS_UPDATE",)),
        ([" Connection_Update "], ("CONNECTION_UPDATE",)),
        (
            ["CONNECTION_UPDATE", "QRCODE_UPDATED", "connection.update"],
            ("QRCODE_UPDATED", "CONNECTION_UPDATE"),
        ),
    ],
)
def test_normalize_events(declared, expected):
    assert normalize_events(declared) == expected


@pytest.mark.parametrize(
    ("declared", "start"),
    [
        (["MESSAGE_UPSERT"], "events: 'MESSAGE_UPSERT' is not an Evolution API 2.3 event."),
        (["ALL", "NOPE"], "events: 'NOPE' is not an Evolution API 2.3 event."),
        ("MESSAGES_UPSERT", "events must be a list of event names."),
        ([3], "events: every event must be a string, not 3."),
    ],
)
def test_normalize_events_rejects(declared, start):
    with pytest.raises(EvolutionError) as caught:
        normalize_events(declared)
    assert caught.value.msg.startswith(start)


def test_unknown_event_message_lists_the_valid_ones_and_the_all_form():
    with pytest.raises(EvolutionError) as caught:
        normalize_events(["FOO"], "instances[0].webhook.events")
    assert caught.value.msg == (
        "instances[0].webhook.events: 'FOO' is not an Evolution API 2.3 event. Valid events: "
        + ", ".join(EVENTS)
        + "; use [] or [ALL] for every event."
    )


@pytest.mark.parametrize(
    ("stored", "declared", "equal"),
    [
        (RECORDED_ALL_EVENTS, normalize_events([]), True),
        (RECORDED_ALL_EVENTS, normalize_events(["ALL"]), True),
        (RECORDED_ALL_EVENTS[:-1], normalize_events([]), False),
        (["QRCODE_UPDATED", "CONNECTION_UPDATE"], ("QRCODE_UPDATED", "CONNECTION_UPDATE"), True),
        (["CONNECTION_UPDATE", "QRCODE_UPDATED"], ("QRCODE_UPDATED", "CONNECTION_UPDATE"), True),
        (["CONNECTION_UPDATE", "CONNECTION_UPDATE"], ("CONNECTION_UPDATE",), True),
        ([], ("CONNECTION_UPDATE",), False),
        (["CONNECTION_UPDATE", "NOT_AN_EVENT"], ("CONNECTION_UPDATE",), False),
    ],
)
def test_events_equal(stored, declared, equal):
    assert events_equal(stored, declared) is equal


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (EVENTS, []),
        (("CONNECTION_UPDATE",), ["CONNECTION_UPDATE"]),
    ],
)
def test_events_request_sends_empty_list_for_every_event(events, expected):
    assert events_request(events) == expected


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"X-Count": 3},
            "headers: the value of header 'X-Count' is a int, not a string. Quote it in YAML "
            "(for example X-Count: \"...\"), or use '{{ value | string }}'.",
        ),
        (
            {"X-On": True},
            "headers: the value of header 'X-On' is a bool, not a string. Quote it in YAML "
            "(for example X-On: \"...\"), or use '{{ value | string }}'.",
        ),
        ({"": "x"}, "headers: header names must be non-empty strings."),
        (["X-Token"], "headers must be a mapping of header names to string values."),
    ],
)
def test_validate_headers_rejects_without_showing_values(headers, message):
    with pytest.raises(EvolutionError) as caught:
        validate_headers(headers)
    assert caught.value.msg == message


def test_validate_headers_accepts_strings():
    assert validate_headers({"X-Token": "s3cret"}) == {"X-Token": "s3cret"}
    assert validate_headers({}) == {}
    assert validate_headers(None) is None


@pytest.mark.parametrize(
    "url",
    ["not a url", "backend.example.com/hook", "ftp://x/y", "http://", "http://a b/c", 7],
)
def test_validate_webhook_url_rejects(url):
    with pytest.raises(EvolutionError) as caught:
        validate_webhook_url(url)
    assert caught.value.msg == (
        f"url {url!r} is not an http(s) URL: the API stores any string but only calls URLs "
        f"like https://example.com/hook. Give a full http:// or https:// URL."
    )


@pytest.mark.parametrize("url", ["http://127.0.0.1:8099/hook", "https://b.example.com/"])
def test_validate_webhook_url_accepts(url):
    assert validate_webhook_url(url) == url


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "name must be a non-empty string."),
        (None, "name must be a non-empty string."),
        (
            " support",
            "name ' support' starts or ends with white space; the API keeps it as part of the "
            "name (and Evolution API 2.4 trims it): remove it.",
        ),
        ("a" * 256, "name is 256 characters long; the API allows 255."),
        ("a\nb", "name 'a\\nb' contains control characters: remove them."),
    ],
)
def test_validate_instance_name(name, message):
    with pytest.raises(EvolutionError) as caught:
        validate_instance_name(name)
    assert caught.value.msg == message


@pytest.mark.parametrize(
    ("number", "expected"),
    [(None, None), ("5511999998888", "5511999998888"), ("+5511999998888", "5511999998888")],
)
def test_validate_number(number, expected):
    assert validate_number(number) == expected


@pytest.mark.parametrize("number", ["55 11 9999", "abc", "123"])
def test_validate_number_rejects(number):
    with pytest.raises(EvolutionError):
        validate_number(number)


@pytest.mark.parametrize(
    ("headers", "compare_to", "expected"),
    [
        (None, None, None),
        ({}, None, {}),
        ({"A": "1", "B": "2"}, None, {"A": MASK, "B": MASK}),
        ({"A": "1", "B": "3"}, {"A": "1", "B": "2"}, {"A": MASK, "B": MASK_CHANGED}),
        ({"A": "1", "C": "3"}, {"A": "1"}, {"A": MASK, "C": MASK}),
    ],
)
def test_mask_headers(headers, compare_to, expected):
    assert mask_headers(headers, compare_to) == expected


@pytest.mark.parametrize(
    ("view", "reveal", "compare_to", "expected_token"),
    [
        ({"name": "a", "token": "T1"}, False, None, MASK),
        ({"name": "a", "token": "T1"}, True, None, "T1"),
        ({"name": "a", "token": None}, False, None, None),
        ({"name": "a", "token": "T2"}, False, {"token": "T1"}, MASK_CHANGED),
        ({"name": "a", "token": "T1"}, False, {"token": "T1"}, MASK),
    ],
)
def test_mask_instance(view, reveal, compare_to, expected_token):
    assert mask_instance(view, reveal, compare_to)["token"] == expected_token


def test_mask_webhook_body_keeps_header_names_only():
    body = {"webhook": {"url": "http://x/h", "headers": {"X-Token": "s3cret"}}}
    assert mask_webhook_body(body) == {
        "webhook": {"url": "http://x/h", "headers": {"X-Token": MASK}}
    }
    assert body["webhook"]["headers"]["X-Token"] == "s3cret"


def test_settings_names_translate_both_ways():
    values = {"reject_call": True, "msg_call": "busy", "groups_ignore": None}
    body = to_api(values, SETTINGS_FIELDS)
    assert body == {"rejectCall": True, "msgCall": "busy"}
    assert from_api(body, SETTINGS_FIELDS)["reject_call"] is True
    assert from_api(None, SETTINGS_FIELDS) is None


@pytest.mark.parametrize(
    ("before", "after", "secret", "recorded"),
    [
        (1, 1, False, []),
        (1, None, False, []),
        (1, 2, False, [{"field": "f", "before": 1, "after": 2}]),
        (None, 2, False, [{"field": "f", "before": None, "after": 2}]),
        ("old", "new", True, [{"field": "f", "before": MASK, "after": MASK_CHANGED}]),
        (None, "new", True, [{"field": "f", "before": None, "after": MASK}]),
    ],
)
def test_differences_record_only_declared_changes_and_mask_secrets(before, after, secret, recorded):
    diffs = Differences()
    diffs.compare("f", before, after, secret=secret)
    assert diffs.items == recorded
    assert bool(diffs) is bool(recorded)
