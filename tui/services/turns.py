"""What a turn is asked to do, and what it reports while it runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.domain import (
    ApiKind,
    ApiMode,
    Citation,
    Message,
    ModelInfo,
    ProviderConfig,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallRecord,
    Usage,
    WebSearch,
)

if TYPE_CHECKING:
    from tui.providers.base import Provider
    from tui.providers.errors import ProviderError


@dataclass(frozen=True, slots=True)
class TurnOptions:
    """Per-turn overrides; ``None`` means: the conversation's value, else the settings default."""

    provider: str | None = None
    model: str | None = None
    api_mode: ApiMode | None = None
    system_prompt: str | None = None
    reasoning_effort: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    web_search: bool = False
    stream: bool = True
    first_token_timeout: float | None = None
    """Seconds the reply may take to start; None: the provider's ``first_token_timeout``."""
    idle_timeout: float | None = None
    """Seconds a started reply may go silent; None: the provider's ``idle_timeout``."""
    tools: bool = True
    """Offer the configured tools (unless the conversation turned them off); False: none."""
    approve: Any = None
    """Asks the user about each tool call (``tools.Approver``); None: calls are denied, unless
    the tool is always allowed."""
    request_sent: Any = None
    """Awaited (no arguments) each time a request of the turn has been written whole
    (``providers.base.RequestSent``): the screen draws the turn while the model thinks, not
    before the request is out."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where a turn goes: the provider, the model and the API chosen for it."""

    provider: Provider
    config: ProviderConfig
    model: ModelInfo
    api: ApiKind
    api_mode: ApiMode = ApiMode.AUTO
    """What was asked for: under ``auto`` a server without ``/responses`` is answered over Chat."""


@dataclass(frozen=True, slots=True)
class NextTurn:
    """What the next turn of a conversation (or a new chat) will use, for the status line."""

    provider: str
    provider_label: str
    model: ModelInfo
    api: ApiKind
    reasoning_effort: str | None = None
    verbosity: str | None = None


@dataclass(frozen=True, slots=True)
class UserMessageSaved:
    """The user's message is committed; nothing typed can be lost from here on."""

    message: Message


@dataclass(frozen=True, slots=True)
class RouteChosen:
    """The turn is about to be sent to this provider, model and API."""

    provider: str
    model: str
    api: ApiKind


@dataclass(frozen=True, slots=True)
class ReplyStarted:
    """The assistant message row exists (status ``streaming``)."""

    message: Message


@dataclass(frozen=True, slots=True)
class ReplyTextEnded:
    """All the reply's text has arrived; its final record (``ReplyFinished``) follows.

    A screen can draw the finished text while the record is written.
    """

    message_id: int


@dataclass(frozen=True, slots=True)
class ReplyFinished:
    """The reply ended: ``message.status`` says how (complete, incomplete, cancelled, failed)."""

    message: Message
    error: ProviderError | None = None


@dataclass(frozen=True, slots=True)
class ToolCallsAsked:
    """The model asked for tool calls (one round); each record says where it stands."""

    message_id: int
    calls: tuple[ToolCallRecord, ...]


@dataclass(frozen=True, slots=True)
class ToolCallChanged:
    """One tool call moved on: approved and running, done, failed, denied or cancelled."""

    message_id: int
    call: ToolCallRecord


@dataclass(frozen=True, slots=True)
class ToolNotice:
    """Something about the reply's tools the user should read (one line): the round limit."""

    text: str


@dataclass(frozen=True, slots=True)
class TitleChanged:
    conversation_id: int
    title: str


TurnEvent = (
    UserMessageSaved
    | RouteChosen
    | ReplyStarted
    | TextDelta
    | ReasoningDelta
    | Citation
    | WebSearch
    | ToolCallDelta
    | Usage
    | ToolCallsAsked
    | ToolCallChanged
    | ToolNotice
    | ReplyTextEnded
    | ReplyFinished
    | TitleChanged
)
