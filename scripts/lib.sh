# shellcheck shell=bash
# shellcheck disable=SC2034  # COLLECTION_DIR and SYSTEM_PACKAGES are for the scripts that source this
# Shared steps of scripts/converge, scripts/test and .ci/run: each one checks first and only
# creates what is missing (Debian packages, the virtual environment, a Docker engine, the
# locally built test images), and says what it is doing.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${EVOLUTION_VENV:-$REPO_ROOT/.venv}"
CACHE_DIR="$REPO_ROOT/.cache"
COLLECTION_DIR="$REPO_ROOT/collections/ansible_collections/srcardoso/evolution"
PYTHON="${EVOLUTION_PYTHON:-python3}"
export ANSIBLE_CONFIG="$REPO_ROOT/ansible.cfg"
mkdir -p "$CACHE_DIR"

say() { printf '\n==> %s\n' "$*" >&2; }
die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }

# Debian packages the scripts need: the Docker engine from Debian (docker.io), debootstrap to
# make the base image of the test images, python3-venv for the virtual environment, git for
# ansible-test, openssl for the fake cloud API's CA, PostgreSQL and Redis servers for pytest,
# and the linter of the scripts (shellcheck).
SYSTEM_PACKAGES=(docker.io debootstrap python3-venv ca-certificates git openssl postgresql redis-server
  shellcheck)

ensure_system_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${missing[*]}. Install them with: sudo apt-get install -y ${missing[*]}"
  fi
  say "Installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_venv() {
  local stamp="$VENV/.requirements.sha256" want
  want="$(sha256sum "$REPO_ROOT/requirements.txt" | cut -d' ' -f1)"
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    export PATH="$VENV/bin:$PATH"
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    say "Creating the virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  say "Installing Python packages from requirements.txt into $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
  "$VENV/bin/python" -m pip install -q -r "$REPO_ROOT/requirements.txt" 2>&1 \
    | grep -v '^WARNING: Location' || true
  "$VENV/bin/python" -m pip check >/dev/null || die "pip check failed in $VENV"
  echo "$want" >"$stamp"
  export PATH="$VENV/bin:$PATH"
}

docker_answers() { docker info >/dev/null 2>&1; }

# Starts dockerd when no engine answers. Sets DOCKERD_STARTED_PID so that the caller can stop
# only what it started.
DOCKERD_STARTED_PID=""
ensure_docker() {
  ensure_system_packages docker.io
  if docker_answers; then
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "no Docker engine answers; start one (sudo systemctl start docker) and run again"
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    say "Starting the Docker engine with systemd"
    systemctl start docker || true
  fi
  if ! docker_answers; then
    say "Starting dockerd in the background (log: $CACHE_DIR/dockerd.log)"
    nohup dockerd >"$CACHE_DIR/dockerd.log" 2>&1 &
    DOCKERD_STARTED_PID=$!
    echo "$DOCKERD_STARTED_PID" >"$CACHE_DIR/dockerd.pid"
  fi

  for _ in $(seq 1 60); do
    docker_answers && return 0
    sleep 1
  done
  die "the Docker engine did not answer within 60 s; see $CACHE_DIR/dockerd.log"
}

ensure_images() {
  say "Building the local test images (skipped when their inputs are unchanged)"
  "$VENV/bin/python" "$REPO_ROOT/tests/images/build.py" "$@"
}
