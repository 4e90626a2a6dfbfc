#!/usr/bin/env bash
# API conformance tier: runs schemathesis (PyPI) against `hangar dev` with
# Fly's Machines API spec. Passes when no request gets a 5xx and every
# response matches the spec's schema (deviations: docs/api-deviations.md).
#
#   bash tests/api-conformance/run.sh        (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
SPEC="${HANGAR_FLY_SPEC:-../shared/conformance/fly-machines-openapi.yaml}"
if [[ ! -f "$SPEC" ]]; then
  echo "SKIPPED api-conformance: $SPEC not found (it lives in ../shared/conformance beside the project)"
  exit 0
fi
if ! command -v st >/dev/null; then
  echo "api-conformance: schemathesis is not installed: pip install schemathesis" >&2
  exit 1
fi
BIN="${HANGAR_BIN:-target/debug/hangar}"
[[ -x "$BIN" ]] || cargo build -p hangar
DATA="$(mktemp -d)"
LOG="$DATA/dev.log"
cleanup() {
  [[ -n "${DEV_PID:-}" ]] && kill "$DEV_PID" 2>/dev/null && wait "$DEV_PID" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
"$BIN" dev --data-dir "$DATA/hangar" --api-listen 127.0.0.1:0 --proxy-listen 127.0.0.1:0 --proxy-metrics-listen 127.0.0.1:0 --proxy-tls-listen 127.0.0.1:0 --region conformance --example \
  --allowed-image-sources oci,oci-archive,docker-archive >"$LOG" 2>&1 &
DEV_PID=$!
for _ in $(seq 1 600); do
  grep -q "The example app" "$LOG" && break
  kill -0 "$DEV_PID" 2>/dev/null || { cat "$LOG"; echo "api-conformance: hangar dev exited" >&2; exit 1; }
  sleep 0.5
done
grep -q "The example app" "$LOG" || { cat "$LOG"; echo "api-conformance: the example app did not start in time" >&2; exit 1; }
export HANGAR_API_URL HANGAR_API_TOKEN HANGAR_APP=hello HANGAR_MACHINE HANGAR_VOLUME
HANGAR_API_URL="$(cat "$DATA/hangar/api-url")"
HANGAR_API_TOKEN="$(cat "$DATA/hangar/token")"
api() { curl -sf -H "Authorization: Bearer $HANGAR_API_TOKEN" "$HANGAR_API_URL/v1$1"; }
HANGAR_MACHINE="$(api /apps/hello/machines | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
HANGAR_VOLUME="$(api /apps/hello/volumes | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')"
echo "api-conformance: hangar dev at $HANGAR_API_URL, machine $HANGAR_MACHINE, volume $HANGAR_VOLUME"
set +e
st --config-file tests/api-conformance/schemathesis.toml run "$SPEC" --phases examples,coverage,fuzzing --no-color
STATUS=$?
set -e
if grep -q "panicked" "$LOG"; then
  echo "api-conformance: hangar dev panicked:" >&2
  grep -A5 panicked "$LOG" >&2
  STATUS=1
fi
exit $STATUS
