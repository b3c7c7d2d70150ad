#!/bin/sh
# Example.c_host: builds host.c as a C host author would, from the installed
# kit alone (pkg-config, nothing from the source or build tree), and runs it
# twice: first on a new data directory, then, under valgrind, on what the
# first run left there (as after a restart: the settings are read back).
# Fails on a compiler warning, a failed step of the host, a memory error or
# a definite leak.
#   check.sh PKG_CONFIG_DIR WORK_DIR
# PKG_CONFIG_DIR holds the installed plexbridge.pc (Kit.install puts it in
# <kit-prefix>/lib/<multiarch>/pkgconfig); WORK_DIR gets the binary and log.
set -eu
# shellcheck disable=SC2034  # used inside the eval below
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { echo "usage: $0 PKG_CONFIG_DIR WORK_DIR" >&2; exit 2; }
pc_dir=$1
work=$2
fail() { echo "Example.c_host: FAIL: $*" >&2; exit 1; }

[ -f "$pc_dir/plexbridge.pc" ] || fail "no plexbridge.pc in $pc_dir (the kit_install fixture installs it)"
command -v pkg-config >/dev/null || fail "pkg-config is missing (apt-get install pkg-config)"
command -v "${CC:-cc}" >/dev/null || fail "no C compiler (${CC:-cc})"
command -v valgrind >/dev/null || fail "valgrind is missing (apt-get install valgrind)"

export PKG_CONFIG_PATH="$pc_dir"
# PKG_CONFIG_PATH is searched first, so the kit's file wins over any
# plexbridge.pc installed on this machine; say so if it did not.
found=$(cd "$(pkg-config --variable=pcfiledir plexbridge)" && pwd -P)
[ "$found" = "$(cd "$pc_dir" && pwd -P)" ] || fail "pkg-config found plexbridge.pc in $found, not in $pc_dir"
cflags=$(pkg-config --cflags plexbridge) || fail "pkg-config --cflags plexbridge failed"
plugin=$(pkg-config --variable=plugin plexbridge) || fail "pkg-config --variable=plugin plexbridge failed"
prefix=$(pkg-config --variable=prefix plexbridge)
[ -f "$plugin" ] || fail "pkg-config's plugin ($plugin) does not exist"
echo "pkg-config: cflags '$cflags'; plugin $plugin"

mkdir -p "$work"
rm -rf "$work/c-host" "$work/c-host-first.log" "$work/c-host.log" "$work/data"
# The README's build line, with warnings as errors: the installed header
# must compile cleanly as strict C11 in a C host. eval, because pkg-config
# escapes spaces in paths with a backslash, which only the shell undoes.
eval "\"\${CC:-cc}\" -std=c11 -Wall -Wextra -Wpedantic -Werror -g $cflags \"\$here/host.c\" -o \"\$work/c-host\" -ldl -lpthread" ||
  fail "host.c does not compile against the installed header"

# The plugin is installed stripped; its debug info is in the kit under
# lib/debug/.build-id/. valgrind looks there by build id only under
# /usr/lib/debug, and elsewhere only by the debuglink name under
# <extra path>/<the library's folder>/, so that is laid out here (best
# effort: without it a report shows "???" for the plugin's frames). With
# --keep-debuginfo the names survive dlclose(), which comes before the
# leak report.
debug_tree="$work/debuginfo"
rm -rf "$debug_tree"
real=$(readlink -f "$plugin")
build_id=$(readelf -n "$real" 2>/dev/null | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
debug_file="$prefix/lib/debug/.build-id/$(echo "$build_id" | cut -c1-2)/$(echo "$build_id" | cut -c3-).debug"
if [ -n "$build_id" ] && [ -f "$debug_file" ]; then
  mkdir -p "$debug_tree$(dirname "$real")"
  ln -s "$debug_file" "$debug_tree$(dirname "$real")/$(basename "$debug_file")"
fi

first="$work/c-host-first.log"
"$work/c-host" --plugin "$plugin" --data-dir "$work/data" >"$first" 2>&1 || { cat "$first"; fail "the first run failed"; }
echo "first run, on a new data directory: OK"

log="$work/c-host.log"
start=$(date +%s%N)
status=0
valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite --num-callers=40 --keep-debuginfo=yes --extra-debuginfo-path="$debug_tree" \
  "$work/c-host" --plugin "$plugin" --data-dir "$work/data" >"$log" 2>&1 || status=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
cat "$log"
echo "c-host under valgrind: $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000))) s"

# valgrind's exit status and the host's are both 1 on failure: the log says which.
grep -q '^c-host: OK$' "$log" || fail "the host did not finish (exit status $status); its output is above"
grep -q '^read back [1-9][0-9]* stored setting(s)' "$log" || fail "the settings of the first run were not read back"
grep -q 'ERROR SUMMARY: 0 errors' "$log" || fail "valgrind found memory errors or definite leaks; see above"
[ "$status" -eq 0 ] || fail "exit status $status"
echo "Example.c_host: OK"
