#!/usr/bin/env bash
# The first README command: install, build, start a throwaway PostgreSQL, and run
# `alembic-sidecar revision` on a copy of the bundled example app that has a pending model
# change (a new `phone` column on `user`). Prints the report; leaves nothing behind.
# It builds only the binary it runs (no test binaries), so the first report comes after one
# compile of the tool, not of the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
BUILD_TARGETS=alembic-sidecar ./scripts/build.sh
export PATH="$PWD/.tools/bin:$PATH"
BIN="$PWD/${BUILD_DIR:-build}/alembic-sidecar"

work="$(mktemp -d /tmp/alembic-sidecar-demo-XXXXXX)"
cleanup() {
  "$BIN" postgres stop --dir "$work/postgres" --remove >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cp -r tests/fixtures/example_app "$work/app"
cp -r tests/fixtures/changes/user_add_phone/. "$work/app/"
echo "== Example app copied to $work/app; pending change: User.phone (see tests/fixtures/changes)"
echo "== Running: alembic-sidecar revision -m \"add user phone\" (throwaway PostgreSQL in $work/postgres)"
echo
set +e
(cd "$work/app" && ALEMBIC_SIDECAR_LOCAL_PG_DIR="$work/postgres" "$BIN" revision -m "add user phone")
status=$?
set -e
echo
echo "== Exit code $status (0 Succeeded, 1 Failed, 3 Escalated). The generated file:"
find "$work/app/migrations/versions" -name '*add_user_phone*.py' -exec cat {} \;
exit "$status"
