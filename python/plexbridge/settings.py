"""Where a host keeps the plugin's settings.

The ABI asks the host to store the plugin's settings object "atomically and
durably": after a crash or a power cut the file holds either the old object
or the new one, never half of each. JsonFileSettingsStore does what the
reference host does (common::fs::atomic_write): write a temporary file in
the same directory, fsync it, rename it over the old one, fsync the
directory. Any object with the same two methods can stand in for it (a
table in the host's own database, say).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .errors import SettingsStoreError

__all__ = ["SettingsStore", "JsonFileSettingsStore", "SettingsStoreError"]


@runtime_checkable
class SettingsStore(Protocol):
    """What Plugin needs from a settings store. Calls are serialised by the
    Plugin (never two save() at once), but may come from any thread."""

    def load(self) -> dict[str, Any]:
        """The stored values ({} before the first save)."""
        ...

    def save(self, values: dict[str, Any]) -> None:
        """Replaces the stored values atomically and durably; raises
        OSError or SettingsStoreError, and then nothing changed."""
        ...


class JsonFileSettingsStore:
    """One JSON object in one file, readable by its owner only (the plugin
    keeps its tokens sealed, but the file is still nobody else's business)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}  # first run: the defaults stand until the first save
        except OSError as e:
            raise SettingsStoreError(f"cannot read the settings {self.path}: {e.strerror or e}") from e
        try:
            values = json.loads(text)
        except ValueError as e:
            # Never overwrite what we cannot read: the user may want it back.
            raise SettingsStoreError(f"the settings file {self.path} is not valid JSON ({e}); fix or move it") from e
        if not isinstance(values, dict):
            raise SettingsStoreError(f"the settings file {self.path} does not hold a JSON object; fix or move it")
        return values

    def save(self, values: dict[str, Any]) -> None:
        data = json.dumps(values, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Same directory as the target: rename() is atomic only within one file system.
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), 0o600)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        # The rename itself lives in the directory: without this a power cut
        # may bring back the old name.
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
