"""The client over real loopback sockets: retries, back-off, what is never retried, and TLS."""

import http.server
import json
import shutil
import ssl
import subprocess
import threading

import pytest
from ansible_collections.srcardoso.evolution.plugins.module_utils._api import (
    EvolutionClient,
    EvolutionError,
)


class Scripted(http.server.BaseHTTPRequestHandler):
    """Answers with the next (status, body) of the server's script; records each request."""

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.seen.append((self.command, self.path, self.headers.get("apikey")))
        status, body = self.server.script.pop(0) if self.server.script else (200, [])
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    httpd.script, httpd.seen = [], []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def client_for(server, scheme="http", **options):
    pauses = []
    host, port = server.server_address[:2]
    client = EvolutionClient(f"{scheme}://{host}:{port}", "KEY-123", sleep=pauses.append, **options)
    return client, pauses


BUSY = (503, {"status": 503, "error": "Service Unavailable", "response": {"message": "busy"}})


def test_a_read_is_retried_with_growing_pauses_after_5xx(server):
    server.script = [BUSY, BUSY, (200, [{"name": "a"}])]
    client, pauses = client_for(server, retries=3, retry_backoff_s=0.5)
    assert client.get("instance", "fetchInstances", what="list") == [{"name": "a"}]
    assert pauses == [0.5, 1.0]
    assert [seen[:2] for seen in server.seen] == [("GET", "/instance/fetchInstances")] * 3
    assert {seen[2] for seen in server.seen} == {"KEY-123"}


def test_retries_are_bounded(server):
    server.script = [BUSY] * 5
    client, pauses = client_for(server, retries=2, retry_backoff_s=1)
    with pytest.raises(EvolutionError) as caught:
        client.get("instance", "fetchInstances", what="list the instances")
    host, port = server.server_address[:2]
    assert caught.value.msg == (
        f"Could not list the instances: the server failed (HTTP 503 from GET "
        f"http://{host}:{port}/instance/fetchInstances): busy. Check the Evolution API server "
        f"log, and its database and Redis."
    )
    assert pauses == [1, 2]
    assert len(server.seen) == 3


def test_a_create_that_reached_the_server_is_never_sent_twice(server):
    server.script = [BUSY, (201, {"hash": "x"})]
    client, pauses = client_for(server, retries=3)
    with pytest.raises(EvolutionError):
        client.post(
            "instance", "create", body={"instanceName": "a"}, what="create", idempotent=False
        )
    assert len(server.seen) == 1
    assert pauses == []


def test_client_errors_are_not_retried(server):
    server.script = [(400, {"status": 400, "response": {"message": [["bad"]]}})]
    client, pauses = client_for(server, retries=3)
    with pytest.raises(EvolutionError) as caught:
        client.post("settings", "set", "a", body={}, what="set the settings")
    assert caught.value.status == 400
    assert caught.value.api_message == "bad"
    assert len(server.seen) == 1
    assert pauses == []


def test_a_refused_connection_is_retried_even_for_a_create():
    with http.server.HTTPServer(("127.0.0.1", 0), Scripted) as probe:
        port = probe.server_address[1]
    pauses = []
    client = EvolutionClient(f"http://127.0.0.1:{port}", "k", retries=2, sleep=pauses.append)
    with pytest.raises(EvolutionError) as caught:
        client.post("instance", "create", body={}, what="create instance 'a'", idempotent=False)
    assert "was refused" in caught.value.msg
    assert pauses == [1.0, 2.0]


@pytest.fixture
def tls_server(server, tmp_path):
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the self-signed certificate of this test")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def test_tls_validation(tls_server):
    client, _pauses = client_for(tls_server, scheme="https", retries=0)
    with pytest.raises(EvolutionError) as caught:
        client.get("instance", "fetchInstances", what="list the instances")
    host, port = tls_server.server_address[:2]
    assert caught.value.msg.startswith(
        f"Could not list the instances: the TLS connection to GET "
        f"https://{host}:{port}/instance/fetchInstances failed ("
    )
    assert caught.value.msg.endswith(
        "). Give the server a certificate this host trusts, or set validate_certs: false for a "
        "test server."
    )
    insecure, _pauses = client_for(tls_server, scheme="https", retries=0, validate_certs=False)
    assert insecure.get("instance", "fetchInstances", what="list") == []
