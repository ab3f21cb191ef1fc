"""Run the collection's modules for real: ansible-playbook against the Evolution API double.

Each test writes a playbook, runs ``ansible-playbook`` (this venv, the repository's
ansible.cfg, ``localhost`` over the local connection) and reads the results through the
``ansible.posix.json`` callback. The double runs in-process on a loopback socket; the request
log it keeps is split per step by a marker request (``GET /?step=<name>``) that the harness puts
before every step, so a test can assert exactly what each module call sent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[6]
for extra in (REPO / "tests", REPO / "collections"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from evolution_double import EvolutionDouble, WebhookSink

# Distinctive values, so a leak into any output is found by a plain substring search.
API_KEY = "GLOBAL-KEY-d41d8cd98f00b204"
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass
class Step:
    """One task of a generated playbook; ``name`` is also its marker and its register."""

    name: str
    module: str
    args: dict
    check: bool = False
    expect_failure: bool = False
    keywords: dict = field(default_factory=dict)

    def task(self):
        task = {
            "name": self.name,
            f"srcardoso.evolution.{self.module}": self.args,
            "diff": True,
        }
        if self.check:
            task["check_mode"] = True
        if self.expect_failure:
            task["ignore_errors"] = True
        task.update(self.keywords)
        return task


@dataclass
class Run:
    results: dict
    requests: dict
    stdout: str
    stderr: str

    def writes(self, step):
        return [r for r in self.requests[step] if r.method in WRITE_METHODS]

    def calls(self, step):
        return [f"{r.method} {r.path}" for r in self.requests[step]]


class Ansible:
    def __init__(self, double, tmp_path):
        self.double = double
        self.tmp_path = tmp_path
        self.count = 0

    def playbook(self, tasks, defaults=None):
        connection = {"api_url": self.double.url, "api_key": API_KEY, "retry_backoff_s": 0.05}
        connection.update(defaults or {})
        return [
            {
                "name": "Evolution API module test",
                "hosts": "localhost",
                "gather_facts": False,
                "module_defaults": {"group/srcardoso.evolution.api": connection},
                "tasks": tasks,
            }
        ]

    def run(self, steps, defaults=None, verbosity=0, callback="ansible.posix.json", env=None):
        """Run the steps in one playbook; return their results and their request logs."""
        tasks = []
        for step in steps:
            # A lookup runs on the controller: a marker costs milliseconds, not a module run.
            marker = f"{self.double.url}/?step={step.name}"
            lookup = f"{{{{ lookup('ansible.builtin.url', '{marker}') }}}}"
            tasks.append(
                {
                    "name": f"marker {step.name}",
                    "ansible.builtin.set_fact": {"evolution_test_marker": lookup},
                }
            )
            tasks.append(step.task())
        self.count += 1
        path = self.tmp_path / f"playbook-{self.count}.yml"
        path.write_text(yaml.safe_dump(self.playbook(tasks, defaults), sort_keys=False))
        self.double.clear_requests()
        completed = self.execute(path, verbosity, callback, env)
        results = {}
        if callback == "ansible.posix.json":
            report = json.loads(completed.stdout)
            for task in report["plays"][0]["tasks"]:
                results[task["task"]["name"]] = task["hosts"]["localhost"]
        return Run(results, self.split(steps), completed.stdout, completed.stderr)

    def execute(self, path, verbosity=0, callback="ansible.posix.json", env=None):
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("EVOLUTION_", "ANSIBLE_"))
        }
        environment.update(
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            ANSIBLE_STDOUT_CALLBACK=callback,
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_LOCAL_TEMP=str(self.tmp_path / "ansible-tmp"),
            ANSIBLE_HOME=str(self.tmp_path / "ansible-home"),
        )
        environment.update(env or {})
        command = [
            str(ANSIBLE_PLAYBOOK),
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            str(path),
        ]
        if verbosity:
            command.append("-" + "v" * verbosity)
        completed = subprocess.run(
            command, capture_output=True, text=True, env=environment, timeout=300, check=False
        )
        if callback == "ansible.posix.json" and not completed.stdout.lstrip().startswith("{"):
            raise AssertionError(
                f"ansible-playbook failed:\n{completed.stdout}\n{completed.stderr}"
            )
        return completed

    def split(self, steps):
        """The double's request log, cut at the marker requests, keyed by step name."""
        names = {step.name for step in steps}
        requests = {name: [] for name in names}
        current = None
        for request in self.double.requests:
            if request.path == "/" and request.query.get("step") in names:
                current = request.query["step"]
                continue
            if current is not None:
                requests[current].append(request)
        return requests


def new_double(**options):
    """A double on a loopback port that keeps deleted instances listed for 0.2 s."""
    return EvolutionDouble(api_key=API_KEY, delete_delay_s=0.2, **options)


def new_sink():
    return WebhookSink()


def api_call(double, method, path, body=None, key=API_KEY):
    """Talk to the double directly (setup and checks that go around the module under test)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        double.url + path,
        data=data,
        method=method,
        headers={"apikey": key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return json.loads(text) if text.strip() else None


def create_instance(double, name, **extra):
    body = {"instanceName": name, "integration": "WHATSAPP-BAILEYS", "qrcode": False, **extra}
    return api_call(double, "POST", "/instance/create", body)
