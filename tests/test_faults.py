"""The API modules when things break: the API down or slow, the webhook receiver down, a run
killed half-way.

Everything runs for real: ansible-playbook, the modules, and HTTP over loopback to the Evolution
API double, to small servers that stand for a dead or hanging API, or to a proxy in front of the
double that stops forwarding after a number of writes (the API going down mid-run).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from evolution_double import RetryPolicy
from evolution_harness import WRITE_METHODS, Ansible, Step, new_double


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    handler_delay_s = 0.0
    status = 503
    upstream: str | None = None
    writes_allowed = 0


class _Handler(BaseHTTPRequestHandler):
    """Counts requests; hangs (``handler_delay_s``), answers ``status``, or forwards to
    ``upstream`` while ``writes_allowed`` lasts and answers ``status`` after that."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        self.server.requests.append((self.command, self.path))
        if self.server.handler_delay_s:
            time.sleep(self.server.handler_delay_s)
        status, payload = self.server.status, b'{"message":"Service Unavailable"}'
        if self.server.upstream and self._forwardable():
            status, payload = self._forward(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _forwardable(self) -> bool:
        with self.server.lock:
            if self.command not in WRITE_METHODS:
                return self.server.writes_allowed > 0
            if self.server.writes_allowed <= 0:
                return False
            self.server.writes_allowed -= 1
            return True

    def _forward(self, body: bytes | None) -> tuple[int, bytes]:
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("apikey", "content-type")}
        request = urllib.request.Request(
            self.server.upstream + self.path, data=body, method=self.command, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        pass


class FaultServer:
    """A loopback HTTP server for faults; ``requests`` lists (method, path) received."""

    def __init__(self, **settings: object) -> None:
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.requests = []
        self.server.lock = threading.Lock()
        for key, value in settings.items():
            setattr(self.server, key, value)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def requests(self) -> list[tuple[str, str]]:
        return list(self.server.requests)

    def __enter__(self) -> FaultServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class TimedAnsible(Ansible):
    """The module-test runner, plus how long each task ran (``durations``, in seconds, as
    ansible-playbook measured it)."""

    def run(self, steps, **kwargs):
        result = super().run(steps, **kwargs)
        durations = {}
        if kwargs.get("callback", "ansible.posix.json") == "ansible.posix.json":
            report = json.loads(result.stdout)
            for task in report["plays"][0]["tasks"]:
                when = task["task"]["duration"]
                durations[task["task"]["name"]] = _elapsed(when["start"], when["end"])
        result.durations = durations
        return result


def _elapsed(start: str, end: str) -> float:
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


@pytest.fixture
def timed(double, tmp_path) -> TimedAnsible:
    return TimedAnsible(double, tmp_path)


# -- The API down or slow ------------------------------------------------------------------


def test_api_down_retries_with_backoff_then_names_the_url_and_cause(timed, closed_port):
    url = f"http://127.0.0.1:{closed_port}"
    down = {"name": "support", "api_url": url, "retry_backoff_s": 0.2}
    run = timed.run(
        [
            Step("three_retries", "evolution_instance", dict(down, retries=3), expect_failure=True),
            Step("no_retry", "evolution_instance", dict(down, retries=0), expect_failure=True),
        ]
    )
    message = (
        "Could not read instance 'support': the connection to GET "
        f"{url}/instance/fetchInstances was refused. Check that the Evolution API is running "
        "and that api_url (or EVOLUTION_API_URL) is right."
    )
    for step in ("three_retries", "no_retry"):
        assert run.results[step]["failed"] is True
        assert run.results[step]["msg"] == message
    # Three pauses of 0.2, 0.4 and 0.8 s between four attempts (a fifth attempt would add a
    # pause of 1.6 s), then the failure: bounded, whatever the load of the machine adds.
    assert 1.4 <= run.durations["three_retries"] < 1.4 + 8
    assert run.durations["three_retries"] - run.durations["no_retry"] > 1.0


def test_a_hanging_api_is_given_up_after_the_retries(timed):
    with FaultServer(handler_delay_s=3.0) as hanging:
        run = timed.run(
            [
                Step(
                    "hanging",
                    "evolution_instance",
                    {
                        "name": "support",
                        "api_url": hanging.url,
                        "timeout_s": 0.5,
                        "retries": 2,
                        "retry_backoff_s": 0.1,
                    },
                    expect_failure=True,
                )
            ]
        )
        assert hanging.requests == [("GET", "/instance/fetchInstances?instanceName=support")] * 3
    assert run.results["hanging"]["msg"] == (
        "Could not read instance 'support': no answer from GET "
        f"{hanging.url}/instance/fetchInstances within 0.5 s. Check that the Evolution API is up "
        "and not overloaded, or raise timeout_s."
    )
    # Three attempts of 0.5 s and pauses of 0.1 and 0.2 s: 1.8 s, not the 9 s the server hangs.
    assert 1.8 <= run.durations["hanging"] < 1.8 + 8


def test_an_api_answering_503_is_retried_a_bounded_number_of_times(timed):
    with FaultServer(status=503) as unavailable:
        run = timed.run(
            [
                Step(
                    "unavailable",
                    "evolution_instance_info",
                    {"api_url": unavailable.url, "retries": 4, "retry_backoff_s": 0.05},
                    expect_failure=True,
                )
            ]
        )
        assert unavailable.requests == [("GET", "/instance/fetchInstances")] * 5
    assert run.results["unavailable"]["msg"] == (
        "Could not list the instances: the server failed (HTTP 503 from GET "
        f"{unavailable.url}/instance/fetchInstances): Service Unavailable. Check the Evolution "
        "API server log, and its database and Redis."
    )
    assert run.durations["unavailable"] < 0.05 * 15 + 8


def declared(count: int, hook: str) -> list[dict]:
    return [
        {
            "name": f"shop-{index:02d}",
            "webhook": {"url": hook, "events": ["MESSAGES_UPSERT"], "headers": {"X-T": "s3cr3t"}},
            "settings": {"reject_call": True, "groups_ignore": True},
        }
        for index in range(count)
    ]


def complete(double, item: dict) -> bool:
    """The instance exists with the declared webhook and settings."""
    row = double.instance(item["name"])
    if row is None:
        return False
    hook = double.state.webhook(row["id"])
    setting = double.state.setting(row["id"])
    return (
        hook is not None
        and hook["url"] == item["webhook"]["url"]
        and hook["events"] == item["webhook"]["events"]
        and setting is not None
        and setting["rejectCall"] is True
        and setting["groupsIgnore"] is True
    )


def test_the_api_going_down_mid_run_leaves_a_state_the_next_run_completes(double, tmp_path):
    """Writes for one instance go in order (create, with the settings; then the webhook), so
    after the API stops answering every instance is complete, absent, or created without its
    webhook; the failure names each unfinished instance, and the next run completes them."""
    items = declared(6, "http://127.0.0.1:9/hook")
    ansible = Ansible(double, tmp_path)
    # Five writes get through: shop-00 and shop-01 complete, shop-02 created; then 503s.
    with FaultServer(upstream=double.url, writes_allowed=5, status=503) as proxy:
        run = ansible.run(
            [
                Step(
                    "interrupted",
                    "evolution_instances",
                    {"instances": items, "parallel": 1, "api_url": proxy.url, "retries": 1},
                    expect_failure=True,
                )
            ]
        )
    result = run.results["interrupted"]
    assert result["failed"] is True
    assert result["msg"].startswith("4 of 6 instances failed: ")
    failed = {entry["name"]: entry["msg"] for entry in result["instances"] if entry["failed"]}
    assert list(failed) == ["shop-02", "shop-03", "shop-04", "shop-05"]
    assert failed["shop-02"] == (
        "Could not set the webhook of instance 'shop-02': the server failed (HTTP 503 from POST "
        f"{proxy.url}/webhook/set/shop-02): Service Unavailable. Check the Evolution API server "
        "log, and its database and Redis."
    )
    assert failed["shop-03"] == (
        "Could not create instance 'shop-03': the server failed (HTTP 503 from POST "
        f"{proxy.url}/instance/create): Service Unavailable. Check the Evolution API server log, "
        "and its database and Redis."
    )
    # What is true after the fault: no instance twice, none half-created beyond the webhook.
    assert [complete(double, item) for item in items] == [True, True, False, False, False, False]
    assert double.instance("shop-02") is not None
    assert double.state.webhook(double.instance("shop-02")["id"]) is None
    assert [double.instance(i["name"]) for i in items[3:]] == [None, None, None]
    assert len(double.state.instances()) == 3

    # The API is back: the same declaration completes everything, and then changes nothing.
    again = ansible.run(
        [
            Step("rerun", "evolution_instances", {"instances": items}),
            Step("noop", "evolution_instances", {"instances": items}),
        ]
    )
    assert again.results["rerun"]["msg"] == (
        "6 declared instances: 3 created, 1 changed, 0 deleted, 2 unchanged; 0 undeclared pruned."
    )
    assert all(complete(double, item) for item in items)
    assert again.results["noop"]["changed"] is False
    assert again.writes("noop") == []


# -- The webhook receiver down ----------------------------------------------------------------


@pytest.fixture
def quick_double() -> Iterator:
    """A double that gives up a failed webhook delivery after two quick attempts."""
    with new_double(webhook_retry=RetryPolicy(max_attempts=2, initial_delay_s=0.05)) as api:
        yield api


def test_registering_a_webhook_to_a_receiver_that_is_down_succeeds(
    quick_double, tmp_path, closed_port
):
    hook = f"http://127.0.0.1:{closed_port}/hook"
    ansible = Ansible(quick_double, tmp_path)
    item = {"name": "support", "webhook": {"url": hook, "events": ["CONNECTION_UPDATE"]}}
    run = ansible.run(
        [
            Step("create", "evolution_instances", {"instances": [item]}),
            Step(
                "webhook",
                "evolution_webhook",
                {"name": "support", "url": hook, "events": ["CONNECTION_UPDATE", "QRCODE_UPDATED"]},
            ),
        ]
    )
    assert run.results["create"]["changed"] is True
    assert run.results["webhook"]["changed"] is True
    assert run.results["webhook"]["end_state"]["url"] == hook
    # An event now goes to the dead receiver: the API tries, fails, and carries on.
    quick_double.pair("support")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        tries = [d for d in quick_double.deliveries if d.event == "connection.update"]
        if len(tries) >= 2:
            break
        time.sleep(0.05)
    assert [(d.url, d.status) for d in tries] == [(hook, None), (hook, None)]
    assert all("refused" in (d.error or "").lower() for d in tries)
    again = ansible.run([Step("noop", "evolution_webhook", {"name": "support", "url": hook})])
    assert again.results["noop"]["changed"] is False


# -- A run killed half-way -------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """The direct children of ``pid``."""
    return _process_tree().get(pid, [])


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid``."""
    children = _process_tree()
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        for child in children.get(current, []):
            found.append(child)
            queue.append(child)
    return found


def _process_tree() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_a_run_killed_half_way_converges_on_the_next_run(double, tmp_path):
    items = declared(40, "http://127.0.0.1:9/hook")
    ansible = Ansible(double, tmp_path)
    # Slow the double down a little, so that the run lasts long enough to be killed mid-way.
    handle = double.api.handle

    def slow_handle(*args, **kwargs):
        time.sleep(0.02)
        return handle(*args, **kwargs)

    double.api.handle = slow_handle
    playbook = tmp_path / "killed.yml"
    playbook.write_text(
        yaml.safe_dump(
            ansible.playbook(
                [
                    {
                        "name": "many",
                        "srcardoso.evolution.evolution_instances": {"instances": items},
                    }
                ]
            )
        )
    )
    runner = threading.Thread(
        target=ansible.execute, args=(playbook,), kwargs={"callback": "default"}, daemon=True
    )
    runner.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if sum(r.method in WRITE_METHODS for r in double.requests) >= 25:
            break
        time.sleep(0.01)
    # Like a lost SSH session or a rebooted controller: every process of the run dies at once.
    (main,) = [pid for pid in _children(os.getpid()) if str(playbook).encode() in _cmdline(pid)]
    for pid in [main, *_descendants(main)]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    runner.join(timeout=30)
    assert not runner.is_alive()
    time.sleep(0.3)  # a request already in the double's hands is answered
    written = sum(r.method in WRITE_METHODS for r in double.requests)
    assert 25 <= written < 2 * len(items), "the run was not killed half-way"
    assert 0 < sum(complete(double, item) for item in items) < len(items)

    double.api.handle = handle
    run = ansible.run(
        [
            Step("rerun", "evolution_instances", {"instances": items}),
            Step("noop", "evolution_instances", {"instances": items}),
        ]
    )
    assert run.results["rerun"]["changed"] is True
    assert all(complete(double, item) for item in items)
    assert len(double.state.instances()) == len(items)
    assert run.results["noop"]["changed"] is False
    assert run.writes("noop") == []
