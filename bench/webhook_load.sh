#!/usr/bin/env bash
# Webhooks per second on loopback, same machine, same run, three servers
# given the same POST (the real Plex webhook: multipart, the JSON payload from
# tests/fixtures/movary/plex-scrobble.http, with or without a 20 KB thumb):
#   plexbridge  plexbridge-host --demo, the plugin's webhook URL (parse,
#               resolve, dispatch);
#   nginx       nginx-light answering a static 200 (body read and discarded):
#               the ceiling;
#   flask       bench/peers/flask_webhook.py, a receiver of the usual kind on
#               Flask's own threaded server.
#
#   bench/webhook_load.sh [--quick] [seconds=10] [connections="1 4 16 64"]
#
# --quick (or SECS=1): 1 s per run, connections "1 16", a smoke run.
# THUMB_BYTES=N: only that body (0: no thumb part); default both 20000 and 0.
# HOST_THREADS=N: plexbridge-host --threads. Binaries from $PB_BUILD_DIR
# (default build). Needs wrk, nginx, Flask and curl (Debian packages
# `wrk nginx-light python3-flask curl`; not needed by the build or the tests).
#
# Output: wrk's figures for people, and per run one machine-readable line
#   @bench {"table":"webhooks","key":{"server":"plexbridge"|"nginx"|"flask","conns":N,"thumb":true|false},
#           "values":{"rps":..,"p50_ms":..,"p99_ms":..,"errors":..}}
# errors = connect + read + write + timeout errors + non-2xx answers. plexbridge
# records also carry rss_before_mib/rss_after_mib: the host's VmRSS just
# before and just after that run (so the first run's "before" is the idle
# host, the last run's "after" the host after all the load).
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=0
if [ "${1:-}" = "--quick" ]; then QUICK=1; shift; fi
if [ "$QUICK" = 1 ]; then SECS=${1:-1}; CONNS=${2:-"1 16"}
else SECS=${1:-${SECS:-10}}; CONNS=${2:-${CONNS:-"1 4 16 64"}}; fi
case "$SECS" in ''|*[!0-9]*|0) echo "webhook_load: seconds must be a positive integer, not '$SECS'" >&2; exit 2;; esac
for c in $CONNS; do
  case "$c" in ''|*[!0-9]*|0) echo "webhook_load: connections must be positive integers, not '$c'" >&2; exit 2;; esac
done
if [ -n "${THUMB_BYTES:-}" ]; then THUMBS=$THUMB_BYTES; else THUMBS="20000 0"; fi

PY=/usr/bin/python3
BUILD_DIR=${PB_BUILD_DIR:-build}
HOST_BIN=$BUILD_DIR/bin/plexbridge-host

# What is missing, and which Debian package brings it.
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v curl >/dev/null || missing+=(curl)
[ -x "$PY" ] || missing+=(python3)
[ -x "$PY" ] && "$PY" -c 'import flask' 2>/dev/null || missing+=(python3-flask)
if [ ${#missing[@]} -gt 0 ]; then
  echo "webhook_load: missing tools; install the Debian packages: apt-get install ${missing[*]}" >&2
  exit 2
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$HOST_BIN" ] || { echo "webhook_load: no $HOST_BIN; build it (PB_BUILD_DIR=$BUILD_DIR scripts/build.sh)" >&2; exit 2; }

WORK=$(mktemp -d)
HOST_PID=; FLASK_PID=
cleanup() {
  [ -n "$HOST_PID" ] && kill "$HOST_PID" 2>/dev/null
  [ -n "$FLASK_PID" ] && kill "$FLASK_PID" 2>/dev/null
  [ -f "$WORK/nginx.pid" ] && "$NGINX" -c "$WORK/nginx.conf" -s stop 2>/dev/null
  # Wait for them to be gone, so that a run right after this one finds the ports free.
  wait 2>/dev/null
  for _ in $(seq 50); do [ -f "$WORK/nginx.pid" ] || break; sleep 0.1; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Free loopback ports, one per server (the kernel's choice, so that runs of
# other people on the same machine do not collide).
read -r PORT NGINX_PORT FLASK_PORT < <("$PY" - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks: s.bind(('127.0.0.1', 0))
print(*[s.getsockname()[1] for s in socks])
PY
)

"$HOST_BIN" --demo --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --apikey benchkey ${HOST_THREADS:+--threads $HOST_THREADS} > "$WORK/host.out" 2>"$WORK/host.err" &
HOST_PID=$!
for _ in $(seq 100); do grep -q "demo:" "$WORK/host.out" 2>/dev/null && break; sleep 0.1; done
SIM=$(grep 'demo:' "$WORK/host.out" | grep -o 'http://127.0.0.1:[0-9]*') || { echo "the host did not start:" >&2; cat "$WORK/host.err" >&2; exit 1; }
H="X-API-KEY: benchkey"; B="http://127.0.0.1:$PORT"
PIN=$(curl -sf -X POST -H "$H" "$B/api/plex/oauth/pin")
read -r ID CODE STATE < <(echo "$PIN" | "$PY" -c "import json,sys;d=json.load(sys.stdin)['data'];print(d['pinId'],d['code'],d['state'])")
curl -sf -X POST "$SIM/sim/link?code=$CODE" >/dev/null
curl -sf -H "$H" "$B/api/plex/oauth/pin/$ID/check?state=$STATE" >/dev/null
curl -sf -X PATCH -H "$H" -d "{\"webhook_base_url\":\"$B\",\"webhook_dedupe_seconds\":0}" "$B/api/settings/plex" >/dev/null
curl -sf -X POST -H "$H" "$B/api/plex/webhook/create" >/dev/null
HOST_URL=$(curl -sf -H 'Accept: application/json' -H 'X-Plex-Token: sim-account-token-0123456789' "$SIM/api/v2/user/webhooks" |
      "$PY" -c "import json,sys;print(json.load(sys.stdin)[0]['url'])")

# Flask's threaded server, as Plex integrations deploy their receivers.
"$PY" bench/peers/flask_webhook.py "$FLASK_PORT" > "$WORK/flask.out" 2>"$WORK/flask.err" &
FLASK_PID=$!
FLASK_URL="http://127.0.0.1:$FLASK_PORT/webhook"

cat > "$WORK/nginx.conf" <<NGX
worker_processes 2; pid $WORK/nginx.pid; error_log $WORK/nginx.err; daemon on;
events { worker_connections 1024; }
http { access_log off;
       server { listen 127.0.0.1:$NGINX_PORT; location / { return 200 "ok"; } } }
NGX
"$NGINX" -e "$WORK/nginx.err" -c "$WORK/nginx.conf" 2>"$WORK/nginx.start" ||
  { echo "nginx did not start:" >&2; cat "$WORK/nginx.start" >&2; exit 1; }
NGINX_URL="http://127.0.0.1:$NGINX_PORT/webhook"

for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$FLASK_PORT/health" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$FLASK_PORT/health" || { echo "flask did not start:" >&2; cat "$WORK/flask.err" >&2; exit 1; }

# The real capture, compact, as Plex sends it: multipart with a thumb
# (0 bytes: no thumb part, as for events Plex sends without one).
make_body() { # thumb bytes, file
  "$PY" - "$1" "$2" <<'PY'
import json, sys
t = open('tests/fixtures/movary/plex-scrobble.http').read()
p = json.loads(t[t.index('payload=') + 8:]); p['event'] = 'media.play'
b = '------------------------d74496d66958873e'
thumb = int(sys.argv[1])
body = ''
if thumb > 0:
    body += ('--%s\r\nContent-Disposition: form-data; name="thumb"; filename="t.jpg"\r\nContent-Type: image/jpeg\r\n\r\n%s\r\n'
             % (b, 'J' * thumb))
body += ('--%s\r\nContent-Disposition: form-data; name="payload"\r\nContent-Type: application/json\r\n\r\n%s\r\n--%s--\r\n'
         % (b, json.dumps(p, separators=(',', ':')), b))
open(sys.argv[2], 'w', newline='').write(body)
PY
}
CTYPE="multipart/form-data; boundary=------------------------d74496d66958873e"

# wrk posts the body and, when done, prints its figures as one JSON line.
make_lua() { # body file, lua file
  cat > "$2" <<LUA
local f = io.open("$1", "rb"); local body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.body = body
wrk.headers["Content-Type"] = "$CTYPE"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('@wrk {"rps":%.2f,"p50_ms":%.3f,"p99_ms":%.3f,"errors":%d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, e.connect + e.read + e.write + e.timeout + e.status))
end
LUA
}

# The host's VmRSS in MiB; null once it is gone.
rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024; found = 1 } END { if (!found) printf "null" }' "/proc/$HOST_PID/status" 2>/dev/null || echo null; }

run() { # server url conns thumb(true|false) lua
  local server=$1 url=$2 conns=$3 thumb=$4 lua=$5 threads=2 before="" after="" out="" values=""
  [ "$conns" -lt 2 ] && threads=1
  [ "$server" = plexbridge ] && before=$(rss_mib)
  out=$(wrk -t"$threads" -c"$conns" -d"${SECS}s" --latency -s "$lua" "$url")
  [ "$server" = plexbridge ] && after=$(rss_mib)
  echo "== $server, $conns connection(s), thumb $thumb"
  echo "$out" | grep -E "Requests/sec|^ +50%|^ +99%|Non-2xx|Socket errors" || true
  values=$(echo "$out" | sed -n 's/^@wrk //p')
  [ -n "$values" ] || { echo "webhook_load: wrk printed no figures:" >&2; echo "$out" >&2; exit 1; }
  [ -n "$before" ] && values="${values%\}},\"rss_before_mib\":$before,\"rss_after_mib\":$after}"
  echo "@bench {\"table\":\"webhooks\",\"key\":{\"server\":\"$server\",\"conns\":$conns,\"thumb\":$thumb},\"values\":$values}"
}

echo "# ${SECS}s per run; connections: $CONNS; bodies: thumb bytes $THUMBS; host $HOST_BIN${HOST_THREADS:+ --threads $HOST_THREADS}"
for tb in $THUMBS; do
  body="$WORK/body-$tb"; lua="$WORK/post-$tb.lua"
  make_body "$tb" "$body"; make_lua "$body" "$lua"
  thumb=false; [ "$tb" -gt 0 ] && thumb=true
  # Every server answers 200 to the real webhook before anything is measured.
  for url in "$HOST_URL" "$NGINX_URL" "$FLASK_URL"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Content-Type: $CTYPE" --data-binary @"$body" "$url")
    [ "$code" = 200 ] || { echo "webhook_load: $url answered $code to the webhook (thumb $thumb), expected 200" >&2; exit 1; }
  done
  for c in $CONNS; do
    run nginx "$NGINX_URL" "$c" "$thumb" "$lua"
    run flask "$FLASK_URL" "$c" "$thumb" "$lua"
    run plexbridge "$HOST_URL" "$c" "$thumb" "$lua"
  done
done
