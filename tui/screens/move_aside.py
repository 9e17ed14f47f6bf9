"""Asks before a damaged history file is moved aside: Move or Keep. Dismissed with True to move."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

QUESTION = "Move it aside and start a new empty history?"


class MoveAsideScreen(ModalScreen[bool]):
    """The damaged file, and the choice: Move (renamed, never deleted) or Keep (Esc)."""

    DEFAULT_CSS = """
    MoveAsideScreen {
        align: center top;  /* clear of the notices, which stack up from the bottom right */
        background: $background 60%;
    }
    MoveAsideScreen > Vertical {
        width: 100%;
        max-width: 80;
        height: auto;
        margin-top: 2;
        background: $background;
        border: round $error 60%;
        padding: 0 1;
    }
    MoveAsideScreen .move-question {
        text-style: bold;
        color: $error;
        padding: 0 1;
    }
    MoveAsideScreen .move-detail {
        color: $text-muted;
        padding: 0 1;
    }
    MoveAsideScreen Horizontal {
        height: auto;
        align: right middle;
    }
    MoveAsideScreen Button {
        margin: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "move", "Move"),
        Binding("k,escape", "keep", "Keep"),
        Binding("left", "app.focus_previous", "Previous", show=False),
        Binding("right", "app.focus_next", "Next", show=False),
    ]
    AUTO_FOCUS = "#keep"

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"{self.path} is damaged.", classes="move-detail", markup=False)
            yield Static(QUESTION, classes="move-question", markup=False)
            yield Static(
                "Move (m) renames the file (it is never deleted, so it can be recovered "
                "later). Keep (k, Esc) leaves it as it is: the app goes on without saving "
                "anything.",
                classes="move-detail",
                markup=False,
            )
            with Horizontal():
                yield Button("Move", id="move", variant="warning")
                yield Button("Keep", id="keep", variant="primary")

    @on(Button.Pressed)
    def _answer(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "move")

    def action_keep(self) -> None:
        self.dismiss(False)

    def action_move(self) -> None:
        self.dismiss(True)
