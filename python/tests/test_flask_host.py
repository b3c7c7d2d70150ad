"""The example Flask host (examples/flask_host/app.py) with the real plugin,
through Flask's test client: what a program and a browser see."""

from __future__ import annotations

import importlib.util
import io
import json
import logging
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import SOURCE_ROOT
from plexbridge import pkg_config_variable

flask = pytest.importorskip("flask", reason="the example host needs Flask (Debian: python3-flask)")

APP = Path(__file__).resolve().parents[1] / "examples" / "flask_host" / "app.py"
API_KEY = "k-flask-example-0123456789"


def manifest_path() -> Path:
    installed = pkg_config_variable("manifest")
    if installed and Path(installed).is_file():
        return Path(installed)
    return SOURCE_ROOT / "manifest" / "plugin.json"


def load_example():
    spec = importlib.util.spec_from_file_location("flask_host_app", APP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = load_example()


@pytest.fixture
def app(tmp_path):
    app = example.create_app(tmp_path / "data", API_KEY)
    yield app
    app.extensions["plexbridge"].close()


@pytest.fixture
def client(app):
    return app.test_client()


def cookies_set(response) -> dict[str, tuple[str, str]]:
    """name -> (value, the whole Set-Cookie line), from a response."""
    out = {}
    for line in response.headers.getlist("Set-Cookie"):
        cookie = SimpleCookie()
        cookie.load(line)
        for name, morsel in cookie.items():
            out[name] = (morsel.value, line)
    return out


def sign_in(client) -> str:
    """Signs the test client's browser in; returns the CSRF token."""
    answer = client.post("/login", data={"apikey": API_KEY, "next": "/plugins/plexbridge/"})
    assert answer.status_code == 303
    return cookies_set(answer)["XSRF-TOKEN"][0]


def test_the_api_needs_the_key(client):
    none = client.get("/api/plex/status")
    assert none.status_code == 401
    assert none.get_json()["code"] == "HOST_UNAUTHORIZED"
    assert client.get("/api/plex/status", headers={"X-API-KEY": "k-flask-example-0123456788"}).status_code == 401
    ok = client.get("/api/plex/status", headers={"X-API-KEY": API_KEY})
    assert ok.status_code == 200
    assert ok.get_json()["data"]["signed_in"] is False
    # An unknown path is not revealed to a stranger; with the key it is a 404.
    assert client.get("/api/plex/nothing").status_code == 401
    assert client.get("/api/plex/nothing", headers={"X-API-KEY": API_KEY}).status_code == 404


def test_a_browser_signs_in_and_gets_the_settings_page_with_its_csp(client):
    away = client.get("/plugins/plexbridge/", headers={"Accept": "text/html"})
    assert away.status_code == 303
    assert away.headers["Location"].endswith("/login?next=%2Fplugins%2Fplexbridge%2F")
    form = client.get("/login")
    assert form.status_code == 200
    assert b"name=apikey" in form.data
    assert "default-src 'none'" in form.headers["Content-Security-Policy"]

    wrong = client.post("/login", data={"apikey": "not-it"})
    assert wrong.status_code == 401
    answer = client.post("/login", data={"apikey": API_KEY, "next": "/plugins/plexbridge/"})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith("/plugins/plexbridge/")
    cookies = cookies_set(answer)
    session_line = cookies["pb_session"][1]
    assert "HttpOnly" in session_line and "SameSite=Strict" in session_line
    assert "HttpOnly" not in cookies["XSRF-TOKEN"][1], "the page must be able to read it"
    assert API_KEY not in answer.get_data(as_text=True) + str(answer.headers)

    typed = client.get("/plugins/plexbridge", headers={"Accept": "text/html"})
    assert typed.status_code == 308 and typed.headers["Location"].endswith("/plugins/plexbridge/")
    page = client.get("/plugins/plexbridge/", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'self'" in csp, "the plugin's own policy, passed through"
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_an_unsafe_request_from_the_browser_needs_the_csrf_token(client):
    csrf = sign_in(client)
    change = json.dumps({"manual_server_url": "http://10.0.0.5:32400"})
    forged = client.patch("/api/plex/settings", data=change, content_type="application/json")
    assert forged.status_code == 403
    assert forged.get_json()["code"] == "HOST_CSRF"
    assert client.get("/api/settings/plex").get_json()["data"]["manual_server_url"] == ""
    saved = client.patch(
        "/api/plex/settings", data=change, content_type="application/json", headers={"X-XSRF-TOKEN": csrf}
    )
    assert saved.status_code == 200, saved.get_data(as_text=True)
    assert client.get("/api/settings/plex").get_json()["data"]["manual_server_url"] == "http://10.0.0.5:32400"

    # Signing out is an unsafe request too: the form carries the token.
    assert client.post("/logout").status_code == 403
    assert client.post("/logout", data={"_xsrf": csrf}).status_code == 303
    assert client.get("/api/plex/settings").status_code == 401


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example", "https://evil.example/", "evil"],
)
def test_signing_in_never_redirects_to_another_site(client, target):
    answer = client.post("/login", data={"apikey": API_KEY, "next": target})
    assert answer.status_code == 303
    location = urlsplit(answer.headers["Location"])
    assert (location.netloc, location.path) in (("", "/"), ("localhost", "/"))


def test_the_settings_form_is_drawn_from_what_the_plugin_registered(client, app, tmp_path):
    answer = client.get("/api/settings/plex", headers={"X-API-KEY": API_KEY})
    assert answer.status_code == 200
    schema = answer.get_json()["schema"]
    # The manifest (the kit's, else the checked-in one) describes the same
    # settings: everything a form needs crossed the ABI intact, the 1.1
    # fields included.
    assert schema == json.loads(manifest_path().read_text())["settings"]

    refused = client.patch("/api/settings/plex", json={"port": 0}, headers={"X-API-KEY": API_KEY})
    assert refused.status_code == 400
    assert refused.get_json()["field"] == "port"
    assert refused.get_json()["error"].startswith("port: ")
    stored = client.patch("/api/settings/plex", json={"port": 32401}, headers={"X-API-KEY": API_KEY})
    assert stored.status_code == 200
    assert json.loads((tmp_path / "data" / "settings.json").read_text())["port"] == 32401


def test_bodies_are_bounded_by_the_routes_limit(client, app):
    limit = next(r for r in app.extensions["plexbridge"].routes if r.pattern == "/api/plex/apikey").max_body_bytes
    too_big = client.post("/api/plex/apikey", data=b"x" * (limit + 1), headers={"X-API-KEY": API_KEY})
    assert too_big.status_code == 413
    assert too_big.get_json()["code"] == "HOST_BODY_TOO_LARGE"
    body = b" " * (example.HOST_MAX_BODY + 1)
    host_route = client.patch("/api/settings/plex", data=body, headers={"X-API-KEY": API_KEY})
    assert host_route.status_code == 413


@pytest.mark.parametrize("path", ["/login", "/logout", "/api/plex/apikey"])
def test_a_body_without_a_length_is_read_only_to_the_limit(client, path):
    # Chunked: no Content-Length to refuse early, so the host reads one
    # byte past its limit and stops, whatever the route (a sign-in form too).
    stream = io.BytesIO(b"apikey=" + b"x" * (4 << 20))
    answer = client.post(
        path,
        input_stream=stream,
        content_type="application/x-www-form-urlencoded",
        headers={"Transfer-Encoding": "chunked", "X-API-KEY": API_KEY},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert answer.status_code == 413
    assert stream.tell() <= 1 << 20, "read no further than the limit"


def test_plexs_webhook_reaches_the_plugin_without_the_hosts_key(client):
    # The webhook route is public to the host (Plex cannot send our key);
    # the plugin checks its own key in the URL and refuses this one.
    answer = client.post("/api/webhooks/plex?apikey=guess", data=b"{}", content_type="application/json")
    assert answer.status_code == 401
    assert answer.get_json()["code"] == "PLEX_WEBHOOK_UNAUTHORIZED", "answered by the plugin, not the host"


def test_the_host_fires_the_events_the_plugin_subscribed_and_refuses_others(client):
    fired = client.post(
        "/api/host/events",
        json={"event": "subtitle.downloaded", "media": {"type": "movie", "imdb": "tt0253556"}},
        headers={"X-API-KEY": API_KEY},
    )
    assert fired.status_code == 202
    unknown = client.post("/api/host/events", json={"event": "movie.added"}, headers={"X-API-KEY": API_KEY})
    assert unknown.status_code == 400
    assert "does not subscribe" in unknown.get_json()["error"]
    not_media = client.post(
        "/api/host/events", json={"event": "subtitle.downloaded", "media": "tt0253556"}, headers={"X-API-KEY": API_KEY}
    )
    assert not_media.status_code == 400


def test_the_request_log_never_shows_a_key_from_the_query():
    # How the server logs a request: Plex's webhook carries the plugin's key in its query.
    line = "POST /api/webhooks/plex?apikey=s3cret&event=x HTTP/1.1"
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '%s - - "%s" %s', ("127.0.0.1", line, 200), None)
    assert example.RedactQuerySecrets().filter(record)
    assert record.getMessage() == '127.0.0.1 - - "POST /api/webhooks/plex?apikey=[redacted]&event=x HTTP/1.1" 200'
