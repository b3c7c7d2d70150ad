"""Where the plugin library is.

In order: the path the host was given, else $PLEXBRIDGE_PLUGIN, else the
`plugin` variable of the installed kit's pkg-config file (plexbridge.pc,
found through PKG_CONFIG_PATH like any other), else "libplexbridge.so.1"
through the dynamic loader's own search (ld.so.cache, LD_LIBRARY_PATH).

A place that was named but holds nothing is an error, not a reason to try
the next one: loading some other copy than the one configured is how a host
ends up running a version nobody chose.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from .errors import PluginNotFoundError

__all__ = ["PluginLocation", "PluginNotFoundError", "find_plugin", "pkg_config_variable"]

ENV_VAR = "PLEXBRIDGE_PLUGIN"
PKG_CONFIG_PACKAGE = "plexbridge"
SONAME = "libplexbridge.so.1"


@dataclass(frozen=True)
class PluginLocation:
    path: str  # what is given to dlopen(): absolute, or a bare soname
    source: str  # "argument", "environment", "pkg-config" or "loader"


def pkg_config_variable(name: str, package: str = PKG_CONFIG_PACKAGE) -> str | None:
    """A variable of the installed kit's pkg-config file, or None when
    pkg-config, the package or the variable is missing."""
    exe = shutil.which("pkg-config")
    if exe is None:
        return None
    try:
        done = subprocess.run(
            [exe, f"--variable={name}", package],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and value else None


def find_plugin(path: str | os.PathLike[str] | None = None) -> PluginLocation:
    if path is not None:
        return _existing(os.fspath(path), "argument", "the path given")
    env = os.environ.get(ENV_VAR, "")
    if env:
        return _existing(env, "environment", f"${ENV_VAR}")
    from_kit = pkg_config_variable("plugin")
    if from_kit:
        return _existing(from_kit, "pkg-config", f"pkg-config's `plugin` variable of {PKG_CONFIG_PACKAGE}.pc")
    # Last: the loader's own search path. Whether it finds anything is known
    # only when dlopen() tries, and the load error then says so.
    return PluginLocation(SONAME, "loader")


def _existing(path: str, source: str, what: str) -> PluginLocation:
    if not os.path.isfile(path):
        raise PluginNotFoundError(f"{what} names {path}, which is not a file; install plexbridge or fix the setting")
    # Absolute paths stay as given: collapsing ".." by hand (pkg-config's
    # ${pcfiledir}/../..) would be wrong across a symlinked directory.
    return PluginLocation(path if os.path.isabs(path) else os.path.abspath(path), source)
