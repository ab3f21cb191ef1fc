"""A webhook receiver for tests: records every POST with its path, headers and JSON body."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Headers(dict):
    """Header names as they were sent, looked up without regard to case (as HTTP wants)."""

    def __init__(self, items: Any = ()) -> None:
        super().__init__(items)
        self._names = {name.lower(): name for name in self}

    def _name(self, key: object) -> object:
        return self._names.get(key.lower(), key) if isinstance(key, str) else key

    def __getitem__(self, key: object) -> str:
        return super().__getitem__(self._name(key))

    def __contains__(self, key: object) -> bool:
        return super().__contains__(self._name(key))

    def get(self, key: object, default: Any = None) -> Any:
        return super().get(self._name(key), default)


@dataclass
class Received:
    path: str
    headers: Headers  # case-insensitive lookups
    body: Any  # the parsed JSON, or the raw text when it was not JSON
    at: float = field(default_factory=time.time)

    @property
    def event(self) -> str | None:
        return self.body.get("event") if isinstance(self.body, dict) else None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        sink = self.server.sink
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode(errors="replace")
        status = sink.status
        if status < 400:  # a failing receiver records nothing, like one that is down
            with sink._cond:
                sink._received.append(Received(self.path, Headers(self.headers.items()), body))
                sink._cond.notify_all()
        else:
            sink.refused += 1
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sink: WebhookSink


class WebhookSink:
    """``with WebhookSink() as sink: ... sink.wait_for(lambda r: r.event == "x")``.

    Set ``status`` to an error code (e.g. 500) to make deliveries fail; those are counted in
    ``refused`` and not recorded.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, status: int = 200) -> None:
        self.host, self.port, self.status = host, port, status
        self.refused = 0
        self._received: list[Received] = []
        self._cond = threading.Condition()
        self._server: _Server | None = None

    def start(self) -> WebhookSink:
        self._server = _Server((self.host, self.port), _Handler)
        self._server.sink = self
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebhookSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sink is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def received(self) -> list[Received]:
        with self._cond:
            return list(self._received)

    def events(self, event: str | None = None) -> list[Received]:
        return [r for r in self.received if event is None or r.event == event]

    def clear(self) -> None:
        with self._cond:
            self._received.clear()

    def wait_for(
        self, match: Callable[[Received], bool] | str, count: int = 1, timeout_s: float = 5.0
    ) -> list[Received]:
        """Wait until ``count`` deliveries match (an event name or a predicate); return them.

        Raises ``TimeoutError`` listing what did arrive, so a failing test says why.
        """
        test = (lambda r: r.event == match) if isinstance(match, str) else match
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                found = [r for r in self._received if test(r)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(r.path, r.event) for r in self._received]
                    raise TimeoutError(f"{len(found)}/{count} matching deliveries; got {seen}")
                self._cond.wait(remaining)
