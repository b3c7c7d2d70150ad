"""A Python host's side of the plexbridge ABI.

Plugin.load() does what the header's "Loading, in order" asks: dlopen, ask
the plugin's ABI version and refuse another major, fill the host's table,
call the entry (the plugin registers its settings, routes, events and page
then), and read the plugin's table back. What the plugin registered is then
plain Python data (routes, settings schema, events, page) and every call
into the plugin is a method (handle, fire_event, update_settings, start,
close).

Three things make a ctypes binding safe, and this module is built around
them:

1. Every C callback object (CFUNCTYPE) lives as long as the plugin may call
   it: they are attributes of the Plugin, and a loaded Plugin stays in a
   module-level registry until close() returns, so dropping the last
   reference cannot free a callback the plugin still holds. (A collected
   callback is a jump into freed memory: a crash, not an exception.)
2. No Python exception ever leaves a callback: each one catches, logs and
   returns the ABI's error value. ctypes would otherwise print the
   traceback and hand C an undefined return value.
3. The plugin's threads call in while Python threads call out: ctypes drops
   the GIL around every call into the plugin (CDLL, not PyDLL), no lock of
   ours is held across a call into the plugin that could call back and
   want it, and destroy() is never concurrent with another entry (the
   header's rule): close() waits for calls in flight and turns new ones
   away.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import ctypes
import enum
import itertools
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from . import _abi
from .errors import (
    AbiMismatchError,
    PlexbridgeError,
    PluginClosedError,
    PluginLoadError,
    SettingsRejected,
    SettingsStoreError,
)
from .find import PluginLocation, find_plugin
from .routes import match_path
from .settings import JsonFileSettingsStore, SettingsStore

__all__ = [
    "Plugin",
    "Response",
    "Route",
    "RouteAuth",
    "Page",
    "SearchRequest",
    "SearchOutcome",
    "MediaType",
]

# What a route without a limit of its own accepts (pb_route_desc: "0: 64 KiB").
DEFAULT_MAX_BODY_BYTES = 64 * 1024
# The value a form shows for a secret that is set; sent back unchanged it
# means "keep the stored value".
MASK = "********"
# request_search must return quickly (the plugin waits for it, sometimes on
# the thread that answers Plex's webhook). Slower than this is logged.
SLOW_SEARCH_SECONDS = 0.5


# ---- plain data --------------------------------------------------------------


class RouteAuth(enum.IntEnum):
    HOST_APIKEY = _abi.PB_ROUTE_AUTH_HOST_APIKEY  # the host authenticates first
    NONE = _abi.PB_ROUTE_AUTH_NONE  # public: the plugin checks its own key


class MediaType(enum.IntEnum):
    MOVIE = _abi.PB_MEDIA_MOVIE
    EPISODE = _abi.PB_MEDIA_EPISODE


class SearchOutcome(enum.IntEnum):
    QUEUED = _abi.PB_SEARCH_QUEUED  # the host knows the media and queued a search
    UNKNOWN_MEDIA = _abi.PB_SEARCH_UNKNOWN_MEDIA  # the host has no such movie/episode
    REFUSED = _abi.PB_SEARCH_REFUSED  # known, but no search now


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    auth: RouteAuth
    max_body_bytes: int
    # The plugin's function and its context: the plugin keeps both valid
    # until destroy() returns.
    _handler: Any = field(repr=False, compare=False, default=None)
    _ctx: int | None = field(repr=False, compare=False, default=None)

    @property
    def needs_host_auth(self) -> bool:
        """The host must authenticate the caller (its API key, or its own
        browser session for a page) before handing the request over."""
        return self.auth is RouteAuth.HOST_APIKEY


@dataclass(frozen=True)
class Page:
    title: str  # the page's name in the host's menu
    entry_path: str  # where a browser opens it, e.g. "/plugins/plexbridge/"


@dataclass(frozen=True)
class SearchRequest:
    """What the plugin wants searched. Ids it does not know are None. For
    an episode, imdb/tmdb/tvdb are the series' ids, episode_* the episode's."""

    media_type: MediaType
    imdb_id: str | None
    tmdb_id: int | None
    tvdb_id: int | None
    season: int | None
    episode: int | None
    episode_tvdb_id: int | None
    episode_imdb_id: str | None
    title: str  # for the host's log only
    reason: str  # e.g. "plex webhook media.play"


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def _error_response(status: int, code: str, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    # The plugin's own error shape ({"error", "code"}), so a client reads
    # the binding's answers and the plugin's alike.
    body = json.dumps({"error": message, "code": code}).encode()
    return Response(status, body, "application/json", headers)


def _answered(response: Response) -> concurrent.futures.Future[Response]:
    f: concurrent.futures.Future[Response] = concurrent.futures.Future()
    f.set_result(response)
    return f


# ---- the plugin --------------------------------------------------------------

_TYPE_NAMES = {
    _abi.PB_SETTING_BOOL: "bool",
    _abi.PB_SETTING_INT: "int",
    _abi.PB_SETTING_STRING: "string",
    _abi.PB_SETTING_STRING_LIST: "string_list",
    _abi.PB_SETTING_JSON: "json",
}
# 0 (a 1.0 plugin said nothing) is the user's, as the header says.
_ACCESS_NAMES = {
    0: "user",
    _abi.PB_SETTING_ACCESS_USER: "user",
    _abi.PB_SETTING_ACCESS_READ_ONLY: "read_only",
    _abi.PB_SETTING_ACCESS_INTERNAL: "internal",
}
_LOG_LEVELS = {
    _abi.PB_LOG_DEBUG: logging.DEBUG,
    _abi.PB_LOG_INFO: logging.INFO,
    _abi.PB_LOG_WARNING: logging.WARNING,
    _abi.PB_LOG_ERROR: logging.ERROR,
}

# Per thread: is this thread inside a callback from the plugin, and may it
# call back into the plugin from there?
_tls = threading.local()

# Loaded and not yet closed: kept alive here (see the module's comment, 1)
# and closed at interpreter exit, before Python tears down what the
# plugin's threads would call into.
_live: set[Plugin] = set()
_live_lock = threading.Lock()


def _plugin_abi_version(lib: ctypes.CDLL) -> int:
    """The plugin's PB_ABI_VERSION (step 1 of loading). A function of its
    own so that a test can pose as a plugin of another major version."""
    fn = getattr(lib, _abi.PB_ABI_VERSION_SYMBOL)
    fn.argtypes = []
    fn.restype = ctypes.c_uint32
    return int(fn())


def _version_text(version: int) -> str:
    return f"{_abi.abi_major(version)}.{_abi.abi_minor(version)}"


class Plugin:
    """One loaded plugin. Create it with Plugin.load(); see the package's
    README for which methods are called from which threads."""

    # ------------------------------------------------------------------ load

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        settings_store: SettingsStore | None = None,
        on_search: Callable[[SearchRequest], SearchOutcome] | None = None,
        logger: logging.Logger | None = None,
        *,
        host_name: str = "plexbridge-python",
    ) -> Plugin:
        """Loads the plugin, negotiates the ABI and lets it register.

        path: the library; None finds it (argument, $PLEXBRIDGE_PLUGIN,
            pkg-config, the loader; see plexbridge.find).
        data_dir: a directory the plugin may write in (created 0700).
        settings_store: where its settings live; default
            <data_dir>/plexbridge-settings.json.
        on_search: called when the plugin asks for a subtitle search, from
            the plugin's or a request's thread; must return quickly and
            never call back into the plugin. None refuses every search.
        logger: receives the plugin's log; default logging "plexbridge".
        """
        if data_dir is None:
            raise TypeError("Plugin.load() needs data_dir: a directory the plugin may write in")
        data_dir = os.path.abspath(os.fspath(data_dir))
        os.makedirs(data_dir, mode=0o700, exist_ok=True)
        if settings_store is None:
            settings_store = JsonFileSettingsStore(os.path.join(data_dir, "plexbridge-settings.json"))
        location = find_plugin(path)
        try:
            lib = ctypes.CDLL(location.path, mode=os.RTLD_NOW | os.RTLD_LOCAL)
        except OSError as e:
            raise PlexbridgeError(f"cannot load the plugin {location.path} (found by {location.source}): {e}") from e
        if not all(hasattr(lib, name) for name in (_abi.PB_ABI_VERSION_SYMBOL, _abi.PB_ENTRY_SYMBOL)):
            raise PlexbridgeError(f"{location.path} is not a plexbridge plugin (it lacks the two entry points)")
        version = _plugin_abi_version(lib)
        if _abi.abi_major(version) != _abi.abi_major(_abi.HOST_ABI_VERSION):
            raise AbiMismatchError(
                f"the plugin {location.path} speaks ABI {_version_text(version)}, this host speaks "
                f"{_version_text(_abi.HOST_ABI_VERSION)}: not loaded; install a plugin of ABI "
                f"{_abi.abi_major(_abi.HOST_ABI_VERSION)}.x"
            )
        plugin = cls(lib, location, version, data_dir, settings_store, on_search, logger, host_name)
        plugin._enter_plugin()
        return plugin

    def __init__(
        self,
        lib: ctypes.CDLL,
        location: PluginLocation,
        abi_version: int,
        data_dir: str,
        store: SettingsStore,
        on_search: Callable[[SearchRequest], SearchOutcome] | None,
        logger: logging.Logger | None,
        host_name: str,
    ) -> None:
        # Use Plugin.load(): a Plugin exists only for a library whose ABI
        # major was checked.
        self._lib = lib
        self.location = location
        self.abi_version: tuple[int, int] = (_abi.abi_major(abi_version), _abi.abi_minor(abi_version))
        self.data_dir = data_dir
        self._store = store
        self._on_search = on_search
        self._logger = logger or logging.getLogger("plexbridge")

        # What the plugin registers during the entry call.
        self._routes: list[Route] = []
        self._settings: dict[str, dict[str, Any]] = {}  # name -> its schema (settings_schema)
        self._events: list[str] = []
        self._page: Page | None = None
        self._registering = False
        self._entry_log: list[str] | None = None  # collects the log while the entry runs

        # Settings: the stored values; defaults fill in what was never stored.
        self._settings_lock = threading.Lock()
        self._values: dict[str, Any] = store.load()
        self._generation = 0  # counts stores, so settings_changed ends on the newest

        # Requests handed to the plugin and not yet answered: responder -> future.
        self._pending_lock = threading.Lock()
        self._pending: dict[int, concurrent.futures.Future[Response]] = {}
        self._responder_ids = itertools.count(1)  # never 0: a responder is never NULL

        # Calls into the plugin in flight, and the state they may start in.
        self._gate = threading.Condition()
        self._start_lock = threading.Lock()
        self._in_flight = 0
        self._state = "loading"  # loading -> loaded -> started -> closing -> closed

        self._api = _abi.pb_plugin_api()
        self.id = ""
        self.version = ""
        self.plugin_table_abi: tuple[int, int] = (0, 0)

        # The host's table and everything its pointers reach, kept for the
        # plugin's whole life (it borrows them until destroy returns).
        self._strings = _abi.Strings()
        self._callbacks = [
            _abi.log_fn(self._guard(self._cb_log, None, forbid_entry="log")),
            _abi.register_setting_fn(self._guard(self._cb_register_setting, _abi.PB_ERR_INTERNAL)),
            _abi.register_route_fn(self._guard(self._cb_register_route, _abi.PB_ERR_INTERNAL)),
            _abi.subscribe_event_fn(self._guard(self._cb_subscribe_event, _abi.PB_ERR_INTERNAL)),
            _abi.settings_read_fn(self._guard(self._cb_settings_read, _abi.PB_ERR_INTERNAL)),
            _abi.settings_write_fn(self._guard(self._cb_settings_write, _abi.PB_ERR_INTERNAL)),
            _abi.respond_fn(self._guard(self._cb_respond, None)),
            _abi.request_search_fn(
                self._guard(self._cb_request_search, _abi.PB_SEARCH_REFUSED, forbid_entry="request_search")
            ),
            _abi.register_page_fn(self._guard(self._cb_register_page, _abi.PB_ERR_INTERNAL)),
        ]
        host = _abi.struct_init(_abi.pb_host_api)
        host.abi_version = _abi.HOST_ABI_VERSION
        host.host_ctx = None  # every callback is bound to this object already
        host.host_name = self._strings.make(host_name)
        host.data_dir = self._strings.make(data_dir)
        (
            host.log,
            host.register_setting,
            host.register_route,
            host.subscribe_event,
            host.settings_read,
            host.settings_write,
            host.respond,
            host.request_search,
            host.register_page,
        ) = self._callbacks
        self._host = host

    def _enter_plugin(self) -> None:
        """Step 2: the entry call, during which the plugin registers."""
        entry = getattr(self._lib, _abi.PB_ENTRY_SYMBOL)
        entry.argtypes = [ctypes.POINTER(_abi.pb_host_api), ctypes.POINTER(_abi.pb_plugin_api)]
        entry.restype = _abi.c_enum
        out = _abi.struct_init(_abi.pb_plugin_api)
        with _live_lock:
            _live.add(self)  # from here on the plugin may hold our callbacks
        self._registering = True
        self._entry_log = []
        try:
            status = int(entry(ctypes.byref(self._host), ctypes.byref(out)))
        finally:
            self._registering = False
            said, self._entry_log = self._entry_log, None
        if status != _abi.PB_OK:
            # On failure the plugin freed everything and will not call us.
            self._forget()
            name = _abi.STATUS_NAMES.get(status, f"status {status}")
            why = "; ".join(said) or "it logged nothing"
            raise PluginLoadError(f"the plugin refused to load ({name}): {why}", status, said)
        # The plugin filled at most our struct_size and set struct_size to
        # what it wrote: read it by the same rule as any other struct.
        api = _abi.read_struct(_abi.pb_plugin_api, ctypes.addressof(out))
        assert api is not None
        required = ("start", "destroy", "on_event", "validate_settings", "settings_changed")
        missing = [name for name in required if not getattr(api, name)]
        if missing:
            if api.destroy:
                api.destroy(api.plugin_ctx)
            self._forget()
            raise PluginLoadError(f"the plugin's table lacks {', '.join(missing)}: not loaded", _abi.PB_ERR_ABI, [])
        self._api = api
        self.id = _abi.text(api.plugin_id)
        self.version = _abi.text(api.plugin_version)
        # The version the plugin put in its table; plexbridge_abi_version
        # said the same before the entry, and only the major had to agree.
        self.plugin_table_abi = (_abi.abi_major(api.abi_version), _abi.abi_minor(api.abi_version))
        with self._gate:
            self._state = "loaded"

    def _forget(self) -> None:
        with _live_lock:
            _live.discard(self)

    # ------------------------------------------------------------------ what it registered

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(self._routes)

    @property
    def settings_schema(self) -> list[dict[str, Any]]:
        """Every setting as the manifest describes it, in registration order
        (a copy: the caller may change it)."""
        return json.loads(json.dumps(list(self._settings.values())))

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(self._events)

    @property
    def page(self) -> Page | None:
        return self._page

    @property
    def closed(self) -> bool:
        return self._state in ("closing", "closed")

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route a request goes to, with its path parameters. The first
        registered route that matches wins, as in the reference host."""
        for route in self._routes:
            if route.method == method:
                params = match_path(route.pattern, path)
                if params is not None:
                    return route, params
        return None

    def allowed_methods(self, path: str) -> list[str]:
        return sorted({r.method for r in self._routes if match_path(r.pattern, path) is not None})

    # ------------------------------------------------------------------ calls into the plugin

    def start(self) -> None:
        """Step 3: call once the routes are mounted and the host can serve
        requests. From then on the plugin calls the host from its threads."""
        with self._start_lock, self._entry("start", need_started=False) as api:
            if self._state != "loaded":
                raise PlexbridgeError(f"start() is called once, after load(); the plugin is {self._state}")
            status = int(api.start(api.plugin_ctx))
            if status != _abi.PB_OK:
                raise PlexbridgeError(
                    f"the plugin failed to start ({_abi.STATUS_NAMES.get(status, status)}); "
                    "see its log, then close() it"
                )
            with self._gate:
                self._state = "started"

    def handle(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        body: bytes | str = b"",
        remote_address: str = "",
    ) -> concurrent.futures.Future[Response]:
        """Hands a request to the plugin's route and returns at once; the
        future completes when the plugin responds, from any thread, possibly
        much later (a sign-in check waits for plex.tv). The host has
        authenticated the caller when the route needs it.

        path and query are as requested, still percent-encoded, without the
        "?". An unknown path answers 404, a known path with another method
        405, a body above the route's limit 413, a closed plugin 503.
        Raises PlexbridgeError before start(), and from inside on_search.
        """
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        body_bytes = body.encode("utf-8") if isinstance(body, str) else bytes(body)
        if self.closed:
            return _answered(_error_response(503, "PLUGIN_CLOSED", "the Plex plugin is shutting down"))
        found = self.match(method, path)
        if found is None:
            allowed = self.allowed_methods(path)
            if allowed:
                return _answered(
                    _error_response(
                        405, "METHOD_NOT_ALLOWED", f"{path} does not take {method}", (("Allow", ", ".join(allowed)),)
                    )
                )
            return _answered(_error_response(404, "NOT_FOUND", f"no route {method} {path}"))
        route, _ = found
        if len(body_bytes) > route.max_body_bytes:
            return _answered(
                _error_response(413, "BODY_TOO_LARGE", f"the body is larger than {route.max_body_bytes} bytes")
            )
        header_items = list(headers.items() if isinstance(headers, Mapping) else headers)

        strings = _abi.Strings()  # alive until the handler returns: the plugin copies what it keeps
        header_array = (_abi.pb_http_header * max(1, len(header_items)))()
        for i, (name, value) in enumerate(header_items):
            header_array[i] = _abi.pb_http_header(strings.make(name), strings.make(value))
        request = _abi.struct_init(_abi.pb_http_request)
        request.method = strings.make(method)
        request.path = strings.make(path)
        request.query = strings.make(query)
        request.headers = ctypes.cast(header_array, ctypes.POINTER(_abi.pb_http_header))
        request.header_count = len(header_items)
        request.body = strings.make(body_bytes)
        request.remote_address = strings.make(remote_address)

        future: concurrent.futures.Future[Response] = concurrent.futures.Future()
        responder = next(self._responder_ids)
        with self._pending_lock:
            # Before the call: a plugin may respond before the handler returns.
            self._pending[responder] = future
        try:
            with self._entry("handle"):
                route._handler(route._ctx, ctypes.byref(request), ctypes.c_void_p(responder))
        except PluginClosedError:
            with self._pending_lock:
                self._pending.pop(responder, None)
            return _answered(_error_response(503, "PLUGIN_CLOSED", "the Plex plugin is shutting down"))
        except BaseException:
            with self._pending_lock:
                self._pending.pop(responder, None)
            raise
        return future

    def fire_event(self, name: str, payload: Mapping[str, Any] | str) -> None:
        """Tells the plugin about a subtitle change ("subtitle.downloaded"
        and the others it subscribed to). payload describes the media (see
        docs/host-integration.md, "Events"). Returns at once: the plugin
        queues the work."""
        if name not in self._events:
            raise ValueError(f"the plugin does not subscribe to {name!r}; it subscribes to {', '.join(self._events)}")
        text = payload if isinstance(payload, str) else json.dumps(payload)
        strings = _abi.Strings()
        event = _abi.struct_init(_abi.pb_event)
        event.name = strings.make(name)
        event.payload_json = strings.make(text)
        with self._entry("fire_event") as api:
            api.on_event(api.plugin_ctx, ctypes.byref(event))

    # ------------------------------------------------------------------ settings

    def settings(self, masked: bool = False) -> dict[str, Any]:
        """The plugin's whole settings object: every registered setting,
        the stored value or its default. masked: secrets that are set read
        MASK, for showing to a person."""
        with self._settings_lock:
            values = self._merged()
        if masked:
            for name, s in self._settings.items():
                if s["secret"] and isinstance(values.get(name), str) and values[name]:
                    values[name] = MASK
        return values

    def validate_settings(self, candidate: Mapping[str, Any]) -> None:
        """Asks the plugin whether `candidate` (a whole settings object)
        is acceptable; raises SettingsRejected with its message if not."""
        with self._entry("validate_settings", need_started=False) as api:
            self._validate(api, dict(candidate))

    def update_settings(self, patch: Mapping[str, Any]) -> dict[str, Any]:
        """A change a person made: the merged object is validated by the
        plugin, stored atomically, then the plugin hears settings_changed.
        Raises SettingsRejected (nothing stored) or SettingsStoreError.
        A secret sent back as MASK keeps its stored value."""
        if not isinstance(patch, Mapping):
            raise TypeError("a settings change is a JSON object (a mapping of setting names to values)")
        patch = {k: v for k, v in patch.items() if not (v == MASK and self._settings.get(k, {}).get("secret"))}
        with self._entry("update_settings", need_started=False) as api:
            # Validation and storing under one lock: two concurrent changes
            # never each pass against a state without the other.
            with self._settings_lock:
                candidate = self._merged()
                candidate.update(patch)
                self._validate(api, candidate)
                self._store_locked(patch)
        self._deliver_settings()
        return self.settings()

    def _merged(self) -> dict[str, Any]:
        # Registered defaults, then what is stored (including keys a newer
        # plugin retired: the ABI only ever merges, so they stay).
        merged = {name: s["default"] for name, s in self._settings.items()}
        merged.update(self._values)
        return json.loads(json.dumps(merged))  # a deep copy nobody else holds

    def _validate(self, api: _abi.pb_plugin_api, candidate: dict[str, Any]) -> None:
        message: list[str] = []

        def sink(_ctx: int | None, value: _abi.pb_str) -> None:
            try:
                message.append(_abi.text(value))
            except BaseException:  # never out of a callback
                pass

        c_sink = _abi.pb_str_sink(sink)  # alive until validate returns
        strings = _abi.Strings()
        status = int(api.validate_settings(api.plugin_ctx, strings.make(json.dumps(candidate)), c_sink, None))
        if status != _abi.PB_OK:
            status_name = _abi.STATUS_NAMES.get(status, str(status))
            text = message[0] if message else f"the plugin refused the settings ({status_name})"
            # The ABI's convention: "name: why" when one setting is at fault.
            name, sep, _ = text.partition(": ")
            raise SettingsRejected(text, name if sep and name in self._settings else None)

    def _store_locked(self, patch: Mapping[str, Any]) -> None:
        values = dict(self._values)
        values.update(patch)
        try:
            self._store.save(values)
        except OSError as e:
            raise SettingsStoreError(f"could not store the settings: {e.strerror or e}") from e
        self._values = values
        self._generation += 1

    def _deliver_settings(self) -> None:
        """settings_changed with the whole object, on the calling thread
        (the ABI asks for that after the plugin's own writes). Two writers
        racing may deliver out of order; whoever finishes last checks that
        what it delivered is still the newest, so the plugin ends on it."""
        while True:
            with self._settings_lock:
                generation = self._generation
                snapshot = json.dumps(self._merged())
            try:
                with self._entry("settings_changed", need_started=False) as api:
                    strings = _abi.Strings()
                    api.settings_changed(api.plugin_ctx, strings.make(snapshot))
            except PluginClosedError:
                return  # stored; a closing plugin needs no news
            with self._settings_lock:
                if self._generation == generation:
                    return

    # ------------------------------------------------------------------ close

    def close(self) -> None:
        """Step 4: destroy the plugin. Waits for calls in flight, then the
        plugin joins its threads and answers every pending request (503);
        afterwards it never calls the host again and nothing here calls it.
        Idempotent. Not from inside a callback of the plugin's (its thread
        would wait for itself)."""
        if getattr(_tls, "in_callback", 0):
            raise PlexbridgeError("close() cannot be called from inside a plugin callback: it would wait for itself")
        with self._gate:
            if self._state in ("closing", "closed", "loading"):
                while self._state == "closing":
                    self._gate.wait()
                return
            self._state = "closing"
            while self._in_flight:
                self._gate.wait()
        api = self._api
        try:
            api.destroy(api.plugin_ctx)
        finally:
            with self._pending_lock:
                left, self._pending = self._pending, {}
            for future in left.values():
                # The plugin answers its pending requests in destroy; one it
                # missed must not leave a caller waiting forever.
                _resolve(future, _error_response(503, "PLUGIN_CLOSED", "the Plex plugin is shutting down"))
            with self._gate:
                self._state = "closed"
                self._gate.notify_all()
            self._forget()

    def __enter__(self) -> Plugin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ entry gate

    @contextmanager
    def _entry(self, what: str, need_started: bool = True) -> Iterator[_abi.pb_plugin_api]:
        """Around every call into the plugin: refuses calls the ABI forbids
        (after close, before start, from inside log or request_search) and
        counts the call so that close() can wait for it."""
        forbidden = getattr(_tls, "forbid_entry", None)
        if forbidden:
            raise PlexbridgeError(
                f"{what}() called from inside {forbidden}(): the ABI forbids calling the plugin there"
            )
        with self._gate:
            if self._state in ("closing", "closed"):
                raise PluginClosedError(f"{what}(): the plugin is {self._state}")
            if self._state == "loading":
                raise PlexbridgeError(f"{what}(): the plugin is still loading")
            if need_started and self._state != "started":
                raise PlexbridgeError(f"{what}(): call start() first")
            self._in_flight += 1
        try:
            yield self._api
        finally:
            with self._gate:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._gate.notify_all()

    # ------------------------------------------------------------------ callbacks from the plugin

    def _guard(self, fn: Callable[..., Any], on_error: Any, forbid_entry: str | None = None) -> Callable[..., Any]:
        """Wraps a callback so that no exception can reach C (see module
        comment, 2), and marks the thread as inside a callback."""

        def trampoline(*args: Any) -> Any:
            depth = getattr(_tls, "in_callback", 0)
            before = getattr(_tls, "forbid_entry", None)
            _tls.in_callback = depth + 1
            if forbid_entry:
                _tls.forbid_entry = forbid_entry
            try:
                return fn(*args)
            except BaseException:
                try:
                    name = fn.__name__.removeprefix("_cb_")
                    self._logger.exception("plexbridge binding: the %s callback failed", name)
                except BaseException:
                    pass
                return on_error
            finally:
                _tls.in_callback = depth
                _tls.forbid_entry = before

        return trampoline

    def _refuse(self, what: str) -> int:
        self._logger.warning("plexbridge binding: refused %s", what)
        return _abi.PB_ERR_INVALID_ARGUMENT

    def _cb_log(self, _ctx: int | None, level: int, message: _abi.pb_str) -> None:
        line = _abi.text(message)
        if self._entry_log is not None:
            self._entry_log.append(line)
        # A level from a later minor is an error until proven otherwise (the header's rule).
        self._logger.log(_LOG_LEVELS.get(level, logging.ERROR), "%s", line)

    def _cb_register_setting(self, _ctx: int | None, desc: Any) -> int:
        if not self._registering:
            return self._refuse("register_setting outside the entry call")
        d = _abi.read_struct(_abi.pb_setting_desc, _abi.address_of(desc))
        if d is None:
            return self._refuse("register_setting without a descriptor")
        name = _abi.text(d.name)
        try:
            default = json.loads(_abi.text(d.default_json))
        except ValueError:
            return self._refuse(f"setting {name!r}: its default is not JSON")
        if not name or name in self._settings:
            return self._refuse(f"setting {name!r}: empty, or registered twice")
        # A type from a later minor: stored as JSON and never drawn (the header's rule).
        known_type = d.type in _TYPE_NAMES
        type_name = _TYPE_NAMES.get(d.type, "json")
        # The manifest's shape (docs/host-integration.md, "Drawing a form").
        schema: dict[str, Any] = {
            "name": name,
            "type": type_name,
            "default": default,
            "description": _abi.text(d.description),
            "secret": bool(d.secret),
        }
        # 1.1: what a form needs. A 1.0 plugin's descriptor ends at secret.
        if _abi.has_field(d, "fields_json"):
            schema["label"] = _abi.text(d.label)
            schema["section"] = _abi.text(d.section)
            # A value from a later ABI is not drawn: treat it as internal.
            schema["access"] = _ACCESS_NAMES.get(d.access, "internal")
            if d.flags & _abi.PB_SETTING_HAS_MIN:
                schema["min"] = d.min
            if d.flags & _abi.PB_SETTING_HAS_MAX:
                schema["max"] = d.max
            for key in ("unit", "format"):
                if value := _abi.text(getattr(d, key)):
                    schema[key] = value
            # Hints for the form: one that does not parse is left out (and
            # said); the setting itself still works.
            for key in ("choices", "fields", "shown_when"):
                if value := _abi.text(getattr(d, f"{key}_json")):
                    try:
                        schema[key] = json.loads(value)
                    except ValueError:
                        self._logger.warning("setting %s: its %s is not JSON; the form goes without it", name, key)
            if d.flags & _abi.PB_SETTING_NEEDS_RESTART:
                schema["needs_restart"] = True
        if not known_type:
            schema["access"] = "internal"
        self._settings[name] = schema
        return _abi.PB_OK

    def _cb_register_route(self, _ctx: int | None, desc: Any) -> int:
        if not self._registering:
            return self._refuse("register_route outside the entry call")
        d = _abi.read_struct(_abi.pb_route_desc, _abi.address_of(desc))
        if d is None:
            return self._refuse("register_route without a descriptor")
        method, pattern = _abi.text(d.method), _abi.text(d.path_pattern)
        handler = ctypes.cast(d.handler, ctypes.c_void_p).value
        # API routes under /api/, a page's files under /plugins/ (1.1).
        if not method or not pattern.startswith(("/api/", "/plugins/")) or not handler:
            return self._refuse(f"route {method} {pattern}: needs a method, a path under /api/ or /plugins/, a handler")
        # 0, or a value from a later minor: the host authenticates (the
        # header's rule; public only when the plugin says so in words we know).
        auth = RouteAuth.NONE if d.auth == _abi.PB_ROUTE_AUTH_NONE else RouteAuth.HOST_APIKEY
        self._routes.append(
            Route(
                method,
                pattern,
                auth,
                int(d.max_body_bytes) or DEFAULT_MAX_BODY_BYTES,
                _abi.pb_route_handler(handler),
                d.route_ctx,
            )
        )
        return _abi.PB_OK

    def _cb_subscribe_event(self, _ctx: int | None, name: _abi.pb_str) -> int:
        if not self._registering:
            return self._refuse("subscribe_event outside the entry call")
        event = _abi.text(name)
        if not event:
            return self._refuse("subscribe_event with an empty name")
        if event not in self._events:
            self._events.append(event)
        return _abi.PB_OK

    def _cb_register_page(self, _ctx: int | None, desc: Any) -> int:
        if not self._registering:
            return self._refuse("register_page outside the entry call")
        d = _abi.read_struct(_abi.pb_page_desc, _abi.address_of(desc))
        if d is None:
            return self._refuse("register_page without a descriptor")
        page = Page(_abi.text(d.title), _abi.text(d.entry_path))
        if not page.title or not page.entry_path.startswith("/plugins/"):
            return self._refuse(f"page {page}: needs a title and a path under /plugins/")
        self._page = page
        return _abi.PB_OK

    def _cb_settings_read(self, _ctx: int | None, sink: Any, sink_ctx: int | None) -> int:
        if not sink:
            return self._refuse("settings_read without a sink")
        strings = _abi.Strings()
        with self._settings_lock:
            snapshot = json.dumps(self._merged())
        sink(sink_ctx, strings.make(snapshot))
        return _abi.PB_OK

    def _cb_settings_write(self, _ctx: int | None, patch: _abi.pb_str, error_sink: Any, error_ctx: int | None) -> int:
        def fail(status: int, message: str) -> int:
            if error_sink:
                strings = _abi.Strings()  # a local: the bytes must outlive the sink call
                error_sink(error_ctx, strings.make(message))
            self._logger.error("plexbridge binding: the plugin's settings were not stored: %s", message)
            return status

        try:
            values = json.loads(_abi.text(patch))
        except ValueError as e:
            return fail(_abi.PB_ERR_INVALID_ARGUMENT, f"settings patch is not JSON: {e}")
        if not isinstance(values, dict):
            return fail(_abi.PB_ERR_INVALID_ARGUMENT, "settings patch must be a JSON object")
        # The plugin's own writes (sign-in results, sealed tokens, the
        # settings upgrade at load) are not validated again: the plugin
        # made them. A person's changes go through update_settings().
        try:
            with self._settings_lock:
                self._store_locked(values)
        except (SettingsStoreError, OSError) as e:
            return fail(_abi.PB_ERR_IO, str(e))
        # During the entry call the plugin's table is not filled yet: it
        # reads the settings itself after the write.
        if self._state != "loading":
            self._deliver_settings()
        return _abi.PB_OK

    def _cb_respond(self, _ctx: int | None, responder: int | None, response: Any) -> None:
        with self._pending_lock:
            future = self._pending.pop(responder or 0, None)
        if future is None:
            self._logger.error("plexbridge binding: respond() for a responder that is unknown or answered already")
            return
        # Popped: whatever happens below, this future is ours to complete,
        # or its caller waits forever.
        answer = _error_response(500, "PLUGIN_INTERNAL", "the plugin's answer could not be read")
        try:
            r = _abi.read_struct(_abi.pb_http_response, _abi.address_of(response))
            if r is None:
                answer = _error_response(500, "PLUGIN_INTERNAL", "the plugin answered without a response")
                return
            count = r.header_count if r.headers else 0
            headers = tuple((_abi.text(r.headers[i].name), _abi.text(r.headers[i].value)) for i in range(count))
            content_type = _abi.text(r.content_type) or "application/json"  # empty means JSON
            answer = Response(int(r.status), _abi.raw(r.body), content_type, headers)
        finally:
            _resolve(future, answer)

    def _cb_request_search(self, _ctx: int | None, request: Any) -> int:
        r = _abi.read_struct(_abi.pb_search_request, _abi.address_of(request))
        if r is None:
            return _abi.PB_SEARCH_REFUSED
        if r.media_type not in (_abi.PB_MEDIA_MOVIE, _abi.PB_MEDIA_EPISODE):
            # A kind of media from a later minor: not one this host has (the header's rule).
            self._logger.info("plexbridge binding: a search for media of unknown type %d", r.media_type)
            return _abi.PB_SEARCH_UNKNOWN_MEDIA
        episode = r.media_type == _abi.PB_MEDIA_EPISODE

        def known(n: int) -> int | None:
            return int(n) if n > 0 else None

        req = SearchRequest(
            media_type=MediaType(r.media_type),
            imdb_id=_abi.text(r.imdb_id) or None,
            tmdb_id=known(r.tmdb_id),
            tvdb_id=known(r.tvdb_id),
            season=int(r.season) if episode and r.season >= 0 else None,
            episode=int(r.episode) if episode and r.episode >= 0 else None,
            episode_tvdb_id=known(r.episode_tvdb_id),
            episode_imdb_id=_abi.text(r.episode_imdb_id) or None,
            title=_abi.text(r.title),
            reason=_abi.text(r.reason),
        )
        if self._on_search is None:
            self._logger.info("plexbridge binding: no on_search callback; refused a search for %s", req.title)
            return _abi.PB_SEARCH_REFUSED
        began = time.monotonic()
        outcome = self._on_search(req)
        took = time.monotonic() - began
        if took > SLOW_SEARCH_SECONDS:
            self._logger.warning("plexbridge binding: on_search took %.1f s; queue the search and return", took)
        try:
            return int(SearchOutcome(outcome))
        except ValueError:
            self._logger.error("plexbridge binding: on_search returned %r, not a SearchOutcome; refused", outcome)
            return _abi.PB_SEARCH_REFUSED


def _resolve(future: concurrent.futures.Future[Response], response: Response) -> None:
    try:
        future.set_result(response)
    except concurrent.futures.InvalidStateError:
        pass  # the caller cancelled it; the plugin's answer has nowhere to go


@atexit.register
def _close_all() -> None:
    # The plugin's threads must be joined while Python can still run their
    # callbacks; after this the interpreter may tear down freely.
    with _live_lock:
        live = list(_live)
    for plugin in live:
        try:
            plugin.close()
        except BaseException:
            pass
