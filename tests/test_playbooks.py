"""site.yml and every playbook under playbooks/: syntax, lint, order and tags."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(os.environ.get("EVOLUTION_VENV", REPO / ".venv")) / "bin"
PLAYBOOKS = ["site.yml", *sorted(str(p.relative_to(REPO)) for p in REPO.glob("playbooks/*.yml"))]
SITE_ORDER = [
    ("playbooks/provision.yml", ["provision"]),
    ("playbooks/host.yml", ["host"]),
    ("playbooks/stack.yml", ["stack"]),
    ("playbooks/instances.yml", ["instances"]),
    ("playbooks/verify.yml", ["verify"]),
]


def run(*argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_syntax(playbook: str):
    proc = run("ansible-playbook", "--syntax-check", "-i", "inventory/local.yml", playbook)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ansible_lint_production_profile():
    proc = run("ansible-lint", "--strict", "--profile", "production", *PLAYBOOKS, "inventory")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_site_imports_each_part_in_order_and_each_part_has_its_tag():
    site = yaml.safe_load((REPO / "site.yml").read_text())
    assert [p["ansible.builtin.import_playbook"] for p in site] == [p for p, _ in SITE_ORDER]
    for path, tags in SITE_ORDER:
        plays = yaml.safe_load((REPO / path).read_text())
        assert all(set(tags) <= set(play.get("tags", [])) for play in plays), path


def test_provisioning_stops_the_whole_run_on_failure():
    (play,) = yaml.safe_load((REPO / "playbooks/provision.yml").read_text())
    assert play["hosts"] == "localhost"
    assert play["any_errors_fatal"] is True
