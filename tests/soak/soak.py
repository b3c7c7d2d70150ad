"""The soak: plexbridge-host (with its demo simulator) flooded with Plex
webhooks on loopback while the user changes settings, discovery runs and
subtitle events arrive. Passes when no request failed and the host's memory
stayed flat. Started by scripts/soak.sh; see docs/reliability.md.

Standard library only (Debian's /usr/bin/python3), so it runs anywhere the
tests run.
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

BOUNDARY = "------------------------d74496d66958873e"


def webhook_body(repo):
    """The real Plex capture (tests/fixtures/movary), as Plex sends it: multipart, a thumb first."""
    text = open(os.path.join(repo, "tests/fixtures/movary/plex-scrobble.http"), encoding="utf-8").read()
    payload = json.loads(text[text.index("payload=") + 8:])
    payload["event"] = "media.play"
    thumb = "J" * 20000
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="thumb"; filename="t.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n{thumb}\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="payload"\r\n'
        f"Content-Type: application/json\r\n\r\n{json.dumps(payload, separators=(',', ':'))}\r\n--{BOUNDARY}--\r\n"
    ).encode()


class Host:
    """One keep-alive connection to the host."""

    def __init__(self, port, key):
        self.port, self.key = port, key
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None, headers=None, with_key=True):
        h = dict(headers or {})
        if with_key:
            h["X-API-KEY"] = self.key
        if isinstance(body, (dict, list)):
            body, h["Content-Type"] = json.dumps(body), "application/json"
        try:
            self.conn.request(method, path, body=body, headers=h)
            r = self.conn.getresponse()
            data = r.read()
            return r.status, data
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            return None, str(e).encode()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host-bin", required=True)
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--max-requests", type=int, default=3_000_000, help="webhooks at most, whatever the time")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--sample-seconds", type=int, default=10)
    args = ap.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    work = tempfile.mkdtemp(prefix="pb-soak-")
    key = "soak-api-key-0123456789"
    proc = subprocess.Popen(
        [args.host_bin, "--demo", "--data-dir", os.path.join(work, "data"), "--listen", "127.0.0.1:0",
         "--apikey", key, "--set", "plex.webhook_dedupe_seconds=0"],
        stdout=subprocess.PIPE, stderr=open(os.path.join(work, "host.err"), "w"), text=True)
    try:
        port = sim = None
        for line in proc.stdout:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            port = int(m.group(1)) if m else port
            m = re.search(r"demo: Plex simulator .* at (http://127\.0\.0\.1:\d+)", line)
            if m:
                sim = m.group(1)
                break
        if not port or not sim:
            sys.exit("the host did not start: " + open(os.path.join(work, "host.err")).read())
        return soak(args, repo, proc.pid, port, sim, key)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def soak(args, repo, pid, port, sim, key):
    h = Host(port, key)
    # Sign in as a person does: a PIN, linked on the simulator's plex.tv.
    st, pin = h.call("POST", "/api/plex/oauth/pin")
    pin = json.loads(pin)["data"]
    sim_host = sim.rsplit(":", 1)
    c = http.client.HTTPConnection(sim_host[0][7:], int(sim_host[1]), timeout=10)
    c.request("POST", f"/sim/link?code={pin['code']}")
    c.getresponse().read()
    st, _ = h.call("GET", f"/api/plex/oauth/pin/{pin['pinId']}/check?state={pin['state']}")
    assert st == 200, "sign-in"
    st, servers = h.call("GET", "/api/plex/oauth/servers")
    best = json.loads(servers)["data"][0]
    st, body = h.call("POST", "/api/plex/select-server",
                      {"machineIdentifier": best["machineIdentifier"], "uri": best["bestConnection"]["uri"]})
    assert st == 200, body
    h.call("PATCH", "/api/settings/plex", {"webhook_base_url": f"http://127.0.0.1:{port}",
                                           "update_movie_library": True, "set_movie_added": True})
    st, created = h.call("POST", "/api/plex/webhook/create")
    assert st == 200, created
    st, listing = h.call("GET", "/api/plex/webhook/list")
    hook_path = None
    c.request("GET", "/api/v2/user/webhooks", headers={"Accept": "application/json",
                                                       "X-Plex-Token": "sim-account-token-0123456789"})
    for w in json.loads(c.getresponse().read()):
        hook_path = w["url"][w["url"].index("/api/webhooks/"):]
    assert hook_path, listing

    body = webhook_body(repo)
    deadline = time.monotonic() + args.seconds
    lock = threading.Lock()
    counts = {"webhooks": 0, "other": 0, "errors": 0}
    errors = []

    def failed(what, st, data):
        with lock:
            counts["errors"] += 1
            if len(errors) < 10:
                errors.append(f"{what}: {st} {data[:200]!r}")

    def flood():
        me = Host(port, key)
        while time.monotonic() < deadline:
            with lock:
                if counts["webhooks"] >= args.max_requests:
                    return
                counts["webhooks"] += 1
            st, data = me.call("POST", hook_path, body,
                               {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, with_key=False)
            # 200: searched; 204: ignored on purpose (the library is not
            # one of the selected ones half of the time, by the settings thread).
            if st not in (200, 204):
                failed("webhook", st, data)

    def every(seconds, what):
        me = Host(port, key)
        i = 0
        while time.monotonic() < deadline:
            method, path, payload, ok = what(i)
            st, data = me.call(method, path, payload)
            with lock:
                counts["other"] += 1
            if st not in ok:
                failed(f"{method} {path}", st, data)
            i += 1
            time.sleep(seconds)

    movie = {"type": "movie", "imdb": "tt0090728", "tmdb": 6978,
             "path": "/data/movies/Big Trouble in Little China (1986)/Big Trouble in Little China (1986).mkv"}
    threads = [threading.Thread(target=flood) for _ in range(args.connections)]
    threads.append(threading.Thread(target=every, args=(1, lambda i: (
        "PATCH", "/api/plex/settings", {"movie_library": [] if i % 2 else ["1"]}, (200,)))))
    threads.append(threading.Thread(target=every, args=(5, lambda i: (
        "GET", "/api/plex/oauth/servers?refresh=1", None, (200,)))))
    threads.append(threading.Thread(target=every, args=(1, lambda i: (
        "POST", "/api/host/events", {"event": "subtitle.downloaded", "media": movie}, (202,)))))
    threads.append(threading.Thread(target=every, args=(2, lambda i: ("GET", "/api/plex/status", None, (200,)))))
    start = time.monotonic()
    for t in threads:
        t.start()
    samples = []
    while any(t.is_alive() for t in threads[: args.connections]) or time.monotonic() < deadline:
        with lock:
            samples.append((time.monotonic() - start, counts["webhooks"], counts["errors"], rss_kib(pid)))
        if time.monotonic() >= deadline:
            break
        time.sleep(min(args.sample_seconds, max(0.0, deadline - time.monotonic())))
    for t in threads:
        t.join()
    with lock:
        samples.append((time.monotonic() - start, counts["webhooks"], counts["errors"], rss_kib(pid)))

    print(f"| seconds | webhooks | errors | host RSS (MiB) |")
    print(f"|--------:|---------:|-------:|---------------:|")
    for s, n, e, r in samples:
        print(f"| {s:7.0f} | {n:8d} | {e:6d} | {r / 1024:14.1f} |")
    elapsed = samples[-1][0]
    print(f"\n{counts['webhooks']} webhooks ({counts['webhooks'] / elapsed:.0f}/s) and {counts['other']} other "
          f"requests in {elapsed:.0f} s over {args.connections} connections; {counts['errors']} errors")
    # Flat: after a warm-up (the first fifth of the run, at least one
    # sample), the resident size grows by no more than 25 % and 8 MiB.
    warm = next((r for s, _, _, r in samples if s >= elapsed / 5), samples[0][3])
    last = max(r for _, _, _, r in samples[-2:])
    growth = last - warm
    flat = growth <= max(8 * 1024, warm // 4)
    print(f"memory: {warm / 1024:.1f} MiB after the warm-up, {last / 1024:.1f} MiB at the end: "
          f"{'flat' if flat else 'GROWING'}")
    for e in errors:
        print("error:", e)
    return 0 if counts["errors"] == 0 and flat and counts["webhooks"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
