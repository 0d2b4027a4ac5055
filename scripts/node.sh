#!/usr/bin/env bash
# Gilfoyle runs on Node.js 24 (LTS). This script makes sure one is at hand:
#   source scripts/node.sh        puts a Node 24 first on PATH (for the caller and its children)
#   bash scripts/node.sh ARGS     runs `node ARGS` on it
# When the machine's node is older (or missing), Node $GILFOYLE_NODE_VERSION is installed once from
# the npm registry's node-linux-<arch> package into .tools/node (git-ignored): the same registry
# the dependencies come from, so no other download site is needed. npm itself is the machine's
# (it runs on whichever node comes first on PATH).
GILFOYLE_NODE_VERSION=24.22.3
_gilfoyle_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_gilfoyle_node_ok() { # the node on PATH is 24 or newer
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" || return 1
  [ "${major:-0}" -ge 24 ]
}

_gilfoyle_install_node() {
  local dir="$_gilfoyle_root/.tools/node" arch pkg tmp
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "node: no Node.js 24 package for $(uname -m): install Node.js 24 by hand" >&2; return 1 ;;
  esac
  pkg="node-linux-$arch@$GILFOYLE_NODE_VERSION"
  if [ -x "$dir/bin/node" ] && [ "$("$dir/bin/node" --version)" = "v$GILFOYLE_NODE_VERSION" ]; then return 0; fi
  command -v npm >/dev/null 2>&1 || { echo "node: npm not found: install Node.js (24 or newer) with npm first" >&2; return 1; }
  echo "node: installing Node.js $GILFOYLE_NODE_VERSION ($pkg from the npm registry) into .tools/node" >&2
  tmp="$(mktemp -d)"
  if ! (cd "$tmp" && npm pack --silent "$pkg" >/dev/null && tar xzf ./*.tgz); then
    rm -rf "$tmp"
    echo "node: could not fetch $pkg" >&2
    return 1
  fi
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  mv "$tmp/package" "$dir"
  rm -rf "$tmp"
  "$dir/bin/node" --version >/dev/null || { echo "node: the installed node does not run" >&2; return 1; }
}

if ! _gilfoyle_node_ok; then
  _gilfoyle_install_node && export PATH="$_gilfoyle_root/.tools/node/bin:$PATH"
  if ! _gilfoyle_node_ok; then
    echo "node: Node.js 24 or newer is needed (found $(node --version 2>/dev/null || echo none))" >&2
    return 1 2>/dev/null || exit 1
  fi
fi

# Executed rather than sourced: run node with the arguments.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  exec node "$@"
fi
