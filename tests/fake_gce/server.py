"""Serve a ``ComputeApi`` over HTTPS from a thread of the calling process."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from .api import ComputeApi


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet; ``ComputeApi.requests`` records every call."""

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw.strip() else None
        except json.JSONDecodeError:
            self._reply(400, {"error": {"code": 400, "message": "Invalid JSON payload"}})
            return
        status, payload = self.server.api.handle(
            self.command,
            parts.path,
            dict(parse_qsl(parts.query, keep_blank_values=True)),
            body,
            self.headers.get("Authorization"),
        )
        self._reply(int(status), payload)

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: ComputeApi


class FakeGceServer:
    """HTTPS on ``host:port`` with the given certificate, answering from ``api``."""

    def __init__(self, api: ComputeApi, host: str, port: int, cert: Path, key: Path) -> None:
        self.api = api
        self._httpd = _Server((host, port), _Handler)
        self._httpd.api = api
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> FakeGceServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
