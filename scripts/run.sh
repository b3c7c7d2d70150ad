#!/usr/bin/env bash
# One command: install what is missing, build, and run the reference host
# with the plugin loaded. Arguments go to plexbridge-host (try --demo).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec build/bin/plexbridge-host "$@"
