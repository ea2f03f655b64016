#!/usr/bin/env bash
# Configures and builds everything (library, alembic-sidecar, test binaries) into ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${BUILD_DIR:-build}"
# CMAKE_ARGS passes extra options, e.g. CMAKE_ARGS="-DALEMBIC_SIDECAR_TESTS=OFF" (the Dockerfile).
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-$(nproc)}"
