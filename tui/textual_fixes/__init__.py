"""Work-arounds for Textual defects a chat app meets at scale: declared, checked, reversible.

Every work-around is a ``Fix`` in ``FIXES``: what it mends, the upstream issue (or a description
where none is filed), the Textual versions it was verified on, and the private names and
signatures it relies on (``Needs``). ``install`` checks those needs before it patches anything;
a fix whose needs are not met is left out, Textual's own behaviour stays (slower, never broken),
and the reason is reported once: a line in the ``tui.textual_fixes`` log and in
``tui-chat --version --verbose``. ``TUI_CHAT_NO_TEXTUAL_FIXES=1`` leaves out every fix that is a
matter of speed; the two that keep untrusted text from acting (``protects``: a paste cannot press
keys, a model's table cannot run markup) stay, since without them the app would be unsafe.

Nothing is patched when a module is imported: the app installs the ``core`` group as it is
built and the ``markdown`` group once the Markdown stack is loaded (off the first frame's path);
the tests do the same in their session fixture. ``uninstall`` puts Textual's methods back.

The patch bodies live in ``core``, ``markdown`` and ``paste``; ``docs/upstream/`` holds the
patches that would make some of them unnecessary.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
import sys
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Literal

log = logging.getLogger(__name__)

DISABLE_ENV = "TUI_CHAT_NO_TEXTUAL_FIXES"
"""Set to ``1`` to run on Textual's own behaviour: every work-around for speed left out."""

Group = Literal["core", "markdown"]
Undo = Callable[[], None]


@dataclass(frozen=True)
class Needs:
    """Something a fix relies on: ``target`` is ``module:Class.attribute`` (or ``module:Class``).

    ``params``: the parameter names the attribute's callable must take, in order.
    ``sets``: instance attributes the class's module must assign (``self.name = ...``), for
    the private state a fix reads on Textual's objects.
    ``marker``: an attribute the callable must carry (``cache_info`` for an ``lru_cache``).
    """

    target: str
    params: tuple[str, ...] | None = None
    sets: tuple[str, ...] = ()
    marker: str | None = None

    def problem(self) -> str | None:
        """What is missing, in one line, or ``None`` when the need is met."""
        module_name, _, path = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
        except ImportError:
            return f"{module_name} is not there"
        owner: Any = None
        for part in path.split(".") if path else ():
            owner, obj = obj, inspect.getattr_static(obj, part, _MISSING)
            if obj is _MISSING:
                return f"{self.target} is not there"
        if isinstance(obj, staticmethod | classmethod):
            obj = obj.__func__
        if self.marker is not None and not hasattr(obj, self.marker):
            return f"{self.target} is no longer what the fix expects (no {self.marker})"
        if self.params is not None:
            function = getattr(obj, "__wrapped__", obj)
            if isinstance(function, property):
                function = function.fget
            try:
                names = tuple(inspect.signature(function).parameters)
            except (TypeError, ValueError):
                return f"{self.target} has no signature to check"
            if names != self.params:
                return f"{self.target} takes ({', '.join(names)}), not ({', '.join(self.params)})"
        if self.sets:
            cls = obj if inspect.isclass(obj) else owner
            source = _module_source(cls.__module__) if inspect.isclass(cls) else None
            if source is None:
                return f"the source of {self.target} cannot be read to check its attributes"
            for name in self.sets:
                if not _assigns(source, name):
                    return f"{self.target} no longer sets {name}"
        return None


_MISSING = object()


@cache
def _module_source(module_name: str) -> str | None:
    module = sys.modules.get(module_name)
    filename = getattr(module, "__file__", None)
    if not filename:
        return None
    try:
        return Path(filename).read_text(encoding="utf-8")
    except OSError:
        return None


def _assigns(source: str, name: str) -> bool:
    """Whether ``source`` has ``self.name = ...`` or ``self.name: T = ...``."""
    needle = f"self.{name}"
    start = source.find(needle)
    while start >= 0:
        end = start + len(needle)
        line_end = source.find("\n", end)
        rest = source[end : line_end if line_end >= 0 else len(source)].lstrip()
        if rest.startswith(":") and "=" in rest or rest.startswith("=") and rest[1:2] != "=":
            return True
        start = source.find(needle, end)
    return False


@dataclass(frozen=True)
class Fix:
    """One work-around: what it mends, where that is tracked, and how to put it in."""

    name: str
    group: Group
    summary: str
    """One line: the defect and what the fix changes."""
    upstream: str
    """The upstream issue (``Textual #6665``), or where none is filed, the defect in a phrase."""
    verified: tuple[str, ...]
    """Textual versions the fix was checked on (the suite proves it on the one CI runs)."""
    needs: tuple[Needs, ...]
    apply: Callable[[], Undo] = field(repr=False)
    """Patches Textual and returns what puts it back."""
    protects: bool = False
    """It keeps untrusted text from acting (not a matter of speed): kept even with
    ``TUI_CHAT_NO_TEXTUAL_FIXES``, since without it the app would not be slower but unsafe."""


class State(StrEnum):
    INSTALLED = "installed"
    STEPPED_ASIDE = "stepped aside"
    DISABLED = "disabled"
    NOT_YET = "not installed yet"


@dataclass
class Outcome:
    state: State
    reason: str = ""


_undo: dict[str, Undo] = {}
_outcomes: dict[str, Outcome] = {}


def disabled(env: dict[str, str] | os._Environ[str] | None = None) -> bool:
    """Whether ``TUI_CHAT_NO_TEXTUAL_FIXES`` asks for Textual's own behaviour."""
    value = (env if env is not None else os.environ).get(DISABLE_ENV, "")
    return value.strip().lower() not in ("", "0", "no", "false")


def fixes(group: Group | None = None) -> tuple[Fix, ...]:
    """The declared fixes, in the order they are installed."""
    from tui.textual_fixes import core, markdown, paste

    every = (*core.FIXES, paste.FIX, *markdown.FIXES)
    return tuple(fix for fix in every if group is None or fix.group == group)


def check(fix: Fix) -> str | None:
    """Why ``fix`` cannot be installed on this Textual, or ``None`` (an installed fix met its
    needs when it was installed: what it checks has been replaced by the fix since)."""
    if fix.name in _undo:
        return None
    for need in fix.needs:
        problem = need.problem()
        if problem is not None:
            return problem
    return None


def install(
    group: Group, *, force: bool = False, only: Collection[str] | None = None
) -> dict[str, Outcome]:
    """Install the fixes of ``group`` whose needs are met (once; again changes nothing).

    ``force`` installs them even when ``TUI_CHAT_NO_TEXTUAL_FIXES`` is set, and ``only`` limits
    them to those named (a test proving a fix). Returns the outcome of each fix of the group.
    """
    off = disabled() and not force
    for fix in fixes(group):
        if fix.name in _undo or (only is not None and fix.name not in only):
            continue
        if off and not fix.protects:
            _note(fix, Outcome(State.DISABLED, f"{DISABLE_ENV} is set"))
            continue
        problem = check(fix)
        if problem is not None:
            _note(fix, Outcome(State.STEPPED_ASIDE, problem))
            continue
        _undo[fix.name] = fix.apply()
        _note(fix, Outcome(State.INSTALLED))
    return {fix.name: _outcomes[fix.name] for fix in fixes(group) if fix.name in _outcomes}


def uninstall(names: Iterable[str] | None = None) -> None:
    """Put Textual's own methods back (every installed fix, or those named), newest first."""
    chosen = set(_undo) if names is None else set(names)
    for name in reversed(list(_undo)):
        if name in chosen:
            _undo.pop(name)()
            _outcomes.pop(name, None)


def installed(name: str) -> bool:
    return name in _undo


def left_out() -> list[str]:
    """One line for each fix tried in this process and left out (stepped aside or disabled)."""
    return [
        f"Textual work-around {name} left out: {outcome.reason}"
        for name, outcome in _outcomes.items()
        if outcome.state in (State.STEPPED_ASIDE, State.DISABLED)
    ]


def _note(fix: Fix, outcome: Outcome) -> None:
    """Record an outcome, reporting a fix that is left out once."""
    previous = _outcomes.get(fix.name)
    _outcomes[fix.name] = outcome
    if previous == outcome:
        return
    if outcome.state is State.STEPPED_ASIDE:
        log.warning("Textual work-around %s left out: %s", fix.name, outcome.reason)
    elif outcome.state is State.DISABLED:
        log.info("Textual work-around %s left out: %s", fix.name, outcome.reason)
    else:
        log.debug("Textual work-around %s installed", fix.name)


def report() -> list[str]:
    """One line per fix for ``tui-chat --version --verbose``: its state on this Textual.

    Fixes not installed in this process are checked (nothing is patched)."""
    lines = []
    for fix in fixes():
        outcome = _outcomes.get(fix.name)
        if outcome is None:
            if disabled() and not fix.protects:
                outcome = Outcome(State.DISABLED, f"{DISABLE_ENV} is set")
            else:
                problem = check(fix)
                outcome = (
                    Outcome(State.STEPPED_ASIDE, problem)
                    if problem
                    else Outcome(State.NOT_YET, "its needs are met")
                )
        state = "ready" if outcome.state is State.NOT_YET else outcome.state.value
        reason = f": {outcome.reason}" if outcome.reason and state != "ready" else ""
        lines.append(f"{fix.name:<28} {state}{reason}  ({fix.upstream})")
    return lines


def replace_attribute(owner: Any, name: str, new: Any) -> Undo:
    """Set ``owner.name`` to ``new``; the undo restores what ``owner`` itself held before."""
    had = name in owner.__dict__
    old = owner.__dict__.get(name)

    def undo() -> None:
        if had:
            setattr(owner, name, old)
        else:
            delattr(owner, name)

    setattr(owner, name, new)
    return undo


def undo_all(*undos: Undo) -> Undo:
    """One undo for several replaced attributes (undone in reverse)."""

    def undo() -> None:
        for each in reversed(undos):
            each()

    return undo
