"""Tables over the pure parts of the HTTP client: error text, URLs, back-off, input checks."""

import json

import pytest
from ansible_collections.srcardoso.evolution.plugins.module_utils._api import (
    EvolutionClient,
    EvolutionError,
    backoff_delays,
    display_url,
    is_error_body,
    parse_error_message,
    validate_base_url,
)

# Bodies exactly as Evolution API 2.3.6 sent them (evolution-api-recorded.md), plus the
# shapes the contract documents (evolution-api-v2.md section 7).
ERROR_BODIES = [
    pytest.param(
        {"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}},
        "Unauthorized",
        id="string (bare 401)",
    ),
    pytest.param(
        {
            "status": 403,
            "error": "Forbidden",
            "response": {"message": ['This name "probe" is already in use.']},
        },
        'This name "probe" is already in use.',
        id="list (explicit exception)",
    ),
    pytest.param(
        {
            "status": 400,
            "error": "Bad Request",
            "response": {
                "message": [
                    [
                        'instance requires property "groupsIgnore"',
                        'instance requires property "alwaysOnline"',
                    ]
                ]
            },
        },
        'instance requires property "groupsIgnore"; instance requires property "alwaysOnline"',
        id="nested list (schema errors)",
    ),
    pytest.param(
        {
            "status": 400,
            "error": "Bad Request",
            "response": {
                "message": [{"jid": "5511@s.whatsapp.net", "exists": False, "number": "5511"}]
            },
        },
        "number 5511 is not on WhatsApp",
        id="list of objects (number not on WhatsApp)",
    ),
    pytest.param(
        {"error": True, "message": "[object Object]"},
        "[object Object]",
        id="connect/restart error with HTTP 200",
    ),
    pytest.param(
        {"status": 404, "error": "Not Found", "response": {"message": ["Cannot GET /docs"]}},
        "Cannot GET /docs",
        id="unknown route",
    ),
    pytest.param(
        [{"property": "groupJid", "message": "is required"}],
        '[{"message": "is required", "property": "groupJid"}]',
        id="unknown shape kept as JSON",
    ),
    pytest.param(
        "<html><body>502 Bad Gateway</body></html>",
        "<html><body>502 Bad Gateway</body></html>",
        id="HTML from a proxy",
    ),
    pytest.param(None, "", id="empty"),
]


@pytest.mark.parametrize(("body", "expected"), ERROR_BODIES)
def test_parse_error_message(body, expected):
    assert parse_error_message(body) == expected


@pytest.mark.parametrize(("body", "expected"), ERROR_BODIES[:6])
def test_parse_error_message_from_raw_bytes(body, expected):
    assert parse_error_message(json.dumps(body).encode()) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"error": True, "message": "[object Object]"}, True),
        ({"status": "SUCCESS", "error": False, "response": {"message": "Instance deleted"}}, False),
        ({"count": 0}, False),
        (None, False),
        ([], False),
    ],
)
def test_is_error_body(body, expected):
    assert is_error_body(body) is expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "http://127.0.0.1:8080/instance/fetchInstances",
            "http://127.0.0.1:8080/instance/fetchInstances",
        ),
        ("https://admin:s3cret@api.example.com/x?apikey=k#f", "https://api.example.com/x"),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
    ],
)
def test_display_url_drops_user_info_and_query(url, expected):
    assert display_url(url) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://api.example.com/", "https://api.example.com"),
        (" http://localhost:8080 ", "http://localhost:8080"),
    ],
)
def test_validate_base_url_accepts(value, expected):
    assert validate_base_url(value, "api_url") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "127.0.0.1:8080",
            "api_url '127.0.0.1:8080' is not a valid http(s) URL: give the base URL of the "
            "Evolution API, for example http://127.0.0.1:8080.",
        ),
        (
            "ftp://host",
            "api_url 'ftp://host' is not a valid http(s) URL: give the base URL of the "
            "Evolution API, for example http://127.0.0.1:8080.",
        ),
        (
            "http://host:99999",
            "api_url 'http://host:99999' is not a valid http(s) URL: give the base URL of the "
            "Evolution API, for example http://127.0.0.1:8080.",
        ),
        (
            "http://host/?apikey=x",
            "api_url 'http://host/' must not carry a query string or fragment: give the base "
            "URL of the Evolution API, for example http://127.0.0.1:8080.",
        ),
    ],
)
def test_validate_base_url_rejects(value, message):
    with pytest.raises(EvolutionError) as caught:
        validate_base_url(value, "api_url")
    assert caught.value.msg == message


@pytest.mark.parametrize(
    ("retries", "backoff", "expected"),
    [
        (0, 1.0, []),
        (3, 1.0, [1.0, 2.0, 4.0]),
        (3, 0.0, [0.0, 0.0, 0.0]),
        (8, 1.0, [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]),
    ],
)
def test_backoff_delays_are_bounded(retries, backoff, expected):
    assert backoff_delays(retries, backoff) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"api_key": None},
            "api_key is missing: set the api_key option (or module_defaults for "
            "group/srcardoso.evolution.api, or the EVOLUTION_API_KEY environment variable) to "
            "the server's AUTHENTICATION_API_KEY.",
        ),
        ({"timeout_s": 0}, "timeout_s must be a positive number of seconds, not 0."),
        ({"retries": 11}, "retries must be between 0 and 10, not 11."),
        ({"retry_backoff_s": -1}, "retry_backoff_s must be 0 or more seconds, not -1."),
    ],
)
def test_client_rejects_bad_connection_options(kwargs, message):
    options = {"api_url": "http://127.0.0.1:8080", "api_key": "k", **kwargs}
    with pytest.raises(EvolutionError) as caught:
        EvolutionClient(**options)
    assert caught.value.msg == message


@pytest.mark.parametrize(
    ("segments", "query", "expected"),
    [
        (("instance", "fetchInstances"), None, "http://h:1/instance/fetchInstances"),
        (
            ("instance", "fetchInstances"),
            {"instanceName": "a b"},
            "http://h:1/instance/fetchInstances?instanceName=a+b",
        ),
        (("webhook", "find", "sales/eu"), None, "http://h:1/webhook/find/sales%2Feu"),
        (("webhook", "find", "café?"), None, "http://h:1/webhook/find/caf%C3%A9%3F"),
    ],
)
def test_url_quotes_each_segment(segments, query, expected):
    client = EvolutionClient("http://h:1/", "k")
    assert client.url(*segments, query=query) == expected
