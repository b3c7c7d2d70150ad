#!/usr/bin/env bash
# The soak (docs/reliability.md): plexbridge-host flooded with Plex webhooks
# on loopback for MINUTES (default 10) while settings change, discovery runs
# and subtitle events arrive; prints the host's memory every 10 s as a table
# and fails on any error or on memory that keeps growing.
#   scripts/soak.sh [MINUTES] [BUILD_DIR]      (CI runs 1 minute)
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-10}; BUILD=${2:-build}
exec /usr/bin/python3 tests/soak/soak.py --host-bin "$BUILD/bin/plexbridge-host" --seconds $((MINUTES * 60)) \
  ${PB_SOAK_MAX_REQUESTS:+--max-requests $PB_SOAK_MAX_REQUESTS}
