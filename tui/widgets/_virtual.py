"""A vertical run of items where only those near the viewport are mounted widgets.

Textual lays out, maps and garbage-collects every mounted widget on every layout change, whether
it is on screen or not, so a long answer or a long thread must not keep thousands of widgets
mounted. Items far from the viewport are folded into one ``Spacer`` per run: a bare widget with the
run's height and the outer margins of its first and last item, so the vertical layout (which
collapses adjacent margins) places everything else exactly where it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.dom import NoScreen
from textual.errors import NoWidget
from textual.widget import Widget

FOLD_MIN_RUN = 6
"""Runs of fewer items than this are left mounted: folding them saves less than it costs."""


class Spacer(Widget):
    """Stands in for a run of items that are not mounted."""

    DEFAULT_CSS = """
    Spacer {
        width: 1fr;
        height: 1;
    }
    """

    def __init__(self, first: int, end: int) -> None:
        super().__init__()
        self.first = first
        self.end = end

    def set_run(self, height: int, margin_top: int, margin_bottom: int) -> None:
        """Take the run's height and outer margins."""
        styles = self.styles
        if styles.height is None or styles.height.value != height:
            styles.height = height
        margin = styles.margin
        if margin.top != margin_top or margin.bottom != margin_bottom:
            styles.margin = (margin_top, 0, margin_bottom, 0)


class Slot:
    """One item of a virtual stack: its widget when mounted, its last measured box when not."""

    __slots__ = ("widget", "height", "margin_top", "margin_bottom", "measured", "pinned", "settle")

    def __init__(self, widget: Widget | None = None, height: int = 1, pinned: bool = False):
        self.widget = widget
        self.height = height
        """Outer height (border box) as last measured, or an estimate until then."""
        self.margin_top = 0
        self.margin_bottom = 0
        self.measured = False
        self.pinned = pinned
        """Pinned items are never folded (the block or message still streaming)."""
        self.settle = 0
        """Measurements to skip: the widget changed after the last layout."""

    def measure(self) -> bool:
        """Record the mounted widget's box; false when it has not been laid out yet."""
        widget = self.widget
        if widget is None or not widget.is_mounted:
            return False
        if self.settle:
            self.settle -= 1
            return False
        size = widget.outer_size
        if size.width == 0:
            return False
        margin = widget.styles.margin
        self.height = size.height
        self.margin_top = margin.top
        self.margin_bottom = margin.bottom
        self.measured = True
        return True


def visible_window(widget: Widget) -> tuple[int, int, int] | None:
    """Rows of ``widget``'s content on screen (top, bottom) and the viewport's height.

    ``None`` when it is not laid out (or no longer mounted). A widget scrolled out of view gets
    an empty window far above it, so everything of it that can fold does.

    A widget the last screen update did not draw is known to be out of view without asking
    where it is: finding a widget off screen makes the compositor lay out the whole screen
    again after every scroll (its map of the visible part does not have it).
    """
    try:
        screen = widget.screen
        drawn = getattr(getattr(screen, "_compositor", None), "visible_widgets", None)
        if drawn and widget not in drawn:  # (nothing drawn yet: ask, it may not be laid out)
            height = screen.size.height
            return -4 * height, -4 * height, height
        geometry = screen.find_widget(widget)
    except (NoWidget, NoScreen):
        return None
    region, clip = geometry.region, geometry.clip
    visible = region.intersection(clip)
    if not visible:
        return -4 * clip.height, -4 * clip.height, clip.height
    top = visible.y - region.y - widget.styles.gutter.top
    return top, top + visible.height, clip.height


def run_box(slots: Sequence[Slot]) -> tuple[int, int, int]:
    """Height and outer margins of a run laid out by Textual's vertical layout."""
    height = 0
    previous: Slot | None = None
    for slot in slots:
        if previous is not None:
            height += max(previous.margin_bottom, slot.margin_top)
        height += slot.height
        previous = slot
    return height, slots[0].margin_top, slots[-1].margin_bottom


def tops(slots: Sequence[Slot]) -> list[int]:
    """The top row of each item inside its container, as the vertical layout places them."""
    result: list[int] = []
    y = slots[0].margin_top if slots else 0
    previous: Slot | None = None
    for slot in slots:
        if previous is not None:
            y += previous.height + max(previous.margin_bottom, slot.margin_top)
        result.append(y)
        previous = slot
    return result


def plan(
    slots: Sequence[Slot],
    window_top: int,
    window_bottom: int,
    margin: int,
    keep: int = 2,
    positions: Sequence[int] | None = None,
) -> list[bool]:
    """Which items should be mounted for a viewport showing rows ``window_top..window_bottom``.

    Items within ``margin`` rows of the window are mounted; mounted ones stay until they are
    more than ``keep`` times that far (so scrolling back and forth does not fold and unfold the
    same items); pinned items and items not yet measured always stay. ``positions`` are the
    items' ``tops``, when the caller has them already.
    """
    near_top, near_bottom = window_top - margin, window_bottom + margin
    far_top, far_bottom = window_top - keep * margin, window_bottom + keep * margin
    wanted: list[bool] = []
    positions = tops(slots) if positions is None else positions
    for slot, top in zip(slots, positions, strict=True):
        bottom = top + slot.height
        mounted = slot.widget is not None
        if slot.pinned or (mounted and not slot.measured):
            wanted.append(True)
        elif mounted:
            wanted.append(bottom >= far_top and top <= far_bottom)
        else:
            wanted.append(bottom >= near_top and top <= near_bottom)
    # Leave short foldable runs mounted.
    index = 0
    count = len(wanted)
    while index < count:
        if wanted[index]:
            index += 1
            continue
        end = index
        while end < count and not wanted[end]:
            end += 1
        already_folded = any(slots[k].widget is None for k in range(index, end))
        if end - index < FOLD_MIN_RUN and not already_folded:
            for k in range(index, end):
                wanted[k] = True
        index = end
    return wanted


async def reconcile(
    host: Widget,
    slots: Sequence[Slot],
    wanted: Sequence[bool],
    build: Callable[[int], Widget],
) -> bool:
    """Mount the wanted items and fold the others into spacers; true if anything changed."""
    spacers = {
        (child.first, child.end): child for child in host.children if isinstance(child, Spacer)
    }
    # The target: items to show as widgets, runs of the rest as spacers.
    target: list[Widget | tuple[int, int]] = []
    index = 0
    count = len(slots)
    while index < count:
        if wanted[index]:
            widget = slots[index].widget
            target.append(widget if widget is not None else (index, index + 1))
            index += 1
            continue
        end = index
        while end < count and not wanted[end]:
            end += 1
        target.append((index, end))
        index = end

    keep_spacers: set[Spacer] = set()
    unfold: list[int] = [k for k in range(count) if wanted[k] and slots[k].widget is None]
    for item in target:
        if isinstance(item, tuple) and (item[1] - item[0] > 1 or not wanted[item[0]]):
            spacer = spacers.get(item)
            if spacer is not None:
                keep_spacers.add(spacer)
    fold = [k for k in range(count) if not wanted[k] and slots[k].widget is not None]
    stale_spacers = [spacer for spacer in spacers.values() if spacer not in keep_spacers]
    if not unfold and not fold and not stale_spacers:
        # Heights may still have changed (a resize): keep spacers in step.
        for spacer in keep_spacers:
            spacer.set_run(*run_box(slots[spacer.first : spacer.end]))
        return False

    with host.app.batch_update():
        removed: list[Widget] = list(stale_spacers)
        for k in fold:
            folded = slots[k].widget
            if folded is not None:
                removed.append(folded)
            slots[k].widget = None
        if removed:
            await host.remove_children(removed)
        anchor: Widget | None = None
        pending: list[Widget] = []
        for item in target:
            if isinstance(item, Widget):
                await _mount_after(host, anchor, pending)
                anchor = item
                continue
            first, end = item
            if wanted[first] and end - first == 1:
                built = build(first)
                slots[first].widget = built
                pending.append(built)
                continue
            else:
                existing = spacers.get(item)
                if existing is not None and existing in keep_spacers:
                    existing.set_run(*run_box(slots[first:end]))
                    await _mount_after(host, anchor, pending)
                    anchor = existing
                    continue
                spacer = Spacer(first, end)
                spacer.set_run(*run_box(slots[first:end]))
                pending.append(spacer)
        await _mount_after(host, anchor, pending)
    return True


async def _mount_after(host: Widget, anchor: Widget | None, pending: list[Widget]) -> None:
    """Mount ``pending`` right after ``anchor`` (or first of all) and empty the list."""
    if not pending:
        return
    if anchor is not None:
        await host.mount_all(pending, after=anchor)
    elif host.children:
        await host.mount_all(pending, before=0)
    else:
        await host.mount_all(pending)
    pending.clear()
