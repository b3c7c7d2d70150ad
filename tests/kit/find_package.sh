#!/bin/sh
# A host's CMake project (tests/kit/consumer) finds the installed kit with
# find_package(plexbridge), builds against plexbridge::headers and loads
# the plugin that plexbridge::plugin names.
#   find_package.sh PREFIX WORK_DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=$1
work=$2
rm -rf "$work"
gen=""
command -v ninja >/dev/null && gen="-G Ninja"
# shellcheck disable=SC2086  # $gen is empty or two words
cmake -S "$here/consumer" -B "$work" $gen -DCMAKE_PREFIX_PATH="$prefix" >"$work.log" 2>&1 || { cat "$work.log"; exit 1; }
cmake --build "$work" >>"$work.log" 2>&1 || { cat "$work.log"; exit 1; }
"$work/consumer"
