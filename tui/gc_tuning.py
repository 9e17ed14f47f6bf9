"""Garbage-collection settings for a long-running Textual app that streams and scrolls text.

A Textual screen keeps ~150,000 objects alive (widgets, styles, cached lines), and every message
or Markdown block mounted and later folded away leaves cyclic garbage that only a full collection
reclaims. CPython's default settings run such a full collection of everything, for 50-300 ms,
several times a second while text streams or a long thread is paged.

The policy here:

- **Freeze** what exists once the app has started: the app's own long-lived objects leave the
  collector's scans for good.
- **Collect when idle.** When nothing has happened for ``IDLE_AFTER`` seconds (no key, mouse or
  resize, no reply streaming) and garbage has built up, run the full collection then and freeze
  what survives, so the next burst of activity starts with almost nothing left to scan. Objects
  frozen while alive and dropped later are reclaimed by an occasional collection of everything,
  also only when idle, once the frozen set has grown by half.
- **Freeze while busy.** While the user is active or a reply streams, everything tracked is
  frozen each second, so the automatic full collections that still come scan only the objects
  made since, not the whole screen. With the work-arounds of ``textual_fixes`` removed widgets
  and drawn lines are freed by reference counting, frozen or not; the few cycles frozen on the
  way wait for the next idle collection that thaws.
- **Full collections ten times rarer while busy** (``threshold2`` 100, not 10): a reply that
  streams for a minute meets a few collections, not hundreds.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

IDLE_AFTER = 2.0
"""Seconds without input or streaming after which a pending collection runs."""
GARBAGE_COLLECTIONS = 20
"""Young (generation 1) collections since the last full one that make a full one worthwhile."""
REGROW = 1.5
"""Thaw and collect everything once the frozen set is this many times what it was."""


def apply_gc_policy() -> None:
    """Freeze what exists now and make automatic full collections ten times rarer."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)


def _young_collections() -> int:
    return int(gc.get_stats()[1]["collections"])


class IdleCollector:
    """Runs the full collections while the user is not waiting on the app (see the module)."""

    def __init__(
        self,
        busy: Callable[[], bool],
        *,
        idle_after: float = IDLE_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._busy = busy
        self._idle_after = idle_after
        self._clock = clock
        self._last_activity = clock()
        self._young_at_last = _young_collections()
        self._frozen_base = gc.get_freeze_count()
        self.collections = 0
        """Idle collections run so far."""
        self.busy_freezes = 0
        """Seconds of activity whose survivors were frozen."""
        self.thaws = 0
        """How many of them collected everything, frozen objects included."""

    def note_activity(self) -> None:
        """Input arrived: the user may be waiting on the next frame."""
        self._last_activity = self._clock()

    def active(self) -> bool:
        """Input arrived within ``idle_after`` seconds, or a reply is streaming."""
        return self._clock() - self._last_activity < self._idle_after or self._busy()

    def due(self) -> bool:
        """Idle long enough, nothing streaming, and enough garbage to be worth a collection."""
        if self.active():
            return False
        return _young_collections() - self._young_at_last >= GARBAGE_COLLECTIONS

    def tick(self) -> bool:
        """Call it every second or so: while active, freeze what survived the last second;
        when idle, collect if due. Whether a full collection ran."""
        if self.active():
            gc.freeze()
            self.busy_freezes += 1
            return False
        if not self.due():
            return False
        thaw = gc.get_freeze_count() > self._frozen_base * REGROW
        if thaw:
            gc.unfreeze()  # reclaim what was frozen alive and has been dropped since
            self.thaws += 1
        gc.collect()
        gc.freeze()
        if thaw:
            self._frozen_base = gc.get_freeze_count()
        self.collections += 1
        self._young_at_last = _young_collections()
        return True
