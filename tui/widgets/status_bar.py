"""The status line: what the next turn uses (provider, model, API, effort), then the figures of
the last reply (tokens, time to first token, speed) or of the one streaming, or how long the
model has kept the one just sent waiting."""

from __future__ import annotations

import time

from textual.content import Content
from textual.timer import Timer
from textual.widgets import Static

from tui.domain import Message, MessageStatus
from tui.services.history import inert

WAIT_TICK = 1.0
"""Seconds between updates of the waiting time."""


def format_elapsed(seconds: float) -> str:
    """A running time as the status line shows it: ``5s``, ``1m 05s``, ``1h 02m 05s``."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


class StatusBar(Static):
    """One line under the prompt; the screen feeds it as a turn progresses."""

    DEFAULT_CSS = """
    StatusBar {
        width: 1fr;
        height: 1;
        padding: 0 1;
        color: $text-muted;
        background: $surface;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__("", id=id)
        self._route = ""
        self._model = ""
        self._detail = ""
        self._reply_model: str | None = None
        self._waiting_since: float | None = None
        self._ticking: Timer | None = None

    def show_route(
        self,
        provider: str,
        model: str,
        api: str,
        *,
        effort: str | None = None,
        reasoning: bool = False,
    ) -> None:
        """Where the next message goes; ``reasoning``: the model takes an effort level."""
        api_name = {"chat": "Chat Completions", "responses": "Responses"}.get(api, api)
        provider, model = inert(provider), inert(model)  # a live model list names them
        parts = [provider, model, api_name] if api else [provider]
        if api and reasoning:
            parts.append(f"effort {effort}" if effort else "default effort")
        self._route = " · ".join(parts)
        self._model = model
        self._render_line()

    @property
    def waiting(self) -> bool:
        """The line counts the time the model has kept a request waiting."""
        return self._waiting_since is not None

    def show_waiting(self) -> None:
        """A request is out and nothing of its reply has come: count the seconds, live."""
        self._stop_ticking()  # the ticks keep time with this start
        self._waiting_since = time.monotonic()
        self._ticking = self.set_interval(WAIT_TICK, self._render_line, name="waiting")
        self._render_line()

    def stop_waiting(self) -> None:
        """The reply started, failed or was stopped: no more counting."""
        if self._stop_ticking():
            self._render_line()

    def _stop_ticking(self) -> bool:
        """Stop counting; True if it was counting."""
        if self._ticking is not None:
            self._ticking.stop()
            self._ticking = None
        was = self._waiting_since is not None
        self._waiting_since = None
        return was

    def show_speed(self, tokens: int, seconds: float) -> None:
        """While streaming: how much has arrived and how fast."""
        self._stop_ticking()
        rate = tokens / seconds if seconds > 0 else 0.0
        self._detail = f"streaming · {tokens} chunks · {rate:.0f}/s"
        self._reply_model = None
        self._render_line()

    def show_activity(self, text: str) -> None:
        """What the turn is doing besides writing: a tool call coming in or running, a web
        search, a call waiting for the user's answer."""
        self._stop_ticking()
        self._detail = inert(" ".join(text.split()))
        self._reply_model = None
        self._render_line()

    def show_message(self, message: Message) -> None:
        """After a reply: its usage, time to first token and speed."""
        self._stop_ticking()
        parts: list[str] = []
        if message.input_tokens is not None or message.output_tokens is not None:
            usage = f"↑{message.input_tokens or 0} ↓{message.output_tokens or 0}"
            if message.reasoning_tokens:
                usage += f" (reasoning {message.reasoning_tokens})"
            parts.append(usage)
        if message.latency_ms is not None:
            parts.append(f"first token {message.latency_ms / 1000:.2f} s")
        if message.output_tokens and message.duration_ms and message.latency_ms is not None:
            streaming = (message.duration_ms - message.latency_ms) / 1000
            if streaming > 0:
                parts.append(f"{message.output_tokens / streaming:.0f} tok/s")
        if message.status is not MessageStatus.COMPLETE:
            parts.append(message.status.value)
        self._detail = " · ".join(parts)
        self._reply_model = message.model
        self._render_line()

    def clear_message(self) -> None:
        """A new chat, or a conversation without replies: no figures of another reply."""
        self._stop_ticking()
        self._detail = ""
        self._reply_model = None
        self._render_line()

    def _render_line(self) -> None:
        line = self._route
        detail = self._detail
        if self._waiting_since is not None:
            waited = round(time.monotonic() - self._waiting_since)
            detail = f"waiting for the model… {format_elapsed(waited)}"
        elif detail and self._reply_model and self._reply_model != self._model:
            # The figures are the last reply's, from another model than the next turn's.
            detail = f"last reply ({inert(self._reply_model)}): {detail}"
        if detail:
            line = f"{line}   {detail}" if line else detail
        self.update(Content(line), layout=False)  # one row, always: no layout of the screen
