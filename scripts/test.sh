#!/usr/bin/env bash
# Runs every test tier of Hangar:
#   1. cargo test --workspace: unit, integration and end-to-end tests (real
#      processes, sockets, SQLite, namespaces, cgroups; run as root for the
#      isolation tiers, which otherwise print SKIPPED loudly);
#   2. the API conformance tier: schemathesis against `hangar dev` with Fly's
#      Machines API spec from ../shared/conformance (skipped loudly if absent).
# Ends with one line "hangar tests: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT

cargo test --workspace --all-targets --no-fail-fast 2>&1 | tee "$LOG"
CARGO_STATUS=${PIPESTATUS[0]}
cargo test --workspace --doc --no-fail-fast 2>&1 | tee -a "$LOG"
DOC_STATUS=${PIPESTATUS[0]}

CONFORMANCE_STATUS=0
if [[ -f ../shared/conformance/fly-machines-openapi.yaml ]] && ! command -v st >/dev/null; then
  echo "SKIPPED api-conformance: schemathesis is not installed (pip install schemathesis)"
else
  bash tests/api-conformance/run.sh
  CONFORMANCE_STATUS=$?
fi

passed=$(grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$LOG" | awk '{s+=$4} END {print s+0}')
failed=$(grep -oE '[0-9]+ failed;' "$LOG" | awk '{s+=$1} END {print s+0}')
if [[ $CONFORMANCE_STATUS -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
if [[ $CARGO_STATUS -ne 0 || $DOC_STATUS -ne 0 ]] && [[ $failed -eq 0 ]]; then failed=1; fi
echo "hangar tests: ${passed} passed, ${failed} failed"
[[ $CARGO_STATUS -eq 0 && $DOC_STATUS -eq 0 && $CONFORMANCE_STATUS -eq 0 ]]
