#!/usr/bin/env bash
# One command: install what is missing, check the formatting, build, and run
# the whole test suite: once normally (then build the Debian packages, check
# them, soak the host for a minute and run every benchmark briefly), then again in one clang tree under
# AddressSanitizer + UndefinedBehaviorSanitizer, whose libFuzzer targets
# then run 30 s each, and last the concurrent tests under ThreadSanitizer.
# docs/reliability.md says what each pass proves.
# PB_SKIP_SANITIZERS=1 skips the sanitizer passes and the fuzzing (a quick
# local run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/format.sh --check
scripts/build.sh
# The browser tests run on their own after the rest: chromium takes the
# machine's cores, and the suites with one-second deadlines must not share
# them with it.
run_ctest() {
  (cd "$1" && ctest --output-on-failure --parallel "$(nproc)" -LE browser && ctest --output-on-failure -L browser)
}
run_ctest build
# The Debian packages of that build, checked by lintian.
scripts/package.sh build
# A minute of webhooks while settings change and discovery runs: no error,
# memory flat (scripts/soak.sh 10 is the long one).
scripts/soak.sh 1 build
# Every benchmark once, small and short, in that build: they still run and
# their peers still answer (bench/run-all.sh without --quick measures).
bench/run-all.sh --quick --build-dir build
if [ "${PB_SKIP_SANITIZERS:-0}" != "1" ]; then
  # clang, so that the same objects serve the tests and the fuzz targets.
  CC=clang-14 CXX=clang++-14 PB_BUILD_DIR=build-clang scripts/build.sh -DPB_SANITIZE=ON -DPB_FUZZ=ON \
    -DPB_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=Debug
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  run_ctest build-clang
  scripts/fuzz.sh 30 build-clang
  # ThreadSanitizer: only what runs on several threads at once (the whole
  # suite would take the CI's time for no more findings).
  PB_BUILD_DIR=build-tsan PB_BUILD_TARGETS=pb_e2e_tests scripts/build.sh -DPB_TSAN=ON -DPB_BENCHMARKS=OFF \
    -DCMAKE_BUILD_TYPE=Debug
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp" \
    build-tsan/bin/pb_e2e_tests --gtest_filter="$(tr -d ' \n' < tests/threads.filter)"
fi
