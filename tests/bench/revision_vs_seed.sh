#!/usr/bin/env bash
# Benchmark: `alembic-sidecar revision` against the bare five-command sequence a developer
# would type (alembic upgrade head; revision --autogenerate; upgrade head; downgrade -1;
# upgrade head) on the same app, the same model change and the same PostgreSQL server, in
# one script run. The two are interleaved (seed, sidecar, seed, sidecar, ...) so that load
# on the machine hits both alike; medians of N runs each, and their ratio.
#
# Usage: tests/bench/revision_vs_seed.sh [iterations] [app]
#   iterations  default 7 (at least 7 for the README's numbers)
#   app         example_app (async SQLModel, default) or sync_app (stock env.py, psycopg2)
# Needs ./scripts/build.sh. Wall time via date +%s%3N; CPU (user+sys of the whole process
# tree) via /proc/self/stat's children fields, read by python3 around each run.
set -euo pipefail
cd "$(dirname "$0")/../.."
ITERATIONS="${1:-7}"
APP="${2:-example_app}"
BIN="$PWD/${BUILD_DIR:-build}/alembic-sidecar"
[ -x "$BIN" ] || { echo "build first: ./scripts/build.sh" >&2; exit 2; }
export PATH="$PWD/.tools/bin:$PATH"

case "$APP" in
  example_app) CHANGE=user_add_phone SCHEME=postgresql+asyncpg ;;
  sync_app) CHANGE=sync_product_add_sku SCHEME=postgresql+psycopg2 ;;
  *) echo "unknown app $APP (example_app or sync_app)" >&2; exit 2 ;;
esac

work="$(mktemp -d /tmp/alembic-sidecar-bench-XXXXXX)"
trap '"$BIN" postgres stop --dir "$work/pg" --remove >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$BIN" postgres start --dir "$work/pg" --database bench >/dev/null
url="$("$BIN" postgres status --dir "$work/pg" --json --show-url | python3 -c 'import json,sys; print(json.load(sys.stdin)["url"])')"
url="${url/postgresql:\/\//$SCHEME://}"
psql_url="${url/$SCHEME/postgresql}"

cp -r "tests/fixtures/$APP" "$work/app"
cp -r "tests/fixtures/changes/$CHANGE/." "$work/app/"
versions="$work/app/migrations/versions"

# Runs argv, prints "wall_ms cpu_ms" (CPU of every process the command started, reaped).
measure() {
  python3 - "$@" <<'PY'
import os, subprocess, sys, time
t0 = time.monotonic(); c0 = os.times()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
t1 = time.monotonic(); c1 = os.times()
cpu = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
print(int((t1 - t0) * 1000), int(cpu * 1000))
PY
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

seed_wall=(); seed_cpu=(); car_wall=(); car_cpu=()
for i in $(seq 1 "$ITERATIONS"); do
  # Seed: the five alembic commands on a fresh database (creating it is not timed).
  db="seed_$i"
  psql -q "${psql_url%/*}/postgres" -c "CREATE DATABASE $db" >/dev/null
  seed_url="${url%/*}/$db"
  if [ "$APP" = sync_app ]; then
    # The stock env.py reads sqlalchemy.url from alembic.ini.
    sed -i "s#^sqlalchemy.url = .*#sqlalchemy.url = $seed_url#" "$work/app/alembic.ini"
  fi
  read -r wall cpu < <(cd "$work/app" && DATABASE_URL="$seed_url" measure bash -c \
    'alembic upgrade head && alembic revision --autogenerate -m "bench change" && alembic upgrade head && alembic downgrade -1 && alembic upgrade head')
  seed_wall+=("$wall"); seed_cpu+=("$cpu")
  find "$versions" -name '*bench_change*' -delete

  # alembic-sidecar: the whole pipeline (probe, model check, scratch database, fingerprints,
  # validation, lint, round trip, cleanup) against the server's bench database.
  read -r wall cpu < <(measure "$BIN" revision -m "bench change" --project "$work/app" \
    --database-url "$url" --json)
  car_wall+=("$wall"); car_cpu+=("$cpu")
  find "$versions" -name '*bench_change*' -delete
done

sw=$(printf '%s\n' "${seed_wall[@]}" | median); sc=$(printf '%s\n' "${seed_cpu[@]}" | median)
cw=$(printf '%s\n' "${car_wall[@]}" | median); cc=$(printf '%s\n' "${car_cpu[@]}" | median)
echo "app:                   $APP ($ITERATIONS interleaved pairs)"
echo "seed 5 commands:       wall median ${sw} ms, cpu median ${sc} ms   (wall runs: ${seed_wall[*]})"
echo "alembic-sidecar:       wall median ${cw} ms, cpu median ${cc} ms   (wall runs: ${car_wall[*]})"
awk -v a="$cw" -v b="$sw" -v c="$cc" -v d="$sc" \
  'BEGIN { printf "ratio sidecar/seed:    wall %.2fx, cpu %.2fx\n", a / b, c / d }'
