#!/usr/bin/env python3
"""Time a fresh converge and a no-op re-converge of site.yml against a facts-only play.

Creates a new local target container (default evolution-bench, never the user's
evolution-local) with scripts/converge's own functions, then, in this one run and on that one
target, runs with ansible-playbook and inventory/local.yml, in this order:

    facts-only, fresh converge, facts-only, [no-op re-converge, facts-only] x --noop-runs

where facts-only is a bare play that only gathers facts, and both converges run site.yml. Each
converge is divided by the mean of the two facts-only runs around it, so that both are taken
under the same load (the machine is shared; the load changes from one minute to the next). The
no-op row gives the median wall time and the median ratio. The changed count is the sum of
changed= in the play recap; tasks is ok= plus skipped=.

Then prints the slowest tasks of each converge (ansible.posix.profile_tasks, enabled for every
run, the facts-only ones too), the stack's idle memory per container against its limit
(bench/stack_memory.py, after --settle-s), and removes the target it created (--keep leaves
it). Logs of every run go to .cache/bench/.

Creating the container and booting its systemd are not timed: that is the VM's part. The fresh
converge includes apt installing Docker from Debian's archive and, without a registry, loading
the stand-in images from tar files into the target's engine instead of pulling them.

    source scripts/lib.sh && ensure_venv
    .venv/bin/python bench/converge.py [--target evolution-bench] [--noop-runs 3] [--keep]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOGS = REPO / ".cache" / "bench"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack_memory import images_note, print_table, read_memory

# Inventory host of inventory/local.yml; scripts/converge points it at the target's container.
HOST = "evolution-local"
FACTS_ONLY_PLAY = """\
- name: Gather facts only
  hosts: evolution
  gather_facts: true
  tasks: []
"""
SLOWEST = 6
# profile_tasks' summary line: "role : Task name ------------------ 12.34s"
TASK_TIME = re.compile(r"^(\S.*?) -{2,} ?(\d+\.\d+)s$")
# A play recap line: "evolution-local : ok=67 changed=0 unreachable=0 failed=0 skipped=21 ..."
RECAP = re.compile(r"^(\S+)\s+:\s+(ok=\d+.*)$")
COUNT = re.compile(r"(\w+)=(\d+)")


def say(text):
    print(f"==> {text}", file=sys.stderr, flush=True)


def ansible_env():
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    # Every run, the facts-only ones too, with the same callback: its summary says where the
    # time of a converge goes.
    env.update(
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
        PROFILE_TASKS_TASK_OUTPUT_LIMIT=str(SLOWEST),
    )
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("GCP_PROJECT", None)  # the provision play must skip itself, as on a local target
    return env


def docker_has(kind, name):
    """True when the engine has a container or volume (kind) of that name."""
    inspect = subprocess.run(["docker", kind, "inspect", name], capture_output=True, check=False)
    return inspect.returncode == 0


def prepare_target(target, workdir):
    """Creates and boots the target with scripts/converge's prepare_local; returns its -e args."""
    args_file = workdir / "local-extra"
    script = (
        'source "$1/scripts/converge"\n'
        'ensure_system_packages "${SYSTEM_PACKAGES[@]}"\n'
        "ensure_venv\n"
        "prepare_local\n"
        'printf \'%s\\0\' "${LOCAL_EXTRA[@]}" >"$2"\n'
    )
    env = dict(os.environ, EVOLUTION_LOCAL_TARGET=target)
    env.pop("GCP_PROJECT", None)
    done = subprocess.run(
        ["bash", "-c", script, "prepare", str(REPO), str(args_file)],
        env=env,
        stdout=sys.stderr,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"preparing the target {target} failed ({done.returncode}); see above")
    return [arg for arg in args_file.read_text().split("\0") if arg]


def check_reaches(target, extra):
    """Refuses to time anything unless the inventory host really reaches the bench's target."""
    module = ["-m", "ansible.builtin.command", "-a", "hostname"]
    done = subprocess.run(
        ["ansible", "-i", "inventory/local.yml", HOST, *module, *extra],
        cwd=REPO,
        env=ansible_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or target not in done.stdout.split():
        raise SystemExit(
            f"inventory host {HOST} does not reach the container {target} "
            f"(rc {done.returncode}):\n{done.stdout}{done.stderr}"
        )


@dataclass
class Run:
    """One ansible-playbook run: wall time, and from its output the recap and slowest tasks."""

    wall_s: float
    changed: int  # changed= of the play recap, summed over hosts
    tasks: int  # ok= plus skipped= of the play recap: the tasks the run went through
    slowest: list[tuple[str, float]]  # profile_tasks' summary: (task, seconds)


def run_playbook(playbook, extra, log_name):
    command = ["ansible-playbook", "-i", "inventory/local.yml", str(playbook), *extra]
    log = LOGS / f"{log_name}.log"
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=REPO, env=ansible_env(), capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    log.write_text(f"$ {shlex.join(command)}\n{done.stdout}{done.stderr}")
    if done.returncode != 0:
        tail = "\n".join(done.stdout.splitlines()[-30:])
        raise SystemExit(
            f"{log_name} failed ({done.returncode}); log: {log}\n{tail}\n{done.stderr}"
        )
    recap = {}
    for line in done.stdout.splitlines():
        match = RECAP.match(line)
        if match:
            recap[match.group(1)] = {k: int(v) for k, v in COUNT.findall(match.group(2))}
    if HOST not in recap:
        raise SystemExit(f"{log_name}: no play recap for {HOST}; log: {log}")
    summary = done.stdout.rpartition("=" * 20)[2].splitlines()
    return Run(
        wall_s=elapsed,
        changed=sum(counts.get("changed", 0) for counts in recap.values()),
        tasks=sum(counts.get("ok", 0) + counts.get("skipped", 0) for counts in recap.values()),
        slowest=[(m.group(1), float(m.group(2))) for m in map(TASK_TIME.match, summary) if m],
    )


def tree_state():
    """The commit measured, and whether tracked files differed from it."""

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "an unknown commit"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{commit}{' with uncommitted changes' if dirty else ''}"


def remove_target(target):
    say(f"Removing the bench target {target} and its volume {target}-docker")
    subprocess.run(["docker", "rm", "-f", "-v", target], capture_output=True, check=False)
    subprocess.run(["docker", "volume", "rm", f"{target}-docker"], capture_output=True, check=False)


def bench(args, workdir):
    say(f"Creating the fresh target {args.target} (scripts/converge's prepare_local; not timed)")
    started = time.perf_counter()
    extra = prepare_target(args.target, workdir)
    boot_s = time.perf_counter() - started
    check_reaches(args.target, extra)
    facts_play = workdir / "facts-only.yml"
    facts_play.write_text(FACTS_ONLY_PLAY)
    site = REPO / "site.yml"

    facts = []

    def facts_only(state):
        run = run_playbook(facts_play, extra, f"facts-only-{len(facts) + 1}")
        say(f"facts-only play, {state}: {run.wall_s:.2f} s")
        facts.append(run)
        return run.wall_s

    def converge(label, log_name, facts_before):
        run = run_playbook(site, extra, log_name)
        facts_after = facts_only("converged target")
        ratio = run.wall_s / ((facts_before + facts_after) / 2)
        say(f"{label}: {run.wall_s:.2f} s, {ratio:.2f} x facts-only, changed={run.changed}")
        return run, ratio, facts_after

    facts_s = facts_only("fresh target")
    fresh, fresh_ratio, facts_s = converge("fresh converge", "converge-fresh", facts_s)
    noops = []
    for index in range(args.noop_runs):
        run, ratio, facts_s = converge(
            f"no-op re-converge {index + 1}/{args.noop_runs}", f"converge-noop-{index + 1}", facts_s
        )
        noops.append((run, ratio))

    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(
        f"site.yml at {tree_state()} on a fresh local target ({args.target}), {when}, "
        f"{os.cpu_count()} CPUs, load average {load} at the end"
    )
    print(
        f"(creating and booting the target, not timed: {boot_s:.1f} s; each converge divided by "
        f"the mean of the facts-only runs just before and after it)"
    )
    print(
        f"{'phase':<30} {'runs':>4} {'wall s':>7} {'min-max s':>12} {'x facts-only':>12} "
        f"{'changed':>7} {'tasks':>5}"
    )
    # changed: the most any run of the row changed (a no-op row must say 0 for every run).
    noop_runs = [run for run, _ratio in noops]
    rows = [
        ("facts-only play", facts, 1.0),
        ("fresh converge of site.yml", [fresh], fresh_ratio),
        ("no-op re-converge of site.yml", noop_runs, statistics.median(r for _, r in noops)),
    ]
    for phase, runs, ratio in rows:
        walls = [run.wall_s for run in runs]
        spread = f"{min(walls):.2f}-{max(walls):.2f}" if len(walls) > 1 else ""
        changed = max(run.changed for run in runs)
        print(
            f"{phase:<30} {len(walls):>4} {statistics.median(walls):>7.2f} {spread:>12} "
            f"{ratio:>12.2f} {changed:>7} {runs[-1].tasks:>5}"
        )

    for title, run in (("fresh converge", fresh), ("last no-op re-converge", noops[-1][0])):
        print()
        print(f"Slowest tasks of the {title}, s (profile_tasks)")
        for name, seconds in run.slowest:
            print(f"{seconds:>8.2f}  {name}")

    if args.settle_s:
        say(f"Letting the stack settle for {args.settle_s:.0f} s before reading its memory")
        time.sleep(args.settle_s)
    memory = read_memory(args.target)
    print()
    print(f"Idle memory of the stack in {args.target} (docker stats --no-stream)")
    print_table(memory)
    print(images_note(memory))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="evolution-bench", help="container the bench creates")
    parser.add_argument("--noop-runs", type=int, default=3, help="no-op re-converges (median)")
    parser.add_argument("--settle-s", type=float, default=30, help="idle wait before docker stats")
    parser.add_argument("--keep", action="store_true", help="leave the target in place")
    args = parser.parse_args()
    if args.noop_runs < 1:
        parser.error("--noop-runs must be at least 1")
    if args.target == HOST:
        raise SystemExit(f"--target {HOST} is the user's target; the bench makes its own")
    if docker_has("container", args.target) or docker_has("volume", f"{args.target}-docker"):
        raise SystemExit(
            f"the container {args.target} or the volume {args.target}-docker exists already "
            f"(left by an earlier run?). The bench only removes what it creates: remove them "
            f"with `docker rm -f -v {args.target}; docker volume rm {args.target}-docker`, or "
            f"pass another --target."
        )
    LOGS.mkdir(parents=True, exist_ok=True)
    say(f"Python {platform.python_version()}, logs in {LOGS.relative_to(REPO)}/")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-converge-") as tmp:
            bench(args, Path(tmp))
    finally:
        if args.keep:
            say(
                f"Left {args.target} in place (--keep); remove it with "
                f"docker rm -f -v {args.target}; docker volume rm {args.target}-docker"
            )
        else:
            remove_target(args.target)


if __name__ == "__main__":
    main()
