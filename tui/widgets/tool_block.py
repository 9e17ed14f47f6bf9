"""One tool call of a reply: a folded line (name, server, status, time, arguments), and the
arguments, result and error when unfolded.

Everything a tool call carries (its name, arguments, output, error) comes from the model or a
tool server: it is made inert and drawn as plain ``Content``, never parsed as markup or
Markdown. A long result is cut before it is drawn, so a tool that answers megabytes costs one
short widget.
"""

from __future__ import annotations

import json
from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from tui.domain import ToolCallRecord, ToolStatus
from tui.safe_text import inert

MAX_RESULT_LINES = 40
"""Lines of a result shown when unfolded; the rest is counted, not drawn."""
MAX_RESULT_CHARS = 4_000
"""Characters of a result shown when unfolded."""
MAX_ARGUMENT_CHARS = 8_000
"""Characters of the arguments shown when unfolded."""
PREVIEW_CHARS = 300
"""Characters of the arguments in the folded line (CSS cuts it to the width)."""

_STATUS_STYLES = {
    ToolStatus.WAITING: "$text-warning",
    ToolStatus.RUNNING: "bold $text-accent",
    ToolStatus.DONE: "$text-success",
    ToolStatus.FAILED: "$text-error",
    ToolStatus.DENIED: "$text-warning",
    ToolStatus.CANCELLED: "$text-warning",
    ToolStatus.NOT_RUN: "$text-warning",
}
_STATUS_WORDS = {ToolStatus.RUNNING: "running…", ToolStatus.WAITING: "waiting for approval"}


def duration_text(duration_ms: int | None) -> str:
    """``35 ms``, ``1.2 s``; "" when unknown."""
    if duration_ms is None:
        return ""
    if duration_ms < 1000:
        return f"{duration_ms} ms"
    return f"{duration_ms / 1000:.1f} s"


def pretty_arguments(arguments: str) -> str:
    """The arguments as indented JSON when they are valid JSON, else exactly as received."""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return arguments
    return json.dumps(parsed, indent=2, ensure_ascii=False)


def arguments_preview(arguments: str, limit: int = PREVIEW_CHARS) -> str:
    """The arguments on one line: compact JSON when valid, else the text with its line breaks
    made spaces; at most ``limit`` characters (inert)."""
    text = arguments
    if len(arguments) <= 50 * limit:  # a huge argument is only cut, not parsed for a preview
        try:
            text = json.dumps(json.loads(arguments), ensure_ascii=False, separators=(", ", ": "))
        except ValueError:
            pass
    return inert(" ".join(text[: limit * 2].split())[:limit])


def cut(text: str, max_lines: int = MAX_RESULT_LINES, max_chars: int = MAX_RESULT_CHARS) -> str:
    """``text`` cut to ``max_lines`` lines and ``max_chars`` characters, saying how much more
    there was (``… N more characters``)."""
    shown = text[:max_chars]
    lines = shown.split("\n")
    if len(lines) > max_lines:
        shown = "\n".join(lines[:max_lines])
    rest = len(text) - len(shown)
    if rest > 0:
        return f"{shown}\n… {rest:,} more characters"
    return shown


def summary_content(record: ToolCallRecord) -> Content:
    """The folded line: ``⚙ name  server  · status · time  arguments``."""
    status = _STATUS_WORDS.get(record.status, record.status.value)
    parts: list[tuple[str, str] | str] = [
        ("⚙ ", "$text-muted"),
        (inert(record.tool or record.name), "bold"),
    ]
    if record.server:
        parts.append((f"  {inert(record.server)}", "$text-muted"))
    parts.append(("  · ", "$text-muted"))
    parts.append((status, _STATUS_STYLES.get(record.status, "")))
    took = duration_text(record.duration_ms)
    if took:
        parts.append((f" · {took}", "$text-muted"))
    preview = arguments_preview(record.arguments)
    if preview:
        parts.append("  ")
        parts.append((preview, "$text-muted"))
    return Content.assemble(*parts)


def details_content(record: ToolCallRecord) -> Content:
    """The unfolded part: the arguments, the result (cut) and the error, all inert."""
    arguments = cut(pretty_arguments(record.arguments), max_lines=200, max_chars=MAX_ARGUMENT_CHARS)
    parts: list[tuple[str, str] | str] = [
        ("arguments\n", "bold $text-muted"),
        inert(arguments or "(none)"),
    ]
    if record.finished or record.output:
        parts.append(("\nresult\n", "bold $text-muted"))
        parts.append(inert(cut(record.output)) if record.output else ("(empty)", "italic"))
    if record.error:
        parts.append(("\nerror: ", "bold $text-error"))
        parts.append((inert(cut(record.error, max_lines=5, max_chars=500)), "$text-error"))
    return Content.assemble(*parts)


class ToolCallBlock(Widget, can_focus=True):
    """One tool call: folded to one line; Enter or a click shows its arguments and result."""

    DEFAULT_CSS = """
    ToolCallBlock {
        height: auto;
        padding: 0 1;
        margin: 0 1;
        &:focus { background: $boost; }
        & > .tool-summary { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
        & > .tool-details {
            height: auto;
            display: none;
            padding: 0 0 0 2;
            border-left: tall $panel;
        }
        &.-unfolded > .tool-details { display: block; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "toggle_details",
            "Details",
            tooltip="Show or hide the call's arguments and result",
        ),
    ]

    unfolded: reactive[bool] = reactive(False)
    """True while the arguments and result are shown."""

    def __init__(self, record: ToolCallRecord, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.record = record
        """The call as last reported."""
        self._summary = Static(summary_content(record), classes="tool-summary")
        self._details = Static("", classes="tool-details")
        self._details_drawn = False

    def compose(self) -> ComposeResult:
        yield self._summary
        yield self._details

    @property
    def call_id(self) -> str:
        return self.record.call_id

    @property
    def summary_text(self) -> str:
        """The folded line as plain text."""
        return summary_content(self.record).plain

    @property
    def details_text(self) -> str:
        """The unfolded part as plain text."""
        return details_content(self.record).plain

    def update_record(self, record: ToolCallRecord) -> None:
        """Show the call's new state (status, time, result)."""
        self.record = record
        self._summary.update(summary_content(record))
        self._details_drawn = False
        if self.unfolded:
            self._draw_details()

    def _draw_details(self) -> None:
        if not self._details_drawn:  # built only when shown: most calls are never unfolded
            self._details.update(details_content(self.record))
            self._details_drawn = True

    def watch_unfolded(self, unfolded: bool) -> None:
        if unfolded:
            self._draw_details()
        self.set_class(unfolded, "-unfolded")

    def action_toggle_details(self) -> None:
        self.unfolded = not self.unfolded

    def on_click(self, event: events.Click) -> None:
        event.stop()  # the message view's own click handling is about code blocks
        self.focus()
        self.action_toggle_details()
