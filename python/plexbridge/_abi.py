"""A ctypes mirror of plugin_api/plexbridge_plugin.h (ABI 1.1).

Every struct and function type of the header, field for field and in the
same order: ctypes lays them out with the platform's C rules, so the
offsets are the C compiler's (tests/test_abi_layout.py compiles the header
and compares). Nothing here knows about Python hosts; plugin.py builds on it.

The evolution rules, as the header states them, are in read_struct() and
has_field(): a reader copies min(struct_size, sizeof) into zeroed storage
and checks a field lies wholly inside struct_size before it trusts it.
"""

from __future__ import annotations

import ctypes
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from typing import TypeVar

# ---- versions ------------------------------------------------------------

PB_ABI_VERSION_MAJOR = 1
PB_ABI_VERSION_MINOR = 1


def make_abi_version(major: int, minor: int) -> int:
    return ((major << 16) | (minor & 0xFFFF)) & 0xFFFFFFFF


def abi_major(version: int) -> int:
    return (version & 0xFFFFFFFF) >> 16


def abi_minor(version: int) -> int:
    return version & 0xFFFF


# What this binding tells the plugin it speaks (pb_host_api.abi_version).
# A module attribute rather than a literal at the call site so that a test
# can pose as a host of another version and see the plugin refuse it.
HOST_ABI_VERSION = make_abi_version(PB_ABI_VERSION_MAJOR, PB_ABI_VERSION_MINOR)

PB_ABI_VERSION_SYMBOL = "plexbridge_abi_version"
PB_ENTRY_SYMBOL = "plexbridge_plugin_entry"

# ---- enums (0 is never a valid value) ------------------------------------

PB_OK = 0
PB_ERR_INVALID_ARGUMENT = 1
PB_ERR_ABI = 2
PB_ERR_NOT_FOUND = 3
PB_ERR_IO = 4
PB_ERR_INTERNAL = 5
PB_ERR_BUSY = 6

STATUS_NAMES = {
    PB_OK: "PB_OK",
    PB_ERR_INVALID_ARGUMENT: "PB_ERR_INVALID_ARGUMENT",
    PB_ERR_ABI: "PB_ERR_ABI",
    PB_ERR_NOT_FOUND: "PB_ERR_NOT_FOUND",
    PB_ERR_IO: "PB_ERR_IO",
    PB_ERR_INTERNAL: "PB_ERR_INTERNAL",
    PB_ERR_BUSY: "PB_ERR_BUSY",
}

PB_LOG_DEBUG = 1
PB_LOG_INFO = 2
PB_LOG_WARNING = 3
PB_LOG_ERROR = 4

PB_ROUTE_AUTH_HOST_APIKEY = 1
PB_ROUTE_AUTH_NONE = 2

PB_SETTING_BOOL = 1
PB_SETTING_INT = 2
PB_SETTING_STRING = 3
PB_SETTING_STRING_LIST = 4
PB_SETTING_JSON = 5

PB_SETTING_ACCESS_USER = 1
PB_SETTING_ACCESS_READ_ONLY = 2
PB_SETTING_ACCESS_INTERNAL = 3

PB_SETTING_HAS_MIN = 0x1
PB_SETTING_HAS_MAX = 0x2
PB_SETTING_NEEDS_RESTART = 0x4

PB_MEDIA_MOVIE = 1
PB_MEDIA_EPISODE = 2

PB_SEARCH_QUEUED = 1
PB_SEARCH_UNKNOWN_MEDIA = 2
PB_SEARCH_REFUSED = 3

# C enums are int-sized on every platform the plugin is built for.
c_enum = c_int

# ---- structs -------------------------------------------------------------


class pb_str(Structure):
    """A borrowed UTF-8 string: pointer + length, not NUL-terminated."""

    _fields_ = [("data", c_void_p), ("len", c_size_t)]


class pb_http_header(Structure):
    _fields_ = [("name", pb_str), ("value", pb_str)]


class pb_http_request(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("method", pb_str),
        ("path", pb_str),
        ("query", pb_str),
        ("headers", POINTER(pb_http_header)),
        ("header_count", c_size_t),
        ("body", pb_str),
        ("remote_address", pb_str),
    ]


class pb_http_response(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("status", c_uint16),
        ("content_type", pb_str),
        ("headers", POINTER(pb_http_header)),
        ("header_count", c_size_t),
        ("body", pb_str),
    ]


# The plugin's route handler: (route_ctx, request, responder).
pb_route_handler = CFUNCTYPE(None, c_void_p, POINTER(pb_http_request), c_void_p)


class pb_route_desc(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("method", pb_str),
        ("path_pattern", pb_str),
        ("auth", c_enum),
        ("max_body_bytes", c_uint64),
        ("handler", pb_route_handler),
        ("route_ctx", c_void_p),
    ]


class pb_setting_desc(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("name", pb_str),
        ("type", c_enum),
        ("default_json", pb_str),
        ("description", pb_str),
        ("secret", c_int),
        # 1.1
        ("label", pb_str),
        ("section", pb_str),
        ("access", c_enum),
        ("flags", c_uint32),
        ("min", c_int64),
        ("max", c_int64),
        ("unit", pb_str),
        ("format", pb_str),
        ("choices_json", pb_str),
        ("shown_when_json", pb_str),
        ("fields_json", pb_str),
    ]


class pb_page_desc(Structure):  # 1.1
    _fields_ = [("struct_size", c_uint32), ("title", pb_str), ("entry_path", pb_str)]


class pb_event(Structure):
    _fields_ = [("struct_size", c_uint32), ("name", pb_str), ("payload_json", pb_str)]


class pb_search_request(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("media_type", c_enum),
        ("imdb_id", pb_str),
        ("tmdb_id", c_int64),
        ("tvdb_id", c_int64),
        ("season", c_int32),
        ("episode", c_int32),
        ("episode_tvdb_id", c_int64),
        ("episode_imdb_id", pb_str),
        ("title", pb_str),
        ("reason", pb_str),
    ]


# (sink_ctx, value): called synchronously; the callee copies the string.
pb_str_sink = CFUNCTYPE(None, c_void_p, pb_str)

# The host's table. Each entry's function type is named after the entry.
log_fn = CFUNCTYPE(None, c_void_p, c_enum, pb_str)
register_setting_fn = CFUNCTYPE(c_enum, c_void_p, POINTER(pb_setting_desc))
register_route_fn = CFUNCTYPE(c_enum, c_void_p, POINTER(pb_route_desc))
subscribe_event_fn = CFUNCTYPE(c_enum, c_void_p, pb_str)
settings_read_fn = CFUNCTYPE(c_enum, c_void_p, pb_str_sink, c_void_p)
settings_write_fn = CFUNCTYPE(c_enum, c_void_p, pb_str, pb_str_sink, c_void_p)
respond_fn = CFUNCTYPE(None, c_void_p, c_void_p, POINTER(pb_http_response))
request_search_fn = CFUNCTYPE(c_enum, c_void_p, POINTER(pb_search_request))
register_page_fn = CFUNCTYPE(c_enum, c_void_p, POINTER(pb_page_desc))


class pb_host_api(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("abi_version", c_uint32),
        ("host_ctx", c_void_p),
        ("host_name", pb_str),
        ("data_dir", pb_str),
        ("log", log_fn),
        ("register_setting", register_setting_fn),
        ("register_route", register_route_fn),
        ("subscribe_event", subscribe_event_fn),
        ("settings_read", settings_read_fn),
        ("settings_write", settings_write_fn),
        ("respond", respond_fn),
        ("request_search", request_search_fn),
        ("register_page", register_page_fn),  # 1.1, optional
    ]


# The plugin's table.
start_fn = CFUNCTYPE(c_enum, c_void_p)
destroy_fn = CFUNCTYPE(None, c_void_p)
on_event_fn = CFUNCTYPE(None, c_void_p, POINTER(pb_event))
validate_settings_fn = CFUNCTYPE(c_enum, c_void_p, pb_str, pb_str_sink, c_void_p)
settings_changed_fn = CFUNCTYPE(None, c_void_p, pb_str)


class pb_plugin_api(Structure):
    _fields_ = [
        ("struct_size", c_uint32),
        ("abi_version", c_uint32),
        ("plugin_ctx", c_void_p),
        ("plugin_id", pb_str),
        ("plugin_version", pb_str),
        ("start", start_fn),
        ("destroy", destroy_fn),
        ("on_event", on_event_fn),
        ("validate_settings", validate_settings_fn),
        ("settings_changed", settings_changed_fn),
    ]


# Every boundary struct, for the layout test and for anyone who wants a list.
BOUNDARY_STRUCTS: tuple[type[Structure], ...] = (
    pb_str,
    pb_http_header,
    pb_http_request,
    pb_http_response,
    pb_route_desc,
    pb_setting_desc,
    pb_page_desc,
    pb_event,
    pb_search_request,
    pb_host_api,
    pb_plugin_api,
)

# ---- the evolution rules ---------------------------------------------------

S = TypeVar("S", bound=Structure)


def struct_init(cls: type[S]) -> S:
    """PB_STRUCT_INIT: a zeroed struct whose struct_size is its own size."""
    s = cls()
    s.struct_size = ctypes.sizeof(cls)
    return s


def read_struct(cls: type[S], address: int | None) -> S | None:
    """Copies a struct the other side owns: min(struct_size, sizeof) bytes
    into zeroed storage, so fields a smaller (older) writer lacks read as 0.
    struct_size keeps the writer's value, which has_field() needs."""
    if not address:
        return None
    declared = ctypes.c_uint32.from_address(address).value
    out = cls()
    ctypes.memmove(ctypes.addressof(out), address, min(declared, ctypes.sizeof(cls)))
    return out


def has_field(s: Structure, name: str) -> bool:
    """PB_HAS_FIELD: the writer's struct_size covers the whole field."""
    field = getattr(type(s), name)
    return int(s.struct_size) >= field.offset + field.size


def address_of(pointer: object) -> int | None:
    """The address a ctypes pointer (or c_void_p, or int) holds, or None."""
    if pointer is None:
        return None
    if isinstance(pointer, int):
        return pointer or None
    return ctypes.cast(pointer, c_void_p).value


def text(s: pb_str) -> str:
    """A pb_str as Python text (a copy). Invalid UTF-8 is replaced, never
    raised: the other side's bytes must not become an exception here."""
    return raw(s).decode("utf-8", errors="replace")


def raw(s: pb_str) -> bytes:
    """A pb_str as bytes (a copy); data may be NULL only when len is 0."""
    if not s.data or s.len == 0:
        return b""
    return ctypes.string_at(s.data, s.len)


class Strings:
    """Keeps the bytes behind pb_strs alive for as long as this object is.

    ctypes does not own what a c_void_p points at: a pb_str built from a
    temporary bytes object would dangle as soon as the temporary went. Each
    call that hands strings to the plugin builds them here and keeps this
    object until the call returns (or, for the host table, until destroy)."""

    def __init__(self) -> None:
        self._keep: list[object] = []

    def make(self, value: str | bytes) -> pb_str:
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        if not data:
            return pb_str(None, 0)
        buffer = c_char_p(data)  # points into `data`, which _keep holds
        self._keep.append(data)
        self._keep.append(buffer)
        return pb_str(ctypes.cast(buffer, c_void_p).value, len(data))
