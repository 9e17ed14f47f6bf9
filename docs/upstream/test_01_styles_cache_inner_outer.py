"""StylesCache.get_inner_outer must not keep StylesCache instances alive.

It was an instance method under functools.lru_cache, so the cache held (as part
of its keys) the last 1024 StylesCache objects, with every line they had cached.
"""

import gc
import weakref

from textual._styles_cache import StylesCache
from textual.color import Color


def test_get_inner_outer_does_not_retain_styles_cache() -> None:
    styles_cache = StylesCache()
    base_background = Color(10, 20, 30)
    background = Color(200, 100, 50, 0.5)
    inner, outer = styles_cache.get_inner_outer(base_background, background)
    assert inner.background == base_background + background
    assert outer.background == base_background

    styles_cache_ref = weakref.ref(styles_cache)
    del styles_cache
    gc.collect()
    assert styles_cache_ref() is None
