"""Fixtures: the Plex simulator (plexsim) and the plugin, loaded through the
binding as a Python host loads it. Everything talks to 127.0.0.1 only.

Environment:
  PB_PLEXSIM         the simulator binary (default: the build tree's)
  PLEXBRIDGE_PLUGIN  the plugin library; unset, the binding finds it
                     itself (pkg-config, then the loader), as in ctest
"""

from __future__ import annotations

import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
SOURCE_ROOT = HERE.parents[1]  # the repository: tests/fixtures, plugin_api, manifest
sys.path.insert(0, str(HERE.parent))  # the package, as a host that vendors it

from plexbridge import Plugin, SearchOutcome, SearchRequest  # noqa: E402

PLEXSIM = os.environ.get("PB_PLEXSIM", str(SOURCE_ROOT / "build" / "bin" / "plexsim"))
START_TIMEOUT_S = 15
# How long a test waits for something the plugin does in the background
# (a refresh, a sign-in check): generous for a loaded CI machine, and a
# passing test never waits it out.
WAIT_S = 20

# The simulator's demo world (sim/simulator.cpp, add_demo_world; sim/sim_data.cpp).
DEMO_SERVER_NAME = "Living Room"
DEMO_MACHINE_ID = "5d3e8f0a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"

# urllib without proxies: a proxy from the environment must never see (or
# break) a loopback test.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def wait_for(condition: Callable[[], Any], what: str, timeout_s: float = WAIT_S) -> Any:
    """Polls `condition` until it returns something true; fails the test
    with `what` after timeout_s. Returns that value."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout_s} s for {what}")
        time.sleep(0.02)


@dataclass
class Simulator:
    """A running plexsim: plex.tv and one Plex Media Server on loopback."""

    url: str  # plex.tv over http, where the controls (/sim/...) are too
    token: str  # the account's token, as plex.tv gives it after sign-in
    ca_file: str  # the CA of its https listeners, for the tls_ca_file setting

    def call(self, method: str, path: str, headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(self.url + path, method=method, headers=headers or {})
        with _http.open(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def link(self, code: str) -> None:
        """What the user does on app.plex.tv: approve the PIN."""
        assert self.call("POST", "/sim/link?code=" + urllib.parse.quote(code)) == {"linked": True}

    def requests(self) -> list[dict[str, Any]]:
        """Every request the simulator received (plex.tv and the server)."""
        return self.call("GET", "/sim/requests")

    def webhooks(self) -> list[str]:
        """The account's webhook URLs as plex.tv holds them."""
        hooks = self.call(
            "GET", "/api/v2/user/webhooks", {"X-Plex-Token": self.token, "Accept": "application/json"}
        )
        return [h["url"] for h in hooks]


@pytest.fixture
def plexsim(tmp_path: Path) -> Iterator[Simulator]:
    ca_file = tmp_path / "plexsim-ca.pem"
    process = subprocess.Popen(
        [PLEXSIM, "--port", "0", "--ca-out", str(ca_file)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    # The banner says where it listens; read it on a thread so a simulator
    # that prints nothing fails the test instead of hanging it.
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    banner: dict[str, str] = {}
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "account token" not in banner:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"{PLEXSIM} printed no banner within {START_TIMEOUT_S} s")
            key, _, value = line.partition(": ")
            banner[key] = value.strip()
        url = banner["plex.tv (simulated)"]
        assert urllib.parse.urlsplit(url).hostname == "127.0.0.1", f"the simulator must stay on loopback: {url}"
        yield Simulator(url, banner["account token"], str(ca_file))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Searches:
    """The host's side of request_search: records and answers at once."""

    outcome: SearchOutcome = SearchOutcome.QUEUED
    seen: list[SearchRequest] = field(default_factory=list)

    def __call__(self, request: SearchRequest) -> SearchOutcome:
        self.seen.append(request)
        return self.outcome


class LogLines(logging.Handler):
    """What the plugin (and the binding) logged, as text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)

    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Host:
    """A loaded, started plugin and what the host saw of it."""

    plugin: Plugin
    searches: Searches
    log: LogLines
    data_dir: Path

    def call(
        self, method: str, path: str, query: str = "", body: Any = None, headers: list[tuple[str, str]] | None = None
    ) -> Any:
        """A request to one of the plugin's routes; the response, once the
        plugin answered it (from whichever thread)."""
        headers = list(headers or [])
        if body is not None and not isinstance(body, (bytes, str)):
            body, headers = json.dumps(body), [*headers, ("Content-Type", "application/json")]
        future = self.plugin.handle(method, path, query, headers, body or b"", "127.0.0.1")
        return future.result(timeout=WAIT_S)

    def sign_in(self, sim: Simulator) -> dict[str, Any]:
        """As a person does: create a PIN, approve it at "plex.tv", check it."""
        pin = self.call("POST", "/api/plex/oauth/pin")
        assert pin.status == 200, pin.text
        data = pin.json()["data"]
        sim.link(data["code"])
        check = self.call("GET", f"/api/plex/oauth/pin/{data['pinId']}/check", f"state={data['state']}")
        assert check.status == 200, check.text
        return check.json()["data"]

    def select_demo_server(self) -> str:
        """Lists the servers and picks the simulator's; returns its address."""
        servers = self.call("GET", "/api/plex/oauth/servers")
        assert servers.status == 200, servers.text
        server = next(s for s in servers.json()["data"] if s["machineIdentifier"] == DEMO_MACHINE_ID)
        uri = server["bestConnection"]["uri"]
        chosen = self.call(
            "POST", "/api/plex/select-server", body={"machineIdentifier": DEMO_MACHINE_ID, "uri": uri}
        )
        assert chosen.status == 200, chosen.text
        return uri


@pytest.fixture
def make_host(tmp_path: Path) -> Iterator[Callable[..., Host]]:
    """Loads and starts the plugin, pointed at a simulator when given one."""
    loaded: list[Plugin] = []
    counter = iter(range(1000))

    def make(
        sim: Simulator | None = None,
        settings: dict[str, Any] | None = None,
        on_search: Callable[[SearchRequest], SearchOutcome] | None = None,
    ) -> Host:
        data_dir = tmp_path / f"host-{next(counter)}"
        searches, log = Searches(), LogLines()
        logger = logging.getLogger(f"plexbridge.test.{data_dir.name}.{id(log)}")
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        logger.addHandler(log)
        # No path: PLEXBRIDGE_PLUGIN, else pkg-config, else the loader.
        plugin = Plugin.load(None, data_dir, on_search=on_search or searches, logger=logger)
        loaded.append(plugin)
        preset: dict[str, Any] = {}
        if sim is not None:
            preset = {"use_plex": True, "plextv_url": sim.url, "tls_ca_file": sim.ca_file}
        preset.update(settings or {})
        if preset:
            plugin.update_settings(preset)
        plugin.start()
        return Host(plugin, searches, log, data_dir)

    yield make
    for plugin in loaded:
        plugin.close()
