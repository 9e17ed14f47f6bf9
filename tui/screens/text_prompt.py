"""A one-line question in a small modal: a new title, say. Dismissed with the text or None."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class TextPrompt(ModalScreen[str | None]):
    """Ask for one line of text; Enter answers, Esc cancels."""

    DEFAULT_CSS = """
    TextPrompt {
        align: center middle;
        background: $background 60%;
    }
    TextPrompt > Vertical {
        width: 100%;
        max-width: 80;
        height: auto;
        background: $background;
        border: round $primary 60%;
        padding: 0 1;
    }
    TextPrompt .prompt-question {
        text-style: bold;
        color: $primary;
        padding: 0 1;
    }
    TextPrompt .prompt-hint {
        color: $text-muted;
        padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, value: str = "", *, hint: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.hint = hint or "Enter saves, Esc cancels."

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, classes="prompt-question", markup=False)
            yield Input(self.value, id="prompt-answer")
            yield Static(self.hint, classes="prompt-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _answer(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
