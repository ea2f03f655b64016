#!/usr/bin/env bash
# The second README command, and what CI runs (.ci/run): install, build, run every test
# (unit, integration on a real PostgreSQL + Debian's alembic, e2e on the test API server).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
export PATH="$PWD/.tools/bin:$PATH"
cd "${BUILD_DIR:-build}"
ctest -j "${JOBS:-$(nproc)}" --output-on-failure --timeout 900 "$@"
