"""Where the double keeps its state: in memory, or in PostgreSQL like the real server.

Rows are plain dicts whose keys are the column names of the real server's Prisma schema
(``Instance``, ``Setting``, ``Webhook``), so handlers can return them as the API does. Times are
timezone-aware ``datetime`` objects with millisecond precision; handlers format them.

Both stores offer the same methods and are safe to call from several threads.
"""

from __future__ import annotations

import copy
import secrets
import string
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

Row = dict[str, Any]

INSTANCE_COLUMNS = (
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
)
SETTING_COLUMNS = (
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
)
WEBHOOK_COLUMNS = (
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
)
SETTING_DEFAULTS: Row = {
    "rejectCall": False,
    "msgCall": "",
    "groupsIgnore": False,
    "alwaysOnline": False,
    "readMessages": False,
    "readStatus": False,
    "syncFullHistory": False,
    "wavoipToken": "",
}
WEBHOOK_DEFAULTS: Row = {
    "url": "",
    "headers": None,
    "enabled": False,
    "events": [],
    "webhookByEvents": False,
    "webhookBase64": False,
}

_CUID_ALPHABET = string.ascii_lowercase + string.digits
_BASE36 = string.digits + string.ascii_lowercase
_cuid_lock = threading.Lock()
_cuid_counter = 0


def now() -> datetime:
    """The current time in UTC, truncated to milliseconds as PostgreSQL timestamp(3) keeps it."""
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def new_cuid() -> str:
    """A 25-character id shaped like Prisma's ``cuid()`` (``c`` + time + counter + random)."""
    global _cuid_counter
    with _cuid_lock:
        _cuid_counter = (_cuid_counter + 1) % 36**4
        counter = _cuid_counter
    stamp = _base36(int(time.time() * 1000)).rjust(8, "0")[-8:]
    return (
        "c"
        + stamp
        + _base36(counter).rjust(4, "0")
        + "".join(secrets.choice(_CUID_ALPHABET) for _ in range(12))
    )


def _base36(value: int) -> str:
    digits = ""
    while True:
        value, rest = divmod(value, 36)
        digits = _BASE36[rest] + digits
        if value == 0:
            return digits


def new_instance_id() -> str:
    return str(uuid.uuid4())


class Store(Protocol):
    """What the handlers need from a store."""

    def instances(self, client_name: str | None = None) -> list[Row]: ...
    def instance(self, name: str) -> Row | None: ...
    def insert_instance(self, row: Row, setting: Row) -> None: ...
    def update_instance(self, instance_id: str, fields: Row) -> Row: ...
    def delete_instance(self, instance_id: str) -> None: ...
    def setting(self, instance_id: str) -> Row | None: ...
    def upsert_setting(self, instance_id: str, fields: Row) -> Row: ...
    def webhook(self, instance_id: str) -> Row | None: ...
    def upsert_webhook(self, instance_id: str, fields: Row) -> Row: ...
    def close(self) -> None: ...


class MemoryStore:
    """State in dicts, lost when the process ends (the real server has no such mode)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._instances: dict[str, Row] = {}
        self._settings: dict[str, Row] = {}
        self._webhooks: dict[str, Row] = {}

    def instances(self, client_name: str | None = None) -> list[Row]:
        with self._lock:
            rows = [
                row
                for row in self._instances.values()
                if client_name is None or row["clientName"] == client_name
            ]
            return copy.deepcopy(sorted(rows, key=lambda row: row["createdAt"]))

    def instance(self, name: str) -> Row | None:
        with self._lock:
            for row in self._instances.values():
                if row["name"] == name:
                    return copy.deepcopy(row)
            return None

    def insert_instance(self, row: Row, setting: Row) -> None:
        with self._lock:
            if self.instance(row["name"]) is not None:
                raise ValueError(f"instance {row['name']!r} exists")
            self._instances[row["id"]] = copy.deepcopy(row)
            self._settings[row["id"]] = copy.deepcopy(setting)

    def update_instance(self, instance_id: str, fields: Row) -> Row:
        with self._lock:
            row = self._instances[instance_id]
            row.update(copy.deepcopy(fields))
            row["updatedAt"] = now()
            return copy.deepcopy(row)

    def delete_instance(self, instance_id: str) -> None:
        with self._lock:
            self._instances.pop(instance_id, None)
            self._settings.pop(instance_id, None)
            self._webhooks.pop(instance_id, None)

    def setting(self, instance_id: str) -> Row | None:
        with self._lock:
            return copy.deepcopy(self._settings.get(instance_id))

    def upsert_setting(self, instance_id: str, fields: Row) -> Row:
        return self._upsert(self._settings, SETTING_DEFAULTS, instance_id, fields)

    def webhook(self, instance_id: str) -> Row | None:
        with self._lock:
            return copy.deepcopy(self._webhooks.get(instance_id))

    def upsert_webhook(self, instance_id: str, fields: Row) -> Row:
        return self._upsert(self._webhooks, WEBHOOK_DEFAULTS, instance_id, fields)

    def _upsert(self, table: dict[str, Row], defaults: Row, instance_id: str, fields: Row) -> Row:
        with self._lock:
            row = table.get(instance_id)
            if row is None:
                stamp = now()
                row = {"id": new_cuid(), **copy.deepcopy(defaults)}
                row.update(createdAt=stamp, updatedAt=stamp, instanceId=instance_id)
                table[instance_id] = row
            else:
                row["updatedAt"] = now()
            row.update(copy.deepcopy(fields))
            return copy.deepcopy(row)

    def close(self) -> None:
        pass


class DatabaseError(RuntimeError):
    """The database cannot be used; the message is what the real server's start logs say."""


# Prisma URI parameters that libpq does not know; ``schema`` selects the PostgreSQL schema.
_PRISMA_ONLY_PARAMS = {
    "schema",
    "connection_limit",
    "pool_timeout",
    "socket_timeout",
    "pgbouncer",
    "statement_cache_size",
    "sslaccept",
    "sslidentity",
    "sslpassword",
}

_DDL = """
CREATE TABLE IF NOT EXISTS "Instance" (
    "id" text PRIMARY KEY,
    "name" varchar(255) NOT NULL UNIQUE,
    "connectionStatus" varchar(20) NOT NULL DEFAULT 'open',
    "ownerJid" varchar(100),
    "profileName" varchar(100),
    "profilePicUrl" varchar(500),
    "integration" varchar(100),
    "number" varchar(100),
    "businessId" varchar(100),
    "token" varchar(255),
    "clientName" varchar(100),
    "disconnectionReasonCode" integer,
    "disconnectionObject" jsonb,
    "disconnectionAt" timestamptz(3),
    "createdAt" timestamptz(3) NOT NULL,
    "updatedAt" timestamptz(3) NOT NULL
);
CREATE TABLE IF NOT EXISTS "Setting" (
    "id" text PRIMARY KEY,
    "rejectCall" boolean NOT NULL DEFAULT false,
    "msgCall" varchar(100) DEFAULT '',
    "groupsIgnore" boolean NOT NULL DEFAULT false,
    "alwaysOnline" boolean NOT NULL DEFAULT false,
    "readMessages" boolean NOT NULL DEFAULT false,
    "readStatus" boolean NOT NULL DEFAULT false,
    "syncFullHistory" boolean NOT NULL DEFAULT false,
    "wavoipToken" varchar(100) DEFAULT '',
    "createdAt" timestamptz(3) NOT NULL,
    "updatedAt" timestamptz(3) NOT NULL,
    "instanceId" text NOT NULL UNIQUE REFERENCES "Instance"("id") ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS "Webhook" (
    "id" text PRIMARY KEY,
    "url" varchar(500) NOT NULL,
    "headers" jsonb,
    "enabled" boolean DEFAULT true,
    "events" jsonb,
    "webhookByEvents" boolean DEFAULT false,
    "webhookBase64" boolean DEFAULT false,
    "createdAt" timestamptz(3) NOT NULL,
    "updatedAt" timestamptz(3) NOT NULL,
    "instanceId" text NOT NULL UNIQUE REFERENCES "Instance"("id") ON DELETE CASCADE
);
"""


def split_prisma_uri(uri: str) -> tuple[str, str]:
    """Turn a Prisma ``postgresql://...?schema=x`` URI into a libpq URI and a schema name."""
    parts = urlsplit(uri)
    if parts.scheme not in ("postgresql", "postgres"):
        raise DatabaseError(
            "Error: P1012: the URL must start with the protocol `postgresql://` or `postgres://`."
        )
    params = parse_qsl(parts.query, keep_blank_values=True)
    schema = dict(params).get("schema") or "public"
    kept = [(key, value) for key, value in params if key not in _PRISMA_ONLY_PARAMS]
    if not any(key == "connect_timeout" for key, _ in kept):
        kept.append(("connect_timeout", "5"))
    # A SQL_ASCII database (initdb without a locale, as in the postgres stand-in image) would
    # otherwise hand text columns back as bytes.
    if not any(key == "client_encoding" for key, _ in kept):
        kept.append(("client_encoding", "UTF8"))
    return urlunsplit(parts._replace(query=urlencode(kept))), schema


def describe_connect_error(uri: str, error: Exception) -> str:
    """Word a connection failure the way Prisma's migrate step reports it at start."""
    parts = urlsplit(uri)
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    text = str(error).lower()
    if "password authentication failed" in text or "authentication failed" in text:
        return (
            f"Error: P1000: Authentication failed against database server at `{host}`, the "
            f"provided database credentials for `{parts.username or ''}` are not valid."
        )
    if "does not exist" in text and "database" in text:
        database = parts.path.lstrip("/") or parts.username or ""
        return (
            f"Error: P1003: Database `{database}` does not exist on the database server at "
            f"`{host}:{port}`."
        )
    return f"Error: P1001: Can't reach database server at `{host}:{port}` ({error})"


class PostgresStore:
    """State in PostgreSQL tables shaped like the real server's, so it survives a restart."""

    def __init__(self, uri: str) -> None:
        try:
            import psycopg
            from psycopg.rows import dict_row
            from psycopg.types.json import Jsonb
        except ImportError as error:  # the image installs python3-psycopg
            raise DatabaseError(f"Error: psycopg (v3) is not installed: {error}") from error
        self._psycopg, self._dict_row, self._jsonb = psycopg, dict_row, Jsonb
        self._uri = uri
        self._dsn, self._schema = split_prisma_uri(uri)
        self._lock = threading.RLock()
        self._conn = self._connect()
        with self._lock, self._conn.transaction():
            self._conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
            self._conn.execute(f'SET search_path TO "{self._schema}"')
            self._conn.execute(_DDL)

    def _connect(self):
        try:
            conn = self._psycopg.connect(self._dsn, autocommit=True, row_factory=self._dict_row)
        except self._psycopg.Error as error:
            raise DatabaseError(describe_connect_error(self._uri, error)) from error
        conn.execute(f'SET search_path TO "{self._schema}"')
        return conn

    def _run(self, sql: str, params: tuple | list = ()) -> list[Row]:
        with self._lock:
            if self._conn.closed or self._conn.broken:
                self._conn = self._connect()
            cursor = self._conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def _adapt(self, fields: Row) -> Row:
        json_columns = ("headers", "events", "disconnectionObject")
        return {
            key: self._jsonb(value) if key in json_columns and value is not None else value
            for key, value in fields.items()
        }

    def instances(self, client_name: str | None = None) -> list[Row]:
        if client_name is None:
            return self._run('SELECT * FROM "Instance" ORDER BY "createdAt", "id"')
        return self._run(
            'SELECT * FROM "Instance" WHERE "clientName" = %s ORDER BY "createdAt", "id"',
            (client_name,),
        )

    def instance(self, name: str) -> Row | None:
        rows = self._run('SELECT * FROM "Instance" WHERE "name" = %s', (name,))
        return rows[0] if rows else None

    def insert_instance(self, row: Row, setting: Row) -> None:
        with self._lock, self._conn.transaction():
            self._insert("Instance", row)
            self._insert("Setting", setting)

    def _insert(self, table: str, row: Row) -> None:
        columns = ", ".join(f'"{key}"' for key in row)
        marks = ", ".join(["%s"] * len(row))
        self._run(
            f'INSERT INTO "{table}" ({columns}) VALUES ({marks})',
            list(self._adapt(row).values()),
        )

    def update_instance(self, instance_id: str, fields: Row) -> Row:
        fields = {**fields, "updatedAt": now()}
        assignments = ", ".join(f'"{key}" = %s' for key in fields)
        rows = self._run(
            f'UPDATE "Instance" SET {assignments} WHERE "id" = %s RETURNING *',
            [*self._adapt(fields).values(), instance_id],
        )
        if not rows:
            raise KeyError(instance_id)
        return rows[0]

    def delete_instance(self, instance_id: str) -> None:
        self._run('DELETE FROM "Instance" WHERE "id" = %s', (instance_id,))

    def setting(self, instance_id: str) -> Row | None:
        rows = self._run('SELECT * FROM "Setting" WHERE "instanceId" = %s', (instance_id,))
        return rows[0] if rows else None

    def upsert_setting(self, instance_id: str, fields: Row) -> Row:
        return self._upsert("Setting", SETTING_DEFAULTS, instance_id, fields)

    def webhook(self, instance_id: str) -> Row | None:
        rows = self._run('SELECT * FROM "Webhook" WHERE "instanceId" = %s', (instance_id,))
        return rows[0] if rows else None

    def upsert_webhook(self, instance_id: str, fields: Row) -> Row:
        return self._upsert("Webhook", WEBHOOK_DEFAULTS, instance_id, fields)

    def _upsert(self, table: str, defaults: Row, instance_id: str, fields: Row) -> Row:
        stamp = now()
        row = {"id": new_cuid(), **defaults, **fields}
        row.update(createdAt=stamp, updatedAt=stamp, instanceId=instance_id)
        columns = ", ".join(f'"{key}"' for key in row)
        marks = ", ".join(["%s"] * len(row))
        updates = ", ".join(f'"{key}" = EXCLUDED."{key}"' for key in [*fields, "updatedAt"])
        rows = self._run(
            f'INSERT INTO "{table}" ({columns}) VALUES ({marks}) '
            f'ON CONFLICT ("instanceId") DO UPDATE SET {updates} RETURNING *',
            list(self._adapt(row).values()),
        )
        return rows[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
