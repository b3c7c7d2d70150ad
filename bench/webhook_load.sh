#!/usr/bin/env bash
# Webhooks per second through plexbridge-host against nginx serving a static
# 200, on loopback, same machine, same run. Needs wrk and nginx (Debian
# packages `wrk nginx-light`; not needed by the build or the tests).
#
#   bench/webhook_load.sh [seconds=10] [connections=32]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}; CONNS=${2:-32}
WORK=$(mktemp -d)
# Wait for the host to be gone, so that a run right after this one finds the port free.
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; nginx -c "$WORK/nginx.conf" -s stop 2>/dev/null || true; rm -rf "$WORK"' EXIT
PORT=16801; NGINX_PORT=16802

build/bin/plexbridge-host --demo --data-dir "$WORK/data" --listen 127.0.0.1:$PORT --apikey benchkey ${HOST_THREADS:+--threads $HOST_THREADS} > "$WORK/host.out" 2>"$WORK/host.err" &
for i in $(seq 50); do grep -q "demo:" "$WORK/host.out" 2>/dev/null && break; sleep 0.1; done
SIM=$(grep 'demo:' "$WORK/host.out" | grep -o 'http://127.0.0.1:[0-9]*') || { echo "the host did not start:" >&2; cat "$WORK/host.err" >&2; exit 1; }
H="X-API-KEY: benchkey"; B="http://127.0.0.1:$PORT"
PIN=$(curl -s -X POST -H "$H" "$B/api/plex/oauth/pin")
read -r ID CODE STATE < <(echo "$PIN" | python3 -c "import json,sys;d=json.load(sys.stdin)['data'];print(d['pinId'],d['code'],d['state'])")
curl -s -X POST "$SIM/sim/link?code=$CODE" >/dev/null
curl -s -H "$H" "$B/api/plex/oauth/pin/$ID/check?state=$STATE" >/dev/null
curl -s -X PATCH -H "$H" -d "{\"webhook_base_url\":\"$B\",\"webhook_dedupe_seconds\":0}" "$B/api/settings/plex" >/dev/null
curl -s -X POST -H "$H" "$B/api/plex/webhook/create" >/dev/null
URL=$(curl -s -H 'Accept: application/json' -H 'X-Plex-Token: sim-account-token-0123456789' "$SIM/api/v2/user/webhooks" |
      python3 -c "import json,sys;print(json.load(sys.stdin)[0]['url'])")

# The real capture, compact, as Plex sends it: multipart with a thumb
# (THUMB_BYTES=0: no thumb part, as for events Plex sends without one).
python3 - "$WORK" "${THUMB_BYTES:-20000}" <<'PY'
import json, sys
t = open('tests/fixtures/movary/plex-scrobble.http').read()
p = json.loads(t[t.index('payload=') + 8:]); p['event'] = 'media.play'
b = '------------------------d74496d66958873e'
thumb = int(sys.argv[2])
body = ''
if thumb > 0:
    body += ('--%s\r\nContent-Disposition: form-data; name="thumb"; filename="t.jpg"\r\nContent-Type: image/jpeg\r\n\r\n%s\r\n'
             % (b, 'J' * thumb))
body += ('--%s\r\nContent-Disposition: form-data; name="payload"\r\nContent-Type: application/json\r\n\r\n%s\r\n--%s--\r\n'
         % (b, json.dumps(p, separators=(',', ':')), b))
open(sys.argv[1] + '/body', 'w').write(body)
PY
cat > "$WORK/post.lua" <<LUA
local f = io.open("$WORK/body", "rb"); local body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.body = body
wrk.headers["Content-Type"] = "multipart/form-data; boundary=------------------------d74496d66958873e"
LUA
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Content-Type: multipart/form-data; boundary=------------------------d74496d66958873e" --data-binary @"$WORK/body" "$URL")
[ "$code" = 200 ] || { echo "webhook answered $code, expected 200" >&2; exit 1; }

cat > "$WORK/nginx.conf" <<NGX
worker_processes 2; pid $WORK/nginx.pid; error_log $WORK/nginx.err; daemon on;
events { worker_connections 1024; }
http { access_log off; server { listen 127.0.0.1:$NGINX_PORT; location / { return 200 "ok"; } } }
NGX
nginx -c "$WORK/nginx.conf"
echo "== nginx, static 200 (GET)"; wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "http://127.0.0.1:$NGINX_PORT/" | grep -E "Requests/sec|99%|50%"
echo "== nginx, static 200 for the same POST (body read and discarded)"; wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$WORK/post.lua" "http://127.0.0.1:$NGINX_PORT/" | grep -E "Requests/sec|99%|50%"
echo "== plexbridge-host, webhook (POST multipart, parse, resolve, dispatch)"; wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s "$WORK/post.lua" "$URL" | grep -E "Requests/sec|99%|50%|Non-2xx"
