"""What the loopback server does with one request: a reply, an error, a fault, or raw bytes.

A test queues ``Behaviour`` values on the server (or sends one as JSON in the
``x-loopback-script`` header); each request takes the next one, and the default is a plain echo
reply. The builders here produce the same wire shapes OpenAI sends (see
``../shared/wire/PROTOCOL.md``): Chat Completions chunks ending in ``data: [DONE]``, Responses
typed events ending in ``response.completed``; ``tool_calls()`` answers with function calls
on either API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

FAULTS = ("reset", "stall", "malformed_json", "invalid_utf8", "error_event")


@dataclass(frozen=True)
class Behaviour:
    """One scripted answer; fields left at their defaults give a normal streamed reply."""

    text: str | None = None
    """The answer; None echoes ``[turn N] <last user text>``."""
    reasoning: str = ""
    reasoning_field: str = "reasoning_content"
    """Chat only: ``reasoning_content`` (DeepSeek) or ``reasoning`` (OpenRouter)."""
    usage: tuple[int, int, int] | None = (12, 34, 5)
    """input, output and reasoning tokens; None sends no usage at all."""
    finish_reason: str = "stop"
    incomplete: str | None = None
    """Responses: end with ``response.incomplete`` and this reason."""
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    """Sent as is with ``status`` and ``headers`` instead of a generated reply."""
    chunk_size: int = 0
    """Split ``body`` into HTTP chunks of this many bytes (0: one piece with Content-Length)."""
    fault: str | None = None
    """One of ``FAULTS``, after ``fault_after`` events."""
    fault_after: int = 0
    stall_seconds: float = 30.0
    error_code: str | int = "server_error"
    error_message: str = "The server had an error while processing your request."
    delay: float = 0.0
    """Pause between events."""
    keepalive_every: float = 0.0
    """During pauses and stalls, send a ``: keep-alive`` comment this often."""
    unknown_events: bool = False
    """Mix in event types no client knows, and comments."""
    sequence_numbers: bool = True
    huge_bytes: int = 0
    """Send the answer as one text event of this many bytes."""
    flood: int = 0
    """Send this many small text events as fast as possible."""
    no_done: bool = False
    """Chat: end at EOF without ``data: [DONE]``."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Extra top-level keys for every chunk / event payload."""
    tool_calls: tuple[tuple[str, str, str], ...] = ()
    """Function calls to answer with, as (call_id, name, arguments JSON text): Chat
    ``tool_calls`` deltas / ``message.tool_calls``, Responses ``function_call`` items. With
    calls, ``text=None`` sends no text at all (not the echo); see ``tool_calls()``."""

    def to_json(self) -> str:
        """The behaviour as the ``x-loopback-script`` header carries it."""
        data = asdict(self)
        if self.body is not None:
            data["body"] = self.body.decode("latin-1")
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> Behaviour:
        """Parse the ``x-loopback-script`` header; unknown keys are an error."""
        data = json.loads(text)
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown behaviour fields: {sorted(unknown)}")
        if isinstance(data.get("body"), str):
            data["body"] = data["body"].encode("latin-1")
        for key in ("headers", "tool_calls"):
            if key in data:
                data[key] = tuple(tuple(pair) for pair in data[key])
        if isinstance(data.get("usage"), list):
            data["usage"] = tuple(data["usage"])
        return cls(**data)


def reply(text: str | None = None, **options: Any) -> Behaviour:
    """A normal answer (streamed or not, as the request asks)."""
    return Behaviour(text=text, **options)


def http_error(
    status: int,
    message: str,
    *,
    code: str | int | None = None,
    kind: str = "invalid_request_error",
    param: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> Behaviour:
    """An OpenAI-shaped error body with this HTTP status."""
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return Behaviour(
        status=status,
        body=json.dumps(body, indent=2).encode(),
        headers=(("content-type", "application/json"), *headers),
    )


def raw(
    status: int,
    body: bytes | str,
    headers: Mapping[str, str] | tuple[tuple[str, str], ...] = (),
    *,
    chunk_size: int = 0,
) -> Behaviour:
    """Exactly these bytes (e.g. a recorded exchange), optionally in small HTTP chunks."""
    pairs = tuple(headers.items()) if isinstance(headers, Mapping) else tuple(headers)
    data = body.encode() if isinstance(body, str) else body
    return Behaviour(status=status, body=data, headers=pairs, chunk_size=chunk_size)


ToolCallSpec = tuple[str, Mapping[str, Any] | str] | tuple[str, str, Mapping[str, Any] | str]
"""``(name, arguments)`` or ``(call_id, name, arguments)``; arguments as a dict or raw text."""


def tool_calls(*calls: ToolCallSpec, text: str | None = None, **options: Any) -> Behaviour:
    """An answer that calls these functions (on the API and in the mode the request used).

    Each call is ``(name, arguments)`` with the id ``call_<position>`` (``call_1``,
    ``call_2``, ...), or ``(call_id, name, arguments)``. A dict is sent as its JSON text; a
    string is sent exactly as given, so it may be invalid JSON. ``text`` is sent before the
    calls (None: no text). ``finish_reason`` defaults to ``tool_calls``; other ``options``
    are ``Behaviour`` fields (``usage``, ``reasoning``, ``sequence_numbers``, ...).
    """
    if not calls:
        raise ValueError("tool_calls() needs at least one call")
    scripted: list[tuple[str, str, str]] = []
    for position, call in enumerate(calls, 1):
        if len(call) == 3:
            call_id, name, arguments = call
        elif len(call) == 2:
            call_id, (name, arguments) = f"call_{position}", call
        else:
            raise ValueError(f"a tool call is (name, arguments) or (id, name, arguments): {call}")
        if not isinstance(arguments, str):
            arguments = json.dumps(dict(arguments), ensure_ascii=False)
        scripted.append((str(call_id), str(name), arguments))
    options.setdefault("finish_reason", "tool_calls")
    return Behaviour(text=text, tool_calls=tuple(scripted), **options)


def fault(kind: str, after: int = 0, **options: Any) -> Behaviour:
    """A streamed reply that breaks after ``after`` events in the way ``kind`` names."""
    if kind not in FAULTS:
        raise ValueError(f"unknown fault {kind!r}; expected one of {FAULTS}")
    return replace(Behaviour(**options), fault=kind, fault_after=after)
