#!/usr/bin/env bash
# One command to a running Gilfoyle: installs what is missing (npm dependencies included),
# starts PostgreSQL, RabbitMQ and Temporal, migrates the database, then runs the API, the
# bridge and the worker in this process (node bin/gilfoyle.js all).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Node.js 24 first on PATH (installed into .tools/node when the machine's is older).
source scripts/node.sh

SKIP_NPM_INSTALL="${SKIP_NPM_INSTALL:-0}" bash scripts/install.sh
SKIP_NPM_INSTALL=1 bash scripts/services.sh
npm run --silent build
node dist/cli/main.js migrate
exec node dist/cli/main.js all
