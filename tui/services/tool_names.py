"""Names for the tools of several MCP servers, as the providers take them: unique, at most 64
characters of ``[A-Za-z0-9_-]``, and mapped back to the server and the tool's own name.

A tool keeps its own name when no other server has one like it; when two collide, each is
prefixed with its server's name (``files__read``, ``notes__read``). A name with other
characters (a dot, a space) has them replaced by ``_``; a name too long is cut and given a
short hash of the whole, so two long names never end up the same.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_NAME = 64
SEPARATOR = "__"
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True, slots=True)
class ToolRef:
    """Where a wire name leads: the server and the tool's name there."""

    server: str
    tool: str


def wire_names(tools: Iterable[tuple[str, str]]) -> dict[str, ToolRef]:
    """``(server, tool)`` pairs, in order, to the names sent to the model; each name once."""
    pairs = list(dict.fromkeys(tools))
    counts: dict[str, int] = {}
    for _, tool in pairs:
        key = _clean(tool).lower()
        counts[key] = counts.get(key, 0) + 1
    names: dict[str, ToolRef] = {}
    taken: set[str] = set()
    for server, tool in pairs:
        plain = _clean(tool)
        wanted = plain if counts[plain.lower()] == 1 else f"{_clean(server)}{SEPARATOR}{plain}"
        name = _fit(wanted, f"{server}\x00{tool}")
        while name.lower() in taken:  # still the same after cleaning: make it unique
            name = _fit(f"{wanted}_{len(taken)}", f"{server}\x00{tool}\x00{len(taken)}")
        taken.add(name.lower())
        names[name] = ToolRef(server, tool)
    return names


def _clean(text: str) -> str:
    return _NOT_ALLOWED.sub("_", text) or "tool"


def _fit(name: str, whole: str) -> str:
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha1(whole.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9]}_{digest}"
