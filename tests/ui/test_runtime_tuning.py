"""What keeps a long session fast: the Textual work-around and the idle garbage collections."""

from __future__ import annotations

import asyncio
import gc
import sys
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from rich.segment import Segment
from textual._compositor import Compositor
from textual.constants import MAX_FPS
from textual.strip import Strip
from textual.widgets import Markdown, Static
from textual.widgets._markdown import MarkdownBlock

from bench.frames import DrawnFrames
from tests.support.textual_fixes import all_fixes, fixes_set
from tests.ui.hosts import Host, screen_lines, settle
from tui.gc_tuning import GARBAGE_COLLECTIONS, IdleCollector
from tui.widgets._virtual import visible_window

FIXED = pytest.mark.parametrize("fixed", [True, False], ids=["fixed", "textual"])
"""A fix's test runs twice: with the fix the defect is gone; on Textual's own code it shows."""


@FIXED
async def test_removed_widgets_do_not_keep_their_rendered_lines_alive(fixed: bool) -> None:
    app = Host(Static("anchor"))
    with fixes_set("styles-cache", on=fixed):
        async with app.run_test(size=(60, 40)) as pilot:
            scroll = app.query_one("#scroll")
            caches: list[weakref.ref[object]] = []
            for batch in range(3):
                widgets = [Static(f"card {batch}.{index}", classes="card") for index in range(30)]
                await scroll.mount_all(widgets)
                await settle(pilot)  # rendered: each widget's StylesCache holds its lines
                caches.extend(weakref.ref(widget._styles_cache) for widget in widgets)
                await scroll.remove_children(".card")
                await settle(pilot)
                del widgets
            await scroll.mount(Static("a later frame", classes="later"))
            await settle(pilot)  # nothing of the last frame's layout refers to the removed cards
            gc.collect()
            alive = sum(1 for cache in caches if cache() is not None)
    # Textual's own ``get_inner_outer`` cache keeps them alive.
    assert alive == 0 if fixed else alive > 0


ANSWER = """## Caches

Some *emphasis*, some **strong** text, ~~struck~~ and `inline code`.

- a list item with `code`
- another one

1. first
2. second

| option | default |
| --- | --- |
| `size` | 16 |

```python
print("hello")
```

> a quote
"""


@pytest.fixture
def no_collector() -> Iterator[None]:
    """Only reference counting frees objects while the test runs."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


FREEING = ("release-removed-widgets", "layout-map-cycle", "markdown-list-items")
"""The fixes that let reference counting free a removed answer: each one is needed."""


@pytest.mark.parametrize("left_out", [None, *FREEING])
async def test_a_removed_answer_is_freed_without_waiting_for_a_collection(
    no_collector: None, left_out: str | None
) -> None:
    app = Host(Static("anchor"))
    with all_fixes(on=True), fixes_set(*filter(None, [left_out]), on=False):
        async with app.run_test(size=(80, 40)) as pilot:
            scroll = app.query_one("#scroll")
            nodes: list[weakref.ref[object]] = []
            for round_index in range(3):
                answer = Markdown(ANSWER, classes="answer")
                await scroll.mount(answer)
                await settle(pilot)  # laid out and drawn: every block has cached lines and boxes
                nodes.extend(weakref.ref(node) for node in answer.walk_children(with_self=True))
                del answer
                await scroll.remove_children(".answer")
                await scroll.mount(Static(f"a later frame {round_index}"))
                await settle(pilot)
            alive = [ref() for ref in nodes if ref() is not None]
    assert len(nodes) > 90
    if left_out is None:
        assert alive == []
    else:  # without that one fix some of them wait for the collector
        assert alive != []


@FIXED
def test_a_line_drawn_whole_does_not_refer_to_itself(fixed: bool) -> None:
    with fixes_set("strip-self-cycle", on=fixed):
        strip = Strip([Segment("hello "), Segment("world")])
        references = sys.getrefcount(strip)
        assert strip.divide([11]) == [strip]
        assert strip.crop_extend(0, 11, None) is strip
        # Nothing the strip keeps refers back to it (Textual's caches hold it twice).
        assert (sys.getrefcount(strip) == references) is fixed
        assert [part.text for part in strip.divide([5, 11])] == ["hello", " world"]
        assert strip.crop_extend(0, 13, None).text == "hello world  "


def first_blocks(app: Host, *selectors: str) -> list[MarkdownBlock]:
    """The first block of each of these Markdown widgets."""
    return [app.query_one(selector).query_one(MarkdownBlock) for selector in selectors]


@FIXED
async def test_markdown_blocks_share_inline_styles_and_follow_the_theme(fixed: bool) -> None:
    app = Host(Markdown("One `code` here.", id="first"), Markdown("Two `code` here.", id="second"))
    with fixes_set("markdown-shared-styles", on=fixed):
        async with app.run_test(size=(80, 20)) as pilot:
            await _share_and_follow_the_theme(app, pilot, fixed)


async def _share_and_follow_the_theme(app: Host, pilot: Any, fixed: bool) -> None:
    await settle(pilot)
    first, second = first_blocks(app, "#first", "#second")
    # The ids differ, but no rule names them: the same styles serve both paragraphs (on
    # Textual's own code each block has styles of its own).
    shared = first._component_styles["code_inline"] is second._component_styles["code_inline"]
    assert shared is fixed
    dark = first.get_visual_style("code_inline", partial=True)

    app.theme = "textual-light"
    await settle(pilot)
    light = first.get_visual_style("code_inline", partial=True)
    assert light != dark  # the light theme has its own rule for inline code
    third = Markdown("Three `code` here.", id="third")
    await app.query_one("#scroll").mount(third)
    await settle(pilot)
    fresh = third.query_one(MarkdownBlock).get_visual_style("code_inline", partial=True)
    assert light == fresh


async def test_the_blocks_inside_list_items_stay_styled_widgets() -> None:
    answer = Markdown(ANSWER)
    app = Host(answer)
    with fixes_set("markdown-list-items", "release-removed-widgets", on=True):
        async with app.run_test(size=(80, 40)) as pilot:
            await settle(pilot)
            blocks = list(answer.query(MarkdownBlock))
            nested = [block for block in blocks if block.parent is not answer]
            assert nested  # the paragraphs inside list items (and the table's parts)
            # The list items were released; what they held is mounted and must still repaint
            # when its rules change.
            detached = [block for block in blocks if block._css_styles.node is not block]
            assert detached == []


class SidebarHost(Host):
    CSS = Host.CSS + "#sidebar MarkdownBlock > .em { color: red; }"


async def test_an_ancestor_id_named_by_a_rule_keeps_its_own_inline_styles() -> None:
    app = SidebarHost(Markdown("A *word*.", id="main"), Markdown("A *word*.", id="sidebar"))
    with fixes_set("markdown-shared-styles", on=True):
        async with app.run_test(size=(80, 20)) as pilot:
            await settle(pilot)
            main, sidebar = first_blocks(app, "#main", "#sidebar")
            main_style = main.get_visual_style("em", partial=True)
            sidebar_style = sidebar.get_visual_style("em", partial=True)
    assert sidebar_style.foreground is not None
    assert sidebar_style.foreground.rgb == (255, 0, 0)
    assert main_style.foreground != sidebar_style.foreground


class LayoutCounter:
    """Counts the compositor's layouts of the whole screen (not those of its visible part),
    while it is entered (it puts the compositor's methods back as it leaves, before any fix
    around it is put in or out)."""

    def __init__(self) -> None:
        self.full = 0
        self.reflows = 0

    def __enter__(self) -> LayoutCounter:
        self._saved = (Compositor.__dict__["_arrange_root"], Compositor.__dict__["reflow"])
        arrange, reflow = self._saved

        def counting_reflows(compositor: Compositor, *args: Any, **kwargs: Any) -> Any:
            self.reflows += 1
            return reflow(compositor, *args, **kwargs)

        def counting(compositor: Compositor, *args: Any, **kwargs: Any) -> Any:
            visible_only = kwargs.get("visible_only", args[2] if len(args) > 2 else True)
            if not visible_only:
                self.full += 1
            return arrange(compositor, *args, **kwargs)

        Compositor._arrange_root = counting  # type: ignore[method-assign,assignment]
        Compositor.reflow = counting_reflows  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc_info: object) -> None:
        Compositor._arrange_root, Compositor.reflow = self._saved  # type: ignore[method-assign]


@FIXED
async def test_after_a_scroll_one_layout_arranges_the_screen_once(fixed: bool) -> None:
    cards = [Static(f"card {index}", classes="card") for index in range(200)]
    app = Host(*cards)
    with fixes_set("full-map-current", on=fixed):
        async with app.run_test(size=(60, 20)) as pilot:
            scroll = app.query_one("#scroll")
            await settle(pilot)
            with LayoutCounter() as layouts:
                scroll.scroll_to(y=100, animate=False, immediate=True)
                await settle(pilot)
                assert layouts.full == 0  # a scroll lays out what is visible only
                # A widget far off screen is known to be out of view without a layout.
                assert visible_window(cards[0]) == (-80, -80, 20)
                assert layouts.full == 0
                await scroll.mount(Static("one more", classes="card"))
                await settle(pilot)
            # Textual asks every widget its size after a layout; on Textual's own code the
            # first one off screen makes it lay the whole screen out a second time.
            assert layouts.reflows >= 1
            assert (layouts.full == layouts.reflows) is fixed
            assert visible_window(cards[105]) is not None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def frozen_heap() -> Iterator[None]:
    """Leave the process's collector as it was found (other tests share the process)."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def make_garbage(rounds: int) -> None:
    """Cyclic garbage, and the young collections that push survivors towards the old one."""
    for _ in range(rounds):
        for _ in range(100):
            node: dict[str, object] = {}
            node["self"] = node
        gc.collect(1)


def test_the_idle_collector_waits_for_idleness_garbage_and_no_streaming(
    frozen_heap: None,
) -> None:
    gc.collect()
    gc.freeze()
    clock = Clock()
    streaming = [False]
    collector = IdleCollector(lambda: streaming[0], idle_after=2.0, clock=clock)

    make_garbage(GARBAGE_COLLECTIONS)
    clock.now += 1.0
    survivors = [[index] for index in range(1000)]
    frozen_before = gc.get_freeze_count()
    assert not collector.tick()  # the user acted a second ago: no full collection...
    assert gc.get_freeze_count() >= frozen_before + len(survivors)  # ...what survived is frozen
    clock.now += 1.5
    streaming[0] = True
    assert not collector.tick()  # a reply is streaming: frames matter more
    streaming[0] = False
    collector.note_activity()
    clock.now += 1.0
    assert not collector.tick()  # a key was pressed: wait again
    assert collector.busy_freezes == 3
    assert collector.collections == 0
    clock.now += 2.0
    more = [[index] for index in range(1000)]
    frozen_before = gc.get_freeze_count()
    assert collector.tick()
    assert collector.collections == 1
    assert gc.get_count()[2] == 0  # the full collection ran
    assert gc.get_freeze_count() >= frozen_before + len(more)  # and its survivors are frozen
    assert collector.busy_freezes == 3
    clock.now += 5.0
    assert not collector.tick()  # idle, but no new garbage since
    del survivors, more


def test_the_idle_collector_thaws_once_the_frozen_set_has_grown(frozen_heap: None) -> None:
    gc.collect()
    gc.freeze()
    clock = Clock()
    collector = IdleCollector(lambda: False, idle_after=0.5, clock=clock)
    kept: list[dict[str, object]] = []
    for _ in range(gc.get_freeze_count()):
        node: dict[str, object] = {}
        node["self"] = node  # alive now, cyclic garbage once dropped
        kept.append(node)
    make_garbage(GARBAGE_COLLECTIONS)
    clock.now += 1.0
    assert collector.tick()
    assert collector.thaws == 0  # grown, but only now frozen: nothing to thaw for yet
    del kept
    make_garbage(GARBAGE_COLLECTIONS)
    clock.now += 1.0
    grown = gc.get_freeze_count()
    assert collector.tick()
    assert collector.thaws == 1
    assert gc.get_freeze_count() < grown  # what was frozen alive and then dropped is gone


@FIXED
async def test_an_update_held_back_by_a_batch_is_drawn_as_the_batch_ends(fixed: bool) -> None:
    app = Host(Static("first"))
    with fixes_set("update-after-batch", on=fixed):
        async with app.run_test(size=(40, 10)) as pilot:
            await settle(pilot)
            frames = DrawnFrames(app)
            drawn = frames.next()
            with app.batch_update():
                await app.query_one("#scroll").mount(Static("second"))
                await asyncio.sleep(5 / MAX_FPS)  # the screen's update falls due meanwhile
                assert not drawn.done()  # held back: no frame shows the batch half done
            # Drawn as it ends (on Textual's own code: not until something else updates).
            assert drawn.done() is fixed
            if fixed:
                assert "second" in screen_lines(app)
                # Batches that end with nothing held back draw nothing extra.
                quiet = frames.next()
                with app.batch_update():
                    pass
                assert not quiet.done()


def parse(parser: Any, *reads: str) -> list[Any]:
    events: list[Any] = []
    for data in reads:
        events.extend(parser.feed(data))
    return events


@FIXED
def test_a_paste_with_escape_sequences_is_text_not_key_presses(fixed: bool) -> None:
    from textual import events
    from textual._xterm_parser import XTermParser

    from tui.textual_fixes.paste import PASTE_END, PASTE_START

    hostile = "x \x1b]0;PWNED\x07 y \x1b[2J z \x1b]52;c;aGk=\x07 \x11 \x9b31m end"
    cut = hostile.index("\x1b", 5) + 1  # a read that ends just after an ESC
    with fixes_set("paste-as-text", on=fixed):
        for reads in (
            [PASTE_START + hostile + PASTE_END],
            # the markers and the sequences cut across reads, as a terminal may deliver them
            [PASTE_START[:3], PASTE_START[3:] + hostile[:4], hostile[4:cut], hostile[cut:]]
            + [PASTE_END[:2], PASTE_END[2:] + "a"],
        ):
            got = parse(XTermParser(), *reads)
            pastes = [event for event in got if isinstance(event, events.Paste)]
            keys = [event.key for event in got if isinstance(event, events.Key)]
            if not fixed:  # Textual's own parser presses the keys the paste spells out
                assert {"ctrl+g", "ctrl+q"} & set(keys)
                continue
            assert len(pastes) == 1, got
            assert pastes[0].text == hostile.replace("\x1b", "␛").replace("\x9b", "\\x9b")
            assert keys in ([], ["a"])  # only what was typed after the paste: no ctrl+g, ctrl+q


def test_escape_and_keys_outside_a_paste_are_untouched() -> None:
    from textual import events
    from textual._xterm_parser import XTermParser

    with fixes_set("paste-as-text", on=True):
        got = parse(XTermParser(), "\x1b[A", "a\x07", "\x1b[1;5C")
    keys = [event.key for event in got if isinstance(event, events.Key)]
    assert keys == ["up", "a", "ctrl+g", "ctrl+right"]
