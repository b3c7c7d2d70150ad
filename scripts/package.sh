#!/usr/bin/env bash
# Builds the Debian packages from a build folder and checks them:
#   scripts/package.sh [--debootstrap] [BUILD_DIR]      (default: build)
# 1. cpack -G DEB: libplexbridge1, libplexbridge-dev, libplexbridge1-dbgsym
#    in BUILD_DIR/packages/;
# 2. lintian: no errors (warnings are printed);
# 3. with --debootstrap (as root, needs the Debian mirror, a few minutes):
#    a clean Debian 12 root made with debootstrap, both packages installed
#    there with dpkg -i (their dependencies from the mirror), and the plugin
#    loaded there by the C example host (examples/c-host) through its soname.
set -euo pipefail
cd "$(dirname "$0")/.."
DEBOOTSTRAP=0
if [ "${1:-}" = "--debootstrap" ]; then DEBOOTSTRAP=1; shift; fi
BUILD_DIR="$(realpath "${1:-build}")"
[ -f "$BUILD_DIR/CPackConfig.cmake" ] || { echo "package: $BUILD_DIR is not a configured build folder (scripts/build.sh)" >&2; exit 1; }
# What the packages hold, and nothing else (a cross build has no host to build).
cmake --build "$BUILD_DIR" --target plexbridge manifest kit-changelog
rm -rf "$BUILD_DIR/packages"
(cd "$BUILD_DIR" && cpack -G DEB >/dev/null)
mapfile -t DEBS < <(ls "$BUILD_DIR"/packages/*.deb)
# Multi-Arch: same for the library and its -dev package, so an amd64 and an
# arm64 host can be installed side by side; CPack 3.25 has no setting for it.
for deb in "$BUILD_DIR"/packages/libplexbridge[0-9]_*.deb "$BUILD_DIR"/packages/libplexbridge-dev_*.deb; do
  tree=$(mktemp -d)
  dpkg-deb -R "$deb" "$tree"
  sed -i '/^Architecture:/a Multi-Arch: same' "$tree/DEBIAN/control"
  dpkg-deb --root-owner-group -Zxz -b "$tree" "$deb" >/dev/null
  rm -rf "$tree"
done
for deb in "${DEBS[@]}"; do
  echo "== $(basename "$deb"): $(du -k "$deb" | cut -f1) KiB"
  dpkg-deb --field "$deb" Package Version Architecture Multi-Arch Depends | sed 's/^/   /'
done
# Errors fail; warnings are shown for the record. (The two left,
# maintscript-calls-ldconfig, come from CPack's generated postinst/postrm;
# the package also has the ldconfig trigger lintian asks for.)
echo "== lintian"
lintian --fail-on error --tag-display-limit 0 "${DEBS[@]}"
echo "lintian: no errors"

[ "$DEBOOTSTRAP" = 1 ] || exit 0
[ "$(id -u)" -eq 0 ] || { echo "package: --debootstrap needs root (chroot)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "package: apt-get install debootstrap" >&2; exit 1; }
ROOT="$BUILD_DIR/debootstrap-root"
MIRROR="${PB_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
if [ ! -x "$ROOT/usr/bin/dpkg" ]; then
  rm -rf "$ROOT"
  echo "== debootstrap bookworm into $ROOT from $MIRROR"
  debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$BUILD_DIR/debootstrap.log" 2>&1 ||
    { tail -20 "$BUILD_DIR/debootstrap.log" >&2; exit 1; }
fi
# The example host, built here against the header the -dev package holds,
# runs inside the root with nothing of this machine but itself.
mkdir -p "$ROOT/tmp/pb"
cp "${DEBS[@]}" "$ROOT/tmp/pb/"
dpkg-deb --fsys-tarfile "$BUILD_DIR"/packages/libplexbridge-dev_*.deb | tar -x -C "$ROOT/tmp/pb" ./usr/include/plexbridge_plugin.h
cc -std=c11 -O1 -I"$ROOT/tmp/pb/usr/include" examples/c-host/host.c -o "$ROOT/tmp/pb/c-host" -ldl -lpthread
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
trap 'umount "$ROOT/proc" 2>/dev/null || true' EXIT
chroot "$ROOT" /bin/sh -ec '
  apt-get update -q >/dev/null
  # dpkg -i stops at missing dependencies; apt then installs them.
  dpkg -i /tmp/pb/libplexbridge1_*.deb /tmp/pb/libplexbridge-dev_*.deb >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive apt-get install -f -y -q --no-install-recommends >/dev/null
  dpkg -s libplexbridge1 libplexbridge-dev | grep -E "^(Package|Status|Version):"
  ls -l /usr/lib/*/libplexbridge.so*
  /tmp/pb/c-host --plugin libplexbridge.so.1 --data-dir /tmp/pb/data'
echo "debootstrap: installed with dpkg -i and loaded in a clean Debian 12 root"
