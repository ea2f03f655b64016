#!/usr/bin/env bash
# Configures and builds everything (library, alembic-sidecar, test binaries) into ./build;
# BUILD_TARGETS="alembic-sidecar" builds only those targets (what demo.sh runs).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
# ccache, when the machine has it, makes rebuilds in other build dirs or worktrees cheap; CI
# does not install it and builds the same way without it.
LAUNCHER=()
if command -v ccache >/dev/null 2>&1 && [ -z "${NO_CCACHE:-}" ]; then
  export CCACHE_BASEDIR="$PWD"
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
# CMAKE_ARGS passes extra options, e.g. CMAKE_ARGS="-DALEMBIC_SIDECAR_TESTS=OFF" (the Dockerfile).
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  "${LAUNCHER[@]}" ${CMAKE_ARGS:-} >/dev/null
# shellcheck disable=SC2086
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}" ${BUILD_TARGETS:+--target $BUILD_TARGETS}
