"""A file path input that completes as you type (Right or Tab accepts the suggestion)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.suggester import Suggester
from textual.widgets import Input


class PathSuggester(Suggester):
    """Suggests the first file or folder (folders end in ``/``) that the typed text begins."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        expanded = os.path.expanduser(value)
        folder, _, stem = expanded.rpartition("/")
        base = Path(folder or ".") if folder or not expanded.startswith("/") else Path("/")
        try:
            names = sorted(
                entry.name + ("/" if entry.is_dir() else "")
                for entry in os.scandir(base)
                if entry.name.startswith(stem)
                and (stem.startswith(".") or not entry.name.startswith("."))
            )
        except OSError:
            return None
        if not names or names[0] == stem:
            return None
        return value[: len(value) - len(stem)] + names[0]


class PathInput(Input):
    """Where the user types the path of a file to attach."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "accept_suggestion", "Complete", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(
            placeholder="File to attach (image or document): Tab completes, Enter attaches, "
            "Esc closes",
            suggester=PathSuggester(),
            id=id,
        )

    def action_accept_suggestion(self) -> None:
        if self._suggestion:
            self.value = self._suggestion
            self.cursor_position = len(self.value)
