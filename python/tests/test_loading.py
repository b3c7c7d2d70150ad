"""Finding and loading the plugin, negotiating the ABI, and the ctypes
mirror of the header: what decides whether a Python host runs the plugin
at all, and whether it runs it safely."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import SOURCE_ROOT
from plexbridge import (
    AbiMismatchError,
    JsonFileSettingsStore,
    Plugin,
    PlexbridgeError,
    PluginLoadError,
    PluginNotFoundError,
    SettingsStoreError,
    _abi,
    find_plugin,
    match_path,
    plugin as plugin_module,
)


def the_plugin_path() -> str:
    return find_plugin().path


# ---- the ABI version ---------------------------------------------------------


def test_a_plugin_of_another_major_is_refused_before_its_entry_runs(tmp_path, monkeypatch):
    # Pose as a plugin of ABI 2.0: the version query is the only thing faked.
    monkeypatch.setattr(plugin_module, "_plugin_abi_version", lambda lib: _abi.make_abi_version(2, 0))
    data_dir = tmp_path / "data"
    with pytest.raises(AbiMismatchError, match=r"speaks ABI 2\.0, this host speaks 1\.1: not loaded"):
        Plugin.load(None, data_dir)
    # The entry never ran: the plugin made no key and stored no settings.
    assert list(data_dir.iterdir()) == []


def test_the_plugin_refuses_a_host_of_another_major_and_says_why(tmp_path, monkeypatch):
    # A host of ABI 2.0 that (wrongly) believes the plugin is 2.0 too: the
    # plugin's own check at its entry is then what refuses.
    monkeypatch.setattr(_abi, "HOST_ABI_VERSION", _abi.make_abi_version(2, 0))
    monkeypatch.setattr(plugin_module, "_plugin_abi_version", lambda lib: _abi.make_abi_version(2, 0))
    with pytest.raises(PluginLoadError) as refused:
        Plugin.load(None, tmp_path / "data")
    assert refused.value.status == _abi.PB_ERR_ABI
    assert "the host speaks plugin ABI 2.0 but this plugin needs ABI 1.x" in str(refused.value)


def test_a_newer_minor_host_loads_and_the_versions_are_readable(tmp_path, monkeypatch):
    # A host of 1.9 (fields this plugin does not know yet would follow) is
    # still ABI 1: same major, so the plugin loads.
    monkeypatch.setattr(_abi, "HOST_ABI_VERSION", _abi.make_abi_version(1, 9))
    with Plugin.load(None, tmp_path / "data") as plugin:
        assert plugin.abi_version[0] == 1
        assert plugin.abi_version == plugin.plugin_table_abi
        assert plugin.id == "plexbridge"
        assert plugin.version


def test_a_library_that_is_not_a_plugin_is_refused(tmp_path):
    import _ctypes  # a shared library that certainly lacks the two entry points

    with pytest.raises(PlexbridgeError, match="is not a plexbridge plugin"):
        Plugin.load(_ctypes.__file__, tmp_path / "data")
    with pytest.raises(PlexbridgeError, match="cannot load the plugin"):
        Plugin.load(__file__, tmp_path / "data")  # not a library at all


# ---- finding the plugin -------------------------------------------------------


def test_an_explicit_path_and_the_environment_win_and_must_exist(tmp_path, monkeypatch):
    real = the_plugin_path()
    monkeypatch.setenv("PLEXBRIDGE_PLUGIN", real)
    assert find_plugin().source == "environment"
    assert find_plugin(real).source == "argument"
    monkeypatch.setenv("PLEXBRIDGE_PLUGIN", str(tmp_path / "missing.so"))
    with pytest.raises(PluginNotFoundError, match=r"\$PLEXBRIDGE_PLUGIN names .*missing\.so, which is not a file"):
        find_plugin()


def test_the_installed_kits_pkg_config_file_is_read(tmp_path, monkeypatch):
    if shutil.which("pkg-config") is None:
        pytest.skip("pkg-config is not installed")
    real = the_plugin_path()
    (tmp_path / "plexbridge.pc").write_text(
        f"prefix={tmp_path}\nplugin={real}\nmanifest=${{prefix}}/plugin.json\n"
        "Name: plexbridge\nDescription: test\nVersion: 0.1.0\n"
    )
    monkeypatch.delenv("PLEXBRIDGE_PLUGIN", raising=False)
    monkeypatch.setenv("PKG_CONFIG_PATH", str(tmp_path))
    found = find_plugin()
    assert (found.source, found.path) == ("pkg-config", real)
    # Without any of the three, the loader's search path is the last resort.
    monkeypatch.setenv("PKG_CONFIG_PATH", str(tmp_path / "nothing-here"))
    monkeypatch.setenv("PKG_CONFIG_LIBDIR", str(tmp_path / "nothing-here"))
    assert find_plugin().source == "loader"
    assert find_plugin().path == "libplexbridge.so.1"


@pytest.mark.skipif(not os.environ.get("PB_KIT_PREFIX"), reason="only where a kit was installed (ctest's kit_install)")
def test_the_installed_kit_is_what_this_run_loads():
    # ctest runs this suite with PKG_CONFIG_PATH pointing into the kit and
    # no PLEXBRIDGE_PLUGIN: every other test loaded the installed copy.
    found = find_plugin()
    assert found.source == "pkg-config"
    assert Path(found.path).resolve().is_relative_to(Path(os.environ["PB_KIT_PREFIX"]).resolve())


# ---- the struct layouts --------------------------------------------------------

LAYOUT_PROGRAM = """
#include <stdio.h>
#include <stddef.h>
#include "plexbridge_plugin.h"
#define S(t) printf("%s %zu\\n", #t, sizeof(t));
#define F(t, f) printf("%s.%s %zu %zu\\n", #t, #f, offsetof(t, f), sizeof(((t*)0)->f));
int main(void) {
@BODY@
    return 0;
}
"""


def header_dir() -> Path | None:
    source = SOURCE_ROOT / "plugin_api"
    if (source / "plexbridge_plugin.h").exists():
        return source
    from plexbridge import pkg_config_variable

    includedir = pkg_config_variable("includedir")
    if includedir and (Path(includedir) / "plexbridge_plugin.h").exists():
        return Path(includedir)
    return None


def test_every_struct_has_the_c_compilers_layout(tmp_path):
    # A field off by one is not an error in ctypes: it reads the neighbour's
    # bytes, or calls a string as a function. The C compiler is the judge.
    cc = shutil.which("cc") or shutil.which("gcc")
    include = header_dir()
    if cc is None or include is None:
        pytest.skip("needs a C compiler and plexbridge_plugin.h")
    lines = []
    for struct in _abi.BOUNDARY_STRUCTS:
        lines.append(f"    S({struct.__name__})")
        lines.extend(f"    F({struct.__name__}, {name})" for name, _ in struct._fields_)
    source = tmp_path / "layout.c"
    source.write_text(LAYOUT_PROGRAM.replace("@BODY@", "\n".join(lines)))
    exe = tmp_path / "layout"
    subprocess.run([cc, "-std=c11", "-I", str(include), "-o", str(exe), str(source)], check=True)
    c_says = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.splitlines()

    python_says = []
    for struct in _abi.BOUNDARY_STRUCTS:
        python_says.append(f"{struct.__name__} {ctypes.sizeof(struct)}")
        for name, _ in struct._fields_:
            f = getattr(struct, name)
            python_says.append(f"{struct.__name__}.{name} {f.offset} {f.size}")
    assert python_says == c_says
    # And the version the header declares is the one mirrored.
    header = (include / "plexbridge_plugin.h").read_text()
    assert f"#define PB_ABI_VERSION_MAJOR              {_abi.PB_ABI_VERSION_MAJOR}\n" in header
    assert f"#define PB_ABI_VERSION_MINOR              {_abi.PB_ABI_VERSION_MINOR}\n" in header


def test_a_smaller_older_struct_reads_as_zero_beyond_its_size():
    # A 1.0 plugin's setting descriptor ends at `secret`: the 1.1 fields must
    # read as absent, not as whatever lies beyond it in memory.
    full = _abi.struct_init(_abi.pb_setting_desc)
    full.flags = 0x7
    full.access = _abi.PB_SETTING_ACCESS_INTERNAL
    full.struct_size = _abi.pb_setting_desc.secret.offset + _abi.pb_setting_desc.secret.size
    old = _abi.read_struct(_abi.pb_setting_desc, ctypes.addressof(full))
    assert not _abi.has_field(old, "label")
    assert (old.flags, old.access) == (0, 0)
    assert _abi.has_field(old, "secret")


# ---- route patterns -------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/api/plex/oauth/pin/{pinId}/check", "/api/plex/oauth/pin/1000001/check", {"pinId": "1000001"}),
        ("/api/plex/oauth/pin/{pinId}/check", "/api/plex/oauth/pin//check", None),  # one non-empty segment
        ("/api/plex/oauth/pin/{pinId}/check", "/api/plex/oauth/pin/1/2/check", None),  # exactly one
        ("/api/plex/oauth/pin/{pinId}/check", "/api/plex/oauth/pin/a%2Fb/check", {"pinId": "a/b"}),  # decoded
        ("/api/x/{id}", "/api/x/a+b", {"id": "a+b"}),  # "+" is not a space in a path
        ("/plugins/plexbridge/{file*}", "/plugins/plexbridge/", {"file": ""}),  # the rest, possibly empty
        ("/plugins/plexbridge/{file*}", "/plugins/plexbridge/css/page.css", {"file": "css/page.css"}),
        ("/plugins/plexbridge/{file*}", "/plugins/plexbridge", None),
        ("/plugins/{file*}/x", "/plugins/a/x", None),  # only ever last
        ("/api/plex/status", "/api/plex/status", {}),
        ("/api/plex/status", "/api/plex/status/", None),
        ("/api/plex/status", "/api/plex", None),
    ],
)
def test_route_patterns_follow_the_abi(pattern, path, expected):
    assert match_path(pattern, path) == expected


# ---- the settings file ------------------------------------------------------------


def test_the_settings_file_is_replaced_whole_and_a_broken_one_is_never_overwritten(tmp_path):
    store = JsonFileSettingsStore(tmp_path / "settings.json")
    assert store.load() == {}
    store.save({"port": 32400})
    store.save({"port": 32401, "use_plex": True})
    assert store.load() == {"port": 32401, "use_plex": True}
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"], "no temporary file left behind"

    (tmp_path / "settings.json").write_text('{"port": 3240')  # a hand edit gone wrong
    with pytest.raises(SettingsStoreError, match="is not valid JSON .*fix or move it"):
        JsonFileSettingsStore(tmp_path / "settings.json").load()
    with pytest.raises(SettingsStoreError):
        Plugin.load(None, tmp_path, JsonFileSettingsStore(tmp_path / "settings.json"))
    assert (tmp_path / "settings.json").read_text() == '{"port": 3240', "left for the user to fix"


def test_settings_survive_a_restart_of_the_host(tmp_path):
    with Plugin.load(None, tmp_path) as first:
        first.update_settings({"port": 32401, "movie_library": ["1"]})
    with Plugin.load(None, tmp_path) as second:
        assert second.settings()["port"] == 32401
        assert second.settings()["movie_library"] == ["1"]
        assert second.settings()["use_plex"] is False, "defaults fill in what was never stored"
    assert json.loads((tmp_path / "plexbridge-settings.json").read_text())["port"] == 32401
