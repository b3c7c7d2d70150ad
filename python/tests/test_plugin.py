"""The plugin through the Python binding, against the Plex simulator: what a
user of a Python host sees happen."""

from __future__ import annotations

import json
import socket
import stat
import urllib.parse

import pytest

from conftest import DEMO_MACHINE_ID, DEMO_SERVER_NAME, SOURCE_ROOT, WAIT_S, wait_for
from plexbridge import (
    MediaType,
    PluginClosedError,
    PlexbridgeError,
    SearchOutcome,
    SettingsRejected,
)

# A real Plex webhook payload: leepeuker/movary's capture of a scrobble
# (MIT; provenance and licence in tests/fixtures/PROVENANCE.md and NOTICE.md).
MOVARY_SCROBBLE = SOURCE_ROOT / "tests" / "fixtures" / "movary" / "plex-scrobble.http"
# The capture's server; ours is the simulator's (the plugin only takes
# webhooks from the server it is connected to).
MOVARY_SERVER_UUID = "27a04b118b1bf1f25f8e99306785453623e18b67"
BOUNDARY = "------------------------d74496d66958873e"

REIGN_OF_FIRE = {
    "type": "movie",
    "imdb": "tt0253556",
    "tmdb": 6278,
    "path": "/data/movies/Reign of Fire (2002)/Reign of Fire (2002).mp4",
}


def plex_webhook_body(event: str) -> bytes:
    """The capture's payload, sent as Plex Media Server sends webhooks:
    multipart/form-data, a JPEG thumbnail part first, then the payload."""
    text = MOVARY_SCROBBLE.read_text(encoding="utf-8")
    payload = json.loads(text[text.index("payload=") + len("payload=") :])
    payload["event"] = event
    payload["Server"]["uuid"] = DEMO_MACHINE_ID
    part = f"--{BOUNDARY}\r\n".encode()
    thumb = b"\xff\xd8\xff\xe0" + b"\x42" * 3000 + b"\r\n--not-the-boundary\r\n" + b"\x00\xff\xd9"
    return (
        part
        + b'Content-Disposition: form-data; name="thumb"; filename="thumb.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        + thumb
        + b"\r\n"
        + part
        + b'Content-Disposition: form-data; name="payload"\r\nContent-Type: application/json\r\n\r\n'
        + json.dumps(payload).encode()
        + b"\r\n"
        + f"--{BOUNDARY}--\r\n".encode()
    )


def webhook_url_from_plex(host, plexsim) -> urllib.parse.SplitResult:
    """Signs in, selects the server and creates the webhook: the URL Plex
    Media Server will call, as plex.tv now holds it."""
    host.sign_in(plexsim)
    host.select_demo_server()
    host.plugin.update_settings({"webhook_base_url": "http://127.0.0.1:6767"})
    created = host.call("POST", "/api/plex/webhook/create")
    assert created.status == 200, created.text
    [url] = plexsim.webhooks()
    return urllib.parse.urlsplit(url)


def send_webhook(host, path: str, query: str, event: str):
    """Posts a webhook to the host as Plex Media Server does."""
    return host.call(
        "POST",
        path,
        query,
        plex_webhook_body(event),
        headers=[("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")],
    )


def test_signing_in_with_a_pin_approved_at_plex(plexsim, make_host):
    host = make_host(plexsim)
    pin = host.call("POST", "/api/plex/oauth/pin")
    assert pin.status == 200, pin.text
    data = pin.json()["data"]
    check = f"/api/plex/oauth/pin/{data['pinId']}/check"
    waiting = host.call("GET", check, f"state={data['state']}")
    assert waiting.json()["data"]["authenticated"] is False, "not approved yet"

    plexsim.link(data["code"])
    done = host.call("GET", check, f"state={data['state']}")
    assert done.status == 200, done.text
    assert done.json()["data"] == {"authenticated": True, "username": "plexuser", "email": "plexuser@example.com"}
    status = host.call("GET", "/api/plex/status").json()["data"]
    assert status["signed_in"] is True
    assert status["account"]["state"] == "ok"
    # The account's token reached the host's store sealed, never in clear.
    stored = (host.data_dir / "plexbridge-settings.json").read_text()
    assert json.loads(stored)["username"] == "plexuser"
    assert plexsim.token not in stored
    assert stat.S_IMODE((host.data_dir / "plexbridge-settings.json").stat().st_mode) == 0o600


def test_a_check_with_another_state_is_refused(plexsim, make_host):
    host = make_host(plexsim)
    data = host.call("POST", "/api/plex/oauth/pin").json()["data"]
    plexsim.link(data["code"])
    forged = host.call("GET", f"/api/plex/oauth/pin/{data['pinId']}/check", "state=not-the-state")
    assert forged.status == 403, forged.text
    assert forged.json()["code"] == "PLEX_STATE_MISMATCH"
    assert host.plugin.settings()["username"] == ""


def test_the_simulators_server_is_listed_after_sign_in(plexsim, make_host):
    host = make_host(plexsim)
    assert host.sign_in(plexsim)["authenticated"] is True
    servers = host.call("GET", "/api/plex/oauth/servers")
    assert servers.status == 200, servers.text
    [server] = servers.json()["data"]
    assert server["name"] == DEMO_SERVER_NAME
    assert server["machineIdentifier"] == DEMO_MACHINE_ID
    assert server["owned"] is True
    assert server["bestConnection"]["available"] is True
    # Every address the simulator serves on is loopback.
    assert {c["address"] for c in server["connections"]} == {"127.0.0.1"}


def test_a_subtitle_event_refreshes_the_movie_in_plex(plexsim, make_host):
    host = make_host(plexsim, {"update_movie_library": True, "confirm_subtitles": False})
    host.sign_in(plexsim)
    host.select_demo_server()

    host.plugin.fire_event("subtitle.downloaded", REIGN_OF_FIRE)

    def refreshed():
        return [r for r in plexsim.requests() if r["method"] == "PUT" and r["path"] == "/library/metadata/1036/refresh"]

    [refresh] = wait_for(refreshed, "the refresh of Reign of Fire (ratingKey 1036) at the simulator")
    assert refresh["listener"] == DEMO_MACHINE_ID, "sent to the selected server"
    assert refresh["status"] == 200
    queue = wait_for(
        lambda: (q := host.call("GET", "/api/plex/status").json()["data"]["queue"])["depth"] == 0 and q,
        "the refresh queue to drain",
    )
    assert queue["state"] == "idle"


def test_an_event_the_plugin_does_not_subscribe_to_is_refused(plexsim, make_host):
    host = make_host(plexsim)
    with pytest.raises(ValueError, match="does not subscribe to 'movie.added'.*subtitle.downloaded"):
        host.plugin.fire_event("movie.added", REIGN_OF_FIRE)


def test_a_plex_webhook_asks_the_python_host_for_a_search(plexsim, make_host):
    host = make_host(plexsim)
    parts = webhook_url_from_plex(host, plexsim)
    assert parts.path == "/api/webhooks/plex"

    answer = send_webhook(host, parts.path, parts.query, "media.play")

    assert answer.status == 200, answer.text
    assert answer.json()["data"]["searched"] is True
    [search] = host.searches.seen
    assert search.media_type is MediaType.MOVIE
    assert search.title == "Big Trouble in Little China"
    assert (search.imdb_id, search.tmdb_id) == ("tt0090728", 6978)
    assert search.season is None and search.episode is None
    assert search.reason == "plex webhook media.play"
    # The same webhook with a wrong key never reaches the host's searches.
    wrong = send_webhook(host, parts.path, "apikey=wrong", "media.play")
    assert wrong.status == 401, wrong.text
    assert wrong.json()["code"] == "PLEX_WEBHOOK_UNAUTHORIZED"
    assert len(host.searches.seen) == 1


def test_a_failing_search_callback_is_a_refusal_not_a_crash(plexsim, make_host):
    def broken(request):
        raise RuntimeError("the library database is locked")

    host = make_host(plexsim, on_search=broken)  # a host whose search queue is broken
    parts = webhook_url_from_plex(host, plexsim)
    answer = send_webhook(host, parts.path, parts.query, "playback.started")
    assert answer.status >= 400, answer.text
    assert "refused" in answer.json()["error"]
    assert "the library database is locked" in host.log.text(), "the traceback is in the host's log"
    # And the plugin still answers.
    assert host.call("GET", "/api/plex/status").status == 200


def test_a_bad_settings_change_is_refused_with_the_plugins_message(make_host):
    host = make_host()
    settings_file = host.data_dir / "plexbridge-settings.json"
    with pytest.raises(SettingsRejected) as refused:
        host.plugin.update_settings({"port": 0})
    assert refused.value.field == "port"
    assert refused.value.message.startswith("port: ")
    # Only the port is compared: after start() the plugin's own thread may
    # store values of its own (a sealed key) in the file at any time.
    assert "port" not in json.loads(settings_file.read_text()), "nothing stored"
    assert host.plugin.settings()["port"] == 32400

    with pytest.raises(SettingsRejected) as wrong_type:
        host.plugin.update_settings({"use_plex": "maybe"})
    assert wrong_type.value.field == "use_plex"

    # A good change is stored, and the plugin sees it (its own page reads it back).
    host.plugin.update_settings({"port": 32401})
    page_view = host.call("GET", "/api/plex/settings")
    assert page_view.status == 200, page_view.text
    assert json.loads(settings_file.read_text())["port"] == 32401


def test_secrets_are_masked_for_display_and_a_mask_sent_back_keeps_them(plexsim, make_host):
    host = make_host(plexsim)
    host.sign_in(plexsim)
    sealed = host.plugin.settings()["token"]
    assert sealed and host.plugin.settings(masked=True)["token"] == "********"
    host.plugin.update_settings({"token": "********", "port": 32401})
    assert host.plugin.settings()["token"] == sealed


def test_unknown_routes_wrong_methods_and_large_bodies(make_host):
    host = make_host()
    unknown = host.call("GET", "/api/plex/no-such-thing")
    assert unknown.status == 404
    assert unknown.json()["code"] == "NOT_FOUND"
    assert host.call("GET", "/api/webhooks").status == 404
    # The page's route is "/plugins/plexbridge/{file*}": without the slash
    # there is no match.
    assert host.call("GET", "/plugins/plexbridge").status == 404

    wrong_method = host.call("DELETE", "/api/plex/status")
    assert wrong_method.status == 405
    assert wrong_method.header("Allow") == "GET"

    limit = next(r for r in host.plugin.routes if r.pattern == "/api/plex/apikey").max_body_bytes
    too_big = host.call("POST", "/api/plex/apikey", body=b"x" * (limit + 1))
    assert too_big.status == 413


def test_the_settings_page_is_served_with_its_headers(make_host):
    host = make_host()
    page = host.plugin.page
    assert page is not None and page.title == "Plex"
    entry = host.call("GET", page.entry_path)
    assert entry.status == 200
    assert entry.content_type.startswith("text/html")
    assert "script-src 'self'" in entry.header("Content-Security-Policy")
    etag = entry.header("ETag")
    again = host.call("GET", page.entry_path, headers=[("If-None-Match", etag)])
    assert again.status == 304 and again.body == b""


def test_closing_answers_a_request_still_waiting_for_plex(make_host, tmp_path):
    # plex.tv that accepts connections and never answers: the PIN request
    # waits on the plugin's thread until the plugin is closed.
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        host = make_host(settings={"use_plex": True, "plextv_url": f"http://127.0.0.1:{silent.getsockname()[1]}"})
        waiting = host.plugin.handle("POST", "/api/plex/oauth/pin")
        assert not waiting.done()
        host.plugin.close()
        answer = waiting.result(timeout=WAIT_S)
        assert answer.status == 503
        assert "shutting down" in answer.json()["error"]
        # After close: requests are turned away, events refused, nothing crashes.
        assert host.plugin.handle("GET", "/api/plex/status").result(timeout=1).status == 503
        with pytest.raises(PluginClosedError):
            host.plugin.fire_event("subtitle.downloaded", REIGN_OF_FIRE)
        host.plugin.close()  # twice is fine
    finally:
        silent.close()


def test_calling_the_plugin_from_inside_the_search_callback_is_refused(plexsim, make_host):
    seen: list[BaseException] = []

    def re_enters(request):
        try:
            host.plugin.fire_event("subtitle.downloaded", REIGN_OF_FIRE)
        except PlexbridgeError as e:
            seen.append(e)
        try:
            host.plugin.close()
        except PlexbridgeError as e:
            seen.append(e)
        return SearchOutcome.QUEUED

    host = make_host(plexsim, on_search=re_enters)
    parts = webhook_url_from_plex(host, plexsim)
    answer = send_webhook(host, parts.path, parts.query, "media.play")
    assert answer.status == 200, answer.text
    assert [str(e) for e in seen] == [
        "fire_event() called from inside request_search(): the ABI forbids calling the plugin there",
        "close() cannot be called from inside a plugin callback: it would wait for itself",
    ]
    assert not host.plugin.closed
