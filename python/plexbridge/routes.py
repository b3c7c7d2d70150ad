"""Route patterns as the ABI defines them (pb_route_desc.path_pattern).

The rules, in the header's words: a "{name}" segment matches one non-empty
path segment; from ABI 1.1 a last segment "{name*}" matches the rest of the
path, slashes included, possibly empty. This is a line-by-line port of the
reference matcher (common::text::match_path in src/common/text.cpp), edge
cases included, so a Python host routes exactly as plexbridge-host does.
"""

from __future__ import annotations

from urllib.parse import unquote

__all__ = ["match_path"]


def _is_rest(segment: str) -> bool:
    return len(segment) > 3 and segment.startswith("{") and segment.endswith("*}")


def _is_param(segment: str) -> bool:
    return len(segment) > 2 and segment.startswith("{") and segment.endswith("}")


def match_path(pattern: str, path: str) -> dict[str, str] | None:
    """The path's parameters when `path` (still percent-encoded, as
    requested) matches `pattern`, else None. Values are percent-decoded; a
    "+" stays a "+" (paths are not forms)."""
    pattern_parts = pattern.split("/")
    path_parts = path.split("/")
    params: dict[str, str] = {}
    for i, p in enumerate(pattern_parts):
        # Reaching pattern segment i means the path had segment i too: a
        # shorter path fails below, at its own last segment.
        s = path_parts[i]
        if _is_rest(p):
            if i != len(pattern_parts) - 1:
                return None  # "{name*}" only ever ends a pattern
            params[p[1:-2]] = unquote("/".join(path_parts[i:]))
            return params
        if _is_param(p):
            if not s:
                return None
            params[p[1:-1]] = unquote(s)
        elif p != s:
            return None
        pattern_end = i == len(pattern_parts) - 1
        path_end = i == len(path_parts) - 1
        if pattern_end or path_end:
            return params if pattern_end and path_end else None
    return None  # unreachable: split() never returns an empty list
