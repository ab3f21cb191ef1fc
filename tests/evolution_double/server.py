"""The double on a real socket: ``EvolutionDouble`` serves ``routes.Api`` from a thread."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .routes import VERSION, Api, Config, serialize_instance
from .sink import Headers
from .store import DatabaseError, MemoryStore, PostgresStore, Row, Store
from .webhooks import Attempt, RetryPolicy, WebhookDelivery

log = logging.getLogger("evolution_double")


class StartupError(RuntimeError):
    """The double cannot start; the message is the log line the real server would leave."""


@dataclass
class RecordedRequest:
    """One request the double answered (``body`` is the parsed JSON, or None)."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: Headers  # as sent; lookups ignore case
    status: int


def redact(uri: str) -> str:
    """``redis://user:secret@host`` -> ``redis://user:***@host``, for log lines."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def redis_ping(uri: str, timeout_s: float = 3.0) -> None:
    """Check that Redis answers PING at ``uri`` (RESP over a plain socket); raise otherwise."""
    parts = urlsplit(uri)
    if parts.scheme != "redis":
        raise StartupError(f"ERROR [Redis] unsupported CACHE_REDIS_URI scheme in {redact(uri)}")
    host, port = parts.hostname or "localhost", parts.port or 6379

    def command(conn: socket.socket, *words: str) -> bytes:
        frame = f"*{len(words)}\r\n" + "".join(f"${len(w.encode())}\r\n{w}\r\n" for w in words)
        conn.sendall(frame.encode())
        reply = conn.recv(512)
        if not reply:
            raise OSError("connection closed by the server")
        return reply

    try:
        with socket.create_connection((host, port), timeout=timeout_s) as conn:
            if parts.password is not None:
                words = [unquote(parts.username)] if parts.username else []
                reply = command(conn, "AUTH", *words, unquote(parts.password))
                if not reply.startswith(b"+OK"):
                    raise OSError(reply.decode(errors="replace").strip())
            database = parts.path.strip("/")
            if database:
                reply = command(conn, "SELECT", database)
                if not reply.startswith(b"+OK"):
                    raise OSError(reply.decode(errors="replace").strip())
            reply = command(conn, "PING")
            if not reply.startswith(b"+PONG"):
                raise OSError(reply.decode(errors="replace").strip())
    except OSError as error:
        raise StartupError(
            f"ERROR [Redis] redis disconnected: no answer to PING at {redact(uri)} "
            f"(CACHE_REDIS_URI): {error}"
        ) from error


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "evolution-double"
    sys_version = ""
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        response = self.server.double.api.handle(self.command, self.path, headers, raw)
        payload = (
            response.body.encode()
            if isinstance(response.body, str) and response.content_type.startswith("text/")
            else json.dumps(response.body, separators=(",", ":"), ensure_ascii=False).encode()
        )
        self.server.double.record(self.command, self.path, headers, raw, response.status)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def do_HEAD(self) -> None:
        self.command = "GET"  # Express answers HEAD with the GET route
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    double: EvolutionDouble


class EvolutionDouble:
    """Evolution API 2.3 for tests, on a loopback socket, in memory or in PostgreSQL.

    ``database_uri`` (a Prisma-style ``postgresql://...?schema=x`` URI) keeps all state in
    PostgreSQL; ``redis_uri`` is checked with PING at start, as the stack's cache must answer.
    """

    def __init__(
        self,
        api_key: str = "429683C4C977415CAAFCCE10F7D57E11",
        database_uri: str | None = None,
        redis_uri: str | None = None,
        delete_delay_s: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_name: str = "evolution_exchange",
        server_url: str | None = None,
        connect_wait_s: float = 0.0,
        qrcode_color: str = "#175197",
        webhook_timeout_s: float = 60.0,
        webhook_retry: RetryPolicy | None = None,
        expose_token_in_webhooks: bool = True,
        cors_origin: str = "*",
        manager_enabled: bool = True,
        del_instance_min: float | None = None,
        instances_dir: str | Path | None = None,
        version: str = VERSION,
    ) -> None:
        self.database_uri, self.redis_uri = database_uri, redis_uri
        self.host, self.port = host, port
        self.config = Config(
            api_key=api_key,
            client_name=client_name,
            server_url=server_url or "",
            version=version,
            delete_delay_s=delete_delay_s,
            connect_wait_s=connect_wait_s,
            qrcode_color=qrcode_color,
            expose_token_in_webhooks=expose_token_in_webhooks,
            cors_origin=cors_origin,
            manager_enabled=manager_enabled,
            del_instance_min=del_instance_min,
            instances_dir=Path(instances_dir) if instances_dir else None,
        )
        self.delivery = WebhookDelivery(webhook_timeout_s, webhook_retry)
        self.state: Store | None = None
        self.api: Api | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> EvolutionDouble:
        # Like the real start: migrations (the database) first, then the cache.
        try:
            self.state = PostgresStore(self.database_uri) if self.database_uri else MemoryStore()
        except DatabaseError as error:
            raise StartupError(str(error)) from error
        if self.database_uri:
            log.info("Migration succeeded")
        try:
            if self.redis_uri:
                redis_ping(self.redis_uri)
            self._server = _Server((self.host, self.port), _Handler)
        except (OSError, StartupError):
            self.state.close()
            raise
        self._server.double = self
        if not self.config.server_url:
            self.config.server_url = self.url
        self.api = Api(self.config, self.state, self.delivery)
        self.api.boot()
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="evolution-double", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.delivery.stop()
        if self.api is not None:
            self.api.close()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.state is not None:
            self.state.close()
        self._server = self._thread = None

    def __enter__(self) -> EvolutionDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the double is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- what tests look at --------------------------------------------------------------------
    def record(self, method: str, target: str, headers: dict, raw: bytes, status: int) -> None:
        parts = urlsplit(target)
        try:
            body = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            body = raw.decode(errors="replace")
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        entry = RecordedRequest(method, parts.path, query, body, Headers(headers), status)
        with self._requests_lock:
            self._requests.append(entry)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request answered so far, oldest first (a copy)."""
        with self._requests_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._requests_lock:
            self._requests.clear()

    @property
    def deliveries(self) -> list[Attempt]:
        """Every webhook POST the double attempted, oldest first."""
        return list(self.delivery.attempts)

    def _api(self) -> Api:
        if self.api is None:
            raise RuntimeError("the double is not started")
        return self.api

    def instance(self, name: str) -> Row | None:
        """The instance as ``fetchInstances`` shows it (with its token), or None."""
        api = self._api()
        row = api.store.instance(name)
        return serialize_instance(row, api.store.setting(row["id"])) if row else None

    def pair(self, name: str, number: str = "5511999990000", profile_name: str = "Double") -> Row:
        """Pretend a phone paired: the instance is ``open`` and a connection.update is sent."""
        row = self._api().pair(name, number, profile_name)
        return serialize_instance(row, self._api().store.setting(row["id"]))

    def wait_removed(self, name: str, timeout_s: float = 10.0) -> bool:
        """Wait until a deleted instance is really gone; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._api().store.instance(name) is None:
                return True
            time.sleep(0.02)
        return False
