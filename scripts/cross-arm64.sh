#!/usr/bin/env bash
# arm64 packages from an amd64 Debian 12, with Debian's multiarch:
#   scripts/cross-arm64.sh            build into build-arm64/, run the unit and ABI tests
#                                     under qemu-user, make the arm64 .deb files
# As root (it installs crossbuild-essential-arm64, qemu-user and the :arm64
# library packages). Not run by CI: it takes a long time on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH_PACKAGES=(libboost1.81-dev libboost-json1.81-dev libpugixml-dev libsodium-dev libspdlog-dev libssl-dev libgtest-dev)
if ! dpkg --print-foreign-architectures | grep -qx arm64; then dpkg --add-architecture arm64; fi
missing=()
for p in crossbuild-essential-arm64 qemu-user pkg-config "${ARCH_PACKAGES[@]/%/:arm64}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-arm64.cmake -DPB_BENCHMARKS=OFF
cmake --build build-arm64 --target plexbridge pb_unit_tests pb_abi_tests manifest
file build-arm64/kit/lib/libplexbridge.so.*.*
# The parsers, settings and vault tests, and the ABI tests that load the
# arm64 plugin, all under qemu-aarch64.
(cd build-arm64 && ctest --output-on-failure --parallel "$(nproc)" -R '^(Parsers|Core|Settings|Vault|Session|Abi|Header)\.')
(cd build-arm64 && cpack -G DEB >/dev/null && ls -l packages/*.deb)
