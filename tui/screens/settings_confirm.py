"""Save over a settings file that did not load? A yes/no question; dismissed with True or False."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.safe_text import inert


class ConfirmSave(ModalScreen[bool]):
    """Ask before writing over a broken settings file; Save answers True, Cancel or Esc False."""

    DEFAULT_CSS = """
    ConfirmSave {
        align: center middle;
        background: $background 60%;
    }
    ConfirmSave > Vertical {
        width: 100%;
        max-width: 90;
        height: auto;
        background: $background;
        border: round $warning 80%;
        padding: 0 1;
    }
    ConfirmSave #confirm-question {
        padding: 0 1;
    }
    ConfirmSave #confirm-actions {
        height: auto;
        align-horizontal: right;
    }
    ConfirmSave #confirm-actions Button {
        margin-left: 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(inert(self.question), id="confirm-question", markup=False)
            with Horizontal(id="confirm-actions"):
                yield Button("Cancel", id="confirm-cancel")
                yield Button("Save", variant="warning", id="confirm-save")

    def on_mount(self) -> None:
        self.query_one("#confirm-cancel", Button).focus()  # Enter must not write by accident

    @on(Button.Pressed, "#confirm-save")
    def _save(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
