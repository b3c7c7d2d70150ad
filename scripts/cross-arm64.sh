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
# (CMAKE_SKIP_INSTALL_ALL_DEPENDENCY: cpack installs what package.sh built, not everything.)
cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-arm64.cmake -DPB_BENCHMARKS=OFF \
  -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON
# What the packages and the tests below need, not the host, simulator and
# end-to-end tests.
cmake --build build-arm64 --target plexbridge pb_unit_tests pb_abi_tests manifest kit-changelog
file build-arm64/kit/lib/libplexbridge.so.*.*
# The unit tests (parsers, settings, vault, session) and the ABI tests,
# which load the arm64 plugin into an arm64 fake host, under qemu-aarch64.
QEMU=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
# qemu-user 7.2 (Debian 12) on some kernels (seen on 6.18) hangs at the
# first pthread_create of a dynamically linked arm64 program; a static one
# runs. Check that first: the ABI tests that start the plugin's thread need it.
probe_dir=$(mktemp -d)
printf '#include <pthread.h>\nstatic void* f(void* a) { return a; }\nint main(void) { pthread_t t; return pthread_create(&t, 0, f, 0) || pthread_join(t, 0); }\n' >"$probe_dir/t.c"
aarch64-linux-gnu-gcc "$probe_dir/t.c" -o "$probe_dir/t" -pthread
FILTER=()
if ! timeout 20 "${QEMU[@]}" "$probe_dir/t"; then
  echo "cross-arm64: this qemu-aarch64 hangs when a dynamically linked program starts a thread;" >&2
  echo "cross-arm64: skipping the two ABI tests that start the plugin (run them on arm64 hardware)" >&2
  FILTER=(--gtest_filter=-Abi.RoutesAnswerThroughRespondAndNothingAfterDestroy:Abi.AHostFromALaterMinorIsReadUpToWhatThePluginKnows)
fi
rm -rf "$probe_dir"
"${QEMU[@]}" build-arm64/bin/pb_unit_tests --gtest_brief=1
"${QEMU[@]}" build-arm64/bin/pb_abi_tests --gtest_brief=1 "${FILTER[@]}"
scripts/package.sh build-arm64
