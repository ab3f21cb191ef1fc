"""Run real Ansible commands against the fake, with Google's host names resolved to it.

The fake listens with TLS on port 443 of a loopback address of its own (somewhere in
127.0.0.0/8, so that parallel runs do not collide). Commands run under ``unshare -m`` with a
private copy of /etc/hosts bind-mounted over the real one, so only their process tree sees
www.googleapis.com and compute.googleapis.com pointing at the fake; the rest of the machine is
untouched. The throwaway CA is trusted through ``REQUESTS_CA_BUNDLE`` and the credentials are
an access token (``GCP_AUTH_KIND=accesstoken``), so no credentials file exists anywhere.
"""

from __future__ import annotations

import errno
import json
import os
import random
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .api import ComputeApi
from .server import FakeGceServer
from .tls import make_certificates

HOSTNAMES = ["www.googleapis.com", "compute.googleapis.com"]
REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(os.environ.get("EVOLUTION_VENV", REPO / ".venv")) / "bin"
# Environment variables that would let a command reach real Google credentials or a proxy.
_SCRUBBED = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GCP_SERVICE_ACCOUNT_FILE",
    "GCP_SERVICE_ACCOUNT_CONTENTS",
    "GCE_CREDENTIALS_FILE_PATH",
    "GCP_PROJECT",
    "GCP_ZONE",
    "GCP_REGION",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
)


@dataclass
class PlaybookRun:
    """An ansible-playbook run, with its results parsed from the ansible.posix.json callback."""

    returncode: int
    result: dict[str, Any]
    stderr: str

    @property
    def stats(self) -> dict[str, Any]:
        return self.result.get("stats", {})

    def host_results(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(task name, host, result) for every task result, in order."""
        found = []
        for play in self.result.get("plays", []):
            for task in play.get("tasks", []):
                for host, result in task.get("hosts", {}).items():
                    found.append((task["task"]["name"], host, result))
        return found

    def failure_messages(self) -> list[str]:
        messages = []
        for _, _, result in self.host_results():
            # A loop's own "One or more items failed" adds nothing to its items' messages.
            for item in result.get("results") or [result]:
                if item.get("failed"):
                    messages.append(item.get("msg", ""))
        return messages

    def describe(self) -> str:
        return f"rc={self.returncode}\nfailures={self.failure_messages()}\n{self.stderr[-3000:]}"


def _unwrap_unsafe(value: dict[str, Any]) -> Any:
    return value["__ansible_unsafe"] if set(value) == {"__ansible_unsafe"} else value


def copy_inventory_dir(destination: Path) -> Path:
    """A copy of the repository's inventory/group_vars in ``destination`` (made if missing).

    Inventory files written there get the same group variables as in inventory/ itself, and
    tests never write into the repository.
    """
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "inventory" / "group_vars", destination / "group_vars")
    return destination


class GceSandbox:
    """The fake API, its CA and a runner for commands that must only see the fake."""

    def __init__(self, project: str = "evolution-test") -> None:
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            raise RuntimeError("the fake GCE sandbox needs root and unshare(1) (util-linux)")
        self.project = project
        self.token = secrets.token_urlsafe(24)
        self.api = ComputeApi(project, self.token)
        self.workdir = Path(tempfile.mkdtemp(prefix="fake-gce-"))
        self.server, self.ip = self._listen()
        self.hosts_file = self.workdir / "hosts"
        self.hosts_file.write_text(
            Path("/etc/hosts").read_text() + f"\n{self.ip} {' '.join(HOSTNAMES)}\n"
        )

    def _listen(self) -> tuple[FakeGceServer, str]:
        rng = random.SystemRandom()
        for _ in range(20):
            ip = f"127.{rng.randint(64, 250)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}"
            ca, cert, key = make_certificates(self.workdir / "tls", HOSTNAMES, ip)
            self.ca = ca
            try:
                return FakeGceServer(self.api, ip, 443, cert, key).start(), ip
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
        raise RuntimeError("no free loopback address for the fake GCE API")

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
        env.update(
            PATH=f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}",
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_FORCE_COLOR="0",
            REQUESTS_CA_BUNDLE=str(self.ca),
            GCP_AUTH_KIND="accesstoken",
            GCP_ACCESS_TOKEN=self.token,
            NO_PROXY="*",
        )
        env.update(extra)
        return env

    def run(self, *argv: str, env: dict[str, str] | None = None, cwd: Path = REPO):
        """Run ``argv`` with the fake's host names; returns the CompletedProcess."""
        wrapper = 'mount --bind "$0" /etc/hosts && exec "$@"'
        return subprocess.run(
            ["unshare", "-m", "sh", "-c", wrapper, str(self.hosts_file), *argv],
            env=env or self.env(),
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def playbook(self, playbook: str, inventory: Path, **extra_vars: Any) -> PlaybookRun:
        """Run a playbook of the repository with JSON results and the given extra vars."""
        env = self.env(ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
        proc = self.run(
            "ansible-playbook",
            playbook,
            "-i",
            str(inventory),
            "-e",
            json.dumps(extra_vars),
            env=env,
        )
        try:
            result = json.loads(proc.stdout)
        except json.JSONDecodeError:
            result = {"unparsed_stdout": proc.stdout}
        return PlaybookRun(proc.returncode, result, proc.stderr)

    def inventory(self, source: Path) -> dict[str, Any]:
        """``ansible-inventory --list`` of ``source``, with Ansible's unsafe markers removed."""
        proc = self.run("ansible-inventory", "-i", str(source), "--list")
        if proc.returncode != 0:
            raise AssertionError(f"ansible-inventory failed:\n{proc.stderr}")
        return json.loads(proc.stdout, object_hook=_unwrap_unsafe)

    def close(self) -> None:
        self.server.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> GceSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
