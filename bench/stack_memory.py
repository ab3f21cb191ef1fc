#!/usr/bin/env python3
"""Print the stack's idle memory per container against its limit, on a converged local target.

The stack runs in the target's own Docker engine, so this reads `docker stats --no-stream` and
`docker inspect` through `docker exec TARGET docker ...`. Usage is what `docker stats` reports
(the cgroup's memory minus its inactive file cache); the limit is the container's memory limit
(HostConfig.Memory), the one the stack role sets from stack_<service>_mem_limit_mb.

Without a registry the target runs the locally built stand-ins (Debian's PostgreSQL and Redis,
the project's Evolution API test double), not the official images: the figures are those of
the stand-ins, not of Evolution API itself.

    .venv/bin/python bench/stack_memory.py [--target evolution-local] [--settle-s 0]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import time

MIB = 1024 * 1024
# docker stats prints binary units (KiB, MiB, GiB); decimal ones are accepted too.
UNITS = {
    "b": 1,
    "kib": 1024,
    "mib": MIB,
    "gib": 1024 * MIB,
    "tib": 1024 * 1024 * MIB,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
}
SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]+)\s*$")


def size_bytes(text):
    """'25.04MiB' -> bytes, as docker stats prints sizes."""
    match = SIZE.match(text)
    if not match or match.group(2).lower() not in UNITS:
        raise ValueError(f"not a size docker stats prints: {text!r}")
    return float(match.group(1)) * UNITS[match.group(2).lower()]


def docker_in(target, *args):
    """Runs the docker CLI of the target's own engine and returns its standard output."""
    done = subprocess.run(
        ["docker", "exec", target, "docker", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(
            f"docker exec {target} docker {' '.join(args)} failed ({done.returncode}): "
            f"{done.stderr.strip()}"
        )
    return done.stdout


def read_memory(target, project="evolution"):
    """One row per container of the compose project: service, name, usage, limit, percent."""
    ids = docker_in(
        target, "ps", "--quiet", "--filter", f"label=com.docker.compose.project={project}"
    ).split()
    if not ids:
        raise SystemExit(
            f"no running container of compose project {project!r} in {target}; converge first "
            f"(scripts/converge)"
        )
    stats = {}
    for line in docker_in(
        target, "stats", "--no-stream", "--format", "{{json .}}", *ids
    ).splitlines():
        entry = json.loads(line)
        stats[entry["ID"]] = entry
    rows = []
    for container in json.loads(docker_in(target, "inspect", *ids)):
        entry = next(value for key, value in stats.items() if container["Id"].startswith(key))
        usage_b = size_bytes(entry["MemUsage"].split("/")[0])
        limit_b = container["HostConfig"]["Memory"]
        rows.append(
            {
                "service": container["Config"]["Labels"].get("com.docker.compose.service", "?"),
                "container": container["Name"].lstrip("/"),
                "image": container["Config"]["Image"],
                "usage_mib": usage_b / MIB,
                "limit_mib": limit_b / MIB if limit_b else None,
                "percent": 100 * usage_b / limit_b if limit_b else None,
            }
        )
    return sorted(rows, key=lambda row: row["service"])


def print_table(rows, out=print):
    out(f"{'container':<24} {'usage MiB':>10} {'limit MiB':>10} {'percent':>8}")
    for row in rows:
        limit = f"{row['limit_mib']:.0f}" if row["limit_mib"] is not None else "none"
        percent = f"{row['percent']:.1f}%" if row["percent"] is not None else "-"
        out(f"{row['container']:<24} {row['usage_mib']:>10.1f} {limit:>10} {percent:>8}")
    usage = sum(row["usage_mib"] for row in rows)
    if all(row["limit_mib"] is not None for row in rows):
        limit = sum(row["limit_mib"] for row in rows)
        out(f"{'total':<24} {usage:>10.1f} {limit:>10.0f} {100 * usage / limit:>7.1f}%")
    else:
        out(f"{'total':<24} {usage:>10.1f}")


def images_note(rows):
    """Says which images the figures are of: the stand-ins are not the official images."""
    images = ", ".join(row["image"] for row in rows)
    if any(row["image"].startswith("srcardoso-test/") for row in rows):
        return (
            f"Images: {images}. These are the locally built stand-ins, not the official "
            f"images: the figures are those of the stand-ins."
        )
    return f"Images: {images}."


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="evolution-local", help="the local target container")
    parser.add_argument("--project", default="evolution", help="the stack's compose project")
    parser.add_argument(
        "--settle-s", type=float, default=0, help="seconds to wait first, so the stack is idle"
    )
    args = parser.parse_args()
    if args.settle_s:
        time.sleep(args.settle_s)
    rows = read_memory(args.target, args.project)
    print(f"Idle memory of the stack in {args.target} (docker stats --no-stream)")
    print_table(rows)
    print(images_note(rows))


if __name__ == "__main__":
    main()
