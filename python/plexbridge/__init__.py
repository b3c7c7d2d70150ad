"""plexbridge for Python hosts: load libplexbridge.so through its C ABI.

    from plexbridge import Plugin, SearchOutcome

    plugin = Plugin.load(data_dir="/var/lib/myhost/plexbridge",
                         on_search=lambda request: SearchOutcome.QUEUED)
    # mount plugin.routes in your web framework, then:
    plugin.start()
    response = plugin.handle("GET", "/api/plex/status").result(timeout=30)
    plugin.fire_event("subtitle.downloaded", {"type": "movie", "imdb": "tt0253556"})
    plugin.close()

See README.md beside this package for threads, ownership and a Flask host.
"""

from ._abi import PB_ABI_VERSION_MAJOR, PB_ABI_VERSION_MINOR
from .errors import (
    AbiMismatchError,
    PlexbridgeError,
    PluginClosedError,
    PluginLoadError,
    PluginNotFoundError,
    SettingsRejected,
    SettingsStoreError,
)
from .find import PluginLocation, find_plugin, pkg_config_variable
from .plugin import (
    MASK,
    MediaType,
    Page,
    Plugin,
    Response,
    Route,
    RouteAuth,
    SearchOutcome,
    SearchRequest,
)
from .routes import match_path
from .settings import JsonFileSettingsStore, SettingsStore

__version__ = "0.1.0"

# The ABI this binding speaks: it loads plugins of the same major.
ABI_VERSION = (PB_ABI_VERSION_MAJOR, PB_ABI_VERSION_MINOR)

__all__ = [
    "ABI_VERSION",
    "AbiMismatchError",
    "JsonFileSettingsStore",
    "MASK",
    "MediaType",
    "Page",
    "Plugin",
    "PluginClosedError",
    "PluginLoadError",
    "PluginLocation",
    "PluginNotFoundError",
    "PlexbridgeError",
    "Response",
    "Route",
    "RouteAuth",
    "SearchOutcome",
    "SearchRequest",
    "SettingsRejected",
    "SettingsStore",
    "SettingsStoreError",
    "find_plugin",
    "match_path",
    "pkg_config_variable",
]
