"""The multi-line prompt: Enter sends, Ctrl+J (or Shift+Enter / Alt+Enter) starts a new line.

What terminals deliver: Enter arrives as ``enter`` and Ctrl+J as ``ctrl+j`` everywhere. Shift+Enter
and Alt+Enter reach Textual as themselves only in terminals speaking the kitty keyboard protocol
(kitty, WezTerm, foot, Ghostty, recent iTerm2); elsewhere Shift+Enter arrives as a plain
``enter`` and Alt+Enter as ``enter`` too, so Ctrl+J is the key to document.

The text stays after sending: the screen clears it (``clear()``) only once the message is safely
stored, so a failed send never loses what was typed.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter", "alt+enter"})
"""Keys that add a line instead of sending."""


class PromptInput(TextArea):
    """A prompt that grows from one line to eight with its text."""

    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 3;
        max-height: 10;
        border: round $primary 50%;
        padding: 0 1;
        &:focus { border: round $primary; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        # Not a priority binding: those run when the key reaches the app, before the keys typed
        # just ahead of it (delivered in the same read) reach the text; ``_on_key`` sends in
        # order. The binding stays for the footer and the keys panel.
        Binding("enter", "submit", "Send", id="prompt.send"),
        Binding("ctrl+j", "newline", "New line", id="prompt.newline", show=False),
    ]

    class Submitted(Message):
        """The user sent the prompt's text (the prompt keeps it until cleared)."""

        def __init__(self, prompt_input: PromptInput, text: str) -> None:
            super().__init__()
            self.prompt_input = prompt_input
            self.text = text

        @property
        def control(self) -> PromptInput:
            return self.prompt_input

    def __init__(
        self,
        text: str = "",
        *,
        placeholder: str = "Message (Enter to send, Ctrl+J for a new line)",
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's own parameter name
        classes: str | None = None,
    ) -> None:
        super().__init__(
            text,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            placeholder=placeholder,
            compact=False,
            highlight_cursor_line=False,
            name=name,
            id=id,
            classes=classes,
        )

    class EditLastRequested(Message):
        """Up was pressed in an empty prompt: the user wants to edit their last message."""

    class BackspaceOnEmpty(Message):
        """Backspace was pressed in an empty prompt (takes back a pending attachment)."""

    def action_delete_left(self) -> None:
        """Backspace; in an empty prompt it tells the screen instead."""
        if not self.text:
            self.post_message(self.BackspaceOnEmpty())
            return
        super().action_delete_left()

    def action_cursor_up(self, select: bool = False) -> None:
        """Up in an empty prompt asks to edit the last message; otherwise it moves the cursor."""
        if not select and not self.text:
            self.post_message(self.EditLastRequested())
            return
        super().action_cursor_up(select)

    def action_submit(self) -> None:
        """Send the text, unless it is blank."""
        if self.text.strip():
            self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        """Insert a line break at the cursor."""
        start, end = self.selection
        self.replace("\n", start, end, maintain_selection_offset=False)
        self.scroll_cursor_visible()

    async def _on_key(self, event: events.Key) -> None:
        # Shift+Enter and Alt+Enter are not bindable everywhere in one name; catch them here.
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.action_newline()
            return
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.action_submit()
            return
        await super()._on_key(event)
