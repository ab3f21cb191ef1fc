"""A whole converge at -vvv --diff shows none of the secrets it deploys.

site.yml (host, stack, instances, verify) runs against a disposable target made and prepared
by scripts/converge's own steps (prepare_local: the images, the container, its systemd), named
evolution-secrets so that it never touches evolution-local. The secrets are distinctive strings
chosen here; none may appear in ansible-playbook's output, in the target's journal, in the logs
of the stack's containers, or in the target container's own log.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from fake_gce.sandbox import copy_inventory_dir
from helpers.local_target import (
    REPO,
    VENV_BIN,
    converge_steps,
    remove_target,
    target_exec,
)

TARGET = "evolution-secrets"
SECRETS = {
    "API key": "SecretApiKey7f3c9a1e5d2b8046",
    "database password": "SecretPgPass4e8a2c6f0b13",
    "instance token": "SecretInstanceToken0a9b8c7d",
    "other instance token": "SecretInstanceToken5e4f3a2b",
    "webhook header value": "SecretHookHeader1c2d3e4f5a",
    "other webhook header value": "SecretHookHeader6b7c8d9e0f",
}


@dataclass
class Converge:
    returncode: int
    output: str
    log: Path  # the same output, kept to read a failure


def _inventory(directory: Path) -> Path:
    copy_inventory_dir(directory)
    host = {
        "ansible_connection": "community.docker.docker",
        "ansible_host": TARGET,
        "vault_evolution_api_key": SECRETS["API key"],
        "vault_evolution_postgres_password": SECRETS["database password"],
        "vault_evolution_webhook_token": SECRETS["webhook header value"],
        "swap_file_size_mb": 64,
        "docker_install_source": "distribution",
        "evolution_webhook_url": "http://127.0.0.1:9/evolution-webhook",
        "evolution_instances": [
            {
                "name": "support",
                "token": SECRETS["instance token"],
                "webhook": {
                    "url": "{{ evolution_webhook_url }}",
                    "events": ["MESSAGES_UPSERT", "CONNECTION_UPDATE"],
                    "headers": "{{ evolution_webhook_headers }}",
                },
                "settings": {"reject_call": True},
            },
            {
                "name": "sales",
                "token": SECRETS["other instance token"],
                "webhook": {
                    "url": "{{ evolution_webhook_url }}",
                    "headers": {"Authorization": SECRETS["other webhook header value"]},
                },
            },
        ],
    }
    path = directory / "secrets.yml"
    path.write_text(yaml.safe_dump({"evolution": {"hosts": {TARGET: host}}}, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def converge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Converge]:
    """site.yml once, at -vvv --diff, onto a fresh target; the target is removed afterwards."""
    directory = tmp_path_factory.mktemp("secrets-converge")
    inventory = _inventory(directory)
    remove_target(TARGET)
    try:
        extra = converge_steps(TARGET, "prepare_local")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "GCP_"))}
        env.update(
            PATH=f"{VENV_BIN}:{env.get('PATH', '')}",
            ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
        )
        proc = subprocess.run(
            [
                str(VENV_BIN / "ansible-playbook"),
                "-i",
                str(inventory),
                "site.yml",
                "-vvv",
                "--diff",
                *extra,
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        log = directory / "converge.log"
        log.write_text(proc.stdout + proc.stderr)
        yield Converge(proc.returncode, proc.stdout + proc.stderr, log)
    finally:
        remove_target(TARGET)


def leaked(text: str) -> list[str]:
    """The lines that hold a secret, with the secret replaced by its name (so that a failure
    shows where it leaked without printing it once more)."""
    found = []
    for line in text.splitlines():
        hits = [name for name, secret in SECRETS.items() if secret in line]
        for name in hits:
            line = line.replace(SECRETS[name], f"<{name}>")
        if hits:
            found.append(line[:400])
    return found


def test_the_converge_succeeds_and_uses_every_secret(converge: Converge):
    assert converge.returncode == 0, converge.output[-5000:]
    # The run really deployed and checked: the stack, both instances, the verification.
    assert "TASK [srcardoso.evolution.stack : Write the secrets and settings for compose]" in (
        converge.output
    )
    assert "2 declared instances: 2 created" in converge.output
    assert "TASK [Check that every declared instance exists with its webhook and settings]" in (
        converge.output
    )
    # The secrets are in place on the target, so their absence below means something.
    env_file = target_exec(TARGET, "cat /opt/evolution/.env")
    assert SECRETS["API key"] in env_file
    assert SECRETS["database password"] in env_file


def test_no_secret_in_the_output_of_a_verbose_diff_run(converge: Converge):
    assert converge.output.count("<evolution-secrets> EXEC") > 50  # -vvv was in effect
    assert leaked(converge.output) == [], f"see {converge.log}"


def test_no_secret_in_the_targets_journal(converge: Converge):
    journal = target_exec(TARGET, "journalctl --no-pager -o cat")
    assert "Invoked with" in journal  # the modules log their arguments here
    assert leaked(journal) == []


def test_no_secret_in_the_container_logs(converge: Converge):
    names = target_exec(TARGET, "docker ps --all --format '{{.Names}}'").split()
    assert len(names) == 3
    for name in names:
        logs = target_exec(TARGET, f"docker logs {name} 2>&1")
        assert leaked(logs) == [], name
    own = subprocess.run(
        ["docker", "logs", TARGET], capture_output=True, text=True, check=False, timeout=60
    )
    assert leaked(own.stdout + own.stderr) == []
