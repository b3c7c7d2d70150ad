#!/usr/bin/env bash
# Every benchmark, in a release build, several runs; rewrites the tables of
# docs/performance.md (medians and min-max over the runs, ratios against the
# baselines and peers measured in the same runs) and the growth plot.
#
#   bench/run-all.sh [--runs N] [--quick] [--no-write] [--build-dir DIR]
#
#   --runs N         runs of every benchmark (default 3)
#   --quick          smaller sizes, one run, 1-second loads: checks that every
#                    benchmark works (CI runs this); never writes the document
#   --no-write       measure and print the tables, leave docs/ alone
#   --build-dir DIR  use that build tree as it is configured (CI passes its
#                    own build/ so as not to compile everything twice)
#
# Installs what it needs from Debian (scripts/setup.sh --bench), builds into
# build-bench/ (CMAKE_BUILD_TYPE=Release), installs the npm peer from its
# lockfile (tests/client_library, `npm ci`), and keeps every run's raw output
# in <build dir>/bench-results/<time>/.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=3 QUICK=0 WRITE=1 BUILD_DIR=build-bench RELEASE=(-DCMAKE_BUILD_TYPE=Release)
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --quick) QUICK=1; RUNS=1; WRITE=0; shift ;;
    --no-write) WRITE=0; shift ;;
    --build-dir) BUILD_DIR="$2"; RELEASE=(); shift 2 ;;
    *) sed -n '2,19p' "$0" >&2; exit 2 ;;
  esac
done

scripts/setup.sh --bench
export PB_BUILD_DIR="$BUILD_DIR"
PB_BUILD_TARGETS="plexbridge plexbridge-host plexsim pb_bench_discovery pb_bench_resources pb_bench_refresh \
pb_bench_webhook pb_bench_footprint" scripts/build.sh "${RELEASE[@]}"
BIN="$PB_BUILD_DIR/bin"
(cd tests/client_library && npm ci --no-audit --no-fund --loglevel=error)

OUT="$PB_BUILD_DIR/bench-results/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
{
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`bench/run-all.sh --runs $RUNS\` ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$PB_BUILD_DIR/CMakeCache.txt") build) at $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (with local changes)'):"
  echo "$(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), $(free -g | awk '/^Mem:/{print $2}') GiB,"
  echo "$(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r), $(c++ --version | head -1)."
  echo "Every figure is the median of $RUNS runs, with the min-max range when they differ."
} > "$OUT/machine.txt"

QUICKARG=(); SECS=5
[ "$QUICK" = 1 ] && QUICKARG=(--quick) && SECS=1
for run in $(seq "$RUNS"); do
  echo "== run $run of $RUNS" >&2
  "$BIN/pb_bench_resources" "${QUICKARG[@]}" | tee "$OUT/resources.$run.txt"
  "$BIN/pb_bench_discovery" "${QUICKARG[@]}" --repeats 1 --require-peer | tee "$OUT/discovery.$run.txt"
  "$BIN/pb_bench_refresh" "${QUICKARG[@]}" | tee "$OUT/refresh.$run.txt"
  "$BIN/pb_bench_footprint" "${QUICKARG[@]}" | tee "$OUT/footprint.$run.txt"
  "$BIN/pb_bench_webhook" --benchmark_min_time="$([ "$QUICK" = 1 ] && echo 0.05 || echo 1)" \
    --benchmark_out="$OUT/handler.$run.json" --benchmark_out_format=json | tee "$OUT/handler.$run.txt"
  bench/webhook_load.sh "$SECS" "$([ "$QUICK" = 1 ] && echo "1 16" || echo "1 4 16 64")" | tee "$OUT/webhooks.$run.txt"
done

if [ "$WRITE" = 1 ]; then
  /usr/bin/python3 bench/report.py "$OUT" --write docs/performance.md --svg docs/performance-growth.svg
else
  /usr/bin/python3 bench/report.py "$OUT" --svg "$OUT/performance-growth.svg"
fi
echo "raw output: $OUT" >&2
