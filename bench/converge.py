#!/usr/bin/env python3
"""Time a fresh converge and a no-op re-converge of site.yml against a facts-only play.

Creates a new local target container (default evolution-bench, never the user's
evolution-local) with scripts/converge's own functions, then, in this one run and on that one
target, times with ansible-playbook and inventory/local.yml:

1. a bare play that only gathers facts, on the fresh target (median of --facts-runs);
2. site.yml on the fresh target (the fresh converge);
3. the facts-only play again, on the converged target (median of --facts-runs);
4. site.yml again (the no-op re-converge; median of --noop-runs).

Each converge is divided by the facts-only time of the target in the same state (1 for the
fresh converge, 3 for the no-op). The changed count is the sum of changed= in the play recap.
Then prints the stack's idle memory per container against its limit (bench/stack_memory.py)
and removes the target it created (--keep leaves it). Logs go to .cache/bench/.

Creating the container and booting its systemd are not timed: that is the VM's part. The fresh
converge includes apt installing Docker from Debian's archive and, without a registry, loading
the stand-in images from tar files into the target's engine instead of pulling them.

    source scripts/lib.sh && ensure_venv
    .venv/bin/python bench/converge.py [--target evolution-bench] [--facts-runs 3] [--keep]
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


def timed(label, playbook, extra, runs, log_name):
    """The runs' median wall time, and the last run (for its recap and slowest tasks)."""
    times = []
    for index in range(runs):
        run = run_playbook(playbook, extra, f"{log_name}-{index + 1}")
        say(f"{label}, run {index + 1}/{runs}: {run.wall_s:.2f} s, changed={run.changed}")
        times.append(run.wall_s)
    return statistics.median(times), run


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

    rows = []
    facts_fresh, run = timed(
        "facts-only, fresh target", facts_play, extra, args.facts_runs, "facts-fresh"
    )
    rows.append(("facts-only play, fresh target", facts_fresh, facts_fresh, run))
    fresh_s, fresh = timed("fresh converge", site, extra, 1, "converge-fresh")
    rows.append(("fresh converge of site.yml", fresh_s, facts_fresh, fresh))
    facts_done, run = timed(
        "facts-only, converged target", facts_play, extra, args.facts_runs, "facts-converged"
    )
    rows.append(("facts-only play, converged", facts_done, facts_done, run))
    noop_s, noop = timed("no-op re-converge", site, extra, args.noop_runs, "converge-noop")
    rows.append(("no-op re-converge of site.yml", noop_s, facts_done, noop))

    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(
        f"site.yml at {tree_state()} on a fresh local target ({args.target}), {when}, "
        f"{os.cpu_count()} CPUs, load average {load} at the end"
    )
    print(
        f"(creating and booting the target, not timed: {boot_s:.1f} s; facts-only: median of "
        f"{args.facts_runs}, no-op: median of {args.noop_runs})"
    )
    print(f"{'phase':<32} {'wall s':>8} {'x facts-only':>13} {'changed':>8} {'tasks':>6}")
    for phase, wall_s, baseline_s, run in rows:
        print(
            f"{phase:<32} {wall_s:>8.2f} {wall_s / baseline_s:>13.2f} {run.changed:>8} "
            f"{run.tasks:>6}"
        )

    for title, run in (("fresh converge", fresh), ("no-op re-converge (last run)", noop)):
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
    parser.add_argument("--facts-runs", type=int, default=3, help="facts-only runs (median)")
    parser.add_argument("--noop-runs", type=int, default=3, help="no-op converges (median)")
    parser.add_argument("--settle-s", type=float, default=30, help="idle wait before docker stats")
    parser.add_argument("--keep", action="store_true", help="leave the target in place")
    args = parser.parse_args()
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
