#!/usr/bin/env python3
"""Build the local test images, never pulling anything from a registry.

Every image is tagged ``srcardoso-test/<name>:<hash>``, where the hash covers all of its inputs
(and its parent's tag), and also ``srcardoso-test/<name>:current``. An image whose hash tag
already exists is not built again, so a second test run rebuilds nothing.

The base image comes from ``debootstrap`` (Debian 13, minbase) and ``docker import``; the other
images are Dockerfiles ``FROM`` it that install Debian packages. ``--save DIR`` also writes each
image that a molecule target loads into its inner engine as ``DIR/<name>.tar``.

Usage: build.py [--save DIR] [NAME ...]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
REPO = TESTS.parent
PREFIX = "srcardoso-test"
MIRROR = os.environ.get("EVOLUTION_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "trixie"

# name: (parent, build context, hashed inputs). The base image has no Dockerfile.
IMAGES: dict[str, tuple[str | None, Path | None, tuple[Path, ...]]] = {
    "debian-trixie": (None, None, ()),
    "vm-trixie": ("debian-trixie", HERE / "vm-trixie", (HERE / "vm-trixie",)),
    "postgres": ("debian-trixie", HERE / "postgres", (HERE / "postgres",)),
    "redis": ("debian-trixie", HERE / "redis", (HERE / "redis",)),
    "evolution-double": (
        "debian-trixie",
        TESTS,
        (HERE / "evolution-double", TESTS / "evolution_double"),
    ),
}
# The images a molecule target loads into its own Docker engine.
STACK_IMAGES = ("postgres", "redis", "evolution-double")


def say(text: str) -> None:
    print(f"    {text}", file=sys.stderr, flush=True)


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, **kwargs)


def image_exists(ref: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", ref], capture_output=True, check=False
        ).returncode
        == 0
    )


def inputs_hash(name: str, parent_ref: str | None, paths: tuple[Path, ...]) -> str:
    digest = hashlib.sha256(f"{name}\0{parent_ref}\0{SUITE}\0{MIRROR}\n".encode())
    if name == "debian-trixie":
        digest.update(Path(__file__).read_bytes())
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(REPO)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def build_base(ref: str) -> None:
    if shutil.which("debootstrap") is None:
        sys.exit("debootstrap is missing: apt-get install -y debootstrap")
    with tempfile.TemporaryDirectory(prefix="debootstrap-") as root:
        say(f"debootstrap --variant=minbase {SUITE} ({MIRROR})")
        run(
            "debootstrap",
            "--variant=minbase",
            SUITE,
            root,
            MIRROR,
            stdout=subprocess.DEVNULL,
        )
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        run("docker", "import", "-", ref, stdin=tar.stdout, stdout=subprocess.DEVNULL)
        if tar.wait() != 0:
            sys.exit("tar of the debootstrap tree failed")


def build(name: str, refs: dict[str, str]) -> str:
    if name in refs:
        return refs[name]
    parent, context, paths = IMAGES[name]
    parent_ref = build(parent, refs) if parent else None
    ref = f"{PREFIX}/{name}:{inputs_hash(name, parent_ref, paths)}"
    if image_exists(ref):
        say(f"{ref} is up to date")
    else:
        say(f"building {ref}")
        if parent is None:
            build_base(ref)
        else:
            dockerfile = HERE / name / "Dockerfile"
            run(
                "docker",
                "build",
                "--quiet",
                "--build-arg",
                f"BASE={parent_ref}",
                "--file",
                str(dockerfile),
                "--tag",
                ref,
                str(context),
                stdout=subprocess.DEVNULL,
                env={**os.environ, "DOCKER_BUILDKIT": "0"},
            )
    run("docker", "tag", ref, f"{PREFIX}/{name}:current")
    refs[name] = ref
    return ref


def save(name: str, ref: str, directory: Path) -> None:
    """Write ``<name>.tar`` holding the ``current`` tag, unless it already holds this build."""
    directory.mkdir(parents=True, exist_ok=True)
    tar, stamp = directory / f"{name}.tar", directory / f"{name}.tar.ref"
    if tar.exists() and stamp.exists() and stamp.read_text() == ref:
        return
    say(f"saving {ref} to {tar}")
    run("docker", "save", "--output", str(tar), f"{PREFIX}/{name}:current")
    stamp.write_text(ref)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path, help="write the stack images as tar files here")
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(IMAGES))
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(IMAGES))
    if unknown:
        parser.error(f"unknown image {', '.join(unknown)}; choose from {', '.join(IMAGES)}")
    refs: dict[str, str] = {}
    for name in args.names or IMAGES:
        build(name, refs)
    if args.save:
        for name in STACK_IMAGES:
            if name in refs:
                save(name, refs[name], args.save)
    return 0


if __name__ == "__main__":
    sys.exit(main())
