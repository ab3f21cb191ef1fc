"""In-memory model of the Compute Engine v1 resources the project provisions and lists.

Only the calls that google.cloud 1.10's ``gcp_compute`` inventory plugin and its
``gcp_compute_{instance,address,firewall,subnetwork_info,...}`` modules make are served. The
resources come back in the shape the real API gives them (self links on
``https://www.googleapis.com/compute/v1/``, defaults filled in, fingerprints, operations), so
the modules' own comparison code decides "changed" exactly as it would against Google. The
model refuses what Google refuses where the project could get it wrong: unknown zones,
regions, subnetworks or images, an internal IP outside its subnetwork or already in use, a
stale label fingerprint, deleting a protected instance or an address in use.

Every request that is not a GET is appended to ``writes`` (method, path, body), which is what
the tests assert on.
"""

from __future__ import annotations

import copy
import fnmatch
import hashlib
import ipaddress
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

API = "https://www.googleapis.com/compute/v1"

ZONES = {
    "us-central1": ("a", "b", "c", "f"),
    "us-west1": ("a", "b", "c"),
    "us-east1": ("b", "c", "d"),
    "europe-west1": ("b", "c", "d"),
}
# The subnetworks of an auto-mode "default" network (one per region).
DEFAULT_SUBNETS = {
    "us-central1": "10.128.0.0/20",
    "us-west1": "10.138.0.0/20",
    "us-east1": "10.142.0.0/20",
    "europe-west1": "10.132.0.0/20",
}
MACHINE_TYPES = ("e2-micro", "e2-small", "e2-medium")
IMAGE_FAMILIES = {"debian-cloud": ("debian-12", "debian-13")}
DISK_TYPES = ("pd-standard", "pd-balanced", "pd-ssd")
# Ephemeral external addresses come from TEST-NET-3, which is never routed.
EPHEMERAL_POOL = ipaddress.ip_network("203.0.113.0/24")


class ApiError(Exception):
    """An error answered in Google's JSON error format."""

    def __init__(self, status: HTTPStatus, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "code": int(self.status),
                "message": self.message,
                "errors": [{"message": self.message, "domain": "global", "reason": self.reason}],
            }
        }


def not_found(path: str) -> ApiError:
    return ApiError(HTTPStatus.NOT_FOUND, "notFound", f"The resource '{path}' was not found")


def already_exists(path: str) -> ApiError:
    return ApiError(HTTPStatus.CONFLICT, "alreadyExists", f"The resource '{path}' already exists")


def invalid(message: str) -> ApiError:
    return ApiError(HTTPStatus.BAD_REQUEST, "invalid", message)


def fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def region_of(zone: str) -> str:
    return zone.rsplit("-", 1)[0]


# ---------------------------------------------------------------------------------------------
# List filters: the subset of https://cloud.google.com/compute/docs/reference/rest/v1 "filter"
# that the project uses: `field = value` and `field != value` (value quoted or bare, `*`
# wildcards), ANDed by juxtaposition of parenthesised terms or by AND.
# ---------------------------------------------------------------------------------------------
_TERM = re.compile(r'^\s*([A-Za-z][\w.-]*)\s*(=|!=)\s*(?:"([^"]*)"|(\S+))\s*$')


def parse_filter(text: str) -> list[tuple[str, str, str]]:
    text = (text or "").strip()
    if not text:
        return []
    if text.startswith("("):
        parts = re.findall(r"\(([^()]*)\)", text)
        rest = re.sub(r"\(([^()]*)\)", "", text).replace("AND", "").strip()
        if rest:
            raise invalid(f"Invalid value for field 'filter': '{text}'.")
    else:
        parts = re.split(r"\s+AND\s+", text)
    terms = []
    for part in parts:
        match = _TERM.match(part)
        if not match:
            raise invalid(f"Invalid value for field 'filter': '{text}'.")
        key, op, quoted, bare = match.groups()
        terms.append((key, op, quoted if quoted is not None else bare))
    return terms


def _lookup(resource: dict[str, Any], dotted: str) -> Any:
    value: Any = resource
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def matches(resource: dict[str, Any], terms: list[tuple[str, str, str]]) -> bool:
    for key, op, expected in terms:
        value = _lookup(resource, key)
        hit = value is not None and fnmatch.fnmatchcase(str(value).split("/")[-1], expected)
        if key in ("selfLink", "zone", "region", "network", "subnetwork", "machineType"):
            hit = hit or (value is not None and fnmatch.fnmatchcase(str(value), expected))
        if (op == "=") != hit:
            return False
    return True


@dataclass
class Project:
    name: str
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    subnetworks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    firewalls: dict[str, dict[str, Any]] = field(default_factory=dict)
    addresses: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    instances: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    disks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)


class ComputeApi:
    """The fake's state and its request dispatcher (thread-safe)."""

    def __init__(self, project: str, access_token: str) -> None:
        self.access_token = access_token
        self.projects: dict[str, Project] = {}
        self.writes: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._ids = itertools.count(4_000_000_000_000_000_001)
        self._lock = threading.RLock()
        self.add_project(project)

    # -- set-up helpers for tests -----------------------------------------------------------
    def add_project(self, name: str) -> Project:
        project = Project(name)
        self.projects[name] = project
        network = {
            "kind": "compute#network",
            "id": str(next(self._ids)),
            "name": "default",
            "autoCreateSubnetworks": True,
            "routingConfig": {"routingMode": "REGIONAL"},
            "selfLink": f"{API}/projects/{name}/global/networks/default",
            "subnetworks": [],
        }
        project.networks["default"] = network
        for region, cidr in DEFAULT_SUBNETS.items():
            link = f"{API}/projects/{name}/regions/{region}/subnetworks/default"
            project.subnetworks[(region, "default")] = {
                "kind": "compute#subnetwork",
                "id": str(next(self._ids)),
                "name": "default",
                "network": network["selfLink"],
                "ipCidrRange": cidr,
                "gatewayAddress": str(next(ipaddress.ip_network(cidr).hosts())),
                "region": f"{API}/projects/{name}/regions/{region}",
                "selfLink": link,
                "privateIpGoogleAccess": False,
                "stackType": "IPV4_ONLY",
                "purpose": "PRIVATE",
            }
            network["subnetworks"].append(link)
        # The rules Google creates with an auto-mode default network.
        for rule_name, allowed, ranges, priority in (
            ("default-allow-internal", [{"IPProtocol": "all"}], ["10.128.0.0/9"], 65534),
            ("default-allow-ssh", [{"IPProtocol": "tcp", "ports": ["22"]}], ["0.0.0.0/0"], 65534),
            ("default-allow-icmp", [{"IPProtocol": "icmp"}], ["0.0.0.0/0"], 65534),
        ):
            self._store_firewall(
                project,
                {
                    "name": rule_name,
                    "allowed": allowed,
                    "sourceRanges": ranges,
                    "priority": priority,
                },
            )
        return project

    def project(self, name: str) -> Project:
        if name not in self.projects:
            raise not_found(f"projects/{name}")
        return self.projects[name]

    def firewall(self, project: str, name: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.projects[project].firewalls.get(name))

    def snapshot(self, project: str) -> dict[str, Any]:
        """Everything the project holds, for assertions."""
        with self._lock:
            p = self.projects[project]
            return copy.deepcopy(
                {
                    "firewalls": p.firewalls,
                    "addresses": {f"{r}/{n}": a for (r, n), a in p.addresses.items()},
                    "instances": {f"{z}/{n}": i for (z, n), i in p.instances.items()},
                    "disks": {f"{z}/{n}": d for (z, n), d in p.disks.items()},
                }
            )

    # -- dispatch ---------------------------------------------------------------------------
    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: dict[str, Any] | None,
        authorization: str | None,
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append((method, path, dict(query)))
            if authorization != f"Bearer {self.access_token}":
                error = ApiError(
                    HTTPStatus.UNAUTHORIZED,
                    "authError",
                    "Request had invalid authentication credentials.",
                )
                return error.status, error.body()
            if method != "GET":
                self.writes.append({"method": method, "path": path, "body": copy.deepcopy(body)})
            try:
                status, payload = self._route(method, path, query, body or {})
            except ApiError as error:
                return error.status, error.body()
            return status, copy.deepcopy(payload)

    def _route(
        self, method: str, path: str, query: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        match = re.fullmatch(r"/compute/v1/projects/([^/]+)/(.*)", path)
        if not match:
            raise not_found(path)
        project = self.project(match.group(1))
        rest = match.group(2).split("/")
        routes = {
            ("GET", "aggregated", "instances"): lambda: self._aggregated(project, query),
            ("GET", "global", "networks"): lambda: self._list(project.networks.values(), query),
            ("GET", "global", "firewalls"): lambda: self._list(project.firewalls.values(), query),
            ("POST", "global", "firewalls"): lambda: self._insert_firewall(project, body),
        }
        if len(rest) == 2 and (method, rest[0], rest[1]) in routes:
            return HTTPStatus.OK, routes[(method, rest[0], rest[1])]()
        if rest[0] == "global" and len(rest) == 3:
            return HTTPStatus.OK, self._global_item(project, method, rest[1], rest[2], body)
        if rest[0] == "regions" and len(rest) >= 3:
            return HTTPStatus.OK, self._regional(project, method, rest[1], rest[2:], query, body)
        if rest[0] == "zones" and len(rest) >= 3:
            return HTTPStatus.OK, self._zonal(project, method, rest[1], rest[2:], query, body)
        raise not_found(path)

    # -- helpers ----------------------------------------------------------------------------
    def _link(self, project: Project, *parts: str) -> str:
        return "/".join([API, "projects", project.name, *parts])

    def _list(self, items: Any, query: dict[str, str]) -> dict[str, Any]:
        terms = parse_filter(query.get("filter", ""))
        found = [i for i in items if matches(i, terms)]
        result: dict[str, Any] = {"kind": "compute#list", "items": found}
        if not found:
            del result["items"]
        return result

    def _operation(
        self, project: Project, kind: str, target: str, scope: tuple[str, str] | None
    ) -> dict[str, Any]:
        op_id = str(next(self._ids))
        name = f"operation-{op_id}"
        parts = ("global", "operations", name) if scope is None else (*scope, "operations", name)
        operation = {
            "kind": "compute#operation",
            "id": op_id,
            "name": name,
            "operationType": kind,
            "targetLink": target,
            "status": "DONE",
            "progress": 100,
            "selfLink": self._link(project, *parts),
        }
        if scope is not None:
            operation[scope[0].rstrip("s")] = self._link(project, *scope)
        project.operations[name] = operation
        return operation

    def _get_operation(self, project: Project, name: str) -> dict[str, Any]:
        if name not in project.operations:
            raise not_found(f"projects/{project.name}/operations/{name}")
        return project.operations[name]

    def _check_zone(self, project: Project, zone: str) -> None:
        region = region_of(zone)
        if zone.rsplit("-", 1)[-1] not in ZONES.get(region, ()):
            raise not_found(f"projects/{project.name}/zones/{zone}")

    def _check_region(self, project: Project, region: str) -> None:
        if region not in ZONES:
            raise not_found(f"projects/{project.name}/regions/{region}")

    def _subnetwork_by_link(self, project: Project, link: str, region: str) -> dict[str, Any]:
        match = re.fullmatch(
            r"(?:https://(?:www|compute)\.googleapis\.com/compute/v1/)?"
            r"(?:projects/([^/]+)/)?regions/([^/]+)/subnetworks/([^/]+)",
            link,
        )
        if not match or (match.group(1) or project.name) != project.name:
            raise invalid(f"Invalid value for field 'subnetwork': '{link}'.")
        if match.group(2) != region:
            raise invalid(
                f"Invalid value for field 'subnetwork': '{link}'. "
                f"The subnetwork must be in region '{region}'."
            )
        subnet = project.subnetworks.get((match.group(2), match.group(3)))
        if subnet is None:
            raise not_found(f"projects/{project.name}/regions/{region}/subnetworks/{match[3]}")
        return subnet

    def _network_by_link(self, project: Project, link: str) -> dict[str, Any]:
        match = re.fullmatch(
            r"(?:https://(?:www|compute)\.googleapis\.com/compute/v1/)?"
            r"(?:projects/([^/]+)/)?global/networks/([^/]+)",
            link,
        )
        if not match or (match.group(1) or project.name) != project.name:
            raise invalid(f"Invalid value for field 'network': '{link}'.")
        network = project.networks.get(match.group(2))
        if network is None:
            raise not_found(f"projects/{project.name}/global/networks/{match.group(2)}")
        return network

    def _used_ips(self, project: Project) -> set[str]:
        used = {a["address"] for a in project.addresses.values()}
        for instance in project.instances.values():
            for nic in instance["networkInterfaces"]:
                used.add(nic["networkIP"])
                used.update(c["natIP"] for c in nic.get("accessConfigs", []) if "natIP" in c)
        return used

    def _free_ip(self, project: Project, network: ipaddress.IPv4Network) -> str:
        used = self._used_ips(project)
        hosts = list(network.hosts())
        # Google keeps the first two and the last host addresses of a subnetwork.
        for candidate in hosts[1:-1]:
            if str(candidate) not in used:
                return str(candidate)
        raise ApiError(HTTPStatus.BAD_REQUEST, "ipSpaceExhausted", "IP space exhausted")

    # -- global: firewalls, networks, operations --------------------------------------------
    def _global_item(
        self, project: Project, method: str, collection: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        if collection == "operations" and method == "GET":
            return self._get_operation(project, name)
        if collection == "networks" and method == "GET":
            return self._network_by_link(project, f"global/networks/{name}")
        if collection != "firewalls":
            raise not_found(f"projects/{project.name}/global/{collection}/{name}")
        rule = project.firewalls.get(name)
        if rule is None:
            raise not_found(f"projects/{project.name}/global/firewalls/{name}")
        if method == "GET":
            return rule
        if method == "DELETE":
            del project.firewalls[name]
            return self._operation(project, "delete", rule["selfLink"], None)
        if method == "PATCH":
            merged = {k: v for k, v in rule.items() if k in ("name", "network")}
            for key in ("direction", "priority", "description", "targetTags", "logConfig"):
                if key in rule:
                    merged[key] = rule[key]
            merged.update(body)
            if "allowed" in body or "denied" in body:
                merged.pop("denied" if "allowed" in body else "allowed", None)
            if merged.get("name") != name:
                raise invalid("The firewall name cannot be changed.")
            stored = self._store_firewall(project, merged, existing=rule)
            return self._operation(project, "patch", stored["selfLink"], None)
        raise not_found(f"projects/{project.name}/global/firewalls/{name}")

    def _insert_firewall(self, project: Project, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name", "")
        if name in project.firewalls:
            raise already_exists(f"projects/{project.name}/global/firewalls/{name}")
        stored = self._store_firewall(project, body)
        return self._operation(project, "insert", stored["selfLink"], None)

    def _store_firewall(
        self, project: Project, body: dict[str, Any], existing: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        name = body.get("name", "")
        if not re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", name):
            raise invalid(f"Invalid value for field 'resource.name': '{name}'.")
        network = self._network_by_link(project, body.get("network", "global/networks/default"))
        direction = body.get("direction", "INGRESS")
        if direction not in ("INGRESS", "EGRESS"):
            raise invalid(f"Invalid value for field 'resource.direction': '{direction}'.")
        if ("allowed" in body) == ("denied" in body):
            raise invalid("Exactly one of 'allowed' or 'denied' must be specified.")
        for rule in body.get("allowed", body.get("denied", [])):
            if rule.get("IPProtocol") not in ("tcp", "udp", "icmp", "all", "esp", "ah", "sctp"):
                raise invalid(f"Invalid value for field 'IPProtocol': {rule.get('IPProtocol')}")
        ranges = body.get("sourceRanges", [])
        for cidr in ranges + body.get("destinationRanges", []):
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise invalid(
                    f"Invalid value for field 'resource.sourceRanges': '{cidr}'."
                ) from exc
        if direction == "INGRESS" and not (
            ranges or body.get("sourceTags") or body.get("sourceServiceAccounts")
        ):
            raise invalid("An INGRESS rule needs sourceRanges, sourceTags or service accounts.")
        priority = int(body.get("priority", 1000))
        if not 0 <= priority <= 65535:
            raise invalid(f"Invalid value for field 'resource.priority': '{priority}'.")
        rule: dict[str, Any] = {
            "kind": "compute#firewall",
            "id": existing["id"] if existing else str(next(self._ids)),
            "creationTimestamp": "2026-12-03T09:00:00.000-08:00",
            "name": name,
            "description": body.get("description", ""),
            "network": network["selfLink"],
            "priority": priority,
            "direction": direction,
            "logConfig": {"enable": bool(body.get("logConfig", {}).get("enable", False))},
            "disabled": bool(body.get("disabled", False)),
            "selfLink": self._link(project, "global", "firewalls", name),
        }
        for key in ("sourceRanges", "destinationRanges", "sourceTags", "targetTags"):
            if body.get(key):
                rule[key] = list(body[key])
        for key in ("allowed", "denied"):
            if key in body:
                rule[key] = [dict(r) for r in body[key]]
        project.firewalls[name] = rule
        return rule

    # -- regional: subnetworks, addresses, operations ---------------------------------------
    def _regional(
        self,
        project: Project,
        method: str,
        region: str,
        rest: list[str],
        query: dict[str, str],
        body: dict[str, Any],
    ) -> dict[str, Any]:
        self._check_region(project, region)
        collection, name = rest[0], (rest[1] if len(rest) > 1 else None)
        if collection == "operations" and name and method == "GET":
            return self._get_operation(project, name)
        if collection == "subnetworks" and method == "GET":
            subnets = [s for (r, _), s in project.subnetworks.items() if r == region]
            if name is None:
                return self._list(subnets, query)
            return self._subnetwork_by_link(project, f"regions/{region}/subnetworks/{name}", region)
        if collection != "addresses":
            raise not_found(f"projects/{project.name}/regions/{region}/{collection}")
        if name is None and method == "GET":
            addresses = [a for (r, _), a in project.addresses.items() if r == region]
            return self._list(addresses, query)
        if name is None and method == "POST":
            return self._insert_address(project, region, body)
        address = project.addresses.get((region, name or ""))
        if address is None:
            raise not_found(f"projects/{project.name}/regions/{region}/addresses/{name}")
        if method == "GET":
            return address
        if method == "DELETE":
            if address.get("users"):
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "resourceInUseByAnotherResource",
                    f"The address resource '{address['selfLink']}' is already being used by "
                    f"'{address['users'][0]}'",
                )
            del project.addresses[(region, name)]
            return self._operation(project, "delete", address["selfLink"], ("regions", region))
        raise not_found(f"projects/{project.name}/regions/{region}/addresses/{name}")

    def _insert_address(self, project: Project, region: str, body: dict[str, Any]) -> dict:
        name = body.get("name", "")
        if (region, name) in project.addresses:
            raise already_exists(f"projects/{project.name}/regions/{region}/addresses/{name}")
        kind = body.get("addressType", "EXTERNAL")
        link = self._link(project, "regions", region, "addresses", name)
        address: dict[str, Any] = {
            "kind": "compute#address",
            "id": str(next(self._ids)),
            "creationTimestamp": "2026-12-03T09:00:00.000-08:00",
            "name": name,
            "description": body.get("description", ""),
            "status": "RESERVED",
            "region": self._link(project, "regions", region),
            "selfLink": link,
            "addressType": kind,
            "labelFingerprint": fingerprint({}),
            "ipVersion": "IPV4",
        }
        if kind == "INTERNAL":
            subnet_link = body.get("subnetwork") or f"regions/{region}/subnetworks/default"
            subnet = self._subnetwork_by_link(project, subnet_link, region)
            cidr = ipaddress.ip_network(subnet["ipCidrRange"])
            wanted = body.get("address")
            if wanted:
                if ipaddress.ip_address(wanted) not in cidr:
                    raise invalid(
                        f"Requested internal IP address {wanted} is outside the subnetwork "
                        f"range {cidr}."
                    )
                if wanted in self._used_ips(project):
                    raise invalid(f"IP '{wanted}' is already being used by another resource.")
            address.update(
                address=wanted or self._free_ip(project, cidr),
                purpose=body.get("purpose", "GCE_ENDPOINT"),
                subnetwork=subnet["selfLink"],
                prefixLength=32,
            )
        elif kind == "EXTERNAL":
            address.update(
                address=self._free_ip(project, EPHEMERAL_POOL),
                networkTier=body.get("networkTier", "PREMIUM"),
            )
        else:
            raise invalid(f"Invalid value for field 'resource.addressType': '{kind}'.")
        project.addresses[(region, name)] = address
        return self._operation(project, "insert", link, ("regions", region))

    # -- zonal: instances, operations ---------------------------------------------------------
    def _zonal(
        self,
        project: Project,
        method: str,
        zone: str,
        rest: list[str],
        query: dict[str, str],
        body: dict[str, Any],
    ) -> dict[str, Any]:
        self._check_zone(project, zone)
        collection, name = rest[0], (rest[1] if len(rest) > 1 else None)
        if collection == "operations" and name and method == "GET":
            return self._get_operation(project, name)
        if collection != "instances":
            raise not_found(f"projects/{project.name}/zones/{zone}/{collection}")
        if name is None:
            if method == "GET":
                zonal = [i for (z, _), i in project.instances.items() if z == zone]
                return self._list(zonal, query)
            if method == "POST":
                return self.insert_instance(project.name, zone, body)
        instance = project.instances.get((zone, name or ""))
        if instance is None:
            raise not_found(f"projects/{project.name}/zones/{zone}/instances/{name}")
        if len(rest) == 2 and method == "GET":
            return instance
        if len(rest) == 2 and method == "DELETE":
            return self._delete_instance(project, zone, instance)
        if len(rest) == 3 and method == "POST":
            return self._instance_action(project, zone, instance, rest[2], query, body)
        raise not_found(f"projects/{project.name}/zones/{zone}/instances/{name}")

    def insert_instance(self, project_name: str, zone: str, body: dict[str, Any]) -> dict:
        """instances.insert; also used by tests to seed machines the way the API makes them."""
        project = self.project(project_name)
        self._check_zone(project, zone)
        region = region_of(zone)
        name = body.get("name", "")
        if not re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", name):
            raise invalid(f"Invalid value for field 'resource.name': '{name}'.")
        if (zone, name) in project.instances:
            raise already_exists(f"projects/{project.name}/zones/{zone}/instances/{name}")
        link = self._link(project, "zones", zone, "instances", name)
        machine = str(body.get("machineType", "")).split("/")[-1]
        if machine not in MACHINE_TYPES:
            raise invalid(f"Invalid value for field 'resource.machineType': '{machine}'.")
        nics = [
            self._make_nic(project, region, link, n, i)
            for i, n in enumerate(body.get("networkInterfaces") or [{}])
        ]
        disks = [
            self._make_disk(project, zone, name, d, i) for i, d in enumerate(body.get("disks", []))
        ]
        if sum(1 for d in disks if d.get("boot")) != 1:
            raise invalid("Exactly one boot disk must be specified.")
        labels = dict(body.get("labels") or {})
        tags = list((body.get("tags") or {}).get("items", []))
        metadata_items = list((body.get("metadata") or {}).get("items", []))
        instance: dict[str, Any] = {
            "kind": "compute#instance",
            "id": str(next(self._ids)),
            "creationTimestamp": "2026-12-03T09:00:00.000-08:00",
            "name": name,
            "tags": {"items": tags, "fingerprint": fingerprint(tags)},
            "machineType": self._link(project, "zones", zone, "machineTypes", machine),
            "status": "RUNNING",
            "zone": self._link(project, "zones", zone),
            "canIpForward": bool(body.get("canIpForward", False)),
            "networkInterfaces": nics,
            "disks": disks,
            "metadata": {
                "kind": "compute#metadata",
                "fingerprint": fingerprint(metadata_items),
                **({"items": metadata_items} if metadata_items else {}),
            },
            "selfLink": link,
            "scheduling": {
                "onHostMaintenance": "MIGRATE",
                "automaticRestart": True,
                "preemptible": False,
                "provisioningModel": "STANDARD",
                **(body.get("scheduling") or {}),
            },
            "cpuPlatform": "Intel Broadwell",
            "labels": labels,
            "labelFingerprint": fingerprint(labels),
            "startRestricted": False,
            "deletionProtection": bool(body.get("deletionProtection", False)),
            "shieldedInstanceConfig": {
                "enableSecureBoot": False,
                "enableVtpm": True,
                "enableIntegrityMonitoring": True,
                **(body.get("shieldedInstanceConfig") or {}),
            },
            "fingerprint": fingerprint(name),
            "lastStartTimestamp": "2026-12-03T09:00:10.000-08:00",
        }
        if not tags:
            instance["tags"] = {"fingerprint": fingerprint(tags)}
        if not labels:
            del instance["labels"]
        if body.get("serviceAccounts"):
            instance["serviceAccounts"] = body["serviceAccounts"]
        project.instances[(zone, name)] = instance
        for nic in nics:
            for address in project.addresses.values():
                if address["address"] == nic["networkIP"]:
                    address.update(status="IN_USE", users=[link])
        return self._operation(project, "insert", link, ("zones", zone))

    def _make_nic(
        self, project: Project, region: str, link: str, nic: dict[str, Any], index: int
    ) -> dict[str, Any]:
        if nic.get("subnetwork"):
            subnet = self._subnetwork_by_link(project, nic["subnetwork"], region)
        else:
            network = self._network_by_link(project, nic.get("network", "global/networks/default"))
            subnet = next(
                s
                for (r, _), s in project.subnetworks.items()
                if r == region and s["network"] == network["selfLink"]
            )
        if nic.get("network"):
            network = self._network_by_link(project, nic["network"])
            if network["selfLink"] != subnet["network"]:
                raise invalid("The subnetwork does not belong to the given network.")
        cidr = ipaddress.ip_network(subnet["ipCidrRange"])
        ip = nic.get("networkIP")
        if ip:
            if ipaddress.ip_address(ip) not in cidr:
                raise invalid(
                    f"Requested internal IP address {ip} is outside the subnetwork range {cidr}."
                )
            reserved = [a for a in project.addresses.values() if a["address"] == ip]
            if reserved and reserved[0].get("users"):
                raise invalid(f"IP '{ip}' is already being used by another resource.")
            if not reserved and ip in self._used_ips(project):
                raise invalid(f"IP '{ip}' is already being used by another resource.")
        else:
            ip = self._free_ip(project, cidr)
        configs = []
        for config in nic.get("accessConfigs", []):
            if config.get("type") != "ONE_TO_ONE_NAT":
                raise invalid(f"Invalid value for field 'type': '{config.get('type')}'.")
            configs.append(
                {
                    "kind": "compute#accessConfig",
                    "type": "ONE_TO_ONE_NAT",
                    "name": config.get("name", "External NAT"),
                    "natIP": config.get("natIP") or self._free_ip(project, EPHEMERAL_POOL),
                    "networkTier": config.get("networkTier", "PREMIUM"),
                }
            )
        result = {
            "kind": "compute#networkInterface",
            "network": subnet["network"],
            "subnetwork": subnet["selfLink"],
            "networkIP": ip,
            "name": f"nic{index}",
            "fingerprint": fingerprint([link, index]),
            "stackType": "IPV4_ONLY",
        }
        if configs:
            result["accessConfigs"] = configs
        return result

    def _make_disk(
        self, project: Project, zone: str, instance: str, disk: dict[str, Any], index: int
    ) -> dict[str, Any]:
        params = disk.get("initializeParams") or {}
        if not params:
            raise invalid("Only disks created with the instance are supported by this fake.")
        image = params.get("sourceImage", "")
        match = re.fullmatch(r"(?:.*/)?projects/([^/]+)/global/images/family/([^/]+)", image)
        if not match or match.group(2) not in IMAGE_FAMILIES.get(match.group(1), ()):
            raise not_found(image)
        disk_type = str(params.get("diskType", "pd-standard")).split("/")[-1]
        if disk_type not in DISK_TYPES:
            raise invalid(f"Invalid value for field 'diskType': '{disk_type}'.")
        size = int(params.get("diskSizeGb", 10))
        if size < 10:
            raise invalid("Requested disk size cannot be smaller than the image size (10 GB)")
        disk_name = params.get("diskName") or instance
        source = self._link(project, "zones", zone, "disks", disk_name)
        project.disks[(zone, disk_name)] = {
            "kind": "compute#disk",
            "name": disk_name,
            "sizeGb": str(size),
            "type": self._link(project, "zones", zone, "diskTypes", disk_type),
            "sourceImage": f"{API}/projects/{match[1]}/global/images/{match[2]}-v20261201",
            "selfLink": source,
        }
        return {
            "kind": "compute#attachedDisk",
            "type": "PERSISTENT",
            "mode": "READ_WRITE",
            "source": source,
            "deviceName": disk.get("deviceName", f"persistent-disk-{index}"),
            "index": index,
            "boot": bool(disk.get("boot", False)),
            "autoDelete": bool(disk.get("autoDelete", False)),
            "interface": "SCSI",
            "diskSizeGb": str(size),
            "architecture": "X86_64",
        }

    def _delete_instance(self, project: Project, zone: str, instance: dict) -> dict[str, Any]:
        if instance["deletionProtection"]:
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                "resourceInUseByAnotherResource",
                "Invalid resource usage: 'Resource cannot be deleted if it's protected "
                "against deletion.'.",
            )
        del project.instances[(zone, instance["name"])]
        for address in project.addresses.values():
            if instance["selfLink"] in address.get("users", []):
                address["status"] = "RESERVED"
                del address["users"]
        for disk in instance["disks"]:
            if disk["autoDelete"]:
                project.disks.pop((zone, disk["source"].split("/")[-1]), None)
        return self._operation(project, "delete", instance["selfLink"], ("zones", zone))

    def _instance_action(
        self,
        project: Project,
        zone: str,
        instance: dict[str, Any],
        action: str,
        query: dict[str, str],
        body: dict[str, Any],
    ) -> dict[str, Any]:
        if action == "setLabels":
            if body.get("labelFingerprint") != instance["labelFingerprint"]:
                raise ApiError(
                    HTTPStatus.PRECONDITION_FAILED,
                    "conditionNotMet",
                    "Labels fingerprint either invalid or resource labels have changed",
                )
            instance["labels"] = dict(body.get("labels") or {})
            instance["labelFingerprint"] = fingerprint(instance["labels"])
        elif action == "setTags":
            if body.get("fingerprint") != instance["tags"]["fingerprint"]:
                raise ApiError(
                    HTTPStatus.PRECONDITION_FAILED,
                    "conditionNotMet",
                    "Supplied fingerprint does not match current metadata fingerprint.",
                )
            items = list(body.get("items", []))
            instance["tags"] = {"items": items, "fingerprint": fingerprint(items)}
        elif action == "setDeletionProtection":
            instance["deletionProtection"] = query.get("deletionProtection", "true") == "true"
        elif action == "setMachineType":
            if instance["status"] != "TERMINATED":
                raise invalid("The machine type of a running instance cannot be changed.")
            machine = str(body.get("machineType", "")).split("/")[-1]
            if machine not in MACHINE_TYPES:
                raise invalid(f"Invalid value for field 'machineType': '{machine}'.")
            instance["machineType"] = self._link(project, "zones", zone, "machineTypes", machine)
        elif action in ("start", "stop"):
            instance["status"] = "RUNNING" if action == "start" else "TERMINATED"
        else:
            raise not_found(f"{instance['selfLink']}/{action}")
        return self._operation(project, action, instance["selfLink"], ("zones", zone))

    def _aggregated(self, project: Project, query: dict[str, str]) -> dict[str, Any]:
        terms = parse_filter(query.get("filter", ""))
        items: dict[str, Any] = {}
        for region, letters in ZONES.items():
            for letter in letters:
                zone = f"{region}-{letter}"
                found = [
                    i
                    for (z, _), i in sorted(project.instances.items())
                    if z == zone and matches(i, terms)
                ]
                if found:
                    items[f"zones/{zone}"] = {"instances": found}
                else:
                    items[f"zones/{zone}"] = {
                        "warning": {
                            "code": "NO_RESULTS_ON_PAGE",
                            "message": "There are no results for scope 'zones/"
                            f"{zone}' on this page.",
                        }
                    }
        return {
            "kind": "compute#instanceAggregatedList",
            "id": f"projects/{project.name}/aggregated/instances",
            "items": items,
            "selfLink": self._link(project, "aggregated", "instances"),
        }
