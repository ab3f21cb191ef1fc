"""Bad input is refused with a message that names the field and the fix, before any change.

Roles: run for real (one ansible-playbook run, one inventory host per bad input, all pointing at
the same target container) against a Debian 13 "VM" made by scripts/converge's create_target.
Its /proc/meminfo is that of an e2-micro (1 GB of RAM, no swap yet), so the stack's memory
check sees what a fresh VM shows. Every refusal must come before the first change: the target's
files are fingerprinted before and after, and Ansible must count no change for any case.

Modules: run against the Evolution API double; the double must see no write (and, for input
errors, no request at all). Playbooks: stack.yml on the target with the example vault, and
provision.yml against the fake Compute API, which must see no request.

docs/bad-input.md lists every case (these and the ones other test files already cover).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from evolution_harness import API_KEY, Step, create_instance
from fake_gce.sandbox import GceSandbox, copy_inventory_dir
from helpers.local_target import (
    REPO,
    JsonRun,
    ansible_playbook,
    converge_steps,
    fingerprint_changes,
    remove_target,
    target_exec,
    target_fingerprint,
)

TARGET = "evolution-badinput"
# /proc/meminfo of a Google Cloud e2-micro right after boot (1 GB, no swap configured).
E2_MICRO_MEMINFO = """\
MemTotal:        1004560 kB
MemFree:          612344 kB
MemAvailable:     798212 kB
Buffers:           14880 kB
Cached:           233616 kB
SwapCached:            0 kB
Active:           180912 kB
Inactive:         110332 kB
SwapTotal:             0 kB
SwapFree:              0 kB
Dirty:                 8 kB
Shmem:               960 kB
Slab:              47936 kB
"""
E2_MICRO_RAM_MB = 1004560 // 1024
GOOD_KEY = "b9f0c4e2a7d14d3e8c5b6a1f0e9d8c7b"
GOOD_PASSWORD = "pg-3f8a1c9e5b7d2f40"
PUBLIC_KEY = "429683C4C977415CAAFCCE10F7D57E11"
EXAMPLE_VAULT = yaml.safe_load((REPO / "inventory/group_vars/all/vault.yml.example").read_text())

SWAP_LIMITS = "swap: {} Fix the variable named and run again."
STACK_KEY = (
    "stack: stack_api_key is missing, a placeholder, the Evolution image's public default key, "
    "shorter than 16 characters, or contains a quote or whitespace. Set it to a random secret "
    "(for example `openssl rand -hex 32`), kept in Ansible Vault. Nothing was changed."
)
STACK_PASSWORD = (
    "stack: stack_postgres_password is missing, a placeholder, shorter than 12 characters, or "
    "contains a single quote or a line break. Set it to a random secret (for example "
    "`openssl rand -hex 24`), kept in Ansible Vault. Nothing was changed."
)
ARGSPEC = "Validation of arguments failed:\n{}"

# (case, role, variables, failing task, exact message)
ROLE_CASES = [
    (
        "swap-negative-size",
        "swap",
        {"swap_file_size_mb": -512},
        "Check the numbers that the argument spec cannot bound",
        SWAP_LIMITS.format("swap_file_size_mb must be at least 40 (got -512)."),
    ),
    (
        "swap-size-with-unit",
        "swap",
        {"swap_file_size_mb": "2G"},
        "Validating arguments against arg spec 'main' - "
        "A swap file with persisted kernel tuning, resized and removed safely",
        ARGSPEC.format(
            "argument 'swap_file_size_mb' is of type str and we were unable to convert to int: "
            "\"'2G'\" cannot be converted to an int"
        ),
    ),
    (
        "swap-swappiness-out-of-range",
        "swap",
        {"swap_swappiness": 300},
        "Check the numbers that the argument spec cannot bound",
        SWAP_LIMITS.format("swap_swappiness must be 0-200 (got 300)."),
    ),
    (
        "swap-unknown-state",
        "swap",
        {"swap_state": "on"},
        "Validating arguments against arg spec 'main' - "
        "A swap file with persisted kernel tuning, resized and removed safely",
        ARGSPEC.format("value of swap_state must be one of: present, absent, got: on"),
    ),
    (
        # /etc/hostname is under a fingerprinted path: the test proves it was not overwritten.
        "swap-path-names-a-data-file",
        "swap",
        {"swap_file_path": "/etc/hostname", "swap_file_size_mb": 40},
        "Refuse to overwrite a file that is not a swap file",
        "swap: swap_file_path /etc/hostname exists and is not a swap file; the role would "
        "overwrite it. Choose a path that does not exist (e.g. /swapfile), or remove the file "
        "yourself if it is a swap file left half-written by an interrupted run. Nothing was "
        "changed.",
    ),
    (
        "docker-unsupported-install-source",
        "docker",
        {"docker_install_source": "snap"},
        "Validating arguments against arg spec 'main' - "
        "Docker Engine with the compose v2 plugin and a validated daemon.json",
        ARGSPEC.format(
            "value of docker_install_source must be one of: upstream, distribution, got: snap"
        ),
    ),
    (
        "docker-no-rotated-logs",
        "docker",
        {"docker_daemon_log_max_files": 0},
        "Check the daemon settings",
        "docker: docker_daemon_log_max_size_mb and docker_daemon_log_max_files must be at least "
        "1 and docker_daemon_log_driver must not be empty. Nothing was changed.",
    ),
    (
        "docker-daemon-options-not-a-mapping",
        "docker",
        {"docker_daemon_extra_options": "debug"},
        "Validating arguments against arg spec 'main' - "
        "Docker Engine with the compose v2 plugin and a validated daemon.json",
        ARGSPEC.format(
            "argument 'docker_daemon_extra_options' is of type str and we were unable to "
            "convert to dict: dictionary requested, could not parse JSON or key=value"
        ),
    ),
    (
        "stack-placeholder-key",
        "stack",
        {"stack_api_key": EXAMPLE_VAULT["vault_evolution_api_key"]},
        "Refuse a missing, placeholder or public API key",
        STACK_KEY,
    ),
    (
        "stack-public-default-key",
        "stack",
        {"stack_api_key": PUBLIC_KEY},
        "Refuse a missing, placeholder or public API key",
        STACK_KEY,
    ),
    (
        "stack-short-password",
        "stack",
        {"stack_postgres_password": "pw-123"},
        "Refuse a missing or placeholder database password",
        STACK_PASSWORD,
    ),
    (
        "stack-missing-password",
        "stack",
        {"stack_postgres_password": None},
        "Validating arguments against arg spec 'main' - "
        "Evolution API v2 with PostgreSQL and Redis, memory-limited, via compose",
        ARGSPEC.format("missing required arguments: stack_postgres_password"),
    ),
    (
        "stack-limits-exceed-1gb-without-swap",
        "stack",
        {},
        "Refuse memory limits that do not fit in RAM and swap",
        "stack: the memory limits add up to 850 MiB (stack_postgres_mem_limit_mb 220 + "
        "stack_redis_mem_limit_mb 110 + stack_evolution_mem_limit_mb 520), but the host has "
        f"{E2_MICRO_RAM_MB} MiB of RAM and 0 MiB of swap, and stack_memory_reserve_mb keeps 200 "
        "MiB for the system. Add swap (the srcardoso.evolution.swap role) or lower the limits. "
        "Nothing was changed.",
    ),
    (
        "stack-evolution-limit-exceeds-1gb",
        "stack",
        {"stack_evolution_mem_limit_mb": 1024, "stack_memory_reserve_mb": 0},
        "Refuse memory limits that do not fit in RAM and swap",
        "stack: the memory limits add up to 1354 MiB (stack_postgres_mem_limit_mb 220 + "
        "stack_redis_mem_limit_mb 110 + stack_evolution_mem_limit_mb 1024), but the host has "
        f"{E2_MICRO_RAM_MB} MiB of RAM and 0 MiB of swap, and stack_memory_reserve_mb keeps 0 "
        "MiB for the system. Add swap (the srcardoso.evolution.swap role) or lower the limits. "
        "Nothing was changed.",
    ),
    (
        "stack-limit-with-unit",
        "stack",
        {"stack_evolution_mem_limit_mb": "512m"},
        "Validating arguments against arg spec 'main' - "
        "Evolution API v2 with PostgreSQL and Redis, memory-limited, via compose",
        ARGSPEC.format(
            "argument 'stack_evolution_mem_limit_mb' is of type str and we were unable to "
            "convert to int: \"'512m'\" cannot be converted to an int"
        ),
    ),
    (
        "stack-redis-maxmemory-above-limit",
        "stack",
        {"stack_redis_maxmemory_mb": 128},
        "Refuse settings that contradict each other",
        "stack: stack_redis_maxmemory_mb (128) must be below stack_redis_mem_limit_mb (110), or "
        "the kernel kills Redis before it evicts anything. Nothing was changed.",
    ),
    (
        "stack-bind-address-not-an-ip",
        "stack",
        {"stack_bind_address": "evolution.example.com"},
        "Refuse settings that contradict each other",
        "stack: stack_bind_address (evolution.example.com) must be an IPv4 or IPv6 address, such "
        "as the host's internal address or 127.0.0.1. Nothing was changed.",
    ),
    (
        "stack-project-dir-is-etc",
        "stack",
        {"stack_project_dir": "/etc/"},
        "Refuse a project directory that is not a directory of its own",
        "stack: stack_project_dir /etc/ must be an absolute path to a directory of the stack's "
        "own, not a system directory such as / or /etc, since the role makes it root-only and "
        "writes the secrets into it. Keep the default /opt/evolution or choose another new "
        "directory. Nothing was changed.",
    ),
    (
        "stack-port-out-of-range",
        "stack",
        {"stack_port": 80800},
        "Refuse settings that contradict each other",
        "stack: stack_port (80800) must be a TCP port (1-65535). Nothing was changed.",
    ),
    (
        "stack-env-extra-overrides-the-key",
        "stack",
        {"stack_evolution_env_extra": {"AUTHENTICATION_API_KEY": GOOD_KEY, "lang": "pt-BR"}},
        "Refuse extra Evolution settings that the role derives itself or cannot quote",
        "stack: stack_evolution_env_extra may only hold UPPER_CASE names whose values contain no "
        "single quote or line break, and not AUTHENTICATION_API_KEY, DATABASE_PROVIDER, "
        "DATABASE_CONNECTION_URI, DATABASE_SAVE_DATA_INSTANCE, CACHE_REDIS_URI, SERVER_PORT, "
        "NODE_OPTIONS (set those through stack_api_key, stack_postgres_*, "
        "stack_evolution_node_max_old_space_mb and stack_port). Offending names: ['lang', "
        "'AUTHENTICATION_API_KEY']. Nothing was changed.",
    ),
    (
        "stack-unknown-pull-policy",
        "stack",
        {"stack_pull_policy": "sometimes"},
        "Validating arguments against arg spec 'main' - "
        "Evolution API v2 with PostgreSQL and Redis, memory-limited, via compose",
        ARGSPEC.format(
            "value of stack_pull_policy must be one of: missing, always, never, got: sometimes"
        ),
    ),
]


def _role_inventory(path: Path) -> Path:
    groups: dict[str, dict] = {}
    for case, role, variables, _, _ in ROLE_CASES:
        host = {"ansible_host": TARGET, "bad_input_role": role}
        if role == "stack":
            host.update(stack_api_key=GOOD_KEY, stack_postgres_password=GOOD_PASSWORD)
        host.update(variables)
        host = {k: v for k, v in host.items() if v is not None}
        groups.setdefault(f"{role}_cases", {"hosts": {}})["hosts"][case] = host
    inventory = {
        "all": {
            "vars": {"ansible_connection": "community.docker.docker"},
            "children": groups,
        }
    }
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def _roles_playbook(path: Path) -> Path:
    # One play for every case: a play whose hosts all fail would end the whole run.
    play = {
        "name": "Bad input for the roles",
        "hosts": "all",
        "become": True,
        "gather_facts": True,
        "tasks": [
            {
                "name": "Run the role under test",
                "ansible.builtin.include_role": {
                    "name": "srcardoso.evolution.{{ bad_input_role }}"
                },
            }
        ],
    }
    path.write_text(yaml.safe_dump([play], sort_keys=False))
    return path


@pytest.fixture(scope="session")
def badinput_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The target container, looking like a fresh e2-micro; removed at the end."""
    workdir = tmp_path_factory.mktemp("badinput-target")
    meminfo = workdir / "meminfo"
    meminfo.write_text(E2_MICRO_MEMINFO)
    remove_target(TARGET)
    try:
        converge_steps(TARGET, f"create_target -v {meminfo}:/proc/meminfo:ro", "prepare_target")
        yield TARGET
    finally:
        remove_target(TARGET)


@pytest.fixture(scope="session")
def role_run(badinput_target: str, tmp_path_factory: pytest.TempPathFactory):
    """Every bad role input in one run; the target's fingerprint before and after."""
    workdir = tmp_path_factory.mktemp("badinput-roles")
    before = target_fingerprint(badinput_target)
    run = ansible_playbook(
        _roles_playbook(workdir / "roles.yml"),
        _role_inventory(workdir / "inventory.yml"),
        "--forks",
        "20",
    )
    after = target_fingerprint(badinput_target)
    return run, before, after


@pytest.mark.parametrize(
    ("case", "task", "message"),
    [(case, task, message) for case, _, _, task, message in ROLE_CASES],
    ids=[case[0] for case in ROLE_CASES],
)
def test_a_role_refuses_bad_input_before_any_change(
    role_run: tuple[JsonRun, dict, dict], case: str, task: str, message: str
):
    run, before, after = role_run
    assert run.returncode != 0
    assert run.failure(case) == (task, message)
    stats = run.result["stats"][case]
    assert stats["failures"] == 1
    assert stats["changed"] == 0
    # The fingerprint covers the whole system (packages, /etc, /opt, Docker's state).
    assert len(before) > 5000 and "/etc/fstab" in before
    assert fingerprint_changes(before, after) == []


def test_the_fake_vm_has_1_gb_and_no_swap(badinput_target: str):
    lines = target_exec(badinput_target, "grep -E '^(MemTotal|SwapTotal):' /proc/meminfo")
    assert lines.split() == ["MemTotal:", "1004560", "kB", "SwapTotal:", "0", "kB"]


# -- Playbooks on the target -------------------------------------------------------------------


def test_stack_playbook_refuses_the_example_vault_before_any_change(
    badinput_target: str, tmp_path: Path
):
    """A user who copied vault.yml.example and forgot to change the values."""
    inventory = tmp_path / "inventory.yml"
    host = {"ansible_connection": "community.docker.docker", "ansible_host": badinput_target}
    host.update(EXAMPLE_VAULT)
    inventory.write_text(yaml.safe_dump({"evolution": {"hosts": {"vm": host}}}))
    _copy_group_vars(tmp_path)
    before = target_fingerprint(badinput_target)
    run = ansible_playbook("playbooks/stack.yml", inventory)
    assert run.returncode != 0
    assert run.failure("vm") == ("Refuse a missing, placeholder or public API key", STACK_KEY)
    assert run.result["stats"]["vm"]["changed"] == 0
    assert fingerprint_changes(before, target_fingerprint(badinput_target)) == []


def test_stack_playbook_without_a_vault_says_how_to_make_one(badinput_target: str, tmp_path: Path):
    inventory = tmp_path / "inventory.yml"
    host = {"ansible_connection": "community.docker.docker", "ansible_host": badinput_target}
    inventory.write_text(yaml.safe_dump({"evolution": {"hosts": {"vm": host}}}))
    _copy_group_vars(tmp_path)
    run = ansible_playbook("playbooks/stack.yml", inventory)
    assert run.returncode != 0
    assert run.failure("vm") == (
        "Check that the secrets are set",
        "vault_evolution_api_key and vault_evolution_postgres_password are not set for vm: "
        "copy inventory/group_vars/all/vault.yml.example to inventory/group_vars/all/vault.yml, "
        "change every value, encrypt it with `ansible-vault encrypt` and run again with "
        "--ask-vault-pass.",
    )
    assert run.result["stats"]["vm"]["changed"] == 0


def _copy_group_vars(directory: Path) -> None:
    copy_inventory_dir(directory)


# -- Modules against the double ----------------------------------------------------------------

URL = "http://127.0.0.1:9/hook"
MODULE_CASES = [
    (
        "negative_retries",
        "evolution_instance",
        {"name": "support", "retries": -1},
        "retries must be between 0 and 10, not -1.",
    ),
    (
        "zero_timeout",
        "evolution_instance_info",
        {"timeout_s": 0},
        "timeout_s must be a positive number of seconds, not 0.0.",
    ),
    (
        "api_url_with_query",
        "evolution_instance_info",
        {"api_url": "http://127.0.0.1:8080/?apikey=abc"},
        "api_url 'http://127.0.0.1:8080/' must not carry a query string or fragment: give the "
        "base URL of the Evolution API, for example http://127.0.0.1:8080.",
    ),
    (
        "parallel_out_of_range",
        "evolution_instances",
        {"instances": [{"name": "a"}], "parallel": 0},
        "parallel must be between 1 and 16, not 0.",
    ),
    (
        "declared_twice",
        "evolution_instances",
        {"instances": [{"name": "a"}, {"name": "b"}, {"name": "a"}]},
        "instances[2].name: instance 'a' is declared twice (also as instances[0]); declare each "
        "instance once.",
    ),
    (
        "bad_item_after_good_ones",
        "evolution_instances",
        {
            "instances": [
                {"name": "a", "webhook": {"url": URL, "events": ["MESSAGES_UPSERT"]}},
                {"name": "b", "webhook": {"url": URL, "headers": {"X-Token": 12345}}},
            ]
        },
        "instances[1].webhook.headers: the value of header 'X-Token' is a int, not a string. "
        "Quote it in YAML (for example X-Token: \"...\"), or use '{{ value | string }}'.",
    ),
    (
        "msg_call_too_long",
        "evolution_settings",
        {"name": "support", "msg_call": "x" * 101},
        "msg_call is 101 characters long; the API stores 100.",
    ),
    (
        "setting_not_a_boolean",
        "evolution_settings",
        {"name": "support", "reject_call": "sometimes"},
        "argument 'reject_call' is of type str and we were unable to convert to bool: The value "
        "'sometimes' is not a valid boolean. Valid booleans include: ",
    ),
]


def test_modules_refuse_bad_input_without_a_write(ansible, double):
    create_instance(double, "support")
    run = ansible.run(
        [Step(name, module, args, expect_failure=True) for name, module, args, _ in MODULE_CASES]
    )
    for name, _, _, message in MODULE_CASES:
        result = run.results[name]
        assert result.get("failed") is True, name
        if name == "setting_not_a_boolean":
            assert result["msg"].startswith(message), name
        else:
            assert result["msg"] == message, name
        assert API_KEY not in str(result), name
        assert run.requests[name] == [], name
    assert [i["name"] for i in double.state.instances()] == ["support"]


# -- Provisioning against the fake Compute API -------------------------------------------------

GCP_PROJECT = "evolution-test"
GCP_CASES = [
    (
        "project-name-not-id",
        {"evolution_gcp_project": "My Project"},
        "evolution_gcp_project: 'My Project' is not a Google Cloud project ID (6 to 30 lowercase "
        "letters, digits and hyphens, starting with a letter); set GCP_PROJECT or "
        "evolution_gcp_project to the project's ID, not its name or number.",
    ),
    (
        "zone-of-another-region",
        {"evolution_gcp_zone": "us-east1-b"},
        "evolution_gcp_zone: 'us-east1-b' is not a zone of region us-central1; use e.g. "
        "us-central1-b, or leave it unset.",
    ),
    (
        "vm-name-with-capitals",
        {"evolution_gcp_name": "Evolution_API"},
        "evolution_gcp_name: 'Evolution_API' must be 1 to 42 lowercase letters, digits or "
        "hyphens, starting with a letter (the address and firewall rules add suffixes to it).",
    ),
    (
        "image-not-debian",
        {"evolution_gcp_image_family": "ubuntu-2404-lts-amd64"},
        "evolution_gcp_image_family: 'debian-cloud/ubuntu-2404-lts-amd64' is not a Debian image "
        "family; use debian-cloud/debian-13 (the roles need Debian 13).",
    ),
]


@pytest.fixture(scope="module")
def gce(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GceSandbox, Path]]:
    inventory = copy_inventory_dir(tmp_path_factory.mktemp("gce")) / "evolution.gcp_compute.yml"
    with GceSandbox(GCP_PROJECT) as sandbox:
        yield sandbox, inventory


@pytest.mark.parametrize(
    ("overrides", "message"),
    [(overrides, message) for _, overrides, message in GCP_CASES],
    ids=[case[0] for case in GCP_CASES],
)
def test_provisioning_refuses_bad_variables_before_any_call(
    gce: tuple[GceSandbox, Path], overrides: dict, message: str
):
    sandbox, inventory = gce
    sandbox.api.requests.clear()
    extra = {
        "evolution_gcp_project": GCP_PROJECT,
        "evolution_gcp_api_source_ranges": ["10.8.0.0/28"],
        "evolution_gcp_inventory_file": str(inventory),
        **overrides,
    }
    run = sandbox.playbook("playbooks/provision.yml", inventory, **extra)
    assert run.returncode != 0
    assert run.failure_messages() == [message]
    assert sandbox.api.requests == []
    assert sandbox.api.writes == []
