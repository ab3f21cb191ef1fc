"""The committed google.cloud.gcp_compute configuration, run for real with ansible-inventory.

Machines are created in the fake through the API's own insert logic (the same code path as
instances.insert), then listed by the inventory plugin through HTTPS, with the configuration
provisioning writes: inventory/gcp.gcp_compute.yml plus the project and the zone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from fake_gce.api import API
from fake_gce.sandbox import REPO, GceSandbox, copy_inventory_dir

PROJECT = "evolution-inventory"


def vm(name: str, labels: dict[str, str], external: bool = True) -> dict:
    nic: dict = {"subnetwork": "regions/us-central1/subnetworks/default"}
    if external:
        nic["accessConfigs"] = [{"name": "External NAT", "type": "ONE_TO_ONE_NAT"}]
    return {
        "name": name,
        "machineType": "zones/us-central1-a/machineTypes/e2-micro",
        "labels": labels,
        "tags": {"items": ["evolution-api"]},
        "disks": [
            {
                "boot": True,
                "autoDelete": True,
                "initializeParams": {
                    "sourceImage": "projects/debian-cloud/global/images/family/debian-13"
                },
            }
        ],
        "networkInterfaces": [nic],
    }


@pytest.fixture(scope="module")
def sandbox() -> Iterator[GceSandbox]:
    with GceSandbox(PROJECT) as box:
        api = box.api
        api.insert_instance(PROJECT, "us-central1-a", vm("evolution-api", {"app": "evolution"}))
        api.insert_instance(
            PROJECT,
            "us-central1-a",
            vm("evolution-private", {"app": "evolution", "env": "staging"}, external=False),
        )
        # Not ours: another application's label, and one of ours outside the configured zone.
        api.insert_instance(PROJECT, "us-central1-a", vm("wordpress", {"app": "wordpress"}))
        east = vm("evolution-east", {"app": "evolution"})
        east["machineType"] = "zones/us-east1-b/machineTypes/e2-micro"
        east["networkInterfaces"][0]["subnetwork"] = "regions/us-east1/subnetworks/default"
        api.insert_instance(PROJECT, "us-east1-b", east)
        yield box


@pytest.fixture(scope="module")
def inventory(sandbox: GceSandbox, tmp_path_factory: pytest.TempPathFactory) -> dict:
    directory = copy_inventory_dir(tmp_path_factory.mktemp("inventory"))
    config = yaml.safe_load((REPO / "inventory" / "gcp.gcp_compute.yml").read_text())
    config.update(projects=[PROJECT], zones=["us-central1-a"])
    source = directory / "evolution.gcp_compute.yml"
    source.write_text(yaml.safe_dump(config, sort_keys=False))
    return sandbox.inventory(source)


def nic_of(sandbox: GceSandbox, name: str) -> dict:
    return sandbox.api.projects[PROJECT].instances[("us-central1-a", name)]["networkInterfaces"][0]


def test_only_our_vms_in_the_configured_zone_are_listed(inventory: dict):
    assert sorted(inventory["_meta"]["hostvars"]) == ["evolution-api", "evolution-private"]


def test_groups(inventory: dict):
    ours = ["evolution-api", "evolution-private"]
    assert sorted(inventory["evolution"]["hosts"]) == ours
    assert sorted(inventory["evolution_gcp"]["hosts"]) == ours
    assert sorted(inventory["label_app_evolution"]["hosts"]) == ours
    assert inventory["label_env_staging"]["hosts"] == ["evolution-private"]
    assert sorted(inventory["zone_us_central1_a"]["hosts"]) == ours
    assert "wordpress" not in str(inventory)


def test_connection_variables(sandbox: GceSandbox, inventory: dict):
    hostvars = inventory["_meta"]["hostvars"]["evolution-api"]
    nic = nic_of(sandbox, "evolution-api")
    assert hostvars["ansible_host"] == nic["accessConfigs"][0]["natIP"]
    assert hostvars["evolution_gcp_internal_ip"] == nic["networkIP"]
    # What the google.cloud.iap connection needs, and the connection itself (group_vars).
    assert hostvars["ansible_gcloud_host"] == "evolution-api"
    assert hostvars["ansible_gcloud_zone"] == "us-central1-a"
    assert hostvars["ansible_gcloud_project"] == PROJECT
    assert hostvars["ansible_connection"] == "google.cloud.iap"


def test_a_vm_without_external_ip_is_reached_on_its_internal_ip(sandbox, inventory: dict):
    hostvars = inventory["_meta"]["hostvars"]["evolution-private"]
    assert hostvars["ansible_host"] == nic_of(sandbox, "evolution-private")["networkIP"]


def test_instance_fields_are_prefixed_and_reserved_names_untouched(inventory: dict):
    hostvars = inventory["_meta"]["hostvars"]["evolution-api"]
    assert hostvars["gce_labels"] == {"app": "evolution"}
    assert hostvars["gce_machineType"] == "e2-micro"
    assert (
        hostvars["gce_selfLink"]
        == f"{API}/projects/{PROJECT}/zones/us-central1-a/instances/evolution-api"
    )
    assert "name" not in hostvars
    assert "tags" not in hostvars


def test_the_inventory_asked_with_the_label_filter(sandbox: GceSandbox, inventory: dict):
    listings = [(p, q) for _, p, q in sandbox.api.requests if p.endswith("/aggregated/instances")]
    assert listings == [
        (
            f"/compute/v1/projects/{PROJECT}/aggregated/instances",
            {"filter": "labels.app = evolution"},
        )
    ]
