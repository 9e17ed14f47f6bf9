"""The status line: what the next turn uses (provider, model, API, effort), then the figures of
the last reply (tokens, time to first token, speed) or of the one streaming."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from tui.domain import Message, MessageStatus
from tui.services.history import inert


class StatusBar(Static):
    """One line under the prompt; the screen feeds it as a turn progresses."""

    DEFAULT_CSS = """
    StatusBar {
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

    def show_speed(self, tokens: int, seconds: float) -> None:
        """While streaming: how much has arrived and how fast."""
        rate = tokens / seconds if seconds > 0 else 0.0
        self._detail = f"streaming · {tokens} chunks · {rate:.0f}/s"
        self._reply_model = None
        self._render_line()

    def show_message(self, message: Message) -> None:
        """After a reply: its usage, time to first token and speed."""
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
        self._detail = ""
        self._reply_model = None
        self._render_line()

    def _render_line(self) -> None:
        line = self._route
        detail = self._detail
        if detail and self._reply_model and self._reply_model != self._model:
            # The figures are the last reply's, from another model than the next turn's.
            detail = f"last reply ({inert(self._reply_model)}): {detail}"
        if detail:
            line = f"{line}   {detail}" if line else detail
        self.update(Content(line))
