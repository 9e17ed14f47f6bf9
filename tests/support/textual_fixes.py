"""Run a piece of a test with chosen Textual work-arounds in or out, whatever the session has.

The session installs every work-around the app installs (none with TUI_CHAT_NO_TEXTUAL_FIXES=1,
see ``tests/conftest.py``). A test proving a fix runs its case twice: with the fix, where the
defect must be gone, and without it, on Textual's own code, where the defect must show.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from tui import textual_fixes


def group_of(name: str) -> textual_fixes.Group:
    for fix in textual_fixes.fixes():
        if fix.name == name:
            return fix.group
    raise KeyError(name)


@contextmanager
def fixes_set(*names: str, on: bool) -> Iterator[None]:
    """The named fixes installed (``on``) or left out for the block; then as they were."""
    changed = [name for name in names if textual_fixes.installed(name) is not on]
    for name in changed:
        if on:
            outcome = textual_fixes.install(group_of(name), force=True, only={name})[name]
            assert textual_fixes.installed(name), outcome
        else:
            textual_fixes.uninstall([name])
    try:
        yield
    finally:
        for name in changed:
            if on:
                textual_fixes.uninstall([name])
            else:
                textual_fixes.install(group_of(name), force=True, only={name})


@contextmanager
def all_fixes(*, on: bool) -> Iterator[None]:
    """Every fix installed (``on``) or every one left out, for the block."""
    with fixes_set(*(fix.name for fix in textual_fixes.fixes()), on=on):
        yield
