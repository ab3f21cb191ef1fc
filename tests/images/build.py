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
import inspect
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
    if parent_ref is None:
        # The base image's inputs are the recipe below, not the rest of this file.
        for part in (DPKG_EXCLUDES, inspect.getsource(slim), inspect.getsource(build_base)):
            digest.update(part.encode())
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(REPO)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


# Documentation, manual pages and translations are of no use in a test image, and leaving them
# out of every later apt-get install keeps the image tars that molecule loads small.
DPKG_EXCLUDES = """\
path-exclude=/usr/share/doc/*
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
path-exclude=/usr/share/locale/*
path-include=/usr/share/locale/locale.alias
"""


def slim(root: Path) -> None:
    (root / "etc/dpkg/dpkg.cfg.d/01-test-image-slim").write_text(DPKG_EXCLUDES)
    for pattern in (
        "var/cache/apt/archives/*.deb",
        "var/lib/apt/lists/*_*",
        "usr/share/doc/*",
        "usr/share/man/*",
        "usr/share/info/*",
    ):
        for path in root.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    for path in (root / "usr/share/locale").glob("*"):
        if path.name != "locale.alias":
            shutil.rmtree(path) if path.is_dir() else path.unlink()


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
        slim(Path(root))
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
            # The legacy builder works offline with local base images; its notice that it is
            # deprecated is noise here, so the output is shown only when the build fails.
            build_log = subprocess.run(
                [
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
                ],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "DOCKER_BUILDKIT": "0"},
            )
            if build_log.returncode != 0:
                sys.exit(f"building {ref} failed:\n{build_log.stdout}{build_log.stderr}")
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
    # Written aside and renamed, so a concurrent reader never sees half a tar.
    partial = directory / f".{name}.tar.{os.getpid()}"
    run("docker", "save", "--output", str(partial), ref, f"{PREFIX}/{name}:current")
    os.replace(partial, tar)
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
