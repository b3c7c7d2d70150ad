#!/usr/bin/env bash
# Configures and builds into build/ (or $PB_BUILD_DIR), Release with debug info.
# Extra arguments go to cmake's configure step, e.g. -DPB_SANITIZE=ON.
# PB_BUILD_TARGETS="a b" builds only those targets (and what they need).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${PB_BUILD_DIR:-build}"
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD_DIR" "${GEN[@]}" "${LAUNCHER[@]}" "$@"
elif [ $# -gt 0 ]; then
  cmake -S . -B "$BUILD_DIR" "$@"
fi
# shellcheck disable=SC2086 # a list of target names
cmake --build "$BUILD_DIR" --parallel "$(nproc)" ${PB_BUILD_TARGETS:+--target $PB_BUILD_TARGETS}
