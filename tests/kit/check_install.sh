#!/bin/sh
# What `cmake --install` left in PREFIX is what a host author expects:
# the stripped plugin under its soname, its debug info found by build id,
# the header, the manifest, and a pkg-config file whose paths resolve.
#   check_install.sh PREFIX
set -eu
prefix=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
pc_file=$(find "$prefix" -name plexbridge.pc | head -n 1)
[ -n "$pc_file" ] || fail "no plexbridge.pc under $prefix"
pc_dir=$(dirname "$pc_file")
export PKG_CONFIG_PATH="$pc_dir"
plugin=$(pkg-config --variable=plugin plexbridge)
manifest=$(pkg-config --variable=manifest plexbridge)
cflags=$(pkg-config --cflags-only-I plexbridge | sed "s/ *$//")
[ -f "$plugin" ] || fail "pkg-config's plugin ($plugin) does not exist"
[ -f "$manifest" ] || fail "pkg-config's manifest ($manifest) does not exist"
[ -f "${cflags#-I}/plexbridge_plugin.h" ] || fail "the header is not in $cflags"
[ "$(pkg-config --modversion plexbridge)" = "$(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$manifest" | head -n 1)" ] ||
  fail "pkg-config's version is not the manifest's"
# The soname is the ABI major, and the file is the one the soname names.
soname=$(readelf -d "$plugin" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "$(basename "$plugin")" ] || fail "soname $soname, but pkg-config names $(basename "$plugin")"
# Stripped: no debug sections, a debuglink, and the debug file by build id.
if readelf -S "$plugin" | grep -q '\.debug_info'; then fail "the installed plugin still has its debug info"; fi
readelf -S "$plugin" | grep -q '\.gnu_debuglink' || fail "the installed plugin has no debuglink"
id=$(readelf -n "$plugin" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
dbg="$prefix/lib/debug/.build-id/$(echo "$id" | cut -c1-2)/$(echo "$id" | cut -c3-).debug"
[ -f "$dbg" ] || fail "no debug file at $dbg"
readelf -S "$dbg" | grep -q '\.debug_info' || fail "$dbg holds no debug info"
echo "installed plugin: $(du -kL "$plugin" | cut -f1) KiB stripped; debug info: $(du -k "$dbg" | cut -f1) KiB (compressed)"
