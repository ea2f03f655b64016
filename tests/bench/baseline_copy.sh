#!/usr/bin/env bash
# Benchmark: what a baseline costs (docs/baselines.md). `alembic-sidecar check` on the same
# app, the same live database (migrated to head, with rows) and the same PostgreSQL server,
# with --baseline history (upgrade head from empty: the reference), auto (the same plus its
# two catalog reads of the live database) and live-schema (the copy of the live schema,
# verified against its fingerprint). Interleaved (history, auto, live-schema, history, ...)
# so load hits all three alike; medians of N runs each, and their ratios to history.
#
# Usage: tests/bench/baseline_copy.sh [iterations]
#   iterations  default 7
# Needs ./scripts/build.sh. Wall time of the whole command via python3's monotonic clock.
set -euo pipefail
cd "$(dirname "$0")/../.."
ITERATIONS="${1:-7}"
BIN="$PWD/${BUILD_DIR:-build}/alembic-sidecar"
[ -x "$BIN" ] || { echo "build first: ./scripts/build.sh" >&2; exit 2; }
export PATH="$PWD/.tools/bin:$PATH"

work="$(mktemp -d /tmp/alembic-sidecar-bench-XXXXXX)"
trap '"$BIN" postgres stop --dir "$work/pg" --remove >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$BIN" postgres start --dir "$work/pg" --database bench >/dev/null
url="$("$BIN" postgres status --dir "$work/pg" --json --show-url | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')"
url="${url/postgresql:\/\//postgresql+asyncpg://}"
psql_url="${url/postgresql+asyncpg/postgresql}"

cp -r tests/fixtures/example_app "$work/app"
(cd "$work/app" && DATABASE_URL="$url" alembic upgrade head >/dev/null 2>&1)
psql -q "$psql_url" -c "INSERT INTO team (name, headquarters) VALUES ('core', 'Lyon')" >/dev/null

wall() {
  python3 - "$@" <<'PY'
import subprocess, sys, time
t0 = time.monotonic()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
if code != 0:
    sys.exit("check failed with exit code %d: %s" % (code, " ".join(sys.argv[1:])))
print(int((time.monotonic() - t0) * 1000))
PY
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

declare -A runs
for i in $(seq 1 "$ITERATIONS"); do
  for b in history auto live-schema; do
    ms=$(wall "$BIN" check --project "$work/app" --database-url "$url" --baseline "$b" --json)
    runs[$b]+="$ms "
  done
done

h=$(printf '%s\n' ${runs[history]} | median)
echo "app: example_app, live database at head with rows ($ITERATIONS interleaved triples)"
for b in history auto live-schema; do
  m=$(printf '%s\n' ${runs[$b]} | median)
  awk -v b="$b" -v m="$m" -v h="$h" -v r="${runs[$b]}" \
    'BEGIN { printf "check --baseline %-12s wall median %6d ms  ratio to history %.2fx  (runs: %s)\n", b, m, m / h, r }'
done
