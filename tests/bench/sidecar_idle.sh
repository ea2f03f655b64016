#!/usr/bin/env bash
# Measures an idle `alembic-sidecar sidecar`: resident memory and threads once it has listed
# and is watching MigrationRuns (against the project's test API server with the real CRD),
# sampled N times a second apart after a settle time; prints the median and the range.
#
# Usage: tests/bench/sidecar_idle.sh [samples]   (default 7; needs ./scripts/build.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
SAMPLES="${1:-7}"
BIN="$PWD/${BUILD_DIR:-build}/alembic-sidecar"
[ -x "$BIN" ] || { echo "build first: ./scripts/build.sh" >&2; exit 2; }

work="$(mktemp -d /tmp/alembic-sidecar-idle-XXXXXX)"
server_pid=""; sidecar_pid=""
cleanup() {
  [ -n "$sidecar_pid" ] && kill "$sidecar_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

/usr/bin/python3 tests/kube_api_server/server.py --state-dir "$work/api" \
  --crd manifests/crd/migrationruns.yaml > "$work/server.json" 2> "$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do [ -s "$work/server.json" ] && break; sleep 0.1; done
[ -s "$work/server.json" ] || { echo "test API server did not start" >&2; cat "$work/server.log" >&2; exit 1; }

"$BIN" sidecar --kubeconfig "$work/api/kubeconfig" --namespace bench --port 0 \
  > "$work/sidecar.log" 2>&1 &
sidecar_pid=$!
sleep 3  # list, watch, probes up

rss=(); threads=()
for _ in $(seq 1 "$SAMPLES"); do
  rss+=("$(awk '/^VmRSS:/ {print $2}' "/proc/$sidecar_pid/status")")
  threads+=("$(awk '/^Threads:/ {print $2}' "/proc/$sidecar_pid/status")")
  sleep 1
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "idle sidecar RSS:      median $(printf '%s\n' "${rss[@]}" | median) KiB   (samples: ${rss[*]})"
echo "idle sidecar threads:  median $(printf '%s\n' "${threads[@]}" | median)   (samples: ${threads[*]})"
