#!/usr/bin/env bash
# Benchmark: `alembic-sidecar revision` against the seed's bare five-command sequence
# (alembic upgrade head; revision --autogenerate; upgrade head; downgrade -1; upgrade head)
# on the same example app, the same model change and the same PostgreSQL server, in one
# script run. Prints the median wall time of each and the ratio sidecar / seed.
#
# Usage: tests/bench/revision_vs_seed.sh [iterations]   (default 7; needs ./scripts/build.sh)
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
psql_url="${url/postgresql+asyncpg/postgresql}"

cp -r tests/fixtures/example_app "$work/app"
cp -r tests/fixtures/changes/user_add_phone/. "$work/app/"
versions="$work/app/migrations/versions"

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

seed_times=()
sidecar_times=()
for i in $(seq 1 "$ITERATIONS"); do
  # Seed: the five alembic commands on a fresh database (creating it is not timed).
  db="seed_$i"
  psql -q "${psql_url%/*}/postgres" -c "CREATE DATABASE $db" >/dev/null
  export DATABASE_URL="${url%/*}/$db"
  start=$(now_ms)
  (cd "$work/app" && alembic upgrade head && alembic revision --autogenerate -m "add user phone" \
     && alembic upgrade head && alembic downgrade -1 && alembic upgrade head) >/dev/null 2>&1
  seed_times+=($(( $(now_ms) - start )))
  unset DATABASE_URL
  find "$versions" -name '*add_user_phone*' -delete

  # alembic-sidecar: the whole pipeline (probe, model check, scratch database, fingerprints,
  # validation, round trip, cleanup) against the server's bench database.
  start=$(now_ms)
  "$BIN" revision -m "add user phone" --project "$work/app" --database-url "$url" --json >/dev/null 2>&1
  sidecar_times+=($(( $(now_ms) - start )))
  find "$versions" -name '*add_user_phone*' -delete
done

seed=$(printf '%s\n' "${seed_times[@]}" | median)
sidecar=$(printf '%s\n' "${sidecar_times[@]}" | median)
echo "iterations:            $ITERATIONS"
echo "seed 5 commands:       median ${seed} ms   (runs: ${seed_times[*]})"
echo "alembic-sidecar:       median ${sidecar} ms   (runs: ${sidecar_times[*]})"
awk -v a="$sidecar" -v b="$seed" 'BEGIN { printf "ratio sidecar/seed:    %.2fx\n", a / b }'
