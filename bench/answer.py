"""A deterministic long Markdown answer and a paced token source, shared by the benchmarks."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

_WORDS = (
    "the renderer keeps finished blocks frozen and only parses the open tail while tokens arrive "
    "so a long answer costs the same per frame at its end as at its start which is what a "
    "terminal user notices when a model writes several thousand words about event loops layout "
    "caches widgets streams parsers fences lists tables and the scroll position of a log"
).split()

_CODE = '''def coalesce(deltas: list[str]) -> str:
    """Join the deltas of one frame."""
    text = "".join(deltas)

    if not text:
        return ""
    for index, line in enumerate(text.splitlines()):
        print(index, line)

    return text'''


def _sentence(seed: int, words: int) -> str:
    chosen = [_WORDS[(seed * 7 + i * 3) % len(_WORDS)] for i in range(words)]
    text = " ".join(chosen)
    if seed % 3 == 0:
        text = text.replace(chosen[2], f"**{chosen[2]}**", 1)
    if seed % 4 == 1:
        text = text.replace(chosen[4], f"`{chosen[4]}()`", 1)
    return text[0].upper() + text[1:] + "."


def make_answer(target_tokens: int = 10_000) -> str:
    """A Markdown answer of about ``target_tokens`` tokens: headings, paragraphs, lists, code."""
    parts: list[str] = []
    section = 0
    tokens = 0
    while tokens < target_tokens:
        section += 1
        parts.append(f"## Section {section}: streaming notes\n")
        parts.append(" ".join(_sentence(section * 5 + i, 14) for i in range(4)) + "\n")
        parts.append("\n".join(f"- {_sentence(section + i, 8)}" for i in range(5)) + "\n")
        parts.append("\n".join(f"{i}. {_sentence(section * 2 + i, 6)}" for i in range(1, 4)) + "\n")
        parts.append(f"```python\n{_CODE}\n```\n")
        parts.append(" ".join(_sentence(section * 11 + i, 12) for i in range(3)) + "\n")
        tokens = len(split_tokens("\n".join(parts)))
    return "\n".join(parts)


_TOKEN = re.compile(r"\s*[^\s]{1,5}|\s+")


def split_tokens(text: str) -> list[str]:
    """Split text into pieces about the size of a model's tokens (whitespace kept)."""
    return _TOKEN.findall(text)


async def token_source(text: str, tokens_per_second: float | None) -> AsyncIterator[str]:
    """Yield ``text`` as token-sized deltas; ``None`` means flat out (no sleeping at all)."""
    tokens = split_tokens(text)
    if tokens_per_second is None:
        for token in tokens:
            yield token
        return
    interval = 1.0 / tokens_per_second
    start = time.perf_counter()
    for index, token in enumerate(tokens):
        due = start + index * interval
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        yield token
