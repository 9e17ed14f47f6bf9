"""What the offline demo model says: Markdown answers, reasoning summaries and benchmark text.

Everything is a pure function of the conversation, so the same request always gets the same
words. ``tokenize`` defines the demo's tokens (whitespace plus up to eight characters), which is
also what its usage figures count.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
class OfferedTool:
    """A function tool the request offers (``tools``, either API's shape)."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One step of the conversation as tool use sees it.

    ``kind`` is ``user`` (``text`` is the message), ``assistant`` (a text answer), ``call`` (a
    tool call: ``call_id``, ``name``, ``text`` the arguments) or ``output`` (a tool result:
    ``call_id``, ``text`` the output).
    """

    kind: str
    call_id: str = ""
    name: str = ""
    text: str = ""


@dataclass(frozen=True, slots=True)
class Tooling:
    """The tools of a request and the tool steps of its conversation."""

    tools: tuple[OfferedTool, ...] = ()
    choice: str = "auto"
    """``auto``, ``none``, ``required``, or ``function`` (then ``forced`` names the tool)."""
    forced: str | None = None
    parallel: bool = True
    log: tuple[LogEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class DemoConversation:
    """The parts of a request the demo's answer depends on."""

    user_turns: tuple[str, ...]
    """Every user message of the conversation so far, oldest first (the last is the prompt)."""
    instructions: str | None = None
    attachments: int = 0
    """Images and files attached to the latest user message."""
    tooling: Tooling = field(default_factory=Tooling)

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


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------

_TIME_WORDS = frozenset({"time", "clock", "date", "now"})
_GROUP_WORDS = frozenset({"each", "both", "all"})
_ANY_TOOL = re.compile(r"\b(?:use|call)\s+(?:the|a|your)\s+tool\b", re.IGNORECASE)
"""``use the tool``: the first tool offered."""
_AGAIN = re.compile(r"\b(?:twice|again)\b", re.IGNORECASE)
_ARGUMENT_PIECE = re.compile(r"[^\w\s]+|\w{1,8}|\s+")
_STOPWORDS = frozenset(
    "a an and answer are call can could do does for from give how i in is it its it's me my "
    "now of on please say tell that the then this time to tool tools use what what's when "
    "where which who with would you your clock date both each all twice again".split()
)
TOOL_OUTPUT_QUOTE = 200
"""Characters of each tool output quoted back."""


@dataclass(frozen=True, slots=True)
class ToolPlan:
    """What the demo does about tools this turn: call some, or answer from their results."""

    calls: tuple[tuple[str, str], ...] = ()
    """``(name, arguments JSON)`` of each tool to call, in order."""
    results: tuple[tuple[str, str], ...] = ()
    """``(tool name, output)`` of each result to answer from."""


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _timely(tool: OfferedTool) -> bool:
    about = f"{tool.name} {tool.description}".lower()
    return "time" in about or "clock" in about


def _named(tool: OfferedTool, text: str) -> bool:
    """The text says ``use <name>`` or ``call <name>`` (``the`` and backticks allowed)."""
    name = re.escape(tool.name.lower())
    pattern = rf"\b(?:use|call)\s+(?:the\s+)?`?{name}`?(?![\w-])"
    return re.search(pattern, text.lower()) is not None


def _select(prompt: str, tooling: Tooling) -> list[OfferedTool]:
    tools = tooling.tools
    if tooling.forced is not None:
        chosen = [tool for tool in tools if tool.name == tooling.forced][:1]
    else:
        words = _words(prompt)
        named = [tool for tool in tools if _named(tool, prompt)]
        timely = [tool for tool in tools if _timely(tool)] if words & _TIME_WORDS else []
        if not named and _ANY_TOOL.search(prompt):
            named = list(tools[:1])
        if words & _GROUP_WORDS and (named or timely or words & {"use", "call"}):
            chosen = list(tools)
        else:
            chosen = [tool for tool in tools if tool in named or tool in timely]
        if not chosen and tooling.choice == "required":
            chosen = list(tools[:1])
    return chosen if tooling.parallel else chosen[:1]


def plan_tools(conversation: DemoConversation) -> ToolPlan:
    """Call tools, answer from their results, or neither (see the demo module's docstring)."""
    tooling = conversation.tooling
    log = tooling.log
    last_user = max((i for i, entry in enumerate(log) if entry.kind == "user"), default=-1)
    tail = log[last_user + 1 :]
    names = {entry.call_id: entry.name for entry in log if entry.kind == "call"}
    rounds = sum(
        1
        for i, entry in enumerate(tail)
        if entry.kind == "call" and (i == 0 or tail[i - 1].kind != "call")
    )
    results = tuple(
        (names[entry.call_id], entry.text)
        for entry in tail
        if entry.kind == "output" and entry.call_id in names
    )
    answered = bool(results) and tail[-1].kind == "output"
    if not answered:
        results = ()
    if not tooling.tools or tooling.choice == "none":
        return ToolPlan(results=results)
    prompt = conversation.prompt
    if answered:
        if rounds >= 2 or not _AGAIN.search(prompt):
            return ToolPlan(results=results)
    elif rounds:
        return ToolPlan()  # calls left unanswered: carry on in text
    chosen = _select(prompt, tooling)
    return ToolPlan(calls=tuple((tool.name, tool_arguments(tool, prompt)) for tool in chosen))


def _prompt_word(prompt: str, tool_name: str) -> str:
    skip = _STOPWORDS | {tool_name.lower()}
    candidates: list[str] = [
        word
        for word in re.findall(r"[^\W\d_][\w'-]*", prompt)
        if word.lower() not in skip and len(word) > 1
    ]
    capitalised = [word for word in candidates[1:] if any(c.isupper() for c in word)]
    if capitalised:
        return capitalised[-1]
    return candidates[-1] if candidates else "demo"


def _value(name: str, schema: object, prompt: str, tool_name: str) -> Any:
    spec = schema if isinstance(schema, Mapping) else {}
    enum = spec.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return _arguments(spec, prompt, tool_name)
    lowered = name.lower()
    if "timezone" in lowered or "zone" in lowered or lowered == "tz":
        return "UTC"
    return _prompt_word(prompt, tool_name)


def _arguments(schema: Mapping[str, Any], prompt: str, tool_name: str) -> dict[str, Any]:
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = schema.get("required")
    names = (
        [name for name in required if isinstance(name, str)] if isinstance(required, list) else []
    )
    return {name: _value(name, properties.get(name), prompt, tool_name) for name in names}


def tool_arguments(tool: OfferedTool, prompt: str) -> str:
    """JSON arguments: the required properties only, with plausible values (``{}`` if none)."""
    values = _arguments(tool.parameters, prompt, tool.name)
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def argument_pieces(arguments: str) -> list[str]:
    """The argument deltas, split as OpenAI's are (``{"``, ``country``, ``":"``, ``UK``...)."""
    pieces = _ARGUMENT_PIECE.findall(arguments)
    if len(pieces) == 1 and len(arguments) > 1:
        return [arguments[:1], arguments[1:]]
    return pieces


def compose_tool_answer(
    conversation: DemoConversation, results: tuple[tuple[str, str], ...]
) -> str:
    """A text answer quoting each tool output (shortened), then a closing sentence."""
    lines = []
    for name, output in results:
        quoted = excerpt(output, TOOL_OUTPUT_QUOTE).rstrip(".") or "nothing"
        who = f"The `{name}` tool" if name else "The tool"
        if output.startswith(("The user declined", "Tool calls are not allowed")):
            lines.append(f"{who} was not run ({quoted.lower()}), so I answer without it.")
        else:
            lines.append(f"{who} says: {quoted}.")
    noun = "tool" if len(results) == 1 else "tools"
    lines.append(
        f"That is my answer to “{excerpt(conversation.prompt)}”, going by what the {noun} returned."
    )
    return "\n\n".join(lines)
