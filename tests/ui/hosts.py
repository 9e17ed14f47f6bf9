"""Small host apps and probes shared by the widget tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey, FooterLabel, KeyGroup

from tui.domain import Message, MessageStatus, Role

SAME_PADDING = "Markdown { padding: 0 1; }"
"""Gives Textual's Markdown the padding StreamingMarkdown has, so their screens compare."""


class Host(App[None]):
    """Mounts the given widgets in a vertical scroll, nothing else."""

    CSS = SAME_PADDING

    def __init__(self, *widgets: Widget) -> None:
        super().__init__()
        self._widgets = widgets

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="scroll"):
            yield from self._widgets


class BareHost(App[None]):
    """Mounts the given widgets directly on the screen."""

    CSS = SAME_PADDING

    def __init__(self, *widgets: Widget) -> None:
        super().__init__()
        self._widgets = widgets

    def compose(self) -> ComposeResult:
        yield from self._widgets


async def settle(pilot: Pilot[None], rounds: int = 4) -> None:
    """Let pending messages, layouts and the folding checks that follow them run."""
    for _ in range(rounds):
        await pilot.pause()


def drawn_spacers(app: App[Any], area: Widget) -> list[Widget]:
    """Placeholders (folded runs) that the last frame drew inside ``area``'s content."""
    from tui.widgets._virtual import Spacer

    view = area.content_region
    return [
        widget
        for widget, (region, clip) in app.screen._compositor.visible_widgets.items()
        if isinstance(widget, Spacer) and region.intersection(clip).overlaps(view)
    ]


def screen_lines(app: App[None]) -> list[str]:
    """The text of every row of the screen as last composed."""
    return [strip.text.rstrip() for strip in app.screen._compositor.render_strips()]


def footer_entries(app: App[Any]) -> list[str]:
    """What the footer offers, left to right: ``c Copy``, a group as ``[ ] y Code``, and last
    ``^p palette``."""
    entries: list[str] = []
    for child in app.screen.query_one(Footer).children:
        if isinstance(child, KeyGroup):
            entries.append(" ".join(key.key_display for key in child.query(FooterKey)))
        elif isinstance(child, FooterLabel):  # the name of the group before it
            entries[-1] += f" {child.content}"
        elif isinstance(child, FooterKey):
            entries.append(f"{child.key_display} {child.description}")
    return entries


def clipped_footer_entries(app: App[Any]) -> list[str]:
    """The footer's keys and group names that are not shown whole (cut off at its right end, or
    under the command palette's key docked there)."""
    footer = app.screen.query_one(Footer)
    palette = footer.query_one("FooterKey.-command-palette", FooterKey)
    clipped: list[str] = []
    for widget in footer.query("FooterKey, FooterLabel").exclude(".-command-palette"):
        region = widget.region
        whole = region.width == widget.outer_size.width and footer.region.contains_region(region)
        if not whole or region.overlaps(palette.region):
            if isinstance(widget, FooterKey):
                clipped.append(f"{widget.key_display} {widget.description}".strip())
            else:
                clipped.append(str(widget.render()))
    return clipped


def make_message(
    message_id: int,
    content: str,
    role: Role = Role.ASSISTANT,
    *,
    status: MessageStatus = MessageStatus.COMPLETE,
    reasoning: str = "",
    error: str | None = None,
) -> Message:
    """A stored message with fixed time and a model for assistant ones."""
    return Message(
        id=message_id,
        conversation_id=1,
        parent_id=message_id - 1 or None,
        role=role,
        content=content,
        status=status,
        created_at=datetime(2026, 1, 2, 9, 30, tzinfo=UTC),
        reasoning=reasoning,
        model="demo-model" if role is Role.ASSISTANT else None,
        input_tokens=12 if role is Role.ASSISTANT else None,
        output_tokens=34 if role is Role.ASSISTANT else None,
        latency_ms=420 if role is Role.ASSISTANT else None,
        error=error,
    )
