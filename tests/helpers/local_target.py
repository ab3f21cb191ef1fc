"""Disposable target containers made by scripts/converge's own steps, and ways to run on them.

scripts/converge, when sourced, only defines its functions; ``EVOLUTION_LOCAL_TARGET`` names the
container they work on. Tests call those functions (``create_target``, ``prepare_target``,
``prepare_local``) instead of repeating the platform settings, so a test target is the same
Debian 13 "VM" as the molecule platform and as evolution-local.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(os.environ.get("EVOLUTION_VENV", REPO / ".venv")) / "bin"


def converge_steps(target: str, *steps: str, timeout: int = 600) -> list[str]:
    """Run functions of scripts/converge for ``target``; return the ansible-playbook arguments
    they left in LOCAL_EXTRA (``prepare_local`` fills it). Each step is a shell command line."""
    with tempfile.NamedTemporaryFile(prefix="converge-extra-") as out:
        script = (
            'source scripts/converge; for step in "$@"; do eval "$step"; done; '
            'printf "%s\\0" "${LOCAL_EXTRA[@]}" >"$CONVERGE_EXTRA_OUT"'
        )
        env = dict(os.environ, EVOLUTION_LOCAL_TARGET=target, CONVERGE_EXTRA_OUT=out.name)
        env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
        proc = subprocess.run(
            ["bash", "-c", script, "converge-steps", *steps],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"scripts/converge steps {steps} failed:\n{proc.stderr[-3000:]}")
        return [arg for arg in Path(out.name).read_text().split("\0") if arg]


def remove_target(target: str) -> None:
    """Remove the container and its Docker volume (both created by ``create_target``)."""
    subprocess.run(["docker", "rm", "-f", target], capture_output=True, check=False)
    subprocess.run(["docker", "volume", "rm", f"{target}-docker"], capture_output=True, check=False)


def target_exec(target: str, command: str) -> str:
    """Run a shell command in the target; return its stdout (raise on failure)."""
    proc = subprocess.run(
        ["docker", "exec", target, "sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{command!r} failed in {target}: {proc.stderr}")
    return proc.stdout


# What a role or playbook could change on the target: system configuration, installed
# packages, the swap file, the stack's directory and Docker's state. Runtime directories,
# logs and Ansible's own temporary files are left out.
_WATCHED = "/etc /opt /usr /var/lib/apt /var/lib/dpkg /var/lib/docker /swapfile"


def target_fingerprint(target: str) -> dict[str, str]:
    """Path -> "type size mode mtime" of every watched file in the target, for a before/after
    comparison that shows which paths changed."""
    listing = target_exec(
        target,
        f"for p in {_WATCHED}; do [ -e $p ] && find $p -xdev -printf '%p\\t%y %s %m %T@\\n'; "
        "done; true",
    )
    found = {}
    for line in listing.splitlines():
        path, _, meta = line.partition("\t")
        found[path] = meta
    return found


def fingerprint_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Paths added, removed or modified between two fingerprints."""
    paths = set(before) | set(after)
    return sorted(p for p in paths if before.get(p) != after.get(p))


@dataclass
class JsonRun:
    """An ansible-playbook run read through the ansible.posix.json callback."""

    returncode: int
    result: dict[str, Any]
    stdout: str
    stderr: str

    def host_results(self, host: str) -> list[tuple[str, dict[str, Any]]]:
        found = []
        for play in self.result.get("plays", []):
            for task in play.get("tasks", []):
                if host in task.get("hosts", {}):
                    found.append((task["task"]["name"], task["hosts"][host]))
        return found

    def failure(self, host: str) -> tuple[str, str]:
        """(task name without its role prefix, message) of the host's first failed task (or
        loop item)."""
        for task, result in self.host_results(host):
            for item in result.get("results") or [result]:
                if item.get("failed"):
                    return task.split(" : ", 1)[-1], item.get("msg", "")
        raise AssertionError(f"{host} did not fail:\n{self.stderr[-2000:]}")


def ansible_playbook(
    playbook: Path | str,
    inventory: Path,
    *args: str,
    env: dict[str, str] | None = None,
    timeout: int = 600,
) -> JsonRun:
    """Run a playbook with the repository's ansible.cfg and JSON results."""
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "EVOLUTION_"))
    }
    environment.update(
        PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
    )
    environment.update(env or {})
    proc = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(playbook), *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        result = {}
    return JsonRun(proc.returncode, result, proc.stdout, proc.stderr)
