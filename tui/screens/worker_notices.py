"""One line for a screen's worker that failed on the database, never a traceback."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen
from textual.worker import Worker, WorkerState

from tui.services.handle import ServicesUnavailableError, is_damage, store_problem


def notify_store_failure(screen: Screen[Any], event: Worker.StateChanged) -> None:
    """Call from ``on_worker_state_changed``: a worker that failed on the database (locked,
    read-only, gone) is said in one line with what to do. Damage and an unopened history are
    left to the app, which says so itself and offers to move a damaged file aside."""
    error = event.worker.error
    if event.state is not WorkerState.ERROR or error is None:
        return
    if isinstance(error, ServicesUnavailableError) or is_damage(error):
        return
    problem = store_problem(error)
    if problem is not None:
        screen.notify(problem, title="History", severity="error", timeout=15)
