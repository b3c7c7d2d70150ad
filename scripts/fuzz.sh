#!/usr/bin/env bash
# Runs every libFuzzer target of fuzz/ for a bounded time, two at a time
# (one per core), and prints one line per target: executions, executions
# per second, coverage (cov: edges, ft: features), the corpus it reached,
# and whether it crashed. Exits non-zero on any crash, leak, timeout or
# out-of-memory. See docs/reliability.md, "Fuzzing".
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [BUILD_DIR]   default: 30 s, build-clang
#   scripts/fuzz.sh --long [BUILD_DIR]                 one hour per target
#   PB_FUZZ_TARGETS="fuzz_url fuzz_wire" scripts/fuzz.sh 60   only those
#   PB_FUZZ_KEEP=1 scripts/fuzz.sh ...                 keep the scratch directory
#
# BUILD_DIR must be configured with clang and -DPB_SANITIZE=ON -DPB_FUZZ=ON:
#   CC=clang-14 CXX=clang++-14 cmake -S . -B build-clang -G Ninja \
#     -DPB_SANITIZE=ON -DPB_FUZZ=ON -DPB_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=Debug
# The script builds the targets (`--target fuzz`) before running them.
#
# The seeds of fuzz/corpus/<target>/ are copied to a scratch directory and
# the fuzzers grow that copy: nothing is written into the repository. Inputs
# that crash are saved in BUILD_DIR/fuzz-artifacts/<target>/, and each
# target's output in BUILD_DIR/fuzz-logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=30
if [ "${1:-}" = "--long" ]; then
  SECONDS_PER_TARGET=3600
  shift
elif [ $# -gt 0 ]; then
  SECONDS_PER_TARGET="$1"
  shift
fi
case "$SECONDS_PER_TARGET" in
  '' | *[!0-9]*) echo "fuzz.sh: seconds per target must be a number, not '$SECONDS_PER_TARGET'" >&2; exit 2 ;;
esac
BUILD_DIR="${1:-build-clang}"

if ! grep -q '^PB_FUZZ:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
  echo "fuzz.sh: $BUILD_DIR is not a fuzzing build; configure it with:" >&2
  echo "  CC=clang-14 CXX=clang++-14 cmake -S . -B $BUILD_DIR -G Ninja -DPB_SANITIZE=ON -DPB_FUZZ=ON -DPB_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=Debug" >&2
  exit 2
fi

ALL_TARGETS=()
for f in fuzz/fuzz_*.cpp; do
  ALL_TARGETS+=("$(basename "$f" .cpp)")
done
read -r -a TARGETS <<<"${PB_FUZZ_TARGETS:-${ALL_TARGETS[*]}}"
JOBS="$(nproc)"

cmake --build "$BUILD_DIR" --target "${TARGETS[@]}" --parallel "$JOBS"

# The dictionaries each target reads (concatenated when several).
dicts_of() {
  case "$1" in
    fuzz_url) echo http ;;
    fuzz_http_request) echo http multipart ;;
    fuzz_multipart) echo multipart json ;;
    fuzz_wire | fuzz_plextv | fuzz_pms) echo json xml ;;
    fuzz_webhook_payload | fuzz_settings | fuzz_refresh_event) echo json ;;
    *) echo ;;
  esac
}

SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/pb-fuzz.XXXXXX")"
if [ "${PB_FUZZ_KEEP:-0}" = "1" ]; then
  echo "fuzz.sh: scratch directory (kept): $SCRATCH" >&2
else
  trap 'rm -rf "$SCRATCH"' EXIT
fi
ARTIFACTS="$(cd "$BUILD_DIR" && pwd)/fuzz-artifacts"
LOGS="$(cd "$BUILD_DIR" && pwd)/fuzz-logs"
mkdir -p "$ARTIFACTS" "$LOGS"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
command -v llvm-symbolizer-14 >/dev/null && export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer-14)}"

# One target: writes its table line to $SCRATCH/<target>.result.
run_one() {
  local t="$1" bin="$BUILD_DIR/bin/$1" log="$LOGS/$1.log" corpus="$SCRATCH/$1/corpus"
  mkdir -p "$corpus" "$ARTIFACTS/$t"
  [ -d "fuzz/corpus/$t" ] && cp -R "fuzz/corpus/$t/." "$corpus/"
  local args=(-max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10
    -artifact_prefix="$ARTIFACTS/$t/")
  local dict="$SCRATCH/$t/all.dict" d
  : >"$dict"
  for d in $(dicts_of "$t"); do cat "fuzz/dict/$d.dict" >>"$dict"; done
  [ -s "$dict" ] && args+=(-dict="$dict")
  local rc=0
  "$bin" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?

  local execs rate cov ft corp result status_line
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  # The last status line ("#N DONE/pulse/NEW ... cov: X ft: Y corp: A/B").
  status_line="$(grep -E '^#[0-9]+' "$log" | grep ' cov: ' | tail -1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status_line")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status_line")"
  corp="$(sed -n 's/.* corp: \([^ ]*\).*/\1/p' <<<"$status_line")"
  if [ -z "$execs" ]; then  # killed before the final stats: the last status line's count
    execs="$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$status_line")"
  fi
  local artifact kind
  artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)"
  if [ "$rc" -eq 0 ] && [ -z "$artifact" ]; then
    result="ok"
  else
    if grep -q 'ERROR: LeakSanitizer' "$log"; then
      kind="leak"
    elif grep -q 'ALARM: working on the last Unit' "$log"; then
      kind="timeout"
    elif grep -q 'out-of-memory' "$log"; then
      kind="oom"
    else
      kind="crash"
    fi
    result="$kind ${artifact:-(no reproducer; see $log)}"
  fi
  printf '%-22s %12s %9s %7s %7s %14s  %s\n' "$t" "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}" "${corp:--}" \
    "$result" >"$SCRATCH/$t.result"
}

echo "fuzz.sh: ${#TARGETS[@]} targets, ${SECONDS_PER_TARGET} s each, $JOBS at a time ($BUILD_DIR)" >&2
running=0
for t in "${TARGETS[@]}"; do
  [ -x "$BUILD_DIR/bin/$t" ] || { echo "fuzz.sh: $BUILD_DIR/bin/$t is missing" >&2; exit 2; }
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
wait || true

printf '%-22s %12s %9s %7s %7s %14s  %s\n' target executions exec/s cov ft corpus result
failed=0
for t in "${TARGETS[@]}"; do
  if [ -f "$SCRATCH/$t.result" ]; then
    cat "$SCRATCH/$t.result"
    grep -qE '  ok$' "$SCRATCH/$t.result" || failed=1
  else
    printf '%-22s %s\n' "$t" "no result (see $LOGS/$t.log)"
    failed=1
  fi
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz.sh: a target failed; reproduce with: $BUILD_DIR/bin/<target> <reproducer>" >&2
  exit 1
fi
