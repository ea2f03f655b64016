#!/usr/bin/env bash
# Builds the Dockerfile's two images and checks them from the inside:
#   alembic-sidecar:TAG               target runtime (the default target)
#   alembic-sidecar-example-app:TAG   target example-app (the app of manifests/sample-app.yaml)
# With Docker when an engine answers; otherwise with buildah (overlay storage where the kernel
# mounts it, else vfs; chroot isolation, --pull-never, --network host, its layer cache kept
# between runs), whose base images debian:bookworm and debian:bookworm-slim are pulled when a
# registry answers and otherwise made here with `debootstrap --variant=minbase bookworm` (with the host's apt sources and extra
# CA certificates, so apt and npm inside the build reach what the host reaches).
#
#   scripts/build-image.sh [--no-check] [--check-only] [--if-available] [--engine docker|buildah]
#
#   --no-check      build only          --check-only   check images built earlier
#   --if-available  exit 77 (skipped) when neither Docker nor buildah is installed (ctest);
#                   ALEMBIC_SIDECAR_REQUIRE_IMAGE=1 (CI) turns that into installing buildah
# Environment: IMAGE_TAG (default: the project version), DEBIAN_MIRROR (default: the host's),
#   ALEMBIC_SIDECAR_BUILDAH_ROOT (buildah's storage; default /var/lib/alembic-sidecar/buildah),
#   ALEMBIC_SIDECAR_BUILDAH_DRIVER (overlay or vfs; default: overlay when a test mount works).
# Root is needed for buildah's storage and debootstrap (CI and this project's machines run
# as root); the checks need no engine features beyond `run`.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECK=1 BUILD=1 IF_AVAILABLE=0 ENGINE=${ALEMBIC_SIDECAR_IMAGE_ENGINE:-}
while (($#)); do
  case $1 in
    --no-check) CHECK=0 ;;
    --check-only) BUILD=0 ;;
    --if-available) IF_AVAILABLE=1 ;;
    --engine) ENGINE=$2; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "build-image: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

VERSION=$(sed -n 's/^project(alembic_sidecar VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
TAG=${IMAGE_TAG:-$VERSION}
SIDECAR_IMAGE=alembic-sidecar:$TAG
APP_IMAGE=alembic-sidecar-example-app:$TAG
START=$SECONDS
step() { printf '== [%4ds] %s\n' $((SECONDS - START)) "$*"; }
fail() { echo "build-image: FAILED: $*" >&2; exit 1; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# ---- engine --------------------------------------------------------------------------------
if [ -z "$ENGINE" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    ENGINE=docker
  elif command -v buildah >/dev/null 2>&1; then
    ENGINE=buildah
  elif [ "$IF_AVAILABLE" = 1 ] && [ "${ALEMBIC_SIDECAR_REQUIRE_IMAGE:-}" != 1 ]; then
    echo "image build SKIPPED: no Docker engine answers and buildah is not installed" \
         "(apt-get install buildah debootstrap, or run scripts/build-image.sh, which installs them)"
    exit 77
  else
    ENGINE=buildah
  fi
fi
step "engine: $ENGINE"

if [ "$ENGINE" = buildah ]; then
  missing=()
  for tool in buildah:buildah debootstrap:debootstrap; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
  done
  if ((${#missing[@]})); then
    step "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  [ "$(id -u)" -eq 0 ] || fail "buildah's own storage and debootstrap need root here"
  STORAGE_ROOT=${ALEMBIC_SIDECAR_BUILDAH_ROOT:-/var/lib/alembic-sidecar/buildah}
  mkdir -p "$STORAGE_ROOT"
  # overlay when the kernel mounts it on the storage's filesystem: a layer costs only its own
  # files. vfs copies every layer in full (a cached build spends ~8 minutes copying); it stays
  # the fallback (nested containers, filesystems overlay cannot sit on).
  DRIVER=${ALEMBIC_SIDECAR_BUILDAH_DRIVER:-}
  if [ -z "$DRIVER" ]; then
    DRIVER=vfs
    probe=$(mktemp -d "$STORAGE_ROOT/overlay-probe.XXXXXX")
    mkdir "$probe/lower" "$probe/upper" "$probe/work" "$probe/merged"
    if mount -t overlay overlay \
         -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" "$probe/merged" 2>/dev/null; then
      umount "$probe/merged"
      DRIVER=overlay
    fi
    rm -rf "$probe"
  fi
  # A storage of its own per driver: never clashes with another tool's storage, and the layer
  # cache survives between runs (later builds reuse every unchanged step).
  BUILDAH=(buildah --root "$STORAGE_ROOT/storage-$DRIVER" --runroot "$STORAGE_ROOT/run-$DRIVER"
           --storage-driver "$DRIVER")
  step "buildah storage: $DRIVER in $STORAGE_ROOT/storage-$DRIVER"
  export BUILDAH_ISOLATION=chroot
fi

have_image() {
  if [ "$ENGINE" = docker ]; then docker image inspect "$1" >/dev/null 2>&1
  else "${BUILDAH[@]}" inspect --type image "$1" >/dev/null 2>&1; fi
}

# ---- base images (buildah) -----------------------------------------------------------------
host_mirror() {
  local uri
  uri=$(sed -n 's/^URIs:[[:space:]]*\(\S*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -v security | head -n 1 || true)
  [ -n "$uri" ] || uri=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\(\S*\)[[:space:]]\+bookworm[[:space:]].*/\2/p' \
                        /etc/apt/sources.list 2>/dev/null | head -n 1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

commit_rootfs() {  # DIR IMAGE...: a one-layer image of DIR, tagged with every IMAGE
  local dir=$1 ctr mnt
  shift
  ctr=$("${BUILDAH[@]}" from scratch)
  mnt=$("${BUILDAH[@]}" mount "$ctr")
  cp -a "$dir/." "$mnt/"
  "${BUILDAH[@]}" umount "$ctr" >/dev/null
  "${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash --os linux --arch amd64 \
    --label org.opencontainers.image.description="debootstrap --variant=minbase bookworm, made by alembic-sidecar scripts/build-image.sh" \
    "$ctr"
  "${BUILDAH[@]}" commit --quiet --rm "$ctr" "$1" >/dev/null
  local name
  for name in "${@:2}"; do "${BUILDAH[@]}" tag "$1" "$name"; done
}

ROOTFS="" DEBOOTSTRAP_PID=""
# debootstrap mounts /proc and /sys inside its target (and in some containers binds /dev
# nodes there). Interrupted, it must be stopped and everything under the rootfs unmounted
# before anything is removed, and rm must never cross into a mount.
remove_rootfs() {
  [ -n "$ROOTFS" ] || return 0
  if [ -n "$DEBOOTSTRAP_PID" ]; then
    kill "$DEBOOTSTRAP_PID" 2>/dev/null || true
    wait "$DEBOOTSTRAP_PID" 2>/dev/null || true  # its own exit handler unmounts what it mounted
    DEBOOTSTRAP_PID=""
  fi
  local mnt
  while read -r mnt; do
    umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
  done < <(awk -v root="$ROOTFS/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r)
  rm -rf --one-file-system "$ROOTFS"
  ROOTFS=""
}
trap remove_rootfs EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

make_base_images() {
  local mirror
  mirror=${DEBIAN_MIRROR:-$(host_mirror)}
  ROOTFS=$(mktemp -d /var/tmp/alembic-sidecar-rootfs.XXXXXX)
  step "debootstrap --variant=minbase bookworm from $mirror (no registry answers)"
  # In the background and waited for, so a signal reaches this script's traps at once.
  debootstrap --variant=minbase bookworm "$ROOTFS/root" "$mirror" >"$ROOTFS/debootstrap.log" 2>&1 &
  DEBOOTSTRAP_PID=$!
  wait "$DEBOOTSTRAP_PID" || { tail -n 20 "$ROOTFS/debootstrap.log" >&2; fail "debootstrap"; }
  DEBOOTSTRAP_PID=""
  local r=$ROOTFS/root
  # What the host reaches, the build reaches: its apt sources and any extra CA certificates
  # (ca-certificates, installed by the stages, adds /usr/local/share/ca-certificates).
  local sources=()
  mapfile -t sources < <(compgen -G "/etc/apt/sources.list.d/*.sources"; compgen -G "/etc/apt/sources.list.d/*.list")
  if ((${#sources[@]})); then
    rm -f "$r/etc/apt/sources.list"
    cp "${sources[@]}" "$r/etc/apt/sources.list.d/"
  fi
  if [ -s /etc/apt/sources.list ]; then cp /etc/apt/sources.list "$r/etc/apt/sources.list"; fi
  for conf in /etc/apt/apt.conf.d/*; do
    if grep -qiE 'Acquire::.*(proxy|Check-Valid-Until|Check-Date)' "$conf" 2>/dev/null; then
      cp "$conf" "$r/etc/apt/apt.conf.d/"
    fi
  done
  if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
    mkdir -p "$r/usr/local/share/ca-certificates"
    cp -a /usr/local/share/ca-certificates/. "$r/usr/local/share/ca-certificates/"
  fi
  rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* "$r"/var/log/*.log
  echo 'APT::Install-Recommends "false";' >"$r/etc/apt/apt.conf.d/99no-recommends"
  commit_rootfs "$r" docker.io/library/debian:bookworm localhost/debian:bookworm
  # -slim: what Debian's slim images leave out (documentation, man pages, locales).
  mkdir -p "$r/etc/dpkg/dpkg.cfg.d"
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$r"/usr/share/man/* "$r"/usr/share/info/* "$r"/usr/share/lintian/*
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  commit_rootfs "$r" docker.io/library/debian:bookworm-slim localhost/debian:bookworm-slim
  remove_rootfs
}

ensure_base_images() {
  if have_image docker.io/library/debian:bookworm && have_image docker.io/library/debian:bookworm-slim; then
    step "base images: debian:bookworm and debian:bookworm-slim already here"
    return
  fi
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 https://registry-1.docker.io/v2/ || true)
  if [ "$code" = 401 ] || [ "$code" = 200 ]; then
    step "pull debian:bookworm and debian:bookworm-slim"
    "${BUILDAH[@]}" pull --quiet docker.io/library/debian:bookworm >/dev/null
    "${BUILDAH[@]}" pull --quiet docker.io/library/debian:bookworm-slim >/dev/null
  else
    make_base_images
  fi
}

# ---- build ---------------------------------------------------------------------------------
build() {  # TARGET IMAGE
  local revision
  revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  step "build --target $1 -t $2"
  if [ "$ENGINE" = docker ]; then
    docker build --target "$1" -t "$2" --build-arg REVISION="$revision" .
  else
    # A layer per step only where layers are cheap: vfs copies the whole filesystem for each
    # one (measured: 502 s for a build with nothing changed), while one container per stage
    # builds from nothing in about the time overlay takes and redoes a stage in ~2 min.
    local layers=--layers
    [ "$DRIVER" = overlay ] || layers=--layers=false
    "${BUILDAH[@]}" bud "$layers" --pull-never --network host --isolation chroot \
      --target "$1" -t "$2" --build-arg REVISION="$revision" -f Dockerfile .
  fi
}

if [ "$BUILD" = 1 ]; then
  [ "$ENGINE" = docker ] || ensure_base_images
  build example-app "$APP_IMAGE"
  build runtime "$SIDECAR_IMAGE"
  step "built $SIDECAR_IMAGE and $APP_IMAGE"
fi

# ---- checks inside the images --------------------------------------------------------------
[ "$CHECK" = 1 ] || exit 0
CONTAINERS=()
cleanup() {
  local c
  remove_rootfs
  for c in "${CONTAINERS[@]}"; do
    if [ "$ENGINE" = docker ]; then docker rm -f "$c" >/dev/null 2>&1 || true
    else "${BUILDAH[@]}" rm "$c" >/dev/null 2>&1 || true; fi
  done
}
trap cleanup EXIT

config() {  # IMAGE FIELD: User, or one line per element of Env, Entrypoint, Cmd
  local format="{{.Config.$2}}" prefix=.Config
  [ "$ENGINE" = docker ] || prefix=.OCIv1.Config
  case $2 in
    User) format="{{$prefix.User}}" ;;
    *) format="{{range $prefix.$2}}{{println .}}{{end}}" ;;
  esac
  if [ "$ENGINE" = docker ]; then docker image inspect --format "$format" "$1"
  else "${BUILDAH[@]}" inspect --type image --format "$format" "$1"; fi
}

container() {  # IMAGE: sets C to a new container of IMAGE to run checks in
  if [ "$ENGINE" = docker ]; then
    C=$(docker create --entrypoint sleep "$1" infinity) && docker start "$C" >/dev/null
  else
    C=$("${BUILDAH[@]}" from --pull-never --quiet "$1")
  fi
  CONTAINERS+=("$C")
}

in_image() {  # CONTAINER ARGV... (as the image's user, in its working directory)
  local c=$1
  shift
  if [ "$ENGINE" = docker ]; then docker exec "$c" "$@"
  else "${BUILDAH[@]}" run --isolation chroot "$c" -- "$@"; fi
}

expect() {  # DESCRIPTION COMMAND...: the command must succeed
  local what=$1
  shift
  if ! out=$("$@" 2>&1); then
    echo "$out" >&2
    fail "$what"
  fi
  echo "   ok  $what"
}

check_common() {  # IMAGE UID
  local user env
  user=$(config "$1" User)
  [ "$user" = "$2:$2" ] || fail "$1 runs as '$user', not the numeric non-root $2:$2"
  echo "   ok  $1 runs as $2:$2"
  env=$(config "$1" Env)
  case $env in *DEBIAN_FRONTEND*) fail "$1 ships DEBIAN_FRONTEND in its environment: $env" ;; esac
  echo "   ok  $1 has no build-time variables in its environment"
}

step "check $SIDECAR_IMAGE"
check_common "$SIDECAR_IMAGE" 65532
[ "$(config "$SIDECAR_IMAGE" Entrypoint)" = /usr/local/bin/alembic-sidecar ] ||
  fail "entrypoint is $(config "$SIDECAR_IMAGE" Entrypoint)"
container "$SIDECAR_IMAGE"
c=$C
[ "$(in_image "$c" id -u)" = 65532 ] || fail "the sidecar container does not run as 65532"
version=$(in_image "$c" /usr/local/bin/alembic-sidecar --version)
case $version in *"$VERSION"*) echo "   ok  alembic-sidecar --version: $version" ;;
  *) fail "alembic-sidecar --version printed '$version', not $VERSION" ;; esac
expect "alembic-sidecar --help" in_image "$c" /usr/local/bin/alembic-sidecar --help
ldd_out=$(in_image "$c" ldd /usr/local/bin/alembic-sidecar)
if grep -q 'not found' <<<"$ldd_out"; then echo "$ldd_out" >&2; fail "ldd: a library is missing"; fi
echo "   ok  ldd: every library found ($(grep -c '=>' <<<"$ldd_out") libraries)"
expect "squawk --version" in_image "$c" /usr/local/bin/squawk --version
expect "python3 -m pyflakes --version" in_image "$c" python3 -m pyflakes --version
if in_image "$c" sh -c 'command -v gcc || command -v g++ || command -v cmake || command -v npm' >/dev/null 2>&1; then
  fail "the runtime image has a compiler, cmake or npm"
fi
echo "   ok  no compiler, cmake or npm in the runtime image"

step "check $APP_IMAGE"
check_common "$APP_IMAGE" 10001
container "$APP_IMAGE"
c=$C
want_head=$(sed -n 's/^revision = .\([0-9a-f]*\).*/\1/p' tests/fixtures/example_app/migrations/versions/*index_user_email*.py)
heads=$(in_image "$c" alembic heads)
[ "$heads" = "$want_head (head)" ] || fail "alembic heads in the example app printed '$heads'"
echo "   ok  alembic heads: $heads"
# The app's command is PID 1 in a pod, where a signal without a handler does nothing: it must
# handle SIGTERM (exit 0), or a pod deletion waits the whole grace period.
mapfile -t app_cmd < <(config "$APP_IMAGE" Cmd)
log=$(mktemp)
in_image "$c" "${app_cmd[@]}" >"$log" 2>&1 &
runner=$!
for _ in $(seq 1 150); do grep -q 'models imported' "$log" && break; sleep 0.2; done
grep -q 'models imported' "$log" || { cat "$log" >&2; fail "the example app did not start"; }
# The app process itself: the newest process running the image's command.
app_pid=$(pgrep -n -f 'example app: models imported' || true)
[ -n "$app_pid" ] || fail "cannot find the example app's process"
kill -TERM "$app_pid"
rc=0
for _ in $(seq 1 50); do kill -0 "$runner" 2>/dev/null || break; sleep 0.2; done
if kill -0 "$runner" 2>/dev/null; then
  kill -KILL "$app_pid" 2>/dev/null || true
  fail "the example app did not exit on SIGTERM"
fi
wait "$runner" || rc=$?
rm -f "$log"
[ "$rc" = 0 ] || fail "the example app has no SIGTERM handler (it died of the signal, exit $rc)"
echo "   ok  the example app handles SIGTERM (exit 0)"
step "images checked"
