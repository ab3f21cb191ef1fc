"""The routes of Evolution API 2.3 that the collection and the stack use, with their traps.

``Api.handle`` takes a parsed HTTP request and returns a ``Response``; it knows nothing about
sockets. The order of checks follows the real server: CORS, the JSON body parser, routing
(unknown routes answer 404 whatever the key), then the guards (instance exists -> name conflict
on create -> apikey), then schema validation, then the handler.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from . import qr
from .store import SETTING_DEFAULTS, Row, Store, new_cuid, new_instance_id, now
from .webhooks import EVENTS, WebhookDelivery, envelope

EVENTS_ALL = EVENTS  # what `events: []` is stored as

VERSION = "2.3.7"
WHATSAPP_WEB_VERSION = "2.3000.1027934701"
INTEGRATIONS = ("WHATSAPP-BAILEYS", "WHATSAPP-BUSINESS", "EVOLUTION")
SETTING_FLAGS = (
    "rejectCall",
    "groupsIgnore",
    "alwaysOnline",
    "readMessages",
    "readStatus",
    "syncFullHistory",
)
# The order the create response lists settings in.
SETTING_ORDER = (
    "rejectCall",
    "msgCall",
    "groupsIgnore",
    "alwaysOnline",
    "readMessages",
    "readStatus",
    "syncFullHistory",
    "wavoipToken",
)
PAIRING_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTVWXYZ"
ERROR_NAMES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
}
# What a failed connect/restart answers, with HTTP 200 (the exception object, stringified).
OBJECT_ERROR = {"error": True, "message": "[object Object]"}


@dataclass
class Response:
    status: int
    body: Any  # JSON-serialisable; None is sent as the literal body ``null``
    content_type: str = "application/json; charset=utf-8"


class ApiError(Exception):
    """An error in the server's shape: ``{"status","error","response":{"message"}}``.

    ``message`` keeps the real server's four types: a nested list for schema errors, a list for
    explicit exceptions, a string for a bare 401 or a JavaScript error, a list of objects.
    """

    def __init__(self, status: int, message: Any, error: str | None = None) -> None:
        super().__init__(status, message)
        self.status, self.message = status, message
        self.error = error or ERROR_NAMES[status]

    def response(self) -> Response:
        body = {"status": self.status, "error": self.error, "response": {"message": self.message}}
        return Response(self.status, body)


@dataclass
class Config:
    """What the real server reads from its environment, as far as the double needs it."""

    api_key: str = "429683C4C977415CAAFCCE10F7D57E11"  # the image's public default
    client_name: str = "evolution_exchange"
    server_url: str = "http://localhost:8080"
    version: str = VERSION
    delete_delay_s: float = 1.0
    connect_wait_s: float = 0.0
    qrcode_color: str = "#175197"
    expose_token_in_webhooks: bool = True
    cors_origin: str = "*"
    manager_enabled: bool = True
    del_instance_min: float | None = None
    instances_dir: Path | None = None


@dataclass
class Runtime:
    """What the real server holds in memory per instance (the Baileys socket and QR state)."""

    socket: str | None = None  # None: never connected; "closed", "connecting" or "open"
    number: str | None = None
    qrcode: dict[str, Any] = field(default_factory=lambda: {"count": 0})
    deleting: threading.Thread | None = None


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]
    name: str | None = None
    instance: Row | None = None


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "unknown")


def schema_errors(data: Any, path: str, spec: dict[str, Any]) -> list[str]:
    """The messages jsonschema (npm) gives, without the leading ``instance.``.

    ``spec`` is a small subset of JSON schema: ``type``, ``properties``, ``required``,
    ``items``, ``enum``, ``pattern`` and ``description`` (which replaces the message).
    """
    if "type" in spec and _json_type(data) != spec["type"]:
        return [spec.get("description") or f"{path} is not of a type(s) {spec['type']}"]
    errors: list[str] = []
    if "enum" in spec and data not in spec["enum"]:
        errors.append(f"{path} is not one of enum values: {','.join(spec['enum'])}")
    if "pattern" in spec and isinstance(data, str) and not re.search(spec["pattern"], data):
        errors.append(f"{path} does not match pattern {json.dumps(spec['pattern'])}")
    if isinstance(data, dict):
        prefix = "" if path == "instance" else f"{path}."
        for key, sub in spec.get("properties", {}).items():
            if key in data:
                errors += schema_errors(data[key], f"{prefix}{key}", sub)
        for key in spec.get("required", ()):
            if key not in data:
                errors.append(f'{path} requires property "{key}"')
    if isinstance(data, list) and "items" in spec:
        for index, item in enumerate(data):
            errors += schema_errors(item, f"{path}[{index}]", spec["items"])
    return errors


def validate(data: dict[str, Any], spec: dict[str, Any]) -> None:
    errors = [re.sub(r"^instance\.", "", error) for error in schema_errors(data, "instance", spec)]
    if errors:
        raise ApiError(400, [errors])


_BOOL, _STR = {"type": "boolean"}, {"type": "string"}
CREATE_SCHEMA = {
    "type": "object",
    "properties": {
        "instanceName": _STR,
        "token": _STR,
        "number": {"type": "string", "pattern": r"^\d+[\.@\w-]+"},
        "businessId": _STR,
        "qrcode": _BOOL,
        **dict.fromkeys(SETTING_FLAGS, _BOOL),
        "msgCall": _STR,
        "wavoipToken": _STR,
        "proxyHost": _STR,
        "proxyPort": _STR,
        "proxyProtocol": _STR,
        "proxyUsername": _STR,
        "proxyPassword": _STR,
        "webhookUrl": _STR,
        "webhookByEvents": _BOOL,
        "webhookBase64": _BOOL,
        "webhookEvents": {"type": "array"},
    },
}
WEBHOOK_SCHEMA = {
    "type": "object",
    "properties": {
        "webhook": {
            "type": "object",
            "properties": {
                "enabled": _BOOL,
                "url": _STR,
                "headers": {"type": "object"},
                "byEvents": _BOOL,
                "base64": _BOOL,
                "events": {"type": "array", "items": {"type": "string", "enum": list(EVENTS)}},
            },
            "required": ["enabled", "url"],
        }
    },
    "required": ["webhook"],
}
SETTINGS_SCHEMA = {
    "type": "object",
    "properties": {
        "rejectCall": _BOOL,
        "msgCall": _STR,
        "groupsIgnore": _BOOL,
        "alwaysOnline": _BOOL,
        "readMessages": _BOOL,
        "readStatus": _BOOL,
        "syncFullHistory": _BOOL,
        "wavoipToken": _STR,
    },
    "required": list(SETTING_FLAGS),
}
TEXT_SCHEMA = {
    "type": "object",
    "properties": {
        "number": {"type": "string", "description": "Invalid format"},
        "text": _STR,
        "delay": {"type": "number"},
        "linkPreview": _BOOL,
        "mentionsEveryOne": _BOOL,
        "mentioned": {"type": "array"},
    },
    "required": ["number", "text"],
}


def serialize_setting(row: Row) -> Row:
    return {**row, "createdAt": iso(row["createdAt"]), "updatedAt": iso(row["updatedAt"])}


def serialize_webhook(row: Row) -> Row:
    keys = ("id", "url", "headers", "enabled", "events", "webhookByEvents", "webhookBase64")
    return {
        **{key: row[key] for key in keys},
        "createdAt": iso(row["createdAt"]),
        "updatedAt": iso(row["updatedAt"]),
        "instanceId": row["instanceId"],
    }


def serialize_instance(row: Row, setting: Row | None) -> Row:
    """A ``fetchInstances`` element: the database row, its relations and ``_count``."""
    body = {key: row[key] for key in row}
    for key in ("disconnectionAt", "createdAt", "updatedAt"):
        body[key] = iso(row[key])
    for relation in ("Chatwoot", "Proxy", "Rabbitmq", "Nats", "Sqs", "Websocket"):
        body[relation] = None
    body["Setting"] = serialize_setting(setting) if setting else None
    body["_count"] = {"Message": 0, "Contact": 0, "Chat": 0}
    return body


# Route kinds decide the guards: public, global key only, fetchInstances' own rule, create's
# name-conflict guard, or a ``{instanceName}`` route (exists guard, then global or own token).
PUBLIC, GLOBAL, FETCH, CREATE, INSTANCE = "public", "global", "fetch", "create", "instance"


class Api:
    def __init__(self, config: Config, store: Store, delivery: WebhookDelivery) -> None:
        self.config, self.store, self.delivery = config, store, delivery
        self._lock = threading.RLock()
        self._runtime: dict[str, Runtime] = {}
        self._timers: list[threading.Timer] = []
        self._closing = threading.Event()
        routes: list[tuple[str, str, str, Callable[[Request], Response]]] = [
            ("GET", "/", PUBLIC, self.root),
            ("GET", "/manager", PUBLIC, self.manager),
            ("GET", "/manager/.+", PUBLIC, self.manager),
            ("POST", "/verify-creds", GLOBAL, self.verify_creds),
            ("POST", "/instance/create", CREATE, self.create),
            ("GET", "/instance/fetchInstances", FETCH, self.fetch_instances),
            ("GET", "/instance/connect/{name}", INSTANCE, self.connect),
            ("GET", "/instance/connectionState/{name}", INSTANCE, self.connection_state),
            ("POST", "/instance/restart/{name}", INSTANCE, self.restart),
            ("DELETE", "/instance/logout/{name}", INSTANCE, self.logout),
            ("DELETE", "/instance/delete/{name}", INSTANCE, self.delete),
            ("POST", "/webhook/set/{name}", INSTANCE, self.webhook_set),
            ("GET", "/webhook/find/{name}", INSTANCE, self.webhook_find),
            ("POST", "/settings/set/{name}", INSTANCE, self.settings_set),
            ("GET", "/settings/find/{name}", INSTANCE, self.settings_find),
            ("POST", "/message/sendText/{name}", INSTANCE, self.send_text),
        ]
        self._routes = [
            (method, self._pattern(path), kind, handler) for method, path, kind, handler in routes
        ]

    @staticmethod
    def _pattern(path: str) -> re.Pattern[str]:
        # Express routing: case-insensitive, an optional trailing slash, one segment per param.
        return re.compile("^" + path.replace("{name}", "(?P<name>[^/]+)") + "/?$", re.IGNORECASE)

    # -- entry point ---------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Response:
        try:
            return self._handle(method, target, {k.lower(): v for k, v in headers.items()}, raw)
        except ApiError as error:
            return error.response()
        except Exception as error:  # an unexpected error is a 500 with a string message
            return ApiError(500, str(error)).response()

    def _handle(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> Response:
        self._check_cors(headers.get("origin"))
        body = self._parse_body(headers.get("content-type", ""), raw)
        parts = urlsplit(target)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        for route_method, pattern, kind, handler in self._routes:
            match = pattern.match(parts.path)
            if route_method == method and match:
                name = unquote(match.group("name")) if "name" in pattern.groupindex else None
                request = Request(method, parts.path, query, headers, body, name)
                self._guard(kind, request)
                return handler(request)
        raise ApiError(404, [f"Cannot {method} {target}"])

    def _check_cors(self, origin: str | None) -> None:
        allowed = [item.strip() for item in self.config.cors_origin.split(",")]
        if "*" not in allowed and origin not in allowed:
            raise ApiError(500, "Not allowed by CORS")

    @staticmethod
    def _parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
        if "json" not in content_type.lower() or not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            position = getattr(error, "pos", 0)
            raise ApiError(
                400,
                f"Unexpected token in JSON at position {position}",
                error="Internal Server Error",
            ) from error
        if not isinstance(body, dict):  # body-parser's strict mode takes objects and arrays
            return {}
        return body

    # -- guards --------------------------------------------------------------------------------
    def _guard(self, kind: str, request: Request) -> None:
        key = request.headers.get("apikey")
        if kind == PUBLIC:
            return
        if kind == INSTANCE:
            request.instance = self.store.instance(request.name or "")
            if request.instance is None:
                raise ApiError(404, [f'The "{request.name}" instance does not exist'])
            if key == self.config.api_key or (key and key == request.instance["token"]):
                return
            raise ApiError(401, "Unauthorized")
        if kind == CREATE:
            name = request.body.get("instanceName")
            taken = self.store.instance(str(name)) if name is not None else None
            if name is None and self.store.instances():
                taken, name = {}, "undefined"  # no name means no filter: any instance matches
            if taken is not None:
                raise ApiError(403, [f'This name "{name}" is already in use.'])
        if (
            kind == FETCH
            and key
            and key != self.config.api_key
            and any(row["token"] == key for row in self.store.instances(self.config.client_name))
        ):
            return  # an instance token; fetch_instances filters on it
        if key != self.config.api_key:
            raise ApiError(401, "Unauthorized")

    # -- helpers -------------------------------------------------------------------------------
    def runtime(self, name: str) -> Runtime:
        with self._lock:
            return self._runtime.setdefault(name, Runtime())

    def _loaded(self, row: Row | None) -> bool:
        """Whether the real server would hold this instance in memory (its clientName)."""
        return row is not None and row["clientName"] == self.config.client_name

    def emit(self, row: Row, event: str, data: Any, wait: bool = False) -> bool:
        """Send ``event`` to the instance's webhook, read afresh as the real server does."""
        webhook = self.store.webhook(row["id"])
        body = envelope(
            event,
            row["name"],
            data,
            (webhook or {}).get("url", ""),
            self.config.server_url,
            row["token"] if self.config.expose_token_in_webhooks else None,
            sender=row.get("ownerJid"),
        )
        if wait:
            return self.delivery.deliver(webhook, body)
        self.delivery.dispatch(webhook, body)
        return False

    def _qr_object(self, name: str) -> dict[str, Any]:
        state = self.runtime(name).qrcode
        keys = ("pairingCode", "code", "base64", "count")
        return {key: state[key] for key in keys if key in state}

    def _new_qr(self, row: Row) -> None:
        """What Baileys' connection update with a fresh QR does: state, image, two events."""
        runtime = self.runtime(row["name"])
        runtime.socket = "connecting"
        self.store.update_instance(row["id"], {"connectionStatus": "connecting"})
        data = {"instance": row["name"], "state": "connecting", "statusReason": 200}
        self.emit(row, "connection.update", data)
        code = ",".join(
            [
                "2@" + base64.b64encode(secrets.token_bytes(66)).decode(),
                *(base64.b64encode(secrets.token_bytes(32)).decode() for _ in range(3)),
            ]
        )
        image = qr.png(qr.qr_matrix(code), scale=4, margin=3, dark=self.config.qrcode_color)
        pairing = None
        if runtime.number:
            pairing = "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(8))
        runtime.qrcode = {
            "pairingCode": pairing,
            "code": code,
            "base64": "data:image/png;base64," + base64.b64encode(image).decode(),
            "count": runtime.qrcode.get("count", 0) + 1,
        }
        qrcode = {"instance": row["name"], "pairingCode": pairing, "code": code}
        qrcode["base64"] = runtime.qrcode["base64"]
        self.emit(row, "qrcode.updated", {"qrcode": qrcode})

    def _log_out(self, row: Row) -> Row:
        """Baileys' logout: the socket closes with 401 and the server reports it three ways."""
        name = row["name"]
        moment = now()
        cause = {
            "error": {
                "data": None,
                "isBoom": True,
                "isServer": False,
                "output": {
                    "statusCode": 401,
                    "payload": {
                        "statusCode": 401,
                        "error": "Unauthorized",
                        "message": f"Log out instance: {name}",
                    },
                    "headers": {},
                },
            },
            "date": iso(moment),
        }
        disconnection = json.dumps(cause, separators=(",", ":"))
        runtime = self.runtime(name)
        runtime.socket, runtime.qrcode = "closed", {"count": 0}
        self.emit(
            row,
            "status.instance",
            {
                "instance": name,
                "status": "closed",
                "disconnectionAt": iso(moment),
                "disconnectionReasonCode": 401,
                "disconnectionObject": disconnection,
            },
        )
        row = self.store.update_instance(
            row["id"],
            {
                "connectionStatus": "close",
                "disconnectionAt": moment,
                "disconnectionReasonCode": 401,
                "disconnectionObject": disconnection,
            },
        )
        self.emit(row, "logout.instance", None)
        self.emit(
            row, "connection.update", {"instance": name, "state": "close", "statusReason": 401}
        )
        return row

    def _remove(self, row: Row) -> None:
        """The asynchronous clean-up after a delete: await the REMOVE_INSTANCE webhook, then go."""
        started = time.monotonic()
        self.emit(row, "remove.instance", None, wait=True)
        remaining = self.config.delete_delay_s - (time.monotonic() - started)
        if remaining > 0 and self._closing.wait(remaining):
            return
        if self.config.instances_dir is not None:
            shutil.rmtree(self.config.instances_dir / row["id"], ignore_errors=True)
        with self._lock:
            self.store.delete_instance(row["id"])
            self._runtime.pop(row["name"], None)

    def start_removal(self, row: Row) -> None:
        with self._lock:
            runtime = self.runtime(row["name"])
            if runtime.deleting is not None and runtime.deleting.is_alive():
                return  # a second delete before the first finished: 200 again, nothing new
            runtime.deleting = threading.Thread(
                target=self._remove, args=(row,), name=f"remove-{row['name']}", daemon=True
            )
            runtime.deleting.start()

    def _auto_delete(self, name: str, instance_id: str) -> None:
        """``DEL_INSTANCE=<minutes>``: remove an instance that is still not ``open``."""
        row = self.store.instance(name)
        if row is not None and row["id"] == instance_id and row["connectionStatus"] != "open":
            self.start_removal(row)

    def close(self) -> None:
        self._closing.set()
        for timer in self._timers:
            timer.cancel()

    # -- public routes -------------------------------------------------------------------------
    def root(self, request: Request) -> Response:
        body = {
            "status": 200,
            "message": "Welcome to the Evolution API, it is working!",
            "version": self.config.version,
            "clientName": self.config.client_name,
            "manager": f"http://{request.headers.get('host', 'localhost')}/manager",
            "documentation": "https://doc.evolution-api.com",
            "whatsappWebVersion": WHATSAPP_WEB_VERSION,
        }
        if not self.config.manager_enabled:
            del body["manager"]
        return Response(200, body)

    def manager(self, request: Request) -> Response:
        if not self.config.manager_enabled:
            raise ApiError(404, [f"Cannot GET {request.path}"])
        page = "<!doctype html><title>Evolution Manager</title><p>Evolution API test double</p>"
        return Response(200, page, "text/html; charset=utf-8")

    def verify_creds(self, request: Request) -> Response:
        return Response(200, {"status": 200, "message": "Credentials are valid"})

    # -- instances -----------------------------------------------------------------------------
    def create(self, request: Request) -> Response:
        body = request.body
        validate(body, CREATE_SCHEMA)
        integration = body.get("integration")
        if integration not in INTEGRATIONS:
            raise ApiError(400, ["Invalid integration"])
        if integration == "WHATSAPP-BUSINESS":
            if not body.get("token"):
                raise ApiError(400, ["token is required"])
            if not body.get("number"):
                raise ApiError(400, ["number is required"])
        name = str(body.get("instanceName"))
        baileys = integration == "WHATSAPP-BAILEYS"
        stamp = now()
        row: Row = {
            "id": new_instance_id(),
            "name": name,
            "connectionStatus": "close" if baileys else str(body.get("status") or "open"),
            "ownerJid": None,
            "profileName": None,
            "profilePicUrl": None,
            "integration": integration,
            "number": body.get("number"),
            "businessId": body.get("businessId"),
            "token": body.get("token") or str(uuid.uuid4()).upper(),
            "clientName": self.config.client_name,
            "disconnectionReasonCode": None,
            "disconnectionObject": None,
            "disconnectionAt": None,
            "createdAt": stamp,
            "updatedAt": stamp,
        }
        settings = {flag: body.get(flag) is True for flag in SETTING_FLAGS}
        settings["msgCall"] = body.get("msgCall") or ""
        settings["wavoipToken"] = body.get("wavoipToken") or ""
        setting_row = {"id": new_cuid(), **SETTING_DEFAULTS, **settings}
        setting_row.update(createdAt=stamp, updatedAt=stamp, instanceId=row["id"])
        with self._lock:
            if self.store.instance(name) is not None:  # lost a race with another create
                raise ApiError(403, [f'This name "{name}" is already in use.'])
            self.store.insert_instance(row, setting_row)
            self._runtime[name] = Runtime()
        if self.config.instances_dir is not None:
            folder = self.config.instances_dir / row["id"]
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "instance.json").write_text(json.dumps({"name": name, "id": row["id"]}))
        if self.config.del_instance_min:
            timer = threading.Timer(
                self.config.del_instance_min * 60, self._auto_delete, (name, row["id"])
            )
            timer.daemon = True
            timer.start()
            self._timers.append(timer)

        webhook = body.get("webhook")
        echo: Row = {}
        if isinstance(webhook, dict):
            events = webhook.get("events")
            if events is None:  # the real server reads events.length, then rolls back
                self.start_removal(row)
                raise ApiError(400, ["Cannot read properties of undefined (reading 'length')"])
            self.store.upsert_webhook(
                row["id"],
                {
                    "url": webhook.get("url"),
                    "headers": webhook.get("headers"),
                    "enabled": True,  # create ignores webhook.enabled
                    "events": list(events) or list(EVENTS),
                    "webhookByEvents": webhook.get("byEvents") is True,
                    "webhookBase64": webhook.get("base64") is True,
                },
            )
            sent = {
                "webhookUrl": "url",
                "webhookHeaders": "headers",
                "webhookByEvents": "byEvents",
                "webhookBase64": "base64",
            }
            echo = {out: webhook[key] for out, key in sent.items() if key in webhook}
        self.emit(row, "instance.create", {"instanceName": name, "instanceId": row["id"]})

        response: Row = {
            "instance": {
                "instanceName": name,
                "instanceId": row["id"],
                "integration": integration,
                "webhookWaBusiness": None,
                "accessTokenWaBusiness": "",
                "status": row["connectionStatus"],
            },
            "hash": row["token"],
            "webhook": echo,
        }
        for integration_key in ("websocket", "rabbitmq", "nats", "sqs"):
            sent_value = body.get(integration_key)
            response[integration_key] = (
                {"enabled": sent_value["enabled"]}
                if isinstance(sent_value, dict) and "enabled" in sent_value
                else {}
            )
        response["settings"] = {key: settings[key] for key in SETTING_ORDER}
        if body.get("qrcode") is True and baileys:
            self.runtime(name).number = body.get("number")
            self._new_qr(self.store.instance(name) or row)
            time.sleep(self.config.connect_wait_s)
            response["instance"]["status"] = "connecting"
            response["qrcode"] = self._qr_object(name)
        return Response(201, response)

    def fetch_instances(self, request: Request) -> Response:
        key = request.headers.get("apikey")
        rows = self.store.instances(self.config.client_name)
        by_name = request.query.get("instanceName")
        by_id = request.query.get("instanceId")
        by_number = request.query.get("number")
        if key != self.config.api_key:  # an instance token sees the instances holding it
            rows = [row for row in rows if row["token"] == key]
            if by_name is not None:
                rows = [row for row in rows if row["name"] == by_name]
            if by_id is not None:
                rows = [row for row in rows if row["id"] == by_id]
            if not rows:
                raise ApiError(401, "Unauthorized")
        elif by_name is not None:
            rows = [row for row in rows if row["name"] == by_name]
            if not rows:
                raise ApiError(404, [f'Instance "{by_name}" not found'])
        elif by_id is not None or by_number is not None:
            column, wanted = ("id", by_id) if by_id is not None else ("number", by_number)
            matches = [row for row in self.store.instances() if row[column] == wanted]
            if not matches:
                raise ApiError(404, [f'Instance "{wanted}" not found'])
            rows = [row for row in matches if self._loaded(row)]
            if not rows:
                raise ApiError(404, [f'Instance "{matches[0]["name"]}" not found'])
        return Response(
            200, [serialize_instance(row, self.store.setting(row["id"])) for row in rows]
        )

    def connect(self, request: Request) -> Response:
        row = request.instance
        assert row is not None
        if not self._loaded(row):
            return Response(200, OBJECT_ERROR)
        if row["connectionStatus"] == "open":
            return Response(200, {"instance": {"instanceName": row["name"], "state": "open"}})
        runtime = self.runtime(row["name"])
        if runtime.socket == "connecting" and row["connectionStatus"] == "connecting":
            return Response(200, self._qr_object(row["name"]))
        runtime.number = request.query.get("number")
        runtime.qrcode = {"count": 0}
        self._new_qr(row)
        time.sleep(self.config.connect_wait_s)
        return Response(200, self._qr_object(row["name"]))

    def connection_state(self, request: Request) -> Response:
        row = request.instance
        assert row is not None
        state = {"instanceName": row["name"]}
        if self._loaded(row):
            state["state"] = row["connectionStatus"]
        return Response(200, {"instance": state})

    def restart(self, request: Request) -> Response:
        row = request.instance
        assert row is not None
        if not self._loaded(row) or row["connectionStatus"] == "close":
            return Response(200, OBJECT_ERROR)
        if row["connectionStatus"] == "open":
            data = {"instance": row["name"], "state": "connecting", "statusReason": 200}
            self.emit(row, "connection.update", data)
            self.emit(row, "connection.update", {**data, "state": "open"})
            return Response(200, {"count": 0})
        self.runtime(row["name"]).qrcode = {"count": 0}
        self._new_qr(row)
        return Response(200, self._qr_object(row["name"]))

    def logout(self, request: Request) -> Response:
        row = request.instance
        assert row is not None
        if row["connectionStatus"] == "close" or not self._loaded(row):
            raise ApiError(400, [f'The "{row["name"]}" instance is not connected'])
        self._log_out(row)
        body = {"status": "SUCCESS", "error": False, "response": {"message": "Instance logged out"}}
        return Response(200, body)

    def delete(self, request: Request) -> Response:
        row = request.instance
        assert row is not None
        pending = self.runtime(row["name"]).deleting
        if pending is None or not pending.is_alive():
            if row["connectionStatus"] in ("open", "connecting"):
                row = self._log_out(row)
            self.emit(
                row, "instance.delete", {"instanceName": row["name"], "instanceId": row["id"]}
            )
            self.start_removal(row)
        body = {"status": "SUCCESS", "error": False, "response": {"message": "Instance deleted"}}
        return Response(200, body)

    # -- webhook and settings ------------------------------------------------------------------
    def webhook_set(self, request: Request) -> Response:
        row = request.instance
        assert row is not None
        validate(request.body, WEBHOOK_SCHEMA)
        webhook = request.body["webhook"]
        if webhook.get("enabled"):
            if "events" not in webhook:
                raise ApiError(500, "Cannot read properties of undefined (reading 'length')")
            events = list(webhook["events"]) or list(EVENTS)
        else:
            events = []
        if not self._loaded(row):
            raise ApiError(500, "Cannot read properties of undefined (reading 'instanceId')")
        fields: Row = {"url": webhook["url"], "enabled": webhook["enabled"], "events": events}
        optional = {"headers": "headers", "byEvents": "webhookByEvents", "base64": "webhookBase64"}
        for key, column in optional.items():
            if key in webhook:  # omitted optional fields keep their stored values
                fields[column] = webhook[key]
        return Response(201, serialize_webhook(self.store.upsert_webhook(row["id"], fields)))

    def webhook_find(self, request: Request) -> Response:
        row = request.instance
        webhook = self.store.webhook(row["id"]) if self._loaded(row) and row else None
        return Response(200, serialize_webhook(webhook) if webhook else None)

    def settings_set(self, request: Request) -> Response:
        row = request.instance
        assert row is not None
        validate(request.body, SETTINGS_SCHEMA)
        fields = {flag: request.body[flag] for flag in SETTING_FLAGS}
        for key in ("msgCall", "wavoipToken"):
            if key in request.body:  # omitted strings keep their stored values
                fields[key] = request.body[key]
        self.store.upsert_setting(row["id"], fields)
        return Response(201, {"settings": {"instanceName": row["name"], "settings": request.body}})

    def settings_find(self, request: Request) -> Response:
        row = request.instance
        setting = self.store.setting(row["id"]) if self._loaded(row) and row else None
        if setting is None:
            return Response(200, None)
        return Response(200, {key: setting[key] for key in SETTING_DEFAULTS})

    # -- messages ------------------------------------------------------------------------------
    def send_text(self, request: Request) -> Response:
        row = request.instance
        assert row is not None
        validate(request.body, TEXT_SCHEMA)
        text, number = request.body["text"], request.body["number"]
        if not text.strip():
            raise ApiError(400, ["Text is required"])
        socket = self.runtime(row["name"]).socket
        if row["connectionStatus"] != "open" or socket != "open":
            if socket is None:
                raise ApiError(500, "Cannot read properties of undefined (reading 'onWhatsApp')")
            raise ApiError(500, "Connection Closed")
        jid = number if "@" in number else re.sub(r"[^\d]", "", number) + "@s.whatsapp.net"
        message = {
            "key": {"remoteJid": jid, "fromMe": True, "id": "3EB0" + secrets.token_hex(9).upper()},
            "pushName": row.get("profileName") or "",
            "status": "PENDING",
            "message": {"conversation": text},
            "contextInfo": None,
            "messageType": "conversation",
            "messageTimestamp": int(time.time()),
            "instanceId": row["id"],
            "source": "unknown",
        }
        self.emit(row, "send.message", message)
        return Response(201, message)

    # -- test hooks (no HTTP route) ------------------------------------------------------------
    def pair(self, name: str, number: str, profile_name: str) -> Row:
        """Pretend a phone scanned the QR code: the instance becomes ``open``."""
        row = self.store.instance(name)
        if row is None:
            raise KeyError(name)
        wuid = f"{number}@s.whatsapp.net"
        row = self.store.update_instance(
            row["id"],
            {"connectionStatus": "open", "ownerJid": wuid, "profileName": profile_name},
        )
        runtime = self.runtime(name)
        runtime.socket, runtime.qrcode = "open", {"count": 0}
        data = {
            "instance": name,
            "wuid": wuid,
            "profileName": profile_name,
            "profilePictureUrl": None,
            "state": "open",
            "statusReason": 200,
        }
        self.emit(row, "connection.update", data)
        return row

    def boot(self) -> None:
        """Rebuild the in-memory view at start: 2.3.7 reconnects only open/connecting ones."""
        for row in self.store.instances(self.config.client_name):
            runtime = self.runtime(row["name"])
            if row["connectionStatus"] in ("open", "connecting"):
                runtime.socket = row["connectionStatus"]
            if row["connectionStatus"] == "connecting":
                self._new_qr(row)
