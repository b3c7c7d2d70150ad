"""An example host for the plexbridge plugin, on Flask.

What a host owes the plugin, and nothing else:
  - mount every route the plugin registered (its API under /api/, its
    settings page under /plugins/plexbridge/);
  - authenticate callers of routes marked HOST_APIKEY: programs with the
    X-API-KEY header, browsers with a session cookie obtained once with
    the key on /login (HttpOnly, SameSite=Strict), plus the XSRF-TOKEN
    cookie the page echoes in the X-XSRF-TOKEN header on unsafe requests;
  - bound request bodies to the route's max_body_bytes (413 above), also
    when they come without a length;
  - keep secrets out of its logs (Plex's webhook carries the plugin's key
    in its query);
  - keep the settings in a JSON file in the data directory, validated by
    the plugin before they are stored;
  - fire subtitle events, and answer the plugin's search requests.

Run it:  python3 app.py --data-dir ./data   (see python/README.md)

Run ONE process: the plugin keeps a queue, a token vault and a webhook
key per data directory, and two processes loading it would refresh twice.
Threads are fine (Flask's server is threaded; or gunicorn --workers 1
--threads 8).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import hmac
import html
import json
import logging
import os
import re
import secrets
import signal
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

from flask import Flask, Response, abort, jsonify, redirect, request

# Vendored or installed: either way "import plexbridge" works; from a
# checkout of the repository the package is two folders up.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from plexbridge import Response as PluginResponse  # noqa: E402
from plexbridge import (  # noqa: E402
    JsonFileSettingsStore,
    Plugin,
    PlexbridgeError,
    SearchOutcome,
    SearchRequest,
    SettingsRejected,
)

SESSION_COOKIE = "pb_session"
CSRF_COOKIE = "XSRF-TOKEN"  # the page reads it...
CSRF_HEADER = "X-XSRF-TOKEN"  # ...and sends it back on every unsafe request
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# How long a request may wait for the plugin's answer (a sign-in check
# waits for plex.tv; the plugin has its own, shorter timeouts).
ANSWER_TIMEOUT_S = 120
# The host's own pages: nothing from elsewhere, no inline script or style.
HOST_CSP = "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
# Bodies of the host's own routes (events, settings, sign-in).
HOST_MAX_BODY = 64 * 1024


class Sessions:
    """Browser sessions in memory: session id -> CSRF token. A restart signs
    browsers out, which is fine for an example (and for most hosts)."""

    IDLE_S = 12 * 3600
    MAX = 256  # the oldest goes first, so a flood of sign-ins cannot grow memory

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: collections.OrderedDict[str, tuple[str, float]] = collections.OrderedDict()

    def open(self) -> tuple[str, str]:
        session, csrf = secrets.token_hex(16), secrets.token_hex(16)
        with self._lock:
            self._live[session] = (csrf, time.monotonic())
            while len(self._live) > self.MAX:
                self._live.popitem(last=False)
        return session, csrf

    def csrf_of(self, session: str) -> str | None:
        """The session's CSRF token while it is live, else None."""
        with self._lock:
            found = self._live.get(session)
            if found is None or time.monotonic() - found[1] > self.IDLE_S:
                self._live.pop(session, None)
                return None
            self._live[session] = (found[0], time.monotonic())
            self._live.move_to_end(session)
            return found[0]

    def close(self, session: str) -> None:
        with self._lock:
            self._live.pop(session, None)


def same(a: str, b: str) -> bool:
    """Constant time: how long a comparison takes must not say how much matched."""
    return hmac.compare_digest(a.encode(), b.encode())


def error(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": message, "code": code})
    response.status_code = status
    return response


def raw_path() -> str:
    """The path as requested, still percent-encoded (the ABI's pb_http_request.path).
    WSGI decodes PATH_INFO; servers keep the original in REQUEST_URI/RAW_URI."""
    uri = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI")
    if uri:
        return urlsplit(uri).path or "/"
    return quote(request.environ.get("PATH_INFO", "/").encode("latin-1"), safe="/:@!$&'()*+,;=-._~")


def read_body(limit: int) -> bytes:
    """The request body; 413 when it is larger than `limit`. Refused by its
    declared length before a byte is read; a body that streams in without
    one (chunked) is read only to one byte past the limit. Never Flask's
    request.form or request.get_json(): they read a chunked body whole."""
    too_large = f"the body is larger than {limit} bytes"
    if request.content_length is not None and request.content_length > limit:
        abort(413, too_large)
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        abort(413, too_large)
    return body


def read_form() -> dict[str, str]:
    """A host page's form (application/x-www-form-urlencoded)."""
    return dict(parse_qsl(read_body(HOST_MAX_BODY).decode("utf-8", errors="replace")))


def read_json_object() -> dict | None:
    """The body as a JSON object, or None (not JSON, not an object)."""
    try:
        value = json.loads(read_body(HOST_MAX_BODY) or b"null")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def local_path(target: str) -> str:
    """target when it is a path of this host, else "/": never a redirect to
    another site. To a browser "//evil.example" and "/\\evil.example" are
    another site, and so is "/", a tab, "/evil.example" (browsers drop tabs
    and newlines from URLs): only printable ASCII without spaces passes."""
    return target if re.fullmatch(r"/(?![/\\])[!-~]*", target) else "/"


class RedactQuerySecrets(logging.Filter):
    """Plex calls the webhook with the plugin's key in the query (it cannot
    send a header); keep such values out of the request log."""

    SECRET = re.compile(r"([?&](?:api_?key|token|x-plex-token)=)[^&\s\"]*", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.SECRET.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


def as_flask(answer: PluginResponse) -> Response:
    return Response(answer.body, answer.status, list(answer.headers), content_type=answer.content_type)


def create_app(data_dir: str | os.PathLike[str], api_key: str, plugin_path: str | None = None) -> Flask:
    """The host: loads and starts the plugin (close it with
    app.extensions["plexbridge"].close(), or let interpreter exit do it)."""
    if len(api_key) < 16:
        raise ValueError("the API key must have at least 16 characters")
    app = Flask(__name__)
    data_dir = Path(data_dir)
    sessions = Sessions()
    searches: collections.deque[dict] = collections.deque(maxlen=100)

    def on_search(req: SearchRequest) -> SearchOutcome:
        # Called from the plugin's threads (or a webhook's request thread):
        # return at once, never call the plugin from here. A real host
        # looks the media up in its library and queues a search job.
        searches.append(
            {
                "type": req.media_type.name.lower(),
                "imdb": req.imdb_id,
                "tmdb": req.tmdb_id,
                "tvdb": req.tvdb_id,
                "season": req.season,
                "episode": req.episode,
                "title": req.title,
                "reason": req.reason,
            }
        )
        return SearchOutcome.QUEUED

    plugin = Plugin.load(plugin_path, data_dir, JsonFileSettingsStore(data_dir / "settings.json"),
                         on_search, app.logger, host_name="plexbridge flask example")
    plugin.start()
    app.extensions["plexbridge"] = plugin

    # ---- who is calling ----------------------------------------------------

    def refuse_unauthenticated(form_csrf: str | None = None) -> Response | None:
        """None when the caller may go on, else the answer that stops it.
        form_csrf: the CSRF token of a host page's form (a form cannot send
        the header). (A host on a network should also slow down key
        guessing, as plexbridge-host does: ten wrong keys per address, then
        429.)"""
        key = request.headers.get("X-API-KEY")
        if key is not None:
            # A program. No cookies are involved, so no CSRF check either.
            return None if same(key, api_key) else error(401, "HOST_UNAUTHORIZED", "wrong API key")
        csrf = sessions.csrf_of(request.cookies.get(SESSION_COOKIE, ""))
        if csrf is None:
            if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
                return redirect("/login?next=" + quote(raw_path(), safe=""), 303)  # a person: sign in, come back
            return error(401, "HOST_UNAUTHORIZED", "send the X-API-KEY header, or sign in at /login")
        # SameSite=Strict keeps the cookie off other sites' requests, not off
        # other ports of this host name: unsafe requests also need the token
        # only this origin's pages can read.
        sent = request.headers.get(CSRF_HEADER) or form_csrf or ""
        if request.method not in SAFE_METHODS and not same(sent, csrf):
            return error(403, "HOST_CSRF", "the request did not carry this page's CSRF token; reload the page")
        return None

    def set_session_cookies(response: Response, session: str, csrf: str) -> None:
        secure = request.scheme == "https"
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="Strict", secure=secure, path="/")
        # Readable by the page's scripts on purpose: they echo it in X-XSRF-TOKEN.
        response.set_cookie(CSRF_COOKIE, csrf, httponly=False, samesite="Strict", secure=secure, path="/")

    @app.errorhandler(413)
    def too_large(e: Exception) -> Response:
        return error(413, "HOST_BODY_TOO_LARGE", getattr(e, "description", "the body is too large"))

    @app.after_request
    def host_page_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
            response.headers["Content-Security-Policy"] = HOST_CSP
        return response

    # ---- the plugin's routes ------------------------------------------------

    @app.route("/api/<path:_rest>", methods=ALL_METHODS)
    @app.route("/plugins/<path:_rest>", methods=ALL_METHODS)
    def plugin_route(_rest: str) -> Response:
        path = raw_path()
        found = plugin.match(request.method, path)
        # Only a public route (Plex's webhook, which carries the plugin's
        # own key) skips the host's check; an unknown path does not, so a
        # stranger cannot map the routes.
        if (found is None or found[0].needs_host_auth) and (refused := refuse_unauthenticated()) is not None:
            return refused
        if found is None:
            if plugin.page and request.method == "GET" and path + "/" == plugin.page.entry_path:
                return redirect(plugin.page.entry_path, 308)  # the page's address, typed without its slash
            # The binding answers an unknown path (404) or method (405).
            return as_flask(plugin.handle(request.method, path).result())
        route, _ = found
        body = read_body(route.max_body_bytes)
        # The plugin never sees the host's credentials: it needs neither.
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in ("x-api-key", "cookie")]
        future = plugin.handle(request.method, path, request.environ.get("QUERY_STRING", ""), headers, body,
                               request.remote_addr or "")
        try:
            return as_flask(future.result(timeout=ANSWER_TIMEOUT_S))
        except concurrent.futures.TimeoutError:
            return error(504, "HOST_TIMEOUT", "the plugin did not answer in time")

    # ---- the host's own routes -------------------------------------------------

    @app.get("/login")
    def login_page() -> Response:
        nxt = html.escape(request.args.get("next", "/"))
        return Response(
            "<!doctype html><meta charset=utf-8><title>Sign in</title><h1>Sign in</h1>"
            f"<form method=post action=/login><input type=hidden name=next value=\"{nxt}\">"
            "<label>API key <input type=password name=apikey autocomplete=current-password required></label> "
            "<button>Sign in</button></form>",
            mimetype="text/html",
        )

    @app.post("/login")
    def login() -> Response:
        form = read_form()  # the /login form; programs send X-API-KEY instead
        if not same(form.get("apikey", ""), api_key):
            return error(401, "HOST_UNAUTHORIZED", "that is not this host's API key")
        sessions.close(request.cookies.get(SESSION_COOKIE, ""))  # never reuse a session the browser brought
        session, csrf = sessions.open()
        response = redirect(local_path(form.get("next", "/")), 303)
        set_session_cookies(response, session, csrf)
        return response

    @app.post("/logout")
    def logout() -> Response:
        if (refused := refuse_unauthenticated(read_form().get("_xsrf"))) is not None:
            return refused
        sessions.close(request.cookies.get(SESSION_COOKIE, ""))
        response = redirect("/login", 303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    @app.get("/")
    def index() -> Response:
        if (refused := refuse_unauthenticated()) is not None:
            return refused
        page = plugin.page
        link = f'<p><a href="{html.escape(page.entry_path)}">{html.escape(page.title)} settings</a></p>' if page else ""
        csrf = sessions.csrf_of(request.cookies.get(SESSION_COOKIE, "")) or ""
        return Response(
            "<!doctype html><meta charset=utf-8><title>Example host</title>"
            f"<h1>Plugins</h1><p>{html.escape(plugin.id)} {html.escape(plugin.version)}</p>{link}"
            f"<form method=post action=/logout><input type=hidden name=_xsrf value=\"{html.escape(csrf)}\">"
            "<button>Sign out</button></form>",
            mimetype="text/html",
        )

    @app.route("/api/settings/plex", methods=["GET", "PATCH"])
    def settings() -> Response:
        if (refused := refuse_unauthenticated()) is not None:
            return refused
        if request.method == "GET":
            # The form a host draws: masked values and the schema the plugin registered.
            return jsonify({"data": plugin.settings(masked=True), "schema": plugin.settings_schema})
        patch = read_json_object()
        if patch is None:
            return error(400, "HOST_BAD_REQUEST", "the body must be a JSON object of settings")
        try:
            plugin.update_settings(patch)
        except SettingsRejected as e:
            response = jsonify({"error": e.message, "code": "PLEX_INVALID_SETTING", "field": e.field})
            response.status_code = 400
            return response
        except PlexbridgeError as e:
            return error(500, "HOST_STORAGE", str(e))
        return jsonify({"data": plugin.settings(masked=True)})

    @app.post("/api/host/events")
    def fire_event() -> Response:
        # What the host's own code does after a subtitle changes; an HTTP
        # route here only so that it can be tried by hand.
        if (refused := refuse_unauthenticated()) is not None:
            return refused
        event = read_json_object()
        if event is None or not isinstance(event.get("event"), str) or not isinstance(event.get("media", {}), dict):
            return error(400, "HOST_BAD_REQUEST", 'expected {"event": "subtitle.downloaded", "media": {...}}')
        try:
            plugin.fire_event(event["event"], event.get("media", {}))
        except ValueError as e:
            return error(400, "HOST_UNKNOWN_EVENT", str(e))
        response = jsonify({"data": {"fired": event["event"]}})
        response.status_code = 202
        return response

    @app.get("/api/host/searches")
    def list_searches() -> Response:
        if (refused := refuse_unauthenticated()) is not None:
            return refused
        return jsonify({"data": list(searches)})

    return app


def load_api_key(data_dir: Path) -> str:
    """$PLEXBRIDGE_HOST_APIKEY, else the stored key, else a new one, stored
    0600 (never printed or logged: the terminal may be a journal)."""
    if key := os.environ.get("PLEXBRIDGE_HOST_APIKEY"):
        return key
    path = data_dir / "host-apikey"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(16)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    print(f"generated an API key; read it from {path}", file=sys.stderr)
    return key


def main() -> int:
    parser = argparse.ArgumentParser(description="An example plexbridge host on Flask.")
    parser.add_argument("--data-dir", default="./plexbridge-data", help="settings, the plugin's files, the API key")
    parser.add_argument("--listen", default="127.0.0.1:6768", help="ADDRESS:PORT (default 127.0.0.1:6768)")
    parser.add_argument("--plugin", help="libplexbridge.so (default: $PLEXBRIDGE_PLUGIN, pkg-config, the loader)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").addFilter(RedactQuerySecrets())  # the server's request log
    address, _, port = args.listen.rpartition(":")
    if not address or not port.isdigit():
        parser.error("--listen must be ADDRESS:PORT")
    data_dir = Path(args.data_dir)
    try:
        app = create_app(data_dir, load_api_key(data_dir), args.plugin)
    except PlexbridgeError as e:
        print(f"plexbridge not loaded: {e}", file=sys.stderr)
        return 1
    print(f"listening on http://{args.listen}/ (sign in with the API key)", file=sys.stderr)
    # SIGTERM (systemd, docker stop) ends the server like Ctrl-C does, so
    # that the plugin is closed: its threads joined, its queue on disk.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        # No reloader: it would load the plugin in a second process.
        app.run(host=address.strip("[]"), port=int(port), threaded=True, use_reloader=False)
    finally:
        app.extensions["plexbridge"].close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
