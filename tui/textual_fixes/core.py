"""The work-arounds for Textual's core: most of them are about garbage.

Textual leaves widgets, drawn lines and layout maps in reference cycles, so a long session that
mounts and removes widgets (a log that folds what is out of view, a reply that streams) waits on
full garbage collections of hundreds of thousands of objects. Each fix wraps Textual's own
method and gives the same results. The registry (``tui.textual_fixes``) checks their needs and
installs them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tui.textual_fixes import Fix, Needs, Undo, installed, replace_attribute, undo_all

if TYPE_CHECKING:
    from textual.widget import Widget

VERIFIED = ("8.2.8",)


def _styles_cache() -> Undo:
    """Textual issue #6665: ``StylesCache.get_inner_outer`` is an instance method under
    ``functools.lru_cache``, so the cache keeps the last 1,024 ``StylesCache`` objects alive, and
    with them every line they rendered for widgets long since removed. A chat log that mounts
    and folds messages as it scrolls soon holds some 200,000 dead objects that every full garbage
    collection has to scan (pauses of 200-400 ms while paging a long thread).

    The result depends only on the two colours, so the same cache keyed on the colours alone
    gives the same answers and keeps no widget's cache alive.
    """
    from textual._styles_cache import StylesCache

    original = StylesCache.__dict__["get_inner_outer"].__wrapped__

    @lru_cache(maxsize=1024)
    def inner_outer(base_background: Any, background: Any) -> Any:
        return original(None, base_background, background)

    def get_inner_outer(self: StylesCache, base_background: Any, background: Any) -> Any:
        return inner_outer(base_background, background)

    get_inner_outer.__doc__ = original.__doc__
    return replace_attribute(StylesCache, "get_inner_outer", get_inner_outer)


def _strips() -> Undo:
    """A ``Strip`` caches the results of ``divide`` and ``crop_extend``, and when the result is
    the strip itself (no cut inside it, or a crop to its own length, the common case for a
    line drawn whole) it caches itself: a reference cycle. Every line the compositor draws so
    becomes garbage that only a collection of its generation can free, with the seven caches
    it carries; most of them live long enough to reach the oldest one. Those two cases are
    answered here before the cache is consulted, with the same result, so lines are freed as
    soon as they are dropped.
    """
    from textual.strip import Strip

    divide = Strip.__dict__["divide"]
    crop_extend = Strip.__dict__["crop_extend"]

    def divide_without_self_cycle(self: Strip, cuts: Any) -> Any:
        cell_length = self.cell_length
        cuts = [cut for cut in cuts if cut <= cell_length]
        if len(cuts) == 1 and cuts[0] == cell_length:
            return [self]
        return divide(self, cuts)

    def crop_extend_without_self_cycle(self: Strip, start: int, end: int, style: Any) -> Any:
        if start <= 0 and end == self.cell_length:
            return self
        return crop_extend(self, start, end, style)

    divide_without_self_cycle.__doc__ = divide.__doc__
    crop_extend_without_self_cycle.__doc__ = crop_extend.__doc__
    return undo_all(
        replace_attribute(Strip, "divide", divide_without_self_cycle),
        replace_attribute(Strip, "crop_extend", crop_extend_without_self_cycle),
    )


def _layout_maps() -> Undo:
    """``Compositor._arrange_root`` places widgets with a nested function that calls itself, so
    its closure is a reference cycle, and the map of every layout (a ``MapGeometry`` with its
    regions for each widget on screen) and the set of its widgets stay in that cycle until a
    collection frees them. A screen that changes its layout every frame (a reply streaming in,
    a thread being paged) leaves a whole map of garbage per frame, most of it old enough to
    wait for a full collection, and removed widgets stay alive in those sets until then.

    The compositor gets copies of the map and the set, and the originals left in the cycle are
    emptied, so the entries are freed by reference counting when the compositor drops them.
    """
    from textual._compositor import Compositor

    arrange_root = Compositor.__dict__["_arrange_root"]

    def arrange_root_leaving_empty_cycle(self: Compositor, *args: Any, **kwargs: Any) -> Any:
        layout_map, widgets = arrange_root(self, *args, **kwargs)
        map_copy, widgets_copy = dict(layout_map), set(widgets)
        layout_map.clear()
        widgets.clear()
        return map_copy, widgets_copy

    arrange_root_leaving_empty_cycle.__doc__ = arrange_root.__doc__
    return replace_attribute(Compositor, "_arrange_root", arrange_root_leaving_empty_cycle)


def _full_map() -> Undo:
    """A scroll lays out only the visible part of the screen and marks the full map stale;
    the next full layout (``Compositor.reflow``) builds a new full map but leaves it marked
    stale, so the first question about a widget off screen (Textual asks one of every widget
    right after that layout) lays the whole screen out a second time. After every scroll of a
    long log that doubled the cost of the next layout. The map a full layout has just built is
    marked current here. (Harmless if Textual does it too.)
    """
    from textual._compositor import Compositor

    reflow = Compositor.__dict__["reflow"]

    def reflow_keeping_its_map(self: Compositor, *args: Any, **kwargs: Any) -> Any:
        result = reflow(self, *args, **kwargs)
        self._full_map_invalidated = False
        return result

    reflow_keeping_its_map.__doc__ = reflow.__doc__
    return replace_attribute(Compositor, "reflow", reflow_keeping_its_map)


def _batch_end() -> Undo:
    """While ``App.batch_update`` is open the screen is not updated: an update that falls due
    is skipped, and the screen's idle handler will not restart its update timer. When the batch
    ends, nothing restarts it either until the screen next goes idle, and the timer then waits
    for its next tick: the frame showing the batch came 15-30 ms after the batch ended. A log
    that mounts the messages a scroll brings into view inside a batch (so that no frame shows
    them half built) lost that on every page. The screen is updated as the batch ends instead,
    if anything is waiting to be drawn.
    """
    from textual.app import App

    end_batch = App.__dict__["_end_batch"]

    def end_batch_updating_what_it_held(self: App[Any]) -> None:
        end_batch(self)
        if self._batch_count or not self.screen_stack:
            return
        screen = self.screen_stack[-1]
        if (
            screen.is_running
            and screen.is_current
            and (
                screen._layout_required
                or screen._scroll_required
                or screen._repaint_required
                or screen._dirty_widgets
            )
        ):
            screen._on_timer_update()

    end_batch_updating_what_it_held.__doc__ = end_batch.__doc__
    return replace_attribute(App, "_end_batch", end_batch_updating_what_it_held)


RELEASE = "release-removed-widgets"


def release_block(widget: Widget) -> None:
    """Break the cycles of a Markdown part that was built but will never be mounted (with the
    removed-widgets fix installed; otherwise Textual's collector frees it, later)."""
    if installed(RELEASE):
        _release(widget)


def _release(widget: Widget) -> None:
    """Break the cycles a widget is in once Textual is done with it (see ``_removed_widgets``)."""
    for styles in (widget._css_styles, widget._inline_styles):
        if styles.node is widget:
            styles.node = None
    widget._box_model_cache.clear()
    widget._query_one_cache.clear()
    blocks = widget.__dict__.get("_blocks")  # a Markdown block's parts
    if isinstance(blocks, list):
        for block in blocks:  # built, never mounted (a table's rows and cells)
            if not block.is_attached:
                _release(block)


def _removed_widgets() -> Undo:
    """Textual issue #6381 (full collections stall scrolling through Markdown): a widget's
    ``Styles`` hold it by a strong reference, so every widget is in a reference cycle, and a
    removed one, with every line it rendered, waits for a full collection to be freed. Its
    ``LRUCache``s (box models, queries) are rings of linked entries, cycles too, and
    ``LRUCache.clear`` drops the ring whole, so it also waits for a collection. A Markdown
    table also builds blocks that are never mounted (rows and cells).

    When Textual has finished removing a widget (``_message_loop_exit``, where it already clears
    the widget's other caches), the two ``Styles`` let go of it and its caches are cleared (a
    table's blocks with it), and ``LRUCache.clear`` unlinks the entries it drops. So reference
    counting frees a removed widget and everything it cached. ``Styles`` without a node behave
    as they do before a widget is mounted.
    """
    from textual.cache import LRUCache
    from textual.widget import Widget

    loop_exit = Widget.__dict__["_message_loop_exit"]
    clear = LRUCache.__dict__["clear"]

    def clear_unlinking(self: LRUCache[Any, Any]) -> None:
        for entry in self._cache.values():
            entry.clear()  # [previous, next, key, value]: no entry points at another any more
        clear(self)

    async def message_loop_exit_releasing_styles(self: Widget) -> None:
        await loop_exit(self)
        _release(self)

    clear_unlinking.__doc__ = clear.__doc__
    message_loop_exit_releasing_styles.__doc__ = loop_exit.__doc__
    return undo_all(
        replace_attribute(LRUCache, "clear", clear_unlinking),
        replace_attribute(Widget, "_message_loop_exit", message_loop_exit_releasing_styles),
    )


FIXES = (
    Fix(
        name="styles-cache",
        group="core",
        summary="a cache on an instance method keeps 1,024 removed widgets' lines alive",
        upstream="Textual #6665",
        verified=VERIFIED,
        needs=(
            Needs(
                "textual._styles_cache:StylesCache.get_inner_outer",
                params=("cls", "base_background", "background"),
                marker="cache_info",
            ),
        ),
        apply=_styles_cache,
    ),
    Fix(
        name="strip-self-cycle",
        group="core",
        summary="a line drawn whole caches itself (a cycle per drawn line)",
        upstream="not filed: Strip.divide and crop_extend cache a result that is the strip",
        verified=VERIFIED,
        needs=(
            Needs("textual.strip:Strip.divide", params=("self", "cuts")),
            Needs("textual.strip:Strip.crop_extend", params=("self", "start", "end", "style")),
            Needs("textual.strip:Strip.cell_length"),
        ),
        apply=_strips,
    ),
    Fix(
        name="layout-map-cycle",
        group="core",
        summary="every layout's map and widget set stay in a closure's cycle",
        upstream="not filed: Compositor._arrange_root's recursive closure",
        verified=VERIFIED,
        needs=(
            Needs(
                "textual._compositor:Compositor._arrange_root",
                params=("self", "root", "size", "visible_only"),
            ),
        ),
        apply=_layout_maps,
    ),
    Fix(
        name="full-map-current",
        group="core",
        summary="a full layout leaves its new map marked stale (the next query lays out again)",
        upstream="not filed: Compositor.reflow keeps _full_map_invalidated set",
        verified=VERIFIED,
        needs=(
            Needs("textual._compositor:Compositor.reflow", params=("self", "parent", "size")),
            Needs("textual._compositor:Compositor", sets=("_full_map_invalidated",)),
        ),
        apply=_full_map,
    ),
    Fix(
        name="update-after-batch",
        group="core",
        summary="the frame held back by a batch update is drawn as the batch ends",
        upstream="not filed: App._end_batch does not restart the screen's update",
        verified=VERIFIED,
        needs=(
            Needs("textual.app:App._end_batch", params=("self",)),
            Needs("textual.app:App", sets=("_batch_count",)),
            Needs("textual.screen:Screen._on_timer_update", params=("self",)),
            Needs("textual.screen:Screen", sets=("_dirty_widgets",)),
            Needs("textual.widget:Widget", sets=("_layout_required", "_repaint_required")),
            Needs("textual.screen:Screen", sets=("_scroll_required",)),
        ),
        apply=_batch_end,
    ),
    Fix(
        name=RELEASE,
        group="core",
        summary="a removed widget is freed by reference counting, not by a full collection",
        upstream="Textual #6381",
        verified=VERIFIED,
        needs=(
            Needs("textual.widget:Widget._message_loop_exit", params=("self",)),
            Needs("textual.cache:LRUCache.clear", params=("self",)),
            Needs("textual.cache:LRUCache", sets=("_cache",)),
            Needs("textual.dom:DOMNode", sets=("_css_styles", "_inline_styles")),
            Needs("textual.dom:DOMNode", sets=("_query_one_cache",)),
            Needs("textual.widget:Widget", sets=("_box_model_cache",)),
            Needs("textual.css.styles:Styles.node"),
        ),
        apply=_removed_widgets,
    ),
)
