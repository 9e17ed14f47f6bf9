"""What the offline demo model says: Markdown answers, reasoning summaries and benchmark text.

Everything is a pure function of the conversation, so the same request always gets the same
words. ``tokenize`` defines the demo's tokens (whitespace plus up to eight characters), which is
also what its usage figures count.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*\S{1,8}|\s+")
_BENCH = re.compile(r"^\s*/bench(?:\s+(\d{1,9}))?\s*$")
BENCH_DEFAULT_TOKENS = 1000
BENCH_MAX_TOKENS = 200_000


def tokenize(text: str) -> list[str]:
    """Split ``text`` into the demo's tokens; joining them gives ``text`` back."""
    return _TOKEN.findall(text)


def bench_tokens(prompt: str) -> int | None:
    """``/bench N`` asks for about N tokens (default 1000, at most 200,000); else None."""
    match = _BENCH.match(prompt)
    if match is None:
        return None
    wanted = int(match.group(1)) if match.group(1) else BENCH_DEFAULT_TOKENS
    return max(1, min(wanted, BENCH_MAX_TOKENS))


@dataclass(frozen=True, slots=True)
class DemoConversation:
    """The parts of a request the demo's answer depends on."""

    user_turns: tuple[str, ...]
    """Every user message of the conversation so far, oldest first (the last is the prompt)."""
    instructions: str | None = None
    attachments: int = 0
    """Images and files attached to the latest user message."""

    @property
    def prompt(self) -> str:
        """The latest user message."""
        return self.user_turns[-1] if self.user_turns else ""


def excerpt(text: str, limit: int = 60) -> str:
    """One line, at most ``limit`` characters, for quoting the user back."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


_SNIPPETS: dict[str, str] = {
    "python": (
        "from collections import Counter\n\n\n"
        "def top_words(text: str, n: int = 3) -> list[tuple[str, int]]:\n"
        '    """The n most common words, most frequent first."""\n'
        "    return Counter(text.lower().split()).most_common(n)\n\n\n"
        'print(top_words("the cat and the hat and the bat"))'
    ),
    "rust": (
        "fn mean(values: &[f64]) -> Option<f64> {\n"
        "    if values.is_empty() {\n"
        "        return None;\n"
        "    }\n"
        "    Some(values.iter().sum::<f64>() / values.len() as f64)\n"
        "}"
    ),
    "sql": (
        "SELECT author, COUNT(*) AS posts\n"
        "FROM articles\n"
        "WHERE published_at >= DATE '2025-01-01'\n"
        "GROUP BY author\n"
        "ORDER BY posts DESC\n"
        "LIMIT 5;"
    ),
    "bash": (
        "#!/usr/bin/env bash\n"
        "set -euo pipefail\n"
        'for file in "$@"; do\n'
        '  printf "%s: %s lines\\n" "$file" "$(wc -l < "$file")"\n'
        "done"
    ),
    "typescript": (
        "export function debounce<T extends unknown[]>(fn: (...args: T) => void, ms: number) {\n"
        "  let timer: ReturnType<typeof setTimeout> | undefined;\n"
        "  return (...args: T) => {\n"
        "    clearTimeout(timer);\n"
        "    timer = setTimeout(() => fn(...args), ms);\n"
        "  };\n"
        "}"
    ),
}
_LANGUAGE_WORDS = {
    "python": "python",
    "rust": "rust",
    "sql": "sql",
    "database": "sql",
    "bash": "bash",
    "shell": "bash",
    "typescript": "typescript",
    "javascript": "typescript",
}
_ASPECTS = (
    ("Scope", "decide what a good answer covers and what it can leave out"),
    ("Inputs", "list what is known, what is assumed and what still needs checking"),
    ("Trade-offs", "compare the simple option with the thorough one before choosing"),
    ("Edge cases", "think about empty input, very large input and bad input"),
    ("Testing", "write one small check that would fail if the idea were wrong"),
    ("Next steps", "pick the smallest useful change and try it first"),
)


def _stable(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _language(prompt: str) -> str:
    words = set(re.findall(r"[a-z]+", prompt.lower()))
    for word, language in _LANGUAGE_WORDS.items():
        if word in words:
            return language
    languages = sorted(_SNIPPETS)
    return languages[_stable(prompt) % len(languages)]


def _title(prompt: str) -> str:
    words = re.findall(r"[\w'’-]+", prompt)[:7]
    if not words:
        return "Your message"
    title = " ".join(words)
    return title[0].upper() + title[1:]


def compose_answer(conversation: DemoConversation) -> str:
    """A Markdown answer: heading, memory and instruction notes, a list, code, paragraphs.

    Asked for a title (the instructions say so), it answers with a title only, as a real model
    would: the first words of the user's question.
    """
    prompt = conversation.prompt
    if conversation.instructions and "title" in conversation.instructions.lower():
        question = prompt.removeprefix("User:").split("Assistant:", 1)[0]
        return " ".join(_title(question).split()[:6])
    turns = len(conversation.user_turns)
    seed = _stable(prompt)
    language = _language(prompt)
    lines = [f"## {_title(prompt)}", ""]
    if conversation.instructions:
        lines += [f"> Following your instructions: “{excerpt(conversation.instructions)}”", ""]
    if turns <= 1:
        lines.append("This is the start of our conversation.")
    else:
        lines.append(
            f"This is message {turns} from you in this conversation; "
            f"your first one was “{excerpt(conversation.user_turns[0])}”."
        )
    if conversation.attachments:
        noun = "attachment" if conversation.attachments == 1 else "attachments"
        lines.append(f"I received {conversation.attachments} {noun} with it.")
    lines += [
        "",
        f"You wrote: “{excerpt(prompt, 80)}”. I am the offline demo model, so this answer is "
        "made up on the spot, but it has the shape a real one would: a few points, an "
        "example and a short summary.",
        "",
        "### What I would look at",
        "",
    ]
    for number in range(3):
        name, advice = _ASPECTS[(seed + number * 2) % len(_ASPECTS)]
        lines.append(f"{number + 1}. **{name}**: {advice}.")
    lines += [
        "",
        f"### An example in {language.capitalize() if language != 'sql' else 'SQL'}",
        "",
        f"```{language}",
        _SNIPPETS[language],
        "```",
        "",
        "The example is small on purpose: run it, change one thing, and run it again. "
        f"Ask a follow-up: it will be message {turns + 1}, and I will still remember "
        "how this conversation began.",
    ]
    return "\n".join(lines)


_REASONING_STEPS = (
    ("Reading the request", "The user wrote “{prompt}”. I should work out what they need."),
    (
        "Planning the answer",
        "A heading, a short list of points and one code example will keep it easy to scan.",
    ),
    (
        "Checking the example",
        "The snippet must be short and correct, so I will keep it to a few lines.",
    ),
)


def compose_reasoning(conversation: DemoConversation, effort: str | None) -> list[str]:
    """Reasoning summary parts: one for low effort, two for medium, three for high."""
    count = {"minimal": 1, "low": 1, "medium": 2}.get(effort or "", 3)
    prompt = excerpt(conversation.prompt, 50)
    return [
        f"**{heading}**\n\n{body.format(prompt=prompt)}"
        for heading, body in _REASONING_STEPS[:count]
    ]


_BENCH_TOPICS = ("Streaming", "Rendering", "Storage", "Networking", "Testing", "Profiling")


def bench_text(tokens: int) -> str:
    """About ``tokens`` tokens of mixed Markdown, ending at a section boundary."""
    sections: list[str] = []
    count = 0
    number = 0
    while count < tokens:
        number += 1
        topic = _BENCH_TOPICS[number % len(_BENCH_TOPICS)]
        section = (
            f"## Section {number}: {topic}\n\n"
            f"Paragraph {number} talks about {topic.lower()} at length, so that a renderer "
            "has real prose to wrap, words with **bold** and *italic* emphasis, `inline code`, "
            "and sentences long enough to cross the edge of a narrow terminal window.\n\n"
            f"- first point of section {number}\n"
            f"- second point, with a [link](https://example.com/{number})\n"
            "- third point\n"
            "  - a nested point\n\n"
            "```python\n"
            f"def section_{number}(values: list[int]) -> int:\n"
            "    total = 0\n"
            "    for value in values:\n"
            "        total += value * value\n"
            "    return total\n"
            "```\n\n"
        )
        sections.append(section)
        # Trailing newlines join the next section's first token once the text is assembled.
        count += len(tokenize(section.rstrip("\n")))
    return "".join(sections).rstrip("\n")
