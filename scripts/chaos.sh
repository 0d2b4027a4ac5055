#!/usr/bin/env bash
# The long loops that npm test has no time for (npm run test:chaos):
#   - the service outage test (Postgres, RabbitMQ, Temporal down and back) 10 times in a row,
#   - the worker-kill test with 10 kills, the bad-input corpus with a 2-hour audio file,
#   - the 3-hour history test of chunked encoding,
#   - 200 viewers for 60 s (npm test has them for 20 s),
#   - test/chaos: a rolling upgrade from an earlier release while media encode.
# Prints how many of the outage runs passed; exits non-zero if any run failed.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
runs="${CHAOS_OUTAGE_RUNS:-10}"
passed=0
for i in $(seq "$runs"); do
  echo "chaos: outage test, run $i of $runs"
  if bash scripts/test.sh test/e2e/fault-services.test.ts; then passed=$((passed + 1)); fi
done
echo "chaos: outage test passed $passed of $runs"
CHAOS_LOOPS=10 CORPUS_LONG_AUDIO_SECONDS=7200 HISTORY_HOURS=3 \
  bash scripts/test.sh test/e2e/fault-worker-kill test/e2e/bad-input test/workflow/chunked
rc=$?
VIEWERS_SECONDS=60 bash scripts/test.sh test/e2e/viewers || rc=1
GILFOYLE_CHAOS_TESTS=1 bash scripts/test.sh test/chaos || rc=1
[ "$passed" -eq "$runs" ] && exit "$rc"
exit 1
