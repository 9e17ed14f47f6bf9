"""Run a tool? One call the model asked for, with its arguments; dismissed with a ``Decision``.

The call's name, server, arguments and the tool's description come from the model and a tool
server: they are shown inert, as plain ``Content``.
"""

from __future__ import annotations

import inspect
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.safe_text import inert
from tui.services.tools import ApprovalRequest, Decision
from tui.widgets.tool_block import cut, pretty_arguments

DESCRIPTION_LINES = 4
"""Lines of the tool's description shown."""
MAX_ARGUMENT_CHARS = 20_000
"""Characters of the arguments drawn (the rest is counted)."""


def title_content(request: ApprovalRequest) -> Content:
    """``Run a tool?`` and, in a round of several calls, which one this is."""
    if request.count > 1:
        return Content.assemble(
            ("Run a tool?", "bold"),
            (f"  call {request.position} of {request.count}", "$text-muted"),
        )
    return Content.styled("Run a tool?", "bold")


def tool_content(request: ApprovalRequest) -> Content:
    """The tool's name and its server."""
    record = request.record
    parts: list[tuple[str, str] | str] = [
        ("⚙ ", "$text-muted"),
        (inert(record.tool or record.name), "bold"),
    ]
    if record.server:
        parts.append(("  on server ", "$text-muted"))
        parts.append((inert(record.server), "bold"))
    return Content.assemble(*parts)


def description_text(description: str, lines: int = DESCRIPTION_LINES) -> str:
    """The first ``lines`` lines of a tool's description (inert)."""
    # A docstring's own indentation (most servers' descriptions) is not the text's.
    kept = [line.strip() for line in inspect.cleandoc(description).splitlines()]
    shown = kept[:lines]
    if len(kept) > lines:
        shown[-1] += " …"
    return inert("\n".join(shown))


class ToolApprovalScreen(ModalScreen[Decision]):
    """Ask whether to run one tool call: allow once, always allow this tool, or deny."""

    CSS_PATH = "tool_approval.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "decide('allow')", "Allow once", id="approval.allow"),
        Binding("a", "decide('always')", "Always allow", id="approval.always"),
        Binding("n", "decide('deny')", "Deny", id="approval.deny"),
        Binding("escape", "decide('deny')", "Deny", show=False),
    ]

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        request = self.request
        with Vertical(id="approval-dialog"):
            yield Static(title_content(request), id="approval-title")
            yield Static(tool_content(request), id="approval-tool")
            description = description_text(request.description)
            if description:
                yield Static(Content(description), id="approval-description")
            arguments = cut(
                pretty_arguments(request.record.arguments) or "{}",
                max_lines=2_000,
                max_chars=MAX_ARGUMENT_CHARS,
            )
            with VerticalScroll(id="approval-arguments"):
                yield Static(Content(inert(arguments)), id="approval-arguments-text")
            with Horizontal(id="approval-actions"):
                yield Button("Allow once", variant="primary", id="approval-allow")
                yield Button("Always allow this tool", id="approval-always")
                yield Button("Deny", variant="error", id="approval-deny")
            yield Static(
                Content.assemble(
                    ("y", "bold $text-accent"),
                    " allow once   ",
                    ("a", "bold $text-accent"),
                    " always allow this tool   ",
                    ("n", "bold $text-accent"),
                    " / ",
                    ("Esc", "bold $text-accent"),
                    " deny",
                ),
                id="approval-hint",
            )

    def on_mount(self) -> None:
        self.query_one("#approval-allow", Button).focus()

    def action_decide(self, decision: str) -> None:
        self.dismiss(Decision(decision))

    @on(Button.Pressed, "#approval-allow")
    def _allow(self) -> None:
        self.dismiss(Decision.ALLOW)

    @on(Button.Pressed, "#approval-always")
    def _always(self) -> None:
        self.dismiss(Decision.ALWAYS)

    @on(Button.Pressed, "#approval-deny")
    def _deny(self) -> None:
        self.dismiss(Decision.DENY)
