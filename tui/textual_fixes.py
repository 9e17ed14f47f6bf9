"""Work-arounds for Textual defects that a chat app meets at scale; each names its upstream issue.

Each one checks that the defect is still there before it changes anything, so a Textual release
that fixes it makes the work-around step aside.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any


def apply_textual_fixes() -> None:
    """Apply every work-around (once; calling again does nothing)."""
    _stop_styles_cache_retention()


def _stop_styles_cache_retention() -> None:
    """Textual issue #6665: ``StylesCache.get_inner_outer`` is an instance method under
    ``functools.lru_cache``, so the cache keeps the last 1,024 ``StylesCache`` objects alive, and
    with them every line they rendered for widgets long since removed. A chat log that mounts
    and folds messages as it scrolls soon holds some 200,000 dead objects that every full garbage
    collection has to scan (pauses of 200-400 ms while paging a long thread).

    The result depends only on the two colours, so the same cache keyed on the colours alone
    gives the same answers and keeps no widget's cache alive.
    """
    from textual._styles_cache import StylesCache

    method = StylesCache.__dict__.get("get_inner_outer")
    original = getattr(method, "__wrapped__", None)
    if original is None or not hasattr(method, "cache_info"):
        return  # not the defective form (fixed upstream, or already worked around)

    @lru_cache(maxsize=1024)
    def inner_outer(base_background: Any, background: Any) -> Any:
        return original(None, base_background, background)

    def get_inner_outer(self: StylesCache, base_background: Any, background: Any) -> Any:
        return inner_outer(base_background, background)

    get_inner_outer.__doc__ = original.__doc__
    StylesCache.get_inner_outer = get_inner_outer  # type: ignore[method-assign,assignment]
