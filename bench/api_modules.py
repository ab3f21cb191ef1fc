#!/usr/bin/env python3
"""Time srcardoso.evolution.evolution_instances against the Evolution API test double.

For 1, 10 and 50 instances, each with a webhook and settings, prints the wall time of the run
that creates them, the wall time of a second run that changes nothing, and the requests per
instance the double received during the no-op run. Each size gets a fresh in-process double on
a loopback port; ansible-playbook runs as a subprocess, as a user would run it.

    .venv/bin/python bench/api_modules.py [--sizes 1 10 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from evolution_double import EvolutionDouble

API_KEY = "bench-global-key"


def playbook(url, count):
    instances = [
        {
            "name": f"bench-{index:03d}",
            "webhook": {
                "url": f"http://127.0.0.1:9/hooks/{index}",
                "events": ["MESSAGES_UPSERT", "CONNECTION_UPDATE", "QRCODE_UPDATED"],
                "headers": {"X-Webhook-Token": f"token-{index}"},
            },
            "settings": {"reject_call": True, "msg_call": "No calls", "groups_ignore": True},
        }
        for index in range(count)
    ]
    return [
        {
            "name": "Benchmark evolution_instances",
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {
                    "name": "Reconcile the instances",
                    "srcardoso.evolution.evolution_instances": {
                        "api_url": url,
                        "api_key": API_KEY,
                        "instances": instances,
                    },
                }
            ],
        }
    ]


def run_playbook(path, workdir):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "EVOLUTION_"))}
    env.update(
        ANSIBLE_CONFIG=str(REPO / "ansible.cfg"),
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_LOCAL_TEMP=str(workdir / "tmp"),
    )
    command = [
        str(Path(sys.executable).with_name("ansible-playbook")),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        str(path),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"ansible-playbook failed:\n{done.stdout}\n{done.stderr}")
    result = json.loads(done.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return elapsed, result


def measure(count, repeat, workdir):
    with EvolutionDouble(api_key=API_KEY, delete_delay_s=0.05) as double:
        path = workdir / f"bench-{count}.yml"
        path.write_text(json.dumps(playbook(double.url, count)))
        create_s, result = run_playbook(path, workdir)
        assert result["changed"] is True, result["msg"]
        noop_times = []
        for _ in range(repeat):
            double.clear_requests()
            noop_s, result = run_playbook(path, workdir)
            assert result["changed"] is False, result["msg"]
            noop_times.append(noop_s)
        methods = Counter(request.method for request in double.requests)
    return create_s, statistics.median(noop_times), methods


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--repeat", type=int, default=3, help="no-op runs per size (median)")
    args = parser.parse_args()
    print(f"evolution_instances, each instance with a webhook and settings (no-op: median of "
          f"{args.repeat})")  # fmt: skip
    print(f"{'instances':>9} {'create run s':>13} {'no-op run s':>12} {'no-op requests':>15} "
          f"{'per instance':>13} {'writes':>7}")  # fmt: skip
    baseline = None
    with tempfile.TemporaryDirectory(prefix="bench-evolution-") as tmp:
        # One untimed run first, so that the first size does not pay for cold caches.
        measure(1, 1, Path(tmp))
        for count in args.sizes:
            create_s, noop_s, methods = measure(count, args.repeat, Path(tmp))
            total = sum(methods.values())
            writes = total - methods.get("GET", 0)
            print(f"{count:>9} {create_s:>13.2f} {noop_s:>12.2f} {total:>15} "
                  f"{total / count:>13.2f} {writes:>7}")  # fmt: skip
            baseline = baseline or noop_s
        print(f"no-op time of the largest size / the smallest: {noop_s / baseline:.2f}x "
              f"(target: at most 2x; at most 3 reads per instance)")  # fmt: skip


if __name__ == "__main__":
    main()
