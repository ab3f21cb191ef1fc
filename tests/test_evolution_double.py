"""The Evolution API test double reproduces what a real 2.3.6 server answered.

Every expected status and body here comes from shared/reference/evolution-api-recorded.md (or,
where nothing was recorded, from evolution-api-v2.md). All traffic is real HTTP on loopback;
the PostgreSQL and Redis used are real servers started by fixtures.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import hmac
import json
import os
import pwd
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from evolution_double import EVENTS_ALL, EvolutionDouble, RetryPolicy, StartupError, WebhookSink
from evolution_double.qr import qr_matrix

KEY = "testkey"
TESTS = Path(__file__).resolve().parent
FAST_RETRY = RetryPolicy(max_attempts=3, initial_delay_s=0.05, max_delay_s=0.2, jitter=0.0)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

UNAUTHORIZED = '{"status":401,"error":"Unauthorized","response":{"message":"Unauthorized"}}'
INSTANCE_KEYS = [
    "id",
    "name",
    "connectionStatus",
    "ownerJid",
    "profileName",
    "profilePicUrl",
    "integration",
    "number",
    "businessId",
    "token",
    "clientName",
    "disconnectionReasonCode",
    "disconnectionObject",
    "disconnectionAt",
    "createdAt",
    "updatedAt",
    "Chatwoot",
    "Proxy",
    "Rabbitmq",
    "Nats",
    "Sqs",
    "Websocket",
    "Setting",
    "_count",
]
SETTING_KEYS = [
    "id",
    "rejectCall",
    "msgCall",
    "groupsIgnore",
    "alwaysOnline",
    "readMessages",
    "readStatus",
    "syncFullHistory",
    "wavoipToken",
    "createdAt",
    "updatedAt",
    "instanceId",
]
WEBHOOK_KEYS = [
    "id",
    "url",
    "headers",
    "enabled",
    "events",
    "webhookByEvents",
    "webhookBase64",
    "createdAt",
    "updatedAt",
    "instanceId",
]
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UPPER_UUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$")
CUID = re.compile(r"^c[0-9a-z]{24}$")


# The 31 events a real server stored for `events: []`, in its order.
EVENTS_RECORDED = (
    *("APPLICATION_STARTUP", "QRCODE_UPDATED", "MESSAGES_SET", "MESSAGES_UPSERT"),
    *("MESSAGES_EDITED", "MESSAGES_UPDATE", "MESSAGES_DELETE", "SEND_MESSAGE"),
    *("SEND_MESSAGE_UPDATE", "CONTACTS_SET", "CONTACTS_UPSERT", "CONTACTS_UPDATE"),
    *("PRESENCE_UPDATE", "CHATS_SET", "CHATS_UPSERT", "CHATS_UPDATE", "CHATS_DELETE"),
    *("GROUPS_UPSERT", "GROUP_UPDATE", "GROUP_PARTICIPANTS_UPDATE", "CONNECTION_UPDATE"),
    *("LABELS_EDIT", "LABELS_ASSOCIATION", "CALL", "TYPEBOT_START", "TYPEBOT_CHANGE_STATUS"),
    *("REMOVE_INSTANCE", "LOGOUT_INSTANCE", "INSTANCE_CREATE", "INSTANCE_DELETE"),
    "STATUS_INSTANCE",
)


# -- helpers ------------------------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)


def call(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    key: str | None = KEY,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> Reply:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    sent = {"Content-Type": "application/json", **(headers or {})}
    if key is not None:
        sent["apikey"] = key
    request = urllib.request.Request(base + path, data=data, method=method, headers=sent)
    try:
        with _OPENER.open(request, timeout=15) as response:
            return Reply(response.status, response.read().decode())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.read().decode())


def create(base: str, name: str = "probe", **extra: Any) -> Reply:
    body = {"instanceName": name, "integration": "WHATSAPP-BAILEYS", "qrcode": False, **extra}
    return call(base, "POST", "/instance/create", body)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(test, timeout_s: float = 10.0, step_s: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if test():
            return True
        time.sleep(step_s)
    return False


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Check a PNG's structure and CRCs; return its width, height and RGBA rows."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, []
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body), f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        offset += 12 + length
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, colour, _, _, _ = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour) == (8, 6)  # 8-bit RGBA, like the qrcode npm package's PNGs
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * 4 + 1
    rows = [raw[i * stride : (i + 1) * stride] for i in range(height)]
    assert all(row[0] == 0 for row in rows)  # filter "none" everywhere
    return width, height, [row[1:] for row in rows]


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink() as receiver:
        yield receiver


@pytest.fixture
def double() -> Iterator[EvolutionDouble]:
    with EvolutionDouble(
        api_key=KEY, delete_delay_s=0.3, webhook_retry=FAST_RETRY, webhook_timeout_s=2
    ) as api:
        yield api


@pytest.fixture
def probe(double: EvolutionDouble) -> dict[str, Any]:
    reply = create(double.url)
    assert reply.status == 201
    return reply.json


@dataclass
class Postgres:
    host: str
    port: int
    user: str
    password: str

    def uri(self, database: str = "evolution", schema: str = "evolution_api", **over) -> str:
        user, password = over.get("user", self.user), over.get("password", self.password)
        port = over.get("port", self.port)
        return f"postgresql://{user}:{password}@{self.host}:{port}/{database}?schema={schema}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A real PostgreSQL from Debian's package, run as the postgres user on a free port."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not binaries:
        pytest.fail("PostgreSQL is not installed: apt-get install -y postgresql")
    bindir = Path(binaries[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="double-pg-"))
    demote = None
    if os.getuid() == 0:  # initdb refuses to run as root
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)

        def demote() -> None:
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)

    server = Postgres("127.0.0.1", free_port(), "evo", "s3cret-pw")
    pwfile = root / "pw"
    pwfile.write_text(server.password + "\n")
    if os.getuid() == 0:
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    subprocess.run(
        [
            str(bindir / "initdb"),
            *("-D", str(root / "data"), "-U", server.user, f"--pwfile={pwfile}"),
            *("--auth-local=trust", "--auth-host=scram-sha-256"),
            # SQL_ASCII, like the postgres stand-in image (initdb there has no locale).
            *("--encoding=SQL_ASCII", "--locale=C"),
        ],
        check=True,
        capture_output=True,
        preexec_fn=demote,
    )
    process = subprocess.Popen(
        [
            str(bindir / "postgres"),
            *("-D", str(root / "data"), "-p", str(server.port), "-c", "fsync=off"),
            *("-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={root}"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=demote,
    )
    try:
        import psycopg

        def ready() -> bool:
            try:
                with psycopg.connect(
                    host=server.host,
                    port=server.port,
                    user=server.user,
                    password=server.password,
                    dbname="postgres",
                    autocommit=True,
                ) as conn:
                    conn.execute("CREATE DATABASE evolution")
                return True
            except psycopg.OperationalError:
                return process.poll() is not None and pytest.fail("PostgreSQL did not start")

        if not wait_until(ready, timeout_s=30, step_s=0.2):
            pytest.fail("PostgreSQL did not answer within 30 s")
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis() -> Iterator[tuple[int, str]]:
    """A real redis-server on a free port, with a password: (port, password)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: apt-get install -y redis-server")
    port, password = free_port(), "r3dis-pw"
    process = subprocess.Popen(
        [
            binary,
            *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--requirepass", password),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def ready() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        if not wait_until(ready, timeout_s=10):
            pytest.fail("redis-server did not start")
        yield port, password
    finally:
        process.terminate()
        process.wait(timeout=10)


# -- GET /, authentication, unknown routes -------------------------------------------------------
def test_root_answers_without_a_key(double: EvolutionDouble) -> None:
    reply = call(double.url, "GET", "/", key=None)
    assert reply.status == 200
    body = reply.json
    assert list(body) == [
        "status",
        "message",
        "version",
        "clientName",
        "manager",
        "documentation",
        "whatsappWebVersion",
    ]
    assert body["message"] == "Welcome to the Evolution API, it is working!"
    assert body["version"] == "2.3.7"
    assert body["clientName"] == "evolution_exchange"
    assert body["manager"] == f"{double.url}/manager"
    assert body["whatsappWebVersion"] == "2.3000.1027934701"


@pytest.mark.parametrize("key", ["wrongkey", None])
def test_fetch_with_a_wrong_or_missing_key_is_401_with_a_string_message(
    double: EvolutionDouble, key: str | None
) -> None:
    reply = call(double.url, "GET", "/instance/fetchInstances", key=key)
    assert (reply.status, reply.text) == (401, UNAUTHORIZED)


def test_fetch_empty_is_an_empty_array(double: EvolutionDouble) -> None:
    assert call(double.url, "GET", "/instance/fetchInstances").text == "[]"


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/no/such/route"), ("GET", "/docs"), ("GET", "/instance/create")]
)
def test_unknown_routes_are_json_404_whatever_the_key(
    double: EvolutionDouble, method: str, path: str
) -> None:
    expected = {
        "status": 404,
        "error": "Not Found",
        "response": {"message": [f"Cannot {method} {path}"]},
    }
    for key in (KEY, "wrongkey"):
        reply = call(double.url, method, path, key=key)
        assert (reply.status, reply.json) == (404, expected)


def test_verify_creds_takes_only_the_global_key(double: EvolutionDouble, probe: dict) -> None:
    reply = call(double.url, "POST", "/verify-creds")
    assert (reply.status, reply.json["message"]) == (200, "Credentials are valid")
    assert call(double.url, "POST", "/verify-creds", key=probe["hash"]).status == 401


# -- create ------------------------------------------------------------------------------------
def test_create_answers_201_with_the_recorded_shape(double: EvolutionDouble) -> None:
    reply = create(double.url)
    assert reply.status == 201
    body = reply.json
    instance_id, token = body["instance"]["instanceId"], body["hash"]
    assert re.match(r"^[0-9a-f-]{36}$", instance_id) and UPPER_UUID.match(token)
    assert body == {
        "instance": {
            "instanceName": "probe",
            "instanceId": instance_id,
            "integration": "WHATSAPP-BAILEYS",
            "webhookWaBusiness": None,
            "accessTokenWaBusiness": "",
            "status": "close",
        },
        "hash": token,
        "webhook": {},
        "websocket": {},
        "rabbitmq": {},
        "nats": {},
        "sqs": {},
        "settings": {
            "rejectCall": False,
            "msgCall": "",
            "groupsIgnore": False,
            "alwaysOnline": False,
            "readMessages": False,
            "readStatus": False,
            "syncFullHistory": False,
            "wavoipToken": "",
        },
    }
    assert list(body) == [
        *("instance", "hash", "webhook", "websocket"),
        *("rabbitmq", "nats", "sqs", "settings"),
    ]


def test_create_keeps_a_given_token_and_settings(double: EvolutionDouble) -> None:
    reply = create(double.url, token="my-token", rejectCall=True, msgCall="busy")
    assert reply.json["hash"] == "my-token"
    assert reply.json["settings"]["rejectCall"] is True
    assert reply.json["settings"]["msgCall"] == "busy"
    assert double.instance("probe")["token"] == "my-token"


@pytest.mark.parametrize("key", [KEY, "wrongkey", None])
def test_a_taken_name_is_403_before_authentication(
    double: EvolutionDouble, probe: dict, key: str | None
) -> None:
    body = {"instanceName": "probe", "integration": "WHATSAPP-BAILEYS", "qrcode": False}
    reply = call(double.url, "POST", "/instance/create", body, key=key)
    assert reply.status == 403
    assert reply.text == (
        '{"status":403,"error":"Forbidden","response":'
        '{"message":["This name \\"probe\\" is already in use."]}}'
    )


def test_create_without_a_name_conflicts_with_any_instance(
    double: EvolutionDouble, probe: dict
) -> None:
    reply = call(double.url, "POST", "/instance/create", {"integration": "WHATSAPP-BAILEYS"})
    assert reply.status == 403
    assert reply.json["response"]["message"] == ['This name "undefined" is already in use.']


def test_create_needs_the_global_key(double: EvolutionDouble, probe: dict) -> None:
    assert create(double.url, "other").status == 201
    body = {"instanceName": "third", "integration": "WHATSAPP-BAILEYS"}
    for key in ("wrongkey", probe["hash"]):
        reply = call(double.url, "POST", "/instance/create", body, key=key)
        assert (reply.status, reply.text) == (401, UNAUTHORIZED)


def test_create_without_integration_is_400_invalid_integration(double: EvolutionDouble) -> None:
    for body in (
        {"instanceName": "xprobe2", "qrcode": False},
        {"instanceName": "x", "integration": "NOPE"},
    ):
        reply = call(double.url, "POST", "/instance/create", body)
        assert reply.status == 400
        assert reply.text == (
            '{"status":400,"error":"Bad Request","response":{"message":["Invalid integration"]}}'
        )


def test_create_schema_errors_are_nested(double: EvolutionDouble) -> None:
    reply = create(double.url, qrcode="yes")
    assert (reply.status, reply.json["response"]["message"]) == (
        400,
        [["qrcode is not of a type(s) boolean"]],
    )
    assert double.instance("probe") is None


def test_create_with_a_webhook_stores_it_enabled_and_unvalidated(
    double: EvolutionDouble,
) -> None:
    webhook = {
        "enabled": False,
        "url": "http://127.0.0.1:8099/hook",
        "byEvents": False,
        "base64": False,
        "events": ["CONNECTION_UPDATE", "NOT_AN_EVENT"],
    }
    reply = create(double.url, "xprobe", webhook=webhook)
    assert reply.status == 201
    assert reply.json["webhook"] == {
        "webhookUrl": "http://127.0.0.1:8099/hook",
        "webhookByEvents": False,
        "webhookBase64": False,
    }
    found = call(double.url, "GET", "/webhook/find/xprobe").json
    assert list(found) == WEBHOOK_KEYS
    assert found["enabled"] is True and found["headers"] is None
    assert found["events"] == ["CONNECTION_UPDATE", "NOT_AN_EVENT"]
    assert found["instanceId"] == reply.json["instance"]["instanceId"]


def test_create_with_a_webhook_without_events_is_400_and_rolled_back(
    double: EvolutionDouble,
) -> None:
    reply = create(double.url, webhook={"url": "http://127.0.0.1:1/hook"})
    assert reply.status == 400
    assert reply.json["response"]["message"] == [
        "Cannot read properties of undefined (reading 'length')"
    ]
    assert create(double.url).status == 403  # the roll-back is asynchronous, like a delete
    assert double.wait_removed("probe", timeout_s=5)
    assert create(double.url).status == 201


# -- fetchInstances ----------------------------------------------------------------------------
def test_fetch_returns_database_rows_with_tokens(double: EvolutionDouble, probe: dict) -> None:
    rows = call(double.url, "GET", "/instance/fetchInstances").json
    assert len(rows) == 1
    row = rows[0]
    assert list(row) == INSTANCE_KEYS
    assert list(row["Setting"]) == SETTING_KEYS
    assert row["id"] == probe["instance"]["instanceId"] == row["Setting"]["instanceId"]
    assert row["name"] == "probe" and row["token"] == probe["hash"]
    assert row["connectionStatus"] == "close" and row["integration"] == "WHATSAPP-BAILEYS"
    assert row["clientName"] == "evolution_exchange"
    assert all(row[key] is None for key in ("Chatwoot", "Proxy", "Rabbitmq", "Nats", "Sqs"))
    assert row["_count"] == {"Message": 0, "Contact": 0, "Chat": 0}
    assert ISO_MS.match(row["createdAt"]) and CUID.match(row["Setting"]["id"])
    one = call(double.url, "GET", "/instance/fetchInstances?instanceName=probe").json
    assert one == rows


def test_fetch_filters_and_their_404s(double: EvolutionDouble, probe: dict) -> None:
    reply = call(double.url, "GET", "/instance/fetchInstances?instanceName=nosuch")
    assert reply.status == 404
    assert reply.text == (
        '{"status":404,"error":"Not Found","response":'
        '{"message":["Instance \\"nosuch\\" not found"]}}'
    )
    by_id = f"/instance/fetchInstances?instanceId={probe['instance']['instanceId']}"
    assert call(double.url, "GET", by_id).json[0]["name"] == "probe"
    missing = call(double.url, "GET", "/instance/fetchInstances?instanceId=nope")
    assert missing.json["response"]["message"] == ['Instance "nope" not found']


def test_an_instance_token_sees_only_its_instances(double: EvolutionDouble, probe: dict) -> None:
    other = create(double.url, "other").json
    rows = call(double.url, "GET", "/instance/fetchInstances", key=probe["hash"]).json
    assert [row["name"] for row in rows] == ["probe"]
    reply = call(
        double.url, "GET", "/instance/fetchInstances?instanceName=other", key=probe["hash"]
    )
    assert (reply.status, reply.text) == (401, UNAUTHORIZED)
    state = call(double.url, "GET", "/instance/connectionState/probe", key=probe["hash"])
    assert state.json == {"instance": {"instanceName": "probe", "state": "close"}}
    foreign = call(double.url, "GET", "/instance/connectionState/probe", key=other["hash"])
    assert (foreign.status, foreign.text) == (401, UNAUTHORIZED)


def test_other_client_names_are_hidden_but_keep_their_names(double: EvolutionDouble) -> None:
    create(double.url, "elsewhere")
    row = double.state.instance("elsewhere")
    double.state.update_instance(row["id"], {"clientName": "another"})
    assert call(double.url, "GET", "/instance/fetchInstances").json == []
    assert call(double.url, "GET", "/webhook/find/elsewhere").text == "null"
    assert create(double.url, "elsewhere").status == 403


# -- instance routes ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/instance/connectionState/nosuch"),
        ("GET", "/instance/connect/nosuch"),
        ("POST", "/instance/restart/nosuch"),
        ("DELETE", "/instance/delete/nosuch"),
        ("GET", "/webhook/find/nosuch"),
        ("POST", "/settings/set/nosuch"),
        ("POST", "/message/sendText/nosuch"),
    ],
)
def test_an_unknown_instance_is_404_before_401(
    double: EvolutionDouble, method: str, path: str
) -> None:
    for key in (KEY, "wrongkey", None):
        reply = call(double.url, method, path, key=key)
        assert reply.status == 404
        assert reply.text == (
            '{"status":404,"error":"Not Found","response":'
            '{"message":["The \\"nosuch\\" instance does not exist"]}}'
        )


def test_restart_on_a_closed_instance_is_an_error_with_status_200(
    double: EvolutionDouble, probe: dict
) -> None:
    reply = call(double.url, "POST", "/instance/restart/probe")
    assert (reply.status, reply.text) == (200, '{"error":true,"message":"[object Object]"}')


def test_logout_on_a_closed_instance_is_400(double: EvolutionDouble, probe: dict) -> None:
    reply = call(double.url, "DELETE", "/instance/logout/probe")
    assert reply.status == 400
    assert reply.json["response"]["message"] == ['The "probe" instance is not connected']


# -- webhook -----------------------------------------------------------------------------------
def test_webhook_find_is_null_before_any_set(double: EvolutionDouble, probe: dict) -> None:
    reply = call(double.url, "GET", "/webhook/find/probe")
    assert (reply.status, reply.text) == (200, "null")


def test_webhook_set_and_find_as_recorded(double: EvolutionDouble, probe: dict) -> None:
    webhook = {
        "enabled": True,
        "url": "http://127.0.0.1:8099/hook",
        "headers": {"X-Probe": "1"},
        "byEvents": False,
        "base64": False,
        "events": ["CONNECTION_UPDATE", "QRCODE_UPDATED", "MESSAGES_UPSERT"],
    }
    reply = call(double.url, "POST", "/webhook/set/probe", {"webhook": webhook})
    assert reply.status == 201
    stored = reply.json
    assert list(stored) == WEBHOOK_KEYS
    assert CUID.match(stored["id"]) and ISO_MS.match(stored["updatedAt"])
    assert {k: stored[k] for k in WEBHOOK_KEYS[1:7]} == {
        "url": "http://127.0.0.1:8099/hook",
        "headers": {"X-Probe": "1"},
        "enabled": True,
        "events": ["CONNECTION_UPDATE", "QRCODE_UPDATED", "MESSAGES_UPSERT"],
        "webhookByEvents": False,
        "webhookBase64": False,
    }
    assert stored["instanceId"] == probe["instance"]["instanceId"]
    assert call(double.url, "GET", "/webhook/find/probe").json == stored
    wrong = call(double.url, "GET", "/webhook/find/probe", key="wrongkey")
    assert (wrong.status, wrong.text) == (401, UNAUTHORIZED)


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        (
            {"webhook": {"enabled": True}},
            400,
            '{"status":400,"error":"Bad Request","response":'
            '{"message":[["webhook requires property \\"url\\""]]}}',
        ),
        (
            {"enabled": True, "url": "http://127.0.0.1:8099/hook"},
            400,
            '{"status":400,"error":"Bad Request","response":'
            '{"message":[["instance requires property \\"webhook\\""]]}}',
        ),
        (
            {"webhook": {"enabled": True, "url": "http://127.0.0.1:8099/hook"}},
            500,
            '{"status":500,"error":"Internal Server Error","response":'
            '{"message":"Cannot read properties of undefined (reading \'length\')"}}',
        ),
    ],
)
def test_webhook_set_errors_as_recorded(
    double: EvolutionDouble, probe: dict, body: dict, status: int, text: str
) -> None:
    reply = call(double.url, "POST", "/webhook/set/probe", body)
    assert (reply.status, reply.text) == (status, text)
    assert call(double.url, "GET", "/webhook/find/probe").text == "null"


def test_webhook_set_rejects_unknown_events_by_index(double: EvolutionDouble, probe: dict) -> None:
    body = {"webhook": {"enabled": True, "url": "http://x/h", "events": ["CALL", "NOPE"]}}
    reply = call(double.url, "POST", "/webhook/set/probe", body)
    assert reply.status == 400
    assert reply.json["response"]["message"] == [
        ["webhook.events[1] is not one of enum values: " + ",".join(EVENTS_ALL)]
    ]


def test_empty_events_are_stored_as_all_31_and_disabled_as_none(
    double: EvolutionDouble, probe: dict
) -> None:
    url = "http://127.0.0.1:8099/hook"
    body = {"webhook": {"enabled": True, "url": url, "events": []}}
    stored = call(double.url, "POST", "/webhook/set/probe", body).json
    recorded_all = list(EVENTS_RECORDED)
    assert stored["events"] == recorded_all and len(recorded_all) == 31
    assert call(double.url, "GET", "/webhook/find/probe").json["events"] == recorded_all
    body = {"webhook": {"enabled": False, "url": url, "events": ["CONNECTION_UPDATE"]}}
    disabled = call(double.url, "POST", "/webhook/set/probe", body).json
    assert (disabled["enabled"], disabled["events"], disabled["url"]) == (False, [], url)
    assert disabled["id"] == stored["id"] and disabled["createdAt"] == stored["createdAt"]


def test_webhook_set_keeps_omitted_optional_fields(double: EvolutionDouble, probe: dict) -> None:
    first = {"enabled": True, "url": "http://a/h", "events": ["CALL"], "headers": {"A": "1"}}
    first |= {"byEvents": True, "base64": True}
    call(double.url, "POST", "/webhook/set/probe", {"webhook": first})
    second = {"enabled": True, "url": "http://b/h", "events": ["CALL", "CALL"]}
    stored = call(double.url, "POST", "/webhook/set/probe", {"webhook": second}).json
    assert stored["headers"] == {"A": "1"}
    assert stored["webhookByEvents"] is True and stored["webhookBase64"] is True
    assert stored["url"] == "http://b/h" and stored["events"] == ["CALL", "CALL"]
    cleared = {**second, "headers": {}, "byEvents": False}
    stored = call(double.url, "POST", "/webhook/set/probe", {"webhook": cleared}).json
    assert stored["headers"] == {} and stored["webhookByEvents"] is False


# -- settings ----------------------------------------------------------------------------------
def test_settings_set_and_find_as_recorded(double: EvolutionDouble, probe: dict) -> None:
    body = {
        "rejectCall": True,
        "msgCall": "busy",
        "groupsIgnore": True,
        "alwaysOnline": False,
        "readMessages": False,
        "readStatus": False,
        "syncFullHistory": False,
    }
    reply = call(double.url, "POST", "/settings/set/probe", body)
    assert reply.status == 201
    assert reply.text == json.dumps(
        {"settings": {"instanceName": "probe", "settings": body}}, separators=(",", ":")
    )
    found = call(double.url, "GET", "/settings/find/probe")
    assert found.text == (
        '{"rejectCall":true,"msgCall":"busy","groupsIgnore":true,"alwaysOnline":false,'
        '"readMessages":false,"readStatus":false,"syncFullHistory":false,"wavoipToken":""}'
    )
    without_msg = {key: value for key, value in body.items() if key != "msgCall"}
    call(double.url, "POST", "/settings/set/probe", without_msg)
    assert call(double.url, "GET", "/settings/find/probe").json["msgCall"] == "busy"
    setting = call(double.url, "GET", "/instance/fetchInstances").json[0]["Setting"]
    assert setting["rejectCall"] is True and setting["msgCall"] == "busy"


def test_settings_set_with_missing_flags_lists_each(double: EvolutionDouble, probe: dict) -> None:
    reply = call(double.url, "POST", "/settings/set/probe", {"rejectCall": False})
    assert reply.status == 400
    assert reply.text == (
        '{"status":400,"error":"Bad Request","response":{"message":[['
        '"instance requires property \\"groupsIgnore\\"",'
        '"instance requires property \\"alwaysOnline\\"",'
        '"instance requires property \\"readMessages\\"",'
        '"instance requires property \\"readStatus\\"",'
        '"instance requires property \\"syncFullHistory\\""]]}}'
    )


# -- errors of transport ------------------------------------------------------------------------
def test_malformed_json_is_400_with_the_internal_error_label(double: EvolutionDouble) -> None:
    reply = call(double.url, "POST", "/instance/create", raw=b'{"instanceName": ')
    assert reply.status == 400
    assert reply.json["status"] == 400 and reply.json["error"] == "Internal Server Error"
    assert isinstance(reply.json["response"]["message"], str)


def test_a_restricted_cors_origin_breaks_calls_without_origin() -> None:
    with EvolutionDouble(api_key=KEY, cors_origin="https://app.example") as api:
        reply = call(api.url, "GET", "/instance/fetchInstances")
        assert reply.status == 500
        assert reply.text == (
            '{"status":500,"error":"Internal Server Error","response":'
            '{"message":"Not allowed by CORS"}}'
        )
        allowed = call(
            api.url, "GET", "/instance/fetchInstances", headers={"Origin": "https://app.example"}
        )
        assert allowed.status == 200


# -- connect, QR code, pairing, logout, sendText -----------------------------------------------
KNOWN_QR = [  # "2@double", level H, mask 4: checked against zbarimg and python-qrcode
    "#######..##.#.#.#.#######",
    "#.....#.#....#.##.#.....#",
    "#.###.#...#.#..##.#.###.#",
    "#.###.#..#####..#.#.###.#",
    "#.###.#..###...##.#.###.#",
    "#.....#.#.#.#...#.#.....#",
    "#######.#.#.#.#.#.#######",
    "........##.#..###........",
    "....####.....#.#..##...#.",
    "..#.#...#####.#...#..#...",
    "#..##.#.##..#...##..###..",
    ".#..##.####.#.##...##.##.",
    "....##########..#.###.#.#",
    "##.###.#.####....######.#",
    "..##.###..#.#.##..##.....",
    "..#..#.#.##.########..###",
    "####.#####...#..#######.#",
    "........#...###.#...##.#.",
    "#######.##..##.##.#.#.##.",
    "#.....#.#.##....#...#.##.",
    "#.###.#.##..#..######.#..",
    "#.###.#...####..##.#....#",
    "#.###.#...#.#.#..#.#.#.#.",
    "#.....#..#.#.#..##....##.",
    "#######..#.#.#...##...###",
]


def test_qr_encoder_matches_a_known_answer() -> None:
    matrix = ["".join("#" if dark else "." for dark in row) for row in qr_matrix("2@double")]
    assert matrix == KNOWN_QR


def test_connect_returns_a_qr_code_png_and_goes_connecting(
    double: EvolutionDouble, probe: dict, sink: WebhookSink
) -> None:
    hook = {"enabled": True, "url": sink.url + "/hook", "events": []}
    call(double.url, "POST", "/webhook/set/probe", {"webhook": hook})
    reply = call(double.url, "GET", "/instance/connect/probe")
    assert reply.status == 200
    qrcode = reply.json
    assert list(qrcode) == ["pairingCode", "code", "base64", "count"]
    assert qrcode["pairingCode"] is None and qrcode["count"] == 1
    assert re.match(r"^2@[A-Za-z0-9+/=]+(,[A-Za-z0-9+/]{43}=){3}$", qrcode["code"])
    prefix = "data:image/png;base64,"
    assert qrcode["base64"].startswith(prefix)
    width, height, rows = png_pixels(base64.b64decode(qrcode["base64"][len(prefix) :]))
    matrix = qr_matrix(qrcode["code"])
    assert width == height == (len(matrix) + 6) * 4  # margin 3, scale 4
    ink, paper = bytes.fromhex("175197ff"), bytes.fromhex("ffffffff")
    for y, line in enumerate(matrix):
        row = rows[(y + 3) * 4 + 1]
        for x, dark in enumerate(line):
            assert row[((x + 3) * 4 + 1) * 4 :][:4] == (ink if dark else paper)
    assert rows[0] == paper * width  # the quiet zone
    state = call(double.url, "GET", "/instance/connectionState/probe").json
    assert state == {"instance": {"instanceName": "probe", "state": "connecting"}}
    assert call(double.url, "GET", "/instance/connect/probe").json == qrcode  # no new socket
    update = sink.wait_for("connection.update")[0]
    assert update.body["data"] == {"instance": "probe", "state": "connecting", "statusReason": 200}
    posted = sink.wait_for("qrcode.updated")[0].body["data"]["qrcode"]
    assert posted == {"instance": "probe", "pairingCode": None, "code": qrcode["code"]} | {
        "base64": qrcode["base64"]
    }


def test_connect_with_a_number_gives_a_pairing_code(double: EvolutionDouble, probe: dict) -> None:
    qrcode = call(double.url, "GET", "/instance/connect/probe?number=5511999990000").json
    assert re.match(r"^[1-9A-HJ-NP-TV-Z]{8}$", qrcode["pairingCode"])


def test_restart_while_connecting_refreshes_the_qr_code(
    double: EvolutionDouble, probe: dict
) -> None:
    first = call(double.url, "GET", "/instance/connect/probe").json
    again = call(double.url, "POST", "/instance/restart/probe")
    assert again.status == 200 and again.json["code"] != first["code"]


def test_create_with_qrcode_true_connects_at_once(double: EvolutionDouble) -> None:
    body = create(double.url, qrcode=True).json
    assert body["instance"]["status"] == "connecting"
    assert body["qrcode"]["count"] == 1 and body["qrcode"]["base64"].startswith("data:image/png")


def test_pairing_opens_and_logout_closes_with_401(
    double: EvolutionDouble, probe: dict, sink: WebhookSink
) -> None:
    hook = {"enabled": True, "url": sink.url, "events": [], "headers": {"X-Probe": "1"}}
    call(double.url, "POST", "/webhook/set/probe", {"webhook": hook})
    call(double.url, "GET", "/instance/connect/probe")
    double.pair("probe", number="5511999990000", profile_name="Probe")
    opened = sink.wait_for(
        lambda r: r.event == "connection.update" and r.body["data"]["state"] == "open"
    )
    assert opened[0].body["data"]["wuid"] == "5511999990000@s.whatsapp.net"
    assert opened[0].body["sender"] == "5511999990000@s.whatsapp.net"
    state = call(double.url, "GET", "/instance/connectionState/probe").json["instance"]["state"]
    connect = call(double.url, "GET", "/instance/connect/probe").json
    assert state == "open" and connect == {"instance": {"instanceName": "probe", "state": "open"}}
    reply = call(double.url, "DELETE", "/instance/logout/probe")
    assert (
        reply.text
        == '{"status":"SUCCESS","error":false,"response":{"message":"Instance logged out"}}'
    )
    row = call(double.url, "GET", "/instance/fetchInstances").json[0]
    assert row["connectionStatus"] == "close" and row["disconnectionReasonCode"] == 401
    cause = json.loads(row["disconnectionObject"])
    assert cause["error"]["output"]["payload"]["message"] == "Log out instance: probe"
    assert sink.wait_for("logout.instance")[0].body["data"] is None
    assert sink.wait_for("status.instance")[0].body["data"]["status"] == "closed"
    closed = sink.wait_for(
        lambda r: r.event == "connection.update" and r.body["data"]["state"] == "close"
    )
    assert closed[0].body["data"]["statusReason"] == 401


def test_send_text_depends_on_the_connection(
    double: EvolutionDouble, probe: dict, sink: WebhookSink
) -> None:
    path, text = "/message/sendText/probe", {"number": "+55 (11) 99999-0001", "text": "hi"}
    missing = call(double.url, "POST", path, {"text": "hi"})
    assert missing.json["response"]["message"] == [['instance requires property "number"']]
    blank = call(double.url, "POST", path, {"number": "1", "text": "  "})
    assert blank.json["response"]["message"] == ["Text is required"]
    never = call(double.url, "POST", path, text)
    assert (never.status, never.json["response"]["message"]) == (
        500,
        "Cannot read properties of undefined (reading 'onWhatsApp')",
    )
    call(double.url, "GET", "/instance/connect/probe")
    closed = call(double.url, "POST", path, text)
    assert (closed.status, closed.json["response"]["message"]) == (500, "Connection Closed")
    hook = {"enabled": True, "url": sink.url, "events": ["SEND_MESSAGE"]}
    call(double.url, "POST", "/webhook/set/probe", {"webhook": hook})
    double.pair("probe")
    sent = call(double.url, "POST", path, text)
    assert sent.status == 201
    message = sent.json
    assert message["key"]["remoteJid"] == "5511999990001@s.whatsapp.net"
    assert message["key"]["fromMe"] is True and message["status"] == "PENDING"
    assert message["message"] == {"conversation": "hi"}
    assert sink.wait_for("send.message")[0].body["data"] == message


# -- deletion ----------------------------------------------------------------------------------
def test_delete_is_asynchronous() -> None:
    with EvolutionDouble(api_key=KEY, delete_delay_s=1.0) as api:
        create(api.url)
        started = time.monotonic()
        reply = call(api.url, "DELETE", "/instance/delete/probe")
        assert reply.text == (
            '{"status":"SUCCESS","error":false,"response":{"message":"Instance deleted"}}'
        )
        listed = call(api.url, "GET", "/instance/fetchInstances").json
        taken = create(api.url).status
        again = call(api.url, "DELETE", "/instance/delete/probe").status
        assert time.monotonic() - started < 1.0  # all of that inside delete_delay_s
        assert ([row["name"] for row in listed], taken, again) == (["probe"], 403, 200)
        assert api.wait_removed("probe", timeout_s=5)
        assert time.monotonic() - started >= 1.0
        gone = call(api.url, "GET", "/instance/fetchInstances?instanceName=probe")
        assert gone.status == 404
        assert call(api.url, "GET", "/instance/fetchInstances").text == "[]"
        assert call(api.url, "GET", "/instance/connectionState/probe").status == 404
        assert create(api.url).status == 201


def test_delete_lingers_until_the_remove_instance_webhook_is_delivered() -> None:
    port = free_port()
    retry = RetryPolicy(max_attempts=50, initial_delay_s=0.2, exponential=False, jitter=0.0)
    with EvolutionDouble(api_key=KEY, delete_delay_s=0.05, webhook_retry=retry) as api:
        create(api.url, "linger")
        hook = {"enabled": True, "url": f"http://127.0.0.1:{port}/nothing-listens"}
        hook["events"] = ["REMOVE_INSTANCE"]
        call(api.url, "POST", "/webhook/set/linger", {"webhook": hook})
        token = api.instance("linger")["token"]
        assert call(api.url, "DELETE", "/instance/delete/linger").status == 200
        time.sleep(0.7)  # several failed attempts
        assert api.instance("linger") is not None
        state = call(api.url, "GET", "/instance/connectionState/linger").json
        assert state == {"instance": {"instanceName": "linger", "state": "close"}}
        assert create(api.url, "linger").status == 403
        failures = [a for a in api.deliveries if a.event == "remove.instance"]
        assert len(failures) >= 2 and all(a.status is None for a in failures)
        with WebhookSink(port=port) as late:
            body = late.wait_for("remove.instance", timeout_s=5)[0].body
            assert api.wait_removed("linger", timeout_s=5)
    assert body["data"] is None and body["apikey"] == token
    assert body["destination"] == f"http://127.0.0.1:{port}/nothing-listens"
    assert list(body) == [
        *("event", "instance", "data", "destination", "date_time", "server_url"),
        "apikey",
    ]


def test_a_non_retryable_answer_ends_the_wait_at_once(double: EvolutionDouble, probe: dict) -> None:
    with WebhookSink(status=404) as refusing:
        hook = {"enabled": True, "url": refusing.url, "events": ["REMOVE_INSTANCE"]}
        call(double.url, "POST", "/webhook/set/probe", {"webhook": hook})
        call(double.url, "DELETE", "/instance/delete/probe")
        assert double.wait_removed("probe", timeout_s=5)
        assert refusing.refused == 1


# -- webhook delivery --------------------------------------------------------------------------
def test_delivery_envelope_headers_and_by_events_suffix(
    double: EvolutionDouble, probe: dict, sink: WebhookSink
) -> None:
    hook = {
        "enabled": True,
        "url": sink.url + "/hook",
        "events": ["CONNECTION_UPDATE", "QRCODE_UPDATED"],
        "headers": {"X-Probe": "1", "apikey": "backend-token"},
        "byEvents": True,
    }
    call(double.url, "POST", "/webhook/set/probe", {"webhook": hook})
    call(double.url, "GET", "/instance/connect/probe")
    update = sink.wait_for("connection.update")[0]
    assert update.path == "/hook/connection-update"
    assert sink.wait_for("qrcode.updated")[0].path == "/hook/qrcode-updated"
    assert update.headers["X-Probe"] == "1" and update.headers["apikey"] == "backend-token"
    assert update.headers["Content-Type"] == "application/json"
    assert update.headers["User-Agent"] == "axios/1.12.2"
    assert list(update.body) == [
        "event",
        "instance",
        "data",
        "destination",
        "date_time",
        "server_url",
        "apikey",
    ]
    assert update.body["instance"] == "probe"
    assert update.body["destination"] == sink.url + "/hook"  # without the suffix
    assert update.body["server_url"] == double.url
    assert update.body["apikey"] == probe["hash"]
    assert ISO_MS.match(update.body["date_time"])
    assert all(
        received.event in ("connection.update", "qrcode.updated") for received in sink.received
    )


def test_delivery_follows_the_event_list_and_the_switch(
    double: EvolutionDouble, probe: dict, sink: WebhookSink
) -> None:
    hook = {"enabled": True, "url": sink.url, "events": ["QRCODE_UPDATED"]}
    call(double.url, "POST", "/webhook/set/probe", {"webhook": hook})
    call(double.url, "GET", "/instance/connect/probe")
    sink.wait_for("qrcode.updated")
    hook["enabled"] = False
    call(double.url, "POST", "/webhook/set/probe", {"webhook": hook})
    call(double.url, "POST", "/instance/restart/probe")
    create(double.url, "ftp", webhook={"url": "ftp://127.0.0.1/x", "events": []})
    time.sleep(0.3)
    assert [received.event for received in sink.received] == ["qrcode.updated"]
    assert not [a for a in double.deliveries if a.url.startswith("ftp:")]


def test_a_jwt_key_header_becomes_a_bearer_token(
    double: EvolutionDouble, probe: dict, sink: WebhookSink
) -> None:
    hook = {"enabled": True, "url": sink.url, "events": ["CONNECTION_UPDATE"]}
    hook["headers"] = {"jwt_key": "signing-secret"}
    call(double.url, "POST", "/webhook/set/probe", {"webhook": hook})
    call(double.url, "GET", "/instance/connect/probe")
    headers = sink.wait_for("connection.update")[0].headers
    assert "jwt_key" not in {name.lower() for name in headers}
    token = headers["Authorization"].removeprefix("Bearer ")
    header, payload, signature = token.split(".")
    expected = hmac.new(b"signing-secret", f"{header}.{payload}".encode(), hashlib.sha256)
    assert base64.urlsafe_b64decode(signature + "==") == expected.digest()
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    assert claims["exp"] - claims["iat"] == 600
    assert (claims["app"], claims["action"]) == ("evolution", "webhook")


def test_create_webhook_receives_instance_create(
    double: EvolutionDouble, sink: WebhookSink
) -> None:
    reply = create(double.url, webhook={"url": sink.url, "events": ["INSTANCE_CREATE"]})
    data = sink.wait_for("instance.create")[0].body["data"]
    assert data == {"instanceName": "probe", "instanceId": reply.json["instance"]["instanceId"]}


def test_failing_deliveries_never_fail_the_api(double: EvolutionDouble, probe: dict) -> None:
    refused = {"enabled": True, "url": f"http://127.0.0.1:{free_port()}/down", "events": []}
    call(double.url, "POST", "/webhook/set/probe", {"webhook": refused})
    assert call(double.url, "GET", "/instance/connect/probe").status == 200
    assert wait_until(lambda: any(a.error for a in double.deliveries))
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        hung = {**refused, "url": f"http://127.0.0.1:{silent.getsockname()[1]}/hang"}
        call(double.url, "POST", "/webhook/set/probe", {"webhook": hung})
        started = time.monotonic()
        assert call(double.url, "POST", "/instance/restart/probe").status == 200
        assert call(double.url, "DELETE", "/instance/logout/probe").status == 200
        assert time.monotonic() - started < 1.5  # the double's webhook timeout is 2 s


# -- request log -------------------------------------------------------------------------------
def test_requests_are_recorded_and_cleared(double: EvolutionDouble, probe: dict) -> None:
    recorded = double.requests[-1]
    assert (recorded.method, recorded.path, recorded.status) == ("POST", "/instance/create", 201)
    assert recorded.body["instanceName"] == "probe" and recorded.headers["apikey"] == KEY
    double.clear_requests()
    call(double.url, "GET", "/instance/fetchInstances?instanceName=probe")
    call(double.url, "GET", "/webhook/find/probe")
    assert [(r.method, r.path, r.query) for r in double.requests] == [
        ("GET", "/instance/fetchInstances", {"instanceName": "probe"}),
        ("GET", "/webhook/find/probe", {}),
    ]
    assert {r.method for r in double.requests} == {"GET"}


def test_instances_dir_holds_a_folder_per_instance(tmp_path: Path) -> None:
    with EvolutionDouble(api_key=KEY, delete_delay_s=0.05, instances_dir=tmp_path) as api:
        instance_id = create(api.url).json["instance"]["instanceId"]
        assert (tmp_path / instance_id / "instance.json").is_file()
        call(api.url, "DELETE", "/instance/delete/probe")
        assert api.wait_removed("probe")
        assert not (tmp_path / instance_id).exists()


# -- PostgreSQL, Redis and start failures ------------------------------------------------------
def test_postgres_state_survives_a_restart(postgres: Postgres) -> None:
    uri = postgres.uri(schema="restart_test")
    hook = {"enabled": True, "url": "http://127.0.0.1:9/h", "events": [], "headers": {"T": "x"}}
    with EvolutionDouble(api_key=KEY, database_uri=uri, delete_delay_s=0.05) as api:
        token = create(api.url, "kept", rejectCall=True).json["hash"]
        create(api.url, "dropped")
        call(api.url, "POST", "/webhook/set/kept", {"webhook": hook})
        call(api.url, "DELETE", "/instance/delete/dropped")
        assert api.wait_removed("dropped")
        before = call(api.url, "GET", "/instance/fetchInstances").json
    with EvolutionDouble(api_key=KEY, database_uri=uri) as api:
        after = call(api.url, "GET", "/instance/fetchInstances").json
        assert after == before and [row["name"] for row in after] == ["kept"]
        assert after[0]["token"] == token and after[0]["Setting"]["rejectCall"] is True
        found = call(api.url, "GET", "/webhook/find/kept").json
        assert found["headers"] == {"T": "x"} and len(found["events"]) == 31
        assert create(api.url, "kept").status == 403
    import psycopg

    with psycopg.connect(postgres.uri().split("?")[0], client_encoding="UTF8") as conn:
        names = conn.execute('SELECT name FROM restart_test."Instance"').fetchall()
    assert names == [("kept",)]


def test_postgres_mode_runs_the_recorded_flow(postgres: Postgres, sink: WebhookSink) -> None:
    uri = postgres.uri(schema="flow_test")
    with EvolutionDouble(api_key=KEY, database_uri=uri, delete_delay_s=0.05) as api:
        probe = create(api.url).json
        assert call(api.url, "GET", "/webhook/find/probe").text == "null"
        hook = {"enabled": True, "url": sink.url, "events": ["CONNECTION_UPDATE"]}
        stored = call(api.url, "POST", "/webhook/set/probe", {"webhook": hook}).json
        assert stored["headers"] is None and stored["events"] == ["CONNECTION_UPDATE"]
        flags = dict.fromkeys(["rejectCall", "groupsIgnore", "alwaysOnline"], True)
        flags |= dict.fromkeys(["readMessages", "readStatus", "syncFullHistory"], False)
        assert call(api.url, "POST", "/settings/set/probe", flags).status == 201
        assert call(api.url, "GET", "/settings/find/probe").json["groupsIgnore"] is True
        call(api.url, "GET", "/instance/connect/probe")
        assert sink.wait_for("connection.update")[0].body["apikey"] == probe["hash"]
        api.pair("probe")
        call(api.url, "DELETE", "/instance/logout/probe")
        row = api.instance("probe")
        assert row["disconnectionReasonCode"] == 401 and ISO_MS.match(row["disconnectionAt"])
        call(api.url, "DELETE", "/instance/delete/probe")
        assert api.wait_removed("probe")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"password": "wrong"}, "Error: P1000: Authentication failed against database server"),
        ({"port": "closed"}, "Error: P1001: Can't reach database server at `127.0.0.1:"),
        ({"database": "nosuchdb"}, "Error: P1003: Database `nosuchdb` does not exist"),
    ],
)
def test_a_bad_database_uri_stops_the_start(
    postgres: Postgres, change: dict, expected: str
) -> None:
    if change.get("port") == "closed":
        change = {"port": free_port()}
    uri = postgres.uri(**change)
    double = EvolutionDouble(api_key=KEY, database_uri=uri)
    with pytest.raises(StartupError, match=re.escape(expected)):
        double.start()


def test_redis_must_answer_ping(redis: tuple[int, str]) -> None:
    port, password = redis
    with EvolutionDouble(api_key=KEY, redis_uri=f"redis://:{password}@127.0.0.1:{port}/6") as api:
        assert call(api.url, "GET", "/", key=None).status == 200
    for uri in (f"redis://127.0.0.1:{free_port()}/6", f"redis://:wrong@127.0.0.1:{port}/6"):
        with pytest.raises(StartupError, match="redis disconnected") as caught:
            EvolutionDouble(api_key=KEY, redis_uri=uri).start()
        assert "wrong" not in str(caught.value)  # the password is not logged


def _main(env: dict[str, str], timeout_s: float = 20) -> subprocess.CompletedProcess:
    full = {"PATH": os.environ["PATH"], "PYTHONPATH": str(TESTS), **env}
    return subprocess.run(
        [sys.executable, "-m", "evolution_double"],
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"DOCKER_ENV": "true"}, "Error: Database provider  invalid."),
        (
            {"DATABASE_PROVIDER": "postgresql", "DATABASE_CONNECTION_URI": "BAD_PASSWORD"},
            "Error: P1000: Authentication failed",
        ),
        (
            {"CACHE_REDIS_ENABLED": "true", "CACHE_REDIS_URI": "DEAD_REDIS"},
            "ERROR [Redis] redis disconnected",
        ),
    ],
)
def test_the_server_exits_1_with_a_clear_line(
    postgres: Postgres, env: dict[str, str], expected: str
) -> None:
    env = dict(env)
    if env.get("DATABASE_CONNECTION_URI") == "BAD_PASSWORD":
        env["DATABASE_CONNECTION_URI"] = postgres.uri(password="wrong")
    if env.get("CACHE_REDIS_URI") == "DEAD_REDIS":
        env["CACHE_REDIS_URI"] = f"redis://127.0.0.1:{free_port()}/6"
    result = _main({"SERVER_PORT": str(free_port()), **env})
    assert result.returncode == 1
    assert expected in result.stderr
    assert "wrong" not in result.stderr  # no password in the log
    # Only a database failure is a failed migration, as in the real entrypoint's log.
    assert ("Migration failed" in result.stderr) == ("P1000" in expected)


def test_the_server_keeps_instances_across_a_restart(
    postgres: Postgres, redis: tuple[int, str]
) -> None:
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(TESTS),
        "SERVER_PORT": str(port),
        "AUTHENTICATION_API_KEY": KEY,
        "DATABASE_PROVIDER": "postgresql",
        "DATABASE_CONNECTION_URI": postgres.uri(schema="main_test"),
        "CACHE_REDIS_ENABLED": "true",
        "CACHE_REDIS_URI": f"redis://:{redis[1]}@127.0.0.1:{redis[0]}/6",
    }
    base = f"http://127.0.0.1:{port}"

    def run_once(action) -> Any:
        process = subprocess.Popen(
            [sys.executable, "-m", "evolution_double"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:

            def up() -> bool:
                try:
                    return call(base, "GET", "/", key=None).status == 200
                except OSError:
                    return False

            assert wait_until(up, timeout_s=15), "the double did not start"
            return action()
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0

    token = run_once(lambda: create(base, "survivor").json["hash"])
    rows = run_once(lambda: call(base, "GET", "/instance/fetchInstances").json)
    assert [(row["name"], row["token"]) for row in rows] == [("survivor", token)]


# -- the container image -----------------------------------------------------------------------
def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def images() -> None:
    """Build (or find up to date) the double and the postgres and redis stand-ins."""
    if shutil.which("docker") is None or _docker("info", check=False).returncode != 0:
        pytest.fail("these tests need a Docker engine (scripts/lib.sh ensure_docker starts one)")
    build = TESTS / "images" / "build.py"
    subprocess.run(
        [sys.executable, str(build), "evolution-double", "postgres", "redis"],
        check=True,
        timeout=900,
    )


def test_the_image_keeps_instances_across_a_container_restart(images: None) -> None:
    prefix = f"dbl-test-{os.getpid()}"
    network, volume = f"{prefix}-net", f"{prefix}-instances"
    pg, cache, api = f"{prefix}-postgres", f"{prefix}-redis", f"{prefix}-evolution"
    uri = f"postgresql://evolution:pgpass@{pg}:5432/evolution?schema=evolution_api"
    env = [
        *("-e", "AUTHENTICATION_API_KEY=imagekey", "-e", "DATABASE_PROVIDER=postgresql"),
        *("-e", f"DATABASE_CONNECTION_URI={uri}", "-e", "CACHE_REDIS_ENABLED=true"),
        *("-e", f"CACHE_REDIS_URI=redis://{cache}:6379/6"),
    ]
    try:
        _docker("network", "create", network)
        _docker(
            *("run", "-d", "--name", pg, "--network", network, "-e", "POSTGRES_DB=evolution"),
            *("-e", "POSTGRES_USER=evolution", "-e", "POSTGRES_PASSWORD=pgpass"),
            "srcardoso-test/postgres:current",
        )
        _docker("run", "-d", "--name", cache, "--network", network, "srcardoso-test/redis:current")
        ready = ("exec", pg, "pg_isready", "-h", "127.0.0.1", "-U", "evolution", "-d", "evolution")
        assert wait_until(lambda: _docker(*ready, check=False).returncode == 0, 60, 0.5)
        _docker(
            *("run", "-d", "--name", api, "--network", network, "-p", "127.0.0.1::8080"),
            *("-v", f"{volume}:/evolution/instances", *env),
            "srcardoso-test/evolution-double:current",
        )

        def base_url() -> str:
            published = _docker("port", api, "8080").stdout.splitlines()[0]
            return "http://127.0.0.1:" + published.rsplit(":", 1)[1]

        def up() -> bool:
            try:
                return call(base_url(), "GET", "/", key=None).status == 200
            except (OSError, IndexError):
                return False

        assert wait_until(up, 30, 0.2), _docker("logs", api, check=False).stderr
        created = call(
            base_url(),
            "POST",
            "/instance/create",
            key="imagekey",
            body={"instanceName": "boxed", "integration": "WHATSAPP-BAILEYS"},
        )
        assert created.status == 201
        instance_id, token = created.json["instance"]["instanceId"], created.json["hash"]
        # The stack's default health check (busybox wget in the real image) works here too.
        check = 'wget -q -T 5 -O /dev/null --header "apikey: $AUTHENTICATION_API_KEY" '
        check += "http://127.0.0.1:8080/instance/fetchInstances"
        assert _docker("exec", api, "sh", "-c", check, check=False).returncode == 0
        assert instance_id in _docker("exec", api, "ls", "/evolution/instances").stdout
        assert _docker("exec", api, "sh", "-c", "command -v curl", check=False).returncode != 0

        _docker("restart", api)
        assert wait_until(up, 30, 0.2), _docker("logs", api, check=False).stderr
        rows = call(base_url(), "GET", "/instance/fetchInstances", key="imagekey").json
        assert [(row["name"], row["token"]) for row in rows] == [("boxed", token)]

        bad = [item.replace("pgpass@", "wrong@") for item in env]
        failed = _docker(
            *("run", "--name", f"{prefix}-bad", "--network", network, *bad),
            "srcardoso-test/evolution-double:current",
            check=False,
        )
        assert failed.returncode == 1
        assert "Error: P1000: Authentication failed" in failed.stderr
        assert "wrong" not in failed.stderr
    finally:
        for name in (f"{prefix}-bad", api, cache, pg):
            _docker("rm", "-f", "-v", name, check=False)
        _docker("volume", "rm", volume, check=False)
        _docker("network", "rm", network, check=False)
