#!/usr/bin/env bash
# Installs what plexbridge needs to build, from Debian's packages only.
# Safe to run again: it installs only what is missing.
#   scripts/setup.sh [--bench]   --bench: also what bench/run-all.sh runs
set -euo pipefail

PACKAGES=(
  cmake g++ pkg-config ninja-build clang-format-14
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libpugixml-dev libsodium-dev libspdlog-dev libssl-dev
  libgtest-dev libbenchmark-dev
  chromium fonts-dejavu-core
  valgrind lintian python3-flask python3-pytest clang-14 libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# valgrind checks the C example host, lintian the Debian packages, clang-14
# compiles the public header a second way (tests/CMakeLists.txt) and, with
# libclang-rt-14-dev (libFuzzer), the fuzz targets (scripts/fuzz.sh); Debian's
# own /usr/bin/python3 with python3-flask and python3-pytest runs the Python
# binding's tests (never a PyPI package).
# chromium runs the settings page's browser tests (tests/browser), driven by
# playwright-core from npm: no browser is ever downloaded.
# Node and npm run the client-library test (tests/client_library). A machine
# that already has npm (an image may bring its own node, which Debian's npm
# package conflicts with) keeps its own.
command -v npm >/dev/null || missing+=(nodejs npm)
# The benchmarks' load generator and their nginx ceiling (bench/run-all.sh).
if [ "${1:-}" = "--bench" ]; then
  for p in wrk nginx-light curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "plexbridge: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "plexbridge: run as root or install sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
