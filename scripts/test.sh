#!/usr/bin/env bash
# One command: install what is missing, check the formatting, build, and run
# the whole test suite: once normally (then build the Debian packages and
# check them), then again under AddressSanitizer + UndefinedBehaviorSanitizer.
# PB_SKIP_SANITIZERS=1 skips the second pass (for a quick local run).
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
if [ "${PB_SKIP_SANITIZERS:-0}" != "1" ]; then
  PB_BUILD_DIR=build-asan scripts/build.sh -DPB_SANITIZE=ON -DPB_BENCHMARKS=OFF -DCMAKE_BUILD_TYPE=Debug
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  run_ctest build-asan
fi
