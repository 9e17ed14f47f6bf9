"""One labelled settings field with its inline error line."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Static

Check = Callable[[str], object]
"""Parses a field's text; raises ``ValueError`` with the sentence to show."""


class FieldRow(Vertical):
    """A label, a control and, under them, the error (or hint) for the control."""

    def __init__(
        self,
        label: str,
        control: Widget,
        *,
        check: Check | None = None,
        hint: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's own keyword
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.label = label
        self.control = control
        self.check = check
        self.hint = hint
        self.error: str | None = None
        """The sentence shown under the field while its value is invalid."""

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-line"):
            yield Label(self.label, classes="field-label")
            yield self.control
        yield Static(self.error or "", classes="field-error", markup=False)
        if self.hint:
            yield Static(self.hint, classes="field-hint", markup=False)

    def run_check(self) -> bool:
        """Run the check on the control's text, show or clear the error, and say if valid."""
        if self.check is None or not isinstance(self.control, Input):
            return True
        try:
            self.check(self.control.value)
        except ValueError as exc:
            self.show_error(str(exc))
            return False
        self.show_error(None)
        return True

    def show_error(self, message: str | None) -> None:
        """Show ``message`` under the field (``None`` clears it) and mark the control."""
        self.error = message
        self.set_class(message is not None, "-error")
        self.control.set_class(message is not None, "-invalid")
        if self.is_mounted:
            self.query_one(".field-error", Static).update(message or "")

    @on(Input.Changed)
    def _recheck_while_invalid(self, event: Input.Changed) -> None:
        # Clear the error as soon as the value is fixed, without nagging while typing.
        if self.error is not None and event.input is self.control:
            self.run_check()

    @on(Input.Blurred)
    def _check_on_leave(self, event: Input.Blurred) -> None:
        if event.input is self.control:
            self.run_check()
