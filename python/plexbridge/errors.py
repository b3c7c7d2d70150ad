"""Every error this package raises on purpose derives from PlexbridgeError,
so a host can catch them all in one place; each message says what to do."""

from __future__ import annotations

__all__ = [
    "PlexbridgeError",
    "PluginNotFoundError",
    "AbiMismatchError",
    "PluginLoadError",
    "PluginClosedError",
    "SettingsRejected",
    "SettingsStoreError",
]


class PlexbridgeError(Exception):
    """Base of every error this package raises on purpose."""


class PluginNotFoundError(PlexbridgeError):
    """No plugin library where the host was told to look; the message says
    where it looked."""


class AbiMismatchError(PlexbridgeError):
    """The plugin speaks another major ABI version: it was not loaded (its
    entry was never called)."""


class PluginLoadError(PlexbridgeError):
    """The plugin's entry refused to load. `log` holds what the plugin
    logged while it tried, which says why."""

    def __init__(self, message: str, status: int, log: list[str]) -> None:
        super().__init__(message)
        self.status = status
        self.log = log


class PluginClosedError(PlexbridgeError):
    """The plugin was closed (or is closing): it cannot be called any more."""


class SettingsRejected(PlexbridgeError):
    """validate_settings refused a change; nothing was stored. `field` is
    the setting at fault when the message names one ("port: must be from 1
    to 65535"), so a form can show the message next to it."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class SettingsStoreError(PlexbridgeError):
    """The stored settings cannot be read or written; the message says why."""
