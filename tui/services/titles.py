"""Conversation titles: one from the first message at once, a better one from the model later."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tui.domain import ChatRequest, Failed, Finished, InputMessage, Role, TextDelta

if TYPE_CHECKING:
    from tui.services.turns import Route

MAX_TITLE = 60
TITLE_INSTRUCTIONS = (
    "Write a short title (at most six words) for a conversation that starts with the exchange "
    "below. Answer with the title only: no quotes, no punctuation at the end."
)
_MARKUP = re.compile(r"[#*_`>\[\]]+")
_SPACE = re.compile(r"\s+")


def title_from_text(text: str, limit: int = MAX_TITLE) -> str:
    """A one-line title from free text: markup stripped, whitespace folded, cut at a word."""
    for line in text.splitlines():
        cleaned = _SPACE.sub(" ", _MARKUP.sub("", line)).strip().strip("\"'“”")
        if cleaned:
            break
    else:
        return "New chat"
    if len(cleaned) <= limit:
        return cleaned
    cut = cleaned[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "…"


async def ask_for_title(route: Route, question: str, answer: str) -> str | None:
    """Ask the conversation's own model for a title; None when it gives nothing usable."""
    request = ChatRequest(
        model=route.model.id,
        messages=(
            InputMessage(Role.USER, f"User: {question[:1500]}\n\nAssistant: {answer[:1500]}"),
        ),
        instructions=TITLE_INSTRUCTIONS,
        max_output_tokens=None if route.model.reasoning_efforts else 24,
        reasoning_effort=_lowest(route.model.reasoning_efforts),
        store=False,
        stream=False,
    )
    parts: list[str] = []
    async for event in route.provider.stream(request, route.api):
        if isinstance(event, TextDelta):
            parts.append(event.text)
        elif isinstance(event, Failed):
            return None
        elif isinstance(event, Finished):
            break
    title = title_from_text("".join(parts))
    return None if title == "New chat" else title


def _lowest(efforts: tuple[str, ...]) -> str | None:
    for effort in ("none", "minimal", "low"):
        if effort in efforts:
            return effort
    return None
