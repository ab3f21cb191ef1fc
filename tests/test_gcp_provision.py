"""playbooks/provision.yml run for real (google.cloud's modules) against the fake Compute API.

The first run must create exactly the firewall rules, the internal address and the VM; a second
run must change nothing; a run whose variables would open the API port to the internet must be
refused before any request reaches the API; a firewall rule widened behind Ansible's back must
come back to its declaration.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_gce.api import API
from fake_gce.sandbox import GceSandbox, PlaybookRun, copy_inventory_dir

PROJECT = "evolution-test"
CLOUD_RUN_RANGE = "10.8.0.0/28"
PROJECT_API = f"{API}/projects/{PROJECT}"
RULE_NAMES = [
    "evolution-api-deny-api",
    "evolution-api-deny-ssh",
    "evolution-api-allow-api",
    "evolution-api-allow-ssh",
]
REFUSAL = (
    "evolution_gcp_api_source_ranges: '{}' would open TCP 8080 beyond Cloud Run. List only the "
    "Cloud Run egress subnet range(s): private IPv4 CIDRs of /16 or longer inside 10.0.0.0/8, "
    "172.16.0.0/12, 192.168.0.0/16 or 100.64.0.0/10, e.g. ['10.8.0.0/28']."
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[GceSandbox]:
    with GceSandbox(PROJECT) as box:
        yield box


@pytest.fixture(scope="module")
def inventory_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_inventory_dir(tmp_path_factory.mktemp("inventory")) / "evolution.gcp_compute.yml"


def provision(sandbox: GceSandbox, inventory_file: Path, **overrides) -> PlaybookRun:
    extra = {
        "evolution_gcp_project": PROJECT,
        "evolution_gcp_api_source_ranges": [CLOUD_RUN_RANGE],
        "evolution_gcp_inventory_file": str(inventory_file),
        "evolution_webhook_url": "https://backend-abc123-uc.a.run.app/hooks/evolution",
    }
    extra.update(overrides)
    return sandbox.playbook("playbooks/provision.yml", inventory_file, **extra)


@pytest.fixture(scope="module")
def first_run(sandbox: GceSandbox, inventory_file: Path) -> tuple[PlaybookRun, list[dict], dict]:
    """The first provisioning run: its result, the writes the API saw, the state it left."""
    sandbox.api.writes.clear()
    run = provision(sandbox, inventory_file)
    return run, copy.deepcopy(sandbox.api.writes), sandbox.api.snapshot(PROJECT)


def by_name(writes: list[dict], path_end: str) -> dict[str, dict]:
    return {w["body"]["name"]: w["body"] for w in writes if w["path"].endswith(path_end)}


def test_first_run_creates_exactly_the_rules_the_address_and_the_vm(first_run):
    run, writes, state = first_run
    assert run.returncode == 0, run.describe()
    # Deny rules first, then the allow rules, then the address, then the VM; nothing else.
    assert [
        (w["method"], w["path"].split("/compute/v1/projects/evolution-test/")[1]) for w in writes
    ] == [
        ("POST", "global/firewalls"),
        ("POST", "global/firewalls"),
        ("POST", "global/firewalls"),
        ("POST", "global/firewalls"),
        ("POST", "regions/us-central1/addresses"),
        ("POST", "zones/us-central1-a/instances"),
    ]
    rules = by_name(writes, "/global/firewalls")
    assert list(rules) == RULE_NAMES
    network = f"{PROJECT_API}/global/networks/default"
    expected = {
        "evolution-api-deny-api": ("denied", "8080", 1100, ["0.0.0.0/0"]),
        "evolution-api-deny-ssh": ("denied", "22", 1100, ["0.0.0.0/0"]),
        "evolution-api-allow-api": ("allowed", "8080", 1000, [CLOUD_RUN_RANGE]),
        "evolution-api-allow-ssh": ("allowed", "22", 1000, ["35.235.240.0/20"]),
    }
    for name, (action, port, priority, ranges) in expected.items():
        rule = rules[name]
        assert rule[action] == [{"IPProtocol": "tcp", "ports": [port]}], name
        assert {"allowed", "denied"} - {action} & set(rule) == set(), name
        assert rule["priority"] == priority, name
        assert rule["sourceRanges"] == ranges, name
        assert rule["targetTags"] == ["evolution-api"], name
        assert rule["direction"] == "INGRESS", name
        assert rule["network"] == network, name

    address = by_name(writes, "/addresses")["evolution-api-internal"]
    assert address["addressType"] == "INTERNAL"
    assert address["subnetwork"] == f"{PROJECT_API}/regions/us-central1/subnetworks/default"
    assert "address" not in address  # Google picks the IP; it is then reserved for good

    vm = by_name(writes, "/instances")["evolution-api"]
    assert vm["machineType"].endswith("/zones/us-central1-a/machineTypes/e2-micro")
    assert vm["labels"] == {"app": "evolution"}
    assert vm["tags"] == {"items": ["evolution-api"]}
    assert vm["deletionProtection"] is True
    (disk,) = vm["disks"]
    assert disk["boot"] is True
    assert disk["initializeParams"]["sourceImage"] == (
        "projects/debian-cloud/global/images/family/debian-13"
    )
    assert disk["initializeParams"]["diskSizeGb"] == 30
    assert disk["initializeParams"]["diskType"].endswith("/diskTypes/pd-standard")
    (nic,) = vm["networkInterfaces"]
    reserved_ip = state["addresses"]["us-central1/evolution-api-internal"]["address"]
    assert nic["networkIP"] == reserved_ip
    # One ephemeral external IPv4: an access config without a fixed natIP.
    assert nic["accessConfigs"] == [{"name": "External NAT", "type": "ONE_TO_ONE_NAT"}]


def test_the_reserved_address_is_in_use_by_the_vm(first_run):
    _, _, state = first_run
    address = state["addresses"]["us-central1/evolution-api-internal"]
    assert address["status"] == "IN_USE"
    assert address["users"] == [f"{PROJECT_API}/zones/us-central1-a/instances/evolution-api"]


def test_first_run_prints_what_cloud_run_needs(first_run):
    run, _, state = first_run
    ip = state["addresses"]["us-central1/evolution-api-internal"]["address"]
    (printed,) = [
        r["msg"] for t, _, r in run.host_results() if t == "Print what the Cloud Run service needs"
    ]
    assert f"Evolution API, internal URL: http://{ip}:8080" in printed
    assert "Webhook path Cloud Run must serve: /hooks/evolution (POST)" in printed
    header = "X-Evolution-Webhook-Token (value: vault_evolution_webhook_token)"
    assert f"Webhook header to validate: {header}" in printed


def test_second_run_changes_nothing(sandbox: GceSandbox, inventory_file: Path, first_run):
    sandbox.api.writes.clear()
    run = provision(sandbox, inventory_file)
    assert run.returncode == 0, run.describe()
    assert run.stats["localhost"]["changed"] == 0
    assert sandbox.api.writes == []


def test_the_generated_inventory_finds_the_vm(sandbox: GceSandbox, inventory_file: Path, first_run):
    inventory = sandbox.inventory(inventory_file)
    assert inventory["evolution"]["hosts"] == ["evolution-api"]
    vm = sandbox.api.snapshot(PROJECT)["instances"]["us-central1-a/evolution-api"]
    hostvars = inventory["_meta"]["hostvars"]["evolution-api"]
    assert hostvars["ansible_host"] == vm["networkInterfaces"][0]["accessConfigs"][0]["natIP"]
    assert hostvars["evolution_gcp_internal_ip"] == vm["networkInterfaces"][0]["networkIP"]


def module_requests(sandbox: GceSandbox) -> list[tuple[str, str, dict]]:
    """The requests made since the last clear, except the inventory's own listing."""
    return [r for r in sandbox.api.requests if not r[1].endswith("/aggregated/instances")]


def api_rules_open_to(state: dict, port: str) -> dict[str, list[str]]:
    """Source ranges of every enabled rule that allows TCP ``port`` to the VM's tag."""
    found = {}
    for name, rule in state["firewalls"].items():
        allows = any(
            a["IPProtocol"] in ("tcp", "all") and (not a.get("ports") or port in a["ports"])
            for a in rule.get("allowed", [])
        )
        targets_vm = not rule.get("targetTags") or "evolution-api" in rule["targetTags"]
        if allows and targets_vm and not rule["disabled"] and not name.startswith("default-"):
            found[name] = rule["sourceRanges"]
    return found


def test_no_rule_of_ours_opens_the_api_port_to_the_internet(sandbox: GceSandbox, first_run):
    state = sandbox.api.snapshot(PROJECT)
    assert api_rules_open_to(state, "8080") == {"evolution-api-allow-api": [CLOUD_RUN_RANGE]}
    deny = state["firewalls"]["evolution-api-deny-api"]
    allow = state["firewalls"]["evolution-api-allow-api"]
    assert deny["sourceRanges"] == ["0.0.0.0/0"]
    assert (
        allow["priority"]
        < deny["priority"]
        < state["firewalls"]["default-allow-internal"]["priority"]
    )


def test_a_rule_widened_outside_ansible_is_put_back(
    sandbox: GceSandbox, inventory_file: Path, first_run
):
    # Someone adds 0.0.0.0/0 to the allow rule by hand. google.cloud's module alone would call
    # that "unchanged" (it compares lists as subsets); the playbook must replace the rule.
    rule = sandbox.api.projects[PROJECT].firewalls["evolution-api-allow-api"]
    rule["sourceRanges"] = [CLOUD_RUN_RANGE, "0.0.0.0/0"]
    sandbox.api.writes.clear()
    run = provision(sandbox, inventory_file)
    assert run.returncode == 0, run.describe()
    assert [(w["method"], w["path"].rsplit("/", 1)[-1]) for w in sandbox.api.writes] == [
        ("DELETE", "evolution-api-allow-api"),
        ("POST", "firewalls"),
    ]
    state = sandbox.api.snapshot(PROJECT)
    assert api_rules_open_to(state, "8080") == {"evolution-api-allow-api": [CLOUD_RUN_RANGE]}
    sandbox.api.writes.clear()
    assert provision(sandbox, inventory_file).stats["localhost"]["changed"] == 0
    assert sandbox.api.writes == []


@pytest.mark.parametrize(
    "ranges",
    [
        ["0.0.0.0/0"],
        ["::/0"],
        [CLOUD_RUN_RANGE, "0.0.0.0/0"],
        ["0.0.0.0/1"],
        ["8.8.8.0/24"],
        ["10.0.0.0/8"],
        ["172.32.0.0/16"],
        ["10.8.0.0"],
        ["2001:db8::/64"],
    ],
)
def test_a_range_that_opens_the_api_port_is_refused_before_any_call(
    sandbox: GceSandbox, inventory_file: Path, first_run, ranges: list[str]
):
    sandbox.api.requests.clear()
    sandbox.api.writes.clear()
    run = provision(sandbox, inventory_file, evolution_gcp_api_source_ranges=ranges)
    assert run.returncode != 0
    bad = next(r for r in ranges if r != CLOUD_RUN_RANGE)
    assert run.failure_messages() == [REFUSAL.format(bad)]
    assert module_requests(sandbox) == []
    assert sandbox.api.writes == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"evolution_gcp_api_source_ranges": []},
            "evolution_gcp_api_source_ranges: must be a non-empty list of the IPv4 range(s) "
            "Cloud Run reaches the VM from (its Direct VPC egress subnet or Serverless VPC "
            "Access connector), e.g. ['10.8.0.0/28']; nothing else may reach TCP 8080.",
        ),
        (
            {"evolution_gcp_api_source_ranges": "0.0.0.0/0"},
            "evolution_gcp_api_source_ranges: must be a non-empty list of the IPv4 range(s) "
            "Cloud Run reaches the VM from (its Direct VPC egress subnet or Serverless VPC "
            "Access connector), e.g. ['10.8.0.0/28']; nothing else may reach TCP 8080.",
        ),
        (
            {"evolution_gcp_region": "europe-west1"},
            "evolution_gcp_region: 'europe-west1' is not an e2-micro free-tier region; use "
            "us-west1, us-central1 or us-east1.",
        ),
        (
            {"evolution_gcp_ssh_source_ranges": ["0.0.0.0/0"]},
            "evolution_gcp_ssh_source_ranges: '0.0.0.0/0' is not an IPv4 CIDR of /16 or longer; "
            "SSH must not be open to the internet. Keep Google's IAP range ['35.235.240.0/20'] "
            "or list your own address, e.g. ['203.0.113.7/32'].",
        ),
        (
            {"evolution_gcp_disk_size_gb": 100},
            "evolution_gcp_disk_size_gb: '100' must be a whole number from 10 (the Debian "
            "image) to 30 (what the free tier covers).",
        ),
    ],
)
def test_bad_variables_are_refused_before_any_call(
    sandbox: GceSandbox, inventory_file: Path, first_run, overrides: dict, message: str
):
    sandbox.api.requests.clear()
    run = provision(sandbox, inventory_file, **overrides)
    assert run.returncode != 0
    assert run.failure_messages() == [message]
    assert module_requests(sandbox) == []
    assert sandbox.api.writes == []


def test_without_a_project_nothing_is_called(sandbox: GceSandbox, inventory_file: Path):
    sandbox.api.requests.clear()
    run = provision(sandbox, inventory_file, evolution_gcp_project="")
    assert run.returncode == 0, run.describe()
    assert module_requests(sandbox) == []


def test_a_refused_run_of_site_yml_stops_before_the_other_plays(
    sandbox: GceSandbox, inventory_file: Path, first_run
):
    sandbox.api.writes.clear()
    extra = {
        "evolution_gcp_project": PROJECT,
        "evolution_gcp_api_source_ranges": ["0.0.0.0/0"],
        "evolution_gcp_inventory_file": str(inventory_file),
    }
    run = sandbox.playbook("site.yml", inventory_file, **extra)
    assert run.returncode != 0
    assert [p["play"]["name"] for p in run.result["plays"]] == [
        "Provision the Google Cloud VM and its firewall"
    ]
    assert run.failure_messages() == [REFUSAL.format("0.0.0.0/0")]
    assert sandbox.api.writes == []
