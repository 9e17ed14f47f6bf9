"""Work-arounds for Textual defects that a chat app meets at scale, named by their upstream issue
where there is one.

Most of them are about garbage: Textual leaves widgets, drawn lines and layout maps in reference
cycles, so a long session that mounts and removes widgets (a log that folds what is out of
view, a reply that streams) waits on full garbage collections of hundreds of thousands of
objects. Each work-around wraps Textual's own method and gives the same results; each steps
aside when the method it wraps is not there in the form it expects, and applying them twice
changes nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from textual.widget import Widget


def apply_textual_fixes() -> None:
    """Apply the work-arounds for Textual's core (once; calling again does nothing)."""
    _stop_styles_cache_retention()
    _stop_strips_caching_themselves()
    _empty_layout_maps_left_in_cycles()
    _trust_the_map_a_full_layout_built()
    _release_removed_widgets()
    _update_when_a_batch_ends()
    _keep_pasted_escapes_as_text()


def apply_markdown_fixes() -> None:
    """Apply the work-arounds for Textual's Markdown widgets (once; calling again does nothing).

    Separate, so the app's first frame does not wait for the Markdown stack to be imported.
    """
    apply_textual_fixes()
    _share_markdown_component_styles()
    _release_list_items()
    _table_tooltips_as_text()


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


def _stop_strips_caching_themselves() -> None:
    """A ``Strip`` caches the results of ``divide`` and ``crop_extend``, and when the result is
    the strip itself (no cut inside it, or a crop to its own length, the common case for a
    line drawn whole) it caches itself: a reference cycle. Every line the compositor draws so
    becomes garbage that only a collection of its generation can free, with the seven caches
    it carries; most of them live long enough to reach the oldest one. Those two cases are
    answered here before the cache is consulted, with the same result, so lines are freed as
    soon as they are dropped.
    """
    from textual.strip import Strip

    divide = Strip.__dict__.get("divide")
    crop_extend = Strip.__dict__.get("crop_extend")
    if divide is None or crop_extend is None or getattr(divide, "whole_line_fast_path", False):
        return

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
    divide_without_self_cycle.whole_line_fast_path = True  # type: ignore[attr-defined]
    crop_extend_without_self_cycle.__doc__ = crop_extend.__doc__
    Strip.divide = divide_without_self_cycle  # type: ignore[method-assign]
    Strip.crop_extend = crop_extend_without_self_cycle  # type: ignore[method-assign]


def _empty_layout_maps_left_in_cycles() -> None:
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

    arrange_root = Compositor.__dict__.get("_arrange_root")
    if arrange_root is None or getattr(arrange_root, "empties_its_cycle", False):
        return

    def arrange_root_leaving_empty_cycle(self: Compositor, *args: Any, **kwargs: Any) -> Any:
        layout_map, widgets = arrange_root(self, *args, **kwargs)
        map_copy, widgets_copy = dict(layout_map), set(widgets)
        layout_map.clear()
        widgets.clear()
        return map_copy, widgets_copy

    arrange_root_leaving_empty_cycle.__doc__ = arrange_root.__doc__
    arrange_root_leaving_empty_cycle.empties_its_cycle = True  # type: ignore[attr-defined]
    Compositor._arrange_root = arrange_root_leaving_empty_cycle  # type: ignore[method-assign]


def _trust_the_map_a_full_layout_built() -> None:
    """A scroll lays out only the visible part of the screen and marks the full map stale;
    the next full layout (``Compositor.reflow``) builds a new full map but leaves it marked
    stale, so the first question about a widget off screen (Textual asks one of every widget
    right after that layout) lays the whole screen out a second time. After every scroll of a
    long log that doubled the cost of the next layout. The map a full layout has just built is
    marked current here. (Harmless if Textual does it too.)
    """
    from textual._compositor import Compositor

    reflow = Compositor.__dict__.get("reflow")
    if reflow is None or getattr(reflow, "trusts_its_map", False):
        return

    def reflow_keeping_its_map(self: Compositor, *args: Any, **kwargs: Any) -> Any:
        result = reflow(self, *args, **kwargs)
        self._full_map_invalidated = False
        return result

    reflow_keeping_its_map.__doc__ = reflow.__doc__
    reflow_keeping_its_map.trusts_its_map = True  # type: ignore[attr-defined]
    Compositor.reflow = reflow_keeping_its_map  # type: ignore[method-assign]


def _update_when_a_batch_ends() -> None:
    """While ``App.batch_update`` is open the screen is not updated: an update that falls due
    is skipped, and the screen's idle handler will not restart its update timer. When the batch
    ends, nothing restarts it either until the screen next goes idle, and the timer then waits
    for its next tick: the frame showing the batch came 15-30 ms after the batch ended. A log
    that mounts the messages a scroll brings into view inside a batch (so that no frame shows
    them half built) lost that on every page. The screen is updated as the batch ends instead,
    if anything is waiting to be drawn.
    """
    from textual.app import App

    end_batch = App.__dict__.get("_end_batch")
    if end_batch is None or getattr(end_batch, "updates_what_it_held", False):
        return

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
    end_batch_updating_what_it_held.updates_what_it_held = True  # type: ignore[attr-defined]
    App._end_batch = end_batch_updating_what_it_held  # type: ignore[method-assign]


def release_block(widget: Widget) -> None:
    """Break the cycles of a Markdown part that was built but will never be mounted."""
    _release(widget)


def _release(widget: Widget) -> None:
    """Break the cycles a widget is in once Textual is done with it (see below)."""
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


def _release_removed_widgets() -> None:
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

    loop_exit = Widget.__dict__.get("_message_loop_exit")
    clear = LRUCache.__dict__.get("clear")
    if loop_exit is None or clear is None or getattr(loop_exit, "releases_styles", False):
        return

    def clear_unlinking(self: LRUCache[Any, Any]) -> None:
        for entry in self._cache.values():
            entry.clear()  # [previous, next, key, value]: no entry points at another any more
        clear(self)

    async def message_loop_exit_releasing_styles(self: Widget) -> None:
        await loop_exit(self)
        _release(self)

    clear_unlinking.__doc__ = clear.__doc__
    message_loop_exit_releasing_styles.__doc__ = loop_exit.__doc__
    message_loop_exit_releasing_styles.releases_styles = True  # type: ignore[attr-defined]
    LRUCache.clear = clear_unlinking  # type: ignore[method-assign]
    Widget._message_loop_exit = message_loop_exit_releasing_styles  # type: ignore[method-assign]


def _release_list_items() -> None:
    """A Markdown list builds an item block per item and mounts only the item's contents (in
    widgets of its own), so the items, never mounted, never removed, keep their cycles, and
    with them the blocks inside them once those are removed. They are released as soon as
    their list has composed.
    """
    from textual.widgets._markdown import (
        MarkdownBlock,
        MarkdownBulletList,
        MarkdownListItem,
        MarkdownOrderedList,
    )

    def releasing_items(compose: Any) -> Any:
        def compose_then_release_items(self: MarkdownBlock) -> Any:
            items = [block for block in self._blocks if isinstance(block, MarkdownListItem)]
            yield from compose(self)
            for item in items:  # their contents are in the list's own widgets now
                item._blocks.clear()  # (to be mounted: they are not the item's to release)
                _release(item)

        compose_then_release_items.__doc__ = compose.__doc__
        compose_then_release_items.releases_items = True  # type: ignore[attr-defined]
        return compose_then_release_items

    for list_class in (MarkdownBulletList, MarkdownOrderedList):
        compose = list_class.__dict__.get("compose")
        if compose is not None and not getattr(compose, "releases_items", False):
            list_class.compose = releasing_items(compose)  # type: ignore[method-assign]


SHARED_STYLE_CONTEXTS = 512
"""Distinct CSS contexts whose Markdown component styles are kept (a chat uses a few dozen)."""


def _share_markdown_component_styles() -> None:
    """Textual issue #6381 (full collections stall scrolling through Markdown): for every
    component class of a widget (``em``, ``strong``, ``s`` and ``code_inline`` on *every*
    Markdown block) the stylesheet builds a throw-away ``DOMNode`` with three ``Styles`` objects,
    matches the whole stylesheet against it, and leaves it in a reference cycle. That is four
    nodes of cyclic garbage per block, a large part of what paging a long thread leaves for the
    collector, and a good part of the time it takes to mount a block.

    A component's styles depend only on the stylesheet's rules and on the CSS path down to the
    block: each node's type and classes, its id where a selector names it, and those of its
    pseudo-classes that a rule able to style these components names. Blocks with the same path
    get the same styles, so they are computed once per path and shared (until the rules change:
    new CSS or another theme). The shared nodes hold their first block only by a weak
    reference, as Textual's own do. Widgets other than Markdown blocks are left to Textual.
    """
    from textual.css.model import SelectorType
    from textual.css.stylesheet import Stylesheet
    from textual.widgets._markdown import MarkdownBlock

    original = Stylesheet.__dict__.get("_process_component_classes")
    if original is None or getattr(original, "shares_markdown_styles", False):
        return

    shared: dict[tuple[object, ...], dict[str, Any]] = {}
    relevant: dict[frozenset[str], tuple[str, ...]] = {}
    rules_seen: list[object] = [None]
    named_ids: set[str] = set()

    def pseudo_classes_that_matter(self: Stylesheet, components: frozenset[str]) -> tuple[str, ...]:
        """The pseudo-classes named anywhere in a rule that can style these components."""
        names = relevant.get(components)
        if names is None:
            rules_map = self.rules_map
            selector_names = {"*", "DOMNode", *(f".{component}" for component in components)}
            used: set[str] = set()
            for name in selector_names & rules_map.keys():
                for rule in rules_map[name]:
                    used.update(rule.pseudo_classes)
            names = relevant[components] = tuple(sorted(used))
        return names

    def process_component_classes(self: Stylesheet, node: Any) -> None:
        if not isinstance(node, MarkdownBlock):
            original(self, node)
            return
        rules = self.rules
        if rules is not rules_seen[0] or len(shared) > SHARED_STYLE_CONTEXTS:
            shared.clear()  # new CSS or theme: every component style is computed again
            relevant.clear()
            rules_seen[0] = rules
            named_ids.clear()
            named_ids.update(
                selector.name
                for rule in rules
                for selector_set in rule.selector_set
                for selector in selector_set.selectors
                if selector.type == SelectorType.ID
            )
        components = node._get_component_classes()
        pseudo = pseudo_classes_that_matter(self, components)
        key = (
            id(self),
            components,
            *(
                (
                    type(path_node),
                    path_node.id if path_node.id in named_ids else None,
                    path_node.classes,
                    tuple(path_node.has_pseudo_class(name) for name in pseudo),
                )
                for path_node in node.css_path_nodes
            ),
        )
        styles = shared.get(key)
        if styles is None:
            original(self, node)
            shared[key] = dict(node._component_styles)
            return
        current = node._component_styles
        changed = any(current.get(name) != value for name, value in styles.items())
        current.clear()
        current.update(styles)
        if changed:
            node.refresh()

    process_component_classes.shares_markdown_styles = True  # type: ignore[attr-defined]
    Stylesheet._process_component_classes = process_component_classes  # type: ignore[method-assign]


PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


class PasteGuard:
    """Makes every ESC inside a bracketed paste a visible ``␛``, chunk by chunk.

    Textual's ``XTermParser`` reads an ESC inside a paste as the start of an escape sequence and,
    when the sequence is not one it knows (``ESC ] 0 ; title BEL``), replays its characters as key
    presses: pasted text can press Ctrl+G, Ctrl+Q or any key the app binds ("pastejacking").
    Text between the paste markers is text: only the end marker keeps its ESC. A marker split
    across reads is recognised; inside a paste a possible start of the end marker is held back
    until the next read (the paste always ends with one), outside a paste nothing is held, so the
    Escape key is never delayed.
    """

    def __init__(self) -> None:
        self.in_paste = False
        self._tail = ""  # outside: the end of the last read, if it may begin the start marker
        self._hold = ""  # inside: a possible start of the end marker, not yet passed on

    def feed(self, data: str) -> str:
        out: list[str] = []
        while data:
            if not self.in_paste:
                seen = self._tail + data
                found = seen.find(PASTE_START)
                if found < 0:
                    out.append(data)
                    self._tail = _marker_prefix_at_end(seen, PASTE_START)
                    return "".join(out)
                cut = found + len(PASTE_START) - len(self._tail)
                out.append(data[:cut])
                data = data[cut:]
                self._tail = ""
                self.in_paste = True
                continue
            text = self._hold + data
            self._hold = ""
            data = ""
            position = 0
            while True:
                escape = text.find("\x1b", position)
                if escape < 0:
                    out.append(_c1_visible(text[position:]))
                    break
                out.append(_c1_visible(text[position:escape]))
                rest = text[escape:]
                if rest.startswith(PASTE_END):
                    out.append(PASTE_END)
                    self.in_paste = False
                    data = rest[len(PASTE_END) :]
                    break
                if PASTE_END.startswith(rest):  # cut off by the end of this read
                    self._hold = rest
                    break
                out.append("\u241b")  # ␛
                position = escape + 1
        return "".join(out)


_C1 = re.compile("[\x80-\x9f]")


def _c1_visible(text: str) -> str:
    """C1 controls (``\x9b`` is a one-byte CSI) shown as ``\x9b``: pasted, they are text."""
    return _C1.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def _marker_prefix_at_end(text: str, marker: str) -> str:
    for size in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-size:]):
            return text[-size:]
    return ""


def _keep_pasted_escapes_as_text() -> None:
    """Escape sequences inside a bracketed paste are replayed as key presses by Textual's
    terminal parser (see ``PasteGuard``): each parser's input goes through a guard first."""
    from textual._xterm_parser import XTermParser

    feed = XTermParser.__dict__.get("feed")
    if feed is None or getattr(feed, "guards_pastes", False):
        return
    original = XTermParser.feed

    def guarded_feed(self: XTermParser, data: str) -> Any:
        guard = self.__dict__.get("_tui_paste_guard")
        if guard is None:
            guard = self.__dict__["_tui_paste_guard"] = PasteGuard()
        if not data:
            return original(self, data)  # the end of the input
        guarded = guard.feed(data)
        return original(self, guarded) if guarded else ()  # all of it held back, for now

    guarded_feed.guards_pastes = True  # type: ignore[attr-defined]
    XTermParser.feed = guarded_feed  # type: ignore[method-assign]


def _table_tooltips_as_text() -> None:
    """A Markdown table gives each cell its text as a tooltip, as a ``str``, which the tooltip
    reads as markup: a model's table with ``x [/b] y`` in a cell raises ``MarkupError`` when the
    pointer rests on it (the app stops), and ``[@click=app.quit]`` would be obeyed. The text is
    given as ``Content`` instead, which is shown as it is."""
    from textual.content import Content
    from textual.widgets._markdown import MarkdownTableCellContents

    if getattr(MarkdownTableCellContents.with_tooltip, "tooltips_as_text", False):
        return
    original = MarkdownTableCellContents.with_tooltip

    def with_tooltip(self: MarkdownTableCellContents, tooltip: Any) -> Any:
        return original(self, Content(tooltip) if isinstance(tooltip, str) else tooltip)

    with_tooltip.tooltips_as_text = True  # type: ignore[attr-defined]
    MarkdownTableCellContents.with_tooltip = with_tooltip  # type: ignore[method-assign,assignment]
