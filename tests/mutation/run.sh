#!/usr/bin/env bash
# Mutation check: do the tests catch plausible one-line bugs?
#
# Copies the working tree (tracked and untracked files, as they are now) to a scratch
# directory, builds it, then for each mutation of tests/mutation/mutations.txt: applies it,
# rebuilds incrementally (ninja; ccache when present), runs the unit tests, then the
# integration tests, then the e2e tests, stopping at the first label that fails, and restores
# the file. Prints per mutation: killed (and by which tests), survived, or stale (its original
# text is no longer in the file: update the list; "invalid" when the mutant does not build),
# then a table and the totals; exits 0 only when every mutation was killed. Slow (a surviving
# mutation costs a full suite run), so not part of CI.
#
#   tests/mutation/run.sh [-j JOBS] [-f LIST] [--skip-baseline] [NAME...]
#
#   -j JOBS          build and ctest parallelism (default 2)
#   -f LIST          the mutation list (default tests/mutation/mutations.txt)
#   --skip-baseline  do not run the unmutated suite first (it must be green for "killed" to
#                    mean anything; skip it only when you just ran it)
#   NAME...          only these mutations
#
# MUTATION_DIR (default ${TMPDIR:-/tmp}/alembic-sidecar-mutation) keeps the copy and its build
# between runs, so a second run rebuilds only what changed. Logs: $MUTATION_DIR/logs/.
set -uo pipefail

SRC="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$SRC/tests/mutation"
JOBS=2
LIST="$HERE/mutations.txt"
BASELINE=1
ONLY=()
while [ $# -gt 0 ]; do
  case "$1" in
    -j) JOBS="$2"; shift 2 ;;
    -f) LIST="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    --skip-baseline) BASELINE=0; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) ONLY+=("$1"); shift ;;
  esac
done

WORK="${MUTATION_DIR:-${TMPDIR:-/tmp}/alembic-sidecar-mutation}"
TREE="$WORK/src"
LOGS="$WORK/logs"
LABELS=(unit integration e2e)
TEST_TIMEOUT=600
mkdir -p "$TREE" "$LOGS"
rm -f "$LOGS"/*.log

MUTATE=(/usr/bin/python3 "$HERE/mutate.py")
mapfile -t NAMES < <("${MUTATE[@]}" names "$LIST") || exit 2
if [ ${#ONLY[@]} -gt 0 ]; then
  NAMES=("${ONLY[@]}")
fi

# --- the copy -------------------------------------------------------------------------------
# Only files whose content differs are written (with a new mtime), so ninja rebuilds exactly
# what changed since the last run; files gone from the source are removed from the copy.
sync_tree() {
  local listing="$WORK/files.txt"
  git -C "$SRC" ls-files -z --cached --others --exclude-standard >"$listing"
  /usr/bin/python3 - "$SRC" "$TREE" "$listing" <<'PY'
import filecmp, os, shutil, sys
src, dst, listing = sys.argv[1:4]
wanted = [p for p in open(listing, "rb").read().decode().split("\0") if p]
keep = set(wanted)
for rel in wanted:
    s, d = os.path.join(src, rel), os.path.join(dst, rel)
    if not os.path.isfile(s):
        continue  # deleted in the working tree but not yet in the index
    if os.path.isfile(d) and filecmp.cmp(s, d, shallow=False):
        continue
    os.makedirs(os.path.dirname(d), exist_ok=True)
    shutil.copyfile(s, d)
    shutil.copymode(s, d)
for root, dirs, files in os.walk(dst):
    rel_root = os.path.relpath(root, dst)
    dirs[:] = [x for x in dirs if not (rel_root == "." and (x.startswith("build") or x == ".tools"))]
    for name in files:
        rel = os.path.normpath(os.path.join(rel_root, name))
        if rel not in keep:
            os.remove(os.path.join(root, name))
PY
  # npm tools (squawk, helm) are not in git: share the source tree's.
  if [ -e "$SRC/.tools" ] && [ ! -e "$TREE/.tools" ]; then
    ln -s "$(readlink -f "$SRC/.tools")" "$TREE/.tools"
  fi
}

build() {
  # CCACHE_NOHASHDIR lets the copy reuse objects compiled in the source tree's build.
  (cd "$TREE" && CCACHE_NOHASHDIR=1 JOBS="$JOBS" ./scripts/build.sh) >"$1" 2>&1
}

# Runs the labels in order, stopping at the first that fails. Prints "" when all passed,
# otherwise "label: test, test, ...".
run_tests() {
  local log="$1" label out failed
  for label in "${LABELS[@]}"; do
    out="$log.$label"
    (cd "$TREE/build" && PATH="$TREE/.tools/bin:$PATH" ctest -L "^${label}\$" -LE 'cluster|image' \
      -j "$JOBS" --timeout "$TEST_TIMEOUT" --output-on-failure) >"$out" 2>&1
    if [ $? -ne 0 ]; then
      failed=$(sed -n '/The following tests FAILED:/,$p' "$out" | grep -E '^\s+[0-9]+ - ' |
        sed -E 's/^\s+[0-9]+ - ([^ ]+).*/\1/' | head -5 | paste -sd, - | sed 's/,/, /g')
      echo "$label: ${failed:-see $out}"
      return
    fi
  done
  echo ""
}

elapsed() { local s=$(($(date +%s) - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

START=$(date +%s)
echo "Copying $SRC to $TREE"
sync_tree
echo "Building the unmutated copy (log: $LOGS/baseline-build.log)"
if ! build "$LOGS/baseline-build.log"; then
  echo "The unmutated tree does not build: see $LOGS/baseline-build.log" >&2
  exit 1
fi
if [ "$BASELINE" = 1 ]; then
  echo "Running the unmutated suite (${LABELS[*]})"
  t=$(date +%s)
  result=$(run_tests "$LOGS/baseline.log")
  if [ -n "$result" ]; then
    echo "The unmutated suite fails ($result): fix that first, or nothing below means anything" >&2
    exit 1
  fi
  echo "  green in $(elapsed "$t")"
fi

# Puts the mutated file back, with a new mtime so that the next build recompiles it (also
# when interrupted; an interrupted copy is repaired by the next run's sync anyway).
ACTIVE=""
restore() {
  if [ -n "$ACTIVE" ]; then
    cat "$WORK/original.tmp" >"$TREE/$ACTIVE"
    ACTIVE=""
  fi
}
trap 'restore; exit 130' INT TERM

killed=0 survived=0 stale=0 invalid=0
ROWS=()
for name in "${NAMES[@]}"; do
  IFS=$'\t' read -r file why < <("${MUTATE[@]}" describe "$LIST" "$name") || exit 2
  t=$(date +%s)
  original="$WORK/original.tmp"
  if [ -f "$TREE/$file" ]; then
    cp "$TREE/$file" "$original"
  fi
  reason=$("${MUTATE[@]}" apply "$LIST" "$name" "$TREE")
  case $? in
    0) ;;
    3)
      stale=$((stale + 1))
      printf '%-9s %-46s %s\n' "STALE" "$name" "$reason"
      ROWS+=("| \`$name\` | $file | stale | $reason |")
      continue ;;
    *) exit 2 ;;
  esac
  ACTIVE="$file"
  if ! build "$LOGS/$name-build.log"; then
    verdict="invalid" detail="does not build (see $LOGS/$name-build.log): fix the list"
  else
    result=$(run_tests "$LOGS/$name")
    if [ -n "$result" ]; then
      verdict="killed" detail="$result"
    else
      verdict="survived" detail="${LABELS[*]} all pass"
    fi
  fi
  restore
  case "$verdict" in
    killed) killed=$((killed + 1)) ;;
    survived) survived=$((survived + 1)) ;;
    *) invalid=$((invalid + 1)) ;;
  esac
  printf '%-9s %-46s %s (%s)\n' "${verdict^^}" "$name" "$detail" "$(elapsed "$t")"
  ROWS+=("| \`$name\` | $file | $verdict | $detail |")
done
rm -f "$WORK/original.tmp"

total=${#NAMES[@]}
echo
echo "| mutation | file | result | caught by |"
echo "| --- | --- | --- | --- |"
printf '%s\n' "${ROWS[@]}"
echo
extra=""
if [ "$invalid" -gt 0 ]; then extra=", invalid $invalid"; fi
echo "killed $killed, survived $survived, stale $stale$extra of $total; $(elapsed "$START") in all"
[ "$survived" -eq 0 ] && [ "$stale" -eq 0 ] && [ "$invalid" -eq 0 ]
