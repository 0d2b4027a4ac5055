#!/usr/bin/env bash
# Runs the test suite: starts the services (scripts/services.sh), then jest in native ESM mode.
# Arguments go to jest (e.g. scripts/test.sh test/unit -t probe). Results: .data/jest-results.json.
# --runInBand: 2 cores, and the tests share the services.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Node.js 24 first on PATH (installed into .tools/node when the machine's is older).
source scripts/node.sh

INSTALL_TEST_TOOLS=1 bash scripts/services.sh

mkdir -p .data
rm -f .data/jest-results.json   # never report a previous run's results
exec node --experimental-vm-modules node_modules/jest/bin/jest.js \
  --runInBand --json --outputFile=.data/jest-results.json "$@"
