"""Plain domain types shared by every layer.

Nothing here does I/O or imports Textual, httpx or SQLAlchemy: the wire (``providers``), the store
(``store``), the engine (``services``) and the UI all speak in these types.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.providers.errors import ProviderError


class ApiKind(StrEnum):
    """One of the two OpenAI wire protocols."""

    CHAT = "chat"
    """``POST /chat/completions``."""
    RESPONSES = "responses"
    """``POST /responses``."""


class ApiMode(StrEnum):
    """What a conversation asks for; ``auto`` prefers Responses where the model has it."""

    AUTO = "auto"
    CHAT = "chat"
    RESPONSES = "responses"


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class MessageStatus(StrEnum):
    STREAMING = "streaming"
    COMPLETE = "complete"
    CANCELLED = "cancelled"
    FAILED = "failed"
    INCOMPLETE = "incomplete"
    INTERRUPTED = "interrupted"


class AttachmentKind(StrEnum):
    IMAGE = "image"
    FILE = "file"


# --------------------------------------------------------------------------------------------
# Stream events: the one small closed set both adapters produce. A stream yields any number of
# the data events and ends with exactly one ``Finished`` or ``Failed``.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the visible answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of reasoning text (a summary, ``reasoning_content``, ``reasoning_text``)."""

    text: str


@dataclass(frozen=True, slots=True)
class Citation:
    """A source the answer cites (web search ``url_citation``)."""

    url: str
    title: str | None = None
    start_index: int | None = None
    end_index: int | None = None


@dataclass(frozen=True, slots=True)
class WebSearch:
    """The provider's built-in web search: started (``query`` unknown yet) or done."""

    item_id: str
    done: bool = False
    query: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A tool call as it streams in: its place in the answer, its name (once known) and a piece
    of its arguments; the whole call follows as one ``ToolCall``."""

    index: int
    name: str
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete function call the model asked for."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool call gave back (or why it did not run), for the model."""

    call_id: str
    output: str


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call: its name on the wire, what it does, and the JSON Schema
    of its arguments (an MCP tool's ``inputSchema``)."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts; ``output_tokens`` includes ``reasoning_tokens`` as the APIs report them."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    """The server named the response: its id (chainable on Responses) and the model it used."""

    response_id: str
    model: str | None = None
    chainable: bool = False
    """True only for a stored Responses id, usable as ``previous_response_id`` next turn."""


@dataclass(frozen=True, slots=True)
class Finished:
    """The stream ended normally.

    ``reason`` is ``stop``, ``length``, ``content_filter``, ``tool_calls`` or, for a Responses
    ``response.incomplete``, the incomplete reason (``max_output_tokens``, ``content_filter``).
    ``incomplete`` is true when the answer was cut short.
    """

    reason: str = "stop"
    incomplete: bool = False


@dataclass(frozen=True, slots=True)
class Failed:
    """The stream ended with an error; what arrived before it is still valid."""

    error: ProviderError


StreamEvent = (
    TextDelta
    | ReasoningDelta
    | Citation
    | WebSearch
    | ToolCallDelta
    | ToolCall
    | Usage
    | ResponseStarted
    | Finished
    | Failed
)


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attachment:
    """An image or document carried by a user message: inline bytes or a URL."""

    kind: AttachmentKind
    name: str
    mime_type: str
    data: bytes | None = None
    url: str | None = None

    def __repr__(self) -> str:  # never dump megabytes of base64 into a log
        size = len(self.data) if self.data is not None else 0
        return f"Attachment({self.kind.value}, {self.name!r}, {self.mime_type}, {size} bytes)"


@dataclass(frozen=True, slots=True)
class InputMessage:
    """One turn of history as sent to a provider.

    An assistant turn may carry the ``tool_calls`` it made; the turn that answers them carries
    their ``tool_results`` (Chat: ``role: tool`` messages; Responses: ``function_call_output``
    items), and its ``role`` and ``content`` are then not sent.
    """

    role: Role
    content: str
    attachments: tuple[Attachment, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A provider-neutral request; each adapter turns it into its own wire body.

    On Chat Completions ``instructions`` becomes the first (system) message and ``messages`` the
    rest. On Responses ``instructions`` is sent as ``instructions`` and ``messages`` as ``input``
    items; with ``previous_response_id`` set, ``messages`` holds only the new input.
    """

    model: str
    messages: tuple[InputMessage, ...]
    instructions: str | None = None
    previous_response_id: str | None = None
    reasoning_effort: str | None = None
    reasoning_summary: str | None = None
    """``auto``, ``concise`` or ``detailed``: ask Responses for a reasoning summary."""
    max_output_tokens: int | None = None
    temperature: float | None = None
    verbosity: str | None = None
    """``low``, ``medium`` or ``high``: ``text.verbosity`` on Responses, ``verbosity`` on Chat."""
    web_search: bool = False
    tools: tuple[ToolSpec, ...] = ()
    """Functions offered to the model (``tools`` on both APIs, each in its own shape)."""
    tool_choice: str | None = None
    """``auto``, ``none`` or ``required``; None: the provider's default (``auto``)."""
    parallel_tool_calls: bool | None = None
    store: bool = True
    stream: bool = True
    first_token_timeout: float | None = None
    """Seconds to wait for the first event after sending; None: the provider's limit."""
    idle_timeout: float | None = None
    """Seconds of silence allowed once the reply flows; None: the provider's limit."""


# --------------------------------------------------------------------------------------------
# Catalog
# --------------------------------------------------------------------------------------------

DEFAULT_FIRST_TOKEN_TIMEOUT = 600.0
"""Seconds from sending a request to its first event, unless a provider's settings say."""
DEFAULT_IDLE_TIMEOUT = 60.0
"""Seconds a streaming reply may send nothing once it has started, unless the settings say."""


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """Where and how to reach one OpenAI-compatible provider. Holds no key: see ``api_key``."""

    name: str
    """Short identifier: ``openai``, ``aimlapi``, ``gmi``, ``ollama``, ``demo``, or a user's own."""
    label: str
    base_url: str
    api_key_env: str | None = None
    """Environment variable the key is read from."""
    requires_key: bool = True
    max_tokens_param: str = "max_completion_tokens"
    """Chat Completions token-limit field; ``max_tokens`` for servers knowing only that name."""
    supports_responses: bool = True
    local: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    stateful_responses: bool = True
    """The server keeps responses, so ``previous_response_id`` can chain from them. Servers
    with a stateless ``/responses`` (Ollama, llama.cpp, vLLM by default) need the whole path
    resent as ``input`` every turn."""
    first_token_timeout: float = DEFAULT_FIRST_TOKEN_TIMEOUT
    """Seconds a reply may take to start (``-pro`` models think for minutes first)."""
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    """Seconds a flowing reply may go silent before the turn fails."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model one provider serves and what it supports."""

    id: str
    """The provider's own id (``openai/gpt-5-2`` at AI/ML API, ``openai/gpt-5.2`` at GMI)."""
    provider: str
    label: str = ""
    family: str | None = None
    """Canonical family name shared across providers, e.g. ``gpt-5.2``."""
    endpoints: frozenset[ApiKind] = frozenset({ApiKind.CHAT, ApiKind.RESPONSES})
    reasoning_efforts: tuple[str, ...] = ()
    image_input: bool = False
    file_input: bool = False
    web_search: bool = False
    context_window: int | None = None
    verbosity: bool = False
    """The model takes a verbosity setting (the GPT-5 family)."""
    builtin: bool = True
    """False for models only known from the provider's live ``/models`` list."""

    def supports(self, api: ApiKind) -> bool:
        return api in self.endpoints


# --------------------------------------------------------------------------------------------
# Stored conversations (what the repository returns; never ORM rows)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredAttachment:
    id: int
    message_id: int
    kind: AttachmentKind
    name: str
    mime_type: str
    size: int
    data: bytes | None = None
    url: str | None = None

    def __repr__(self) -> str:
        return f"StoredAttachment({self.id}, {self.kind.value}, {self.name!r}, {self.size} bytes)"

    def to_attachment(self) -> Attachment:
        return Attachment(self.kind, self.name, self.mime_type, self.data, self.url)


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    conversation_id: int
    parent_id: int | None
    role: Role
    content: str
    status: MessageStatus
    created_at: datetime
    reasoning: str = ""
    provider: str | None = None
    model: str | None = None
    api: ApiKind | None = None
    response_id: str | None = None
    previous_response_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    latency_ms: int | None = None
    """Time from request to the first token."""
    duration_ms: int | None = None
    """Time from request to the end of the stream."""
    error: str | None = None
    finished_at: datetime | None = None
    attachments: tuple[StoredAttachment, ...] = ()
    tool_calls: tuple[ToolCallRecord, ...] = ()
    """The tools the reply called, in order, with their results (rounds in ``round``)."""
    citations: tuple[Citation, ...] = ()
    """The sources a web search found, in the order the answer cites them."""


class ToolStatus(StrEnum):
    """Where one tool call of a reply stands."""

    WAITING = "waiting"
    """Asked for; waiting for the user's approval."""
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    """Ran (or tried to) and failed: the server's error, a time limit, bad arguments."""
    DENIED = "denied"
    """The user declined; the model was told so."""
    CANCELLED = "cancelled"
    """The user stopped the turn while the call waited or ran."""
    NOT_RUN = "not run"
    """Not run: the round limit was reached, or tools were off."""


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One tool call of a reply, stored with it: what the model asked and what came back."""

    call_id: str
    name: str
    """The name the model used (the wire name: maybe prefixed with the server's)."""
    arguments: str
    """The arguments as the model sent them: JSON text, not always valid."""
    server: str | None = None
    tool: str | None = None
    """The tool's own name on ``server``; None when the name matched no tool."""
    status: ToolStatus = ToolStatus.WAITING
    output: str = ""
    """What the model was told: the tool's result, or why there is none."""
    error: str | None = None
    duration_ms: int | None = None
    round: int = 1
    """Which round of the reply asked for it (1: the first answer to the user's message)."""
    offset: int = 0
    """Where in the reply's text the call came: ``len(content)`` when it arrived."""

    @property
    def finished(self) -> bool:
        return self.status not in (ToolStatus.WAITING, ToolStatus.RUNNING)

    def to_call(self) -> ToolCall:
        return ToolCall(self.call_id, self.name, self.arguments)

    def to_result(self) -> ToolResult:
        return ToolResult(self.call_id, self.output)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "call_id": self.call_id,
            "name": self.name,
            "arguments": self.arguments,
            "server": self.server,
            "tool": self.tool,
            "status": self.status.value,
            "output": self.output,
            "error": self.error,
            "duration_ms": self.duration_ms,
            "round": self.round,
            "offset": self.offset,
        }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolCallRecord | None:
        """A stored or imported record; None when it is not one (a damaged or foreign value)."""
        call_id, name = data.get("call_id"), data.get("name")
        if not isinstance(call_id, str) or not isinstance(name, str):
            return None

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        def number(key: str, default: int | None) -> int | None:
            value = data.get(key)
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
            return value if ok else default

        try:
            status = ToolStatus(str(data.get("status")))
        except ValueError:
            status = ToolStatus.FAILED
        return cls(
            call_id=call_id,
            name=name,
            arguments=text("arguments") or "",
            server=text("server"),
            tool=text("tool"),
            status=status,
            output=text("output") or "",
            error=text("error"),
            duration_ms=number("duration_ms", None),
            round=number("round", 1) or 1,
            offset=number("offset", 0) or 0,
        )


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    title: str
    created_at: datetime
    updated_at: datetime
    provider: str | None = None
    model: str | None = None
    api_mode: ApiMode = ApiMode.AUTO
    system_prompt: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    """Per-conversation parameters: reasoning_effort, temperature, max_output_tokens, ..."""
    active_leaf_id: int | None = None
    pinned: bool = False
    archived: bool = False
    message_count: int = 0
    preview: str = ""
    """The start of the latest message, kept on the row so the list never loads bodies."""


CHAT_PARAMS = ("reasoning_effort", "verbosity", "temperature", "max_output_tokens")
"""The per-conversation settings kept in ``Conversation.params``."""


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """What a conversation's next turn uses; ``None`` leaves a value to the provider.

    Stored on the conversation (provider, model, API mode and system prompt in columns, the rest
    in ``params``) and exported with it, so a new default never changes an existing thread.
    """

    provider: str | None = None
    model: str | None = None
    api_mode: ApiMode = ApiMode.AUTO
    reasoning_effort: str | None = None
    verbosity: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    system_prompt: str | None = None
    tools: bool = True
    """Offer the MCP servers' tools in this conversation."""
    tools_off: tuple[str, ...] = ()
    """Servers whose tools this conversation does not offer."""

    def params(self) -> dict[str, Any]:
        """The ``params`` part, every key present (``None`` included, so it is pinned)."""
        values = {name: getattr(self, name) for name in CHAT_PARAMS}
        values["tools"] = self.tools
        values["tools_off"] = list(self.tools_off)
        return values


@dataclass(frozen=True, slots=True)
class SearchHit:
    conversation: Conversation
    snippet: str
    """Matching text with the match wrapped in ``[`` ``]`` markers (see the repository)."""
    message_id: int | None = None


def tool_records(value: Any) -> tuple[ToolCallRecord, ...]:
    """Stored (or imported) tool calls; anything that is not one is left out."""
    if not isinstance(value, list):
        return ()
    records = (ToolCallRecord.from_dict(item) for item in value if isinstance(item, dict))
    return tuple(record for record in records if record is not None)


def citations_from_json(value: Any) -> tuple[Citation, ...]:
    if not isinstance(value, list):
        return ()
    found: list[Citation] = []
    for item in value:
        if isinstance(item, dict) and isinstance(item.get("url"), str):
            title = item.get("title")
            found.append(Citation(item["url"], title if isinstance(title, str) else None))
    return tuple(found)
