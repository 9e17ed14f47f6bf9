"""Rows to domain objects and back; the repository never hands out ORM rows."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Row, Table

from tui.domain import (
    ApiKind,
    ApiMode,
    AttachmentKind,
    Citation,
    Conversation,
    Message,
    MessageStatus,
    ModelInfo,
    Role,
    StoredAttachment,
    ToolCallRecord,
    citations_from_json,
    tool_records,
)
from tui.store.errors import StoreError
from tui.store.tables import (
    AttachmentRow,
    ConversationRow,
    MessageRow,
    ModelsCacheRow,
    ModelUsageRow,
    ProviderFactsRow,
)

CONVERSATIONS = cast(Table, ConversationRow.__table__)
MESSAGES = cast(Table, MessageRow.__table__)
ATTACHMENTS = cast(Table, AttachmentRow.__table__)
MODELS_CACHE = cast(Table, ModelsCacheRow.__table__)
PROVIDER_FACTS = cast(Table, ProviderFactsRow.__table__)
MODEL_USAGE = cast(Table, ModelUsageRow.__table__)

PREVIEW_CHARS = 160
"""Length of the preview kept on a conversation row."""

# Keys whose values are credentials; they must never be written to the database.
_SECRET_KEY = re.compile(
    r"(api[_-]?key|secret|password|authorization|bearer|access[_-]?token)", re.I
)
# Things that look like API keys inside free text (error messages from a provider).
_SECRET_TEXT = re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_\-]{12,}|(?i:bearer)\s+[A-Za-z0-9._\-]{8,}")


# Plain dict lookups: calling the enum classes costs more than the rest of a row's conversion.
_ROLES = {member.value: member for member in Role}
_STATUSES = {member.value: member for member in MessageStatus}
_APIS = {member.value: member for member in ApiKind}
_MODES = {member.value: member for member in ApiMode}


def _role(value: str, message_id: int) -> Role:
    role = _ROLES.get(value)
    if role is None:
        raise StoreError(
            f"message {message_id} has an unknown role {value!r}; was it edited by hand?"
        )
    return role


def now_utc() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def preview_of(text: str) -> str:
    """One line of at most ``PREVIEW_CHARS`` characters from the start of a message."""
    collapsed = " ".join(text[: PREVIEW_CHARS * 4].split())
    if len(collapsed) <= PREVIEW_CHARS:
        return collapsed
    return collapsed[: PREVIEW_CHARS - 1].rstrip() + "…"


def clean_title(title: str) -> str:
    """A title on one line; empty titles are refused."""
    cleaned = " ".join(title.split())
    if not cleaned:
        raise ValueError("a conversation title cannot be empty")
    return cleaned


def clean_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Per-conversation parameters as plain JSON, refusing anything that looks like a key."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ValueError("params must be a mapping of names to JSON values")
    for key in params:
        if not isinstance(key, str):
            raise ValueError("params keys must be strings")
        if _SECRET_KEY.search(key):
            raise ValueError(
                f"params may not hold credentials (key {key!r}); keys stay in settings"
            )
    try:
        return cast(dict[str, Any], json.loads(json.dumps(dict(params), allow_nan=False)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"params must be JSON values: {exc}") from None


def redact(text: str | None) -> str | None:
    """Blank out anything shaped like an API key before it is stored."""
    if text is None:
        return None
    return _SECRET_TEXT.sub("[redacted]", text)


def conversation_from_row(row: Row[Any]) -> Conversation:
    """A ``conversations`` row as a ``Conversation``."""
    params = row.params if isinstance(row.params, dict) else {}
    return Conversation(
        id=row.id,
        title=row.title,
        created_at=row.created_at,
        updated_at=row.updated_at,
        provider=row.provider,
        model=row.model,
        api_mode=_MODES.get(row.api_mode, ApiMode.AUTO),
        system_prompt=row.system_prompt,
        params=params,
        active_leaf_id=row.active_leaf_id,
        pinned=bool(row.pinned),
        archived=bool(row.archived),
        message_count=row.message_count,
        preview=row.preview,
    )


def attachment_from_row(row: Row[Any]) -> StoredAttachment:
    """An ``attachments`` row as a ``StoredAttachment``."""
    return StoredAttachment(
        id=row.id,
        message_id=row.message_id,
        kind=AttachmentKind(row.kind),
        name=row.name,
        mime_type=row.mime_type,
        size=row.size,
        data=row.data,
        url=row.url,
    )


MESSAGE_COLUMNS = (
    "id", "conversation_id", "parent_id", "role", "content", "reasoning", "status", "writer",
    "provider", "model", "api", "response_id", "previous_response_id", "input_tokens",
    "output_tokens", "reasoning_tokens", "cached_tokens", "latency_ms", "duration_ms", "error",
    "created_at", "finished_at", "tool_calls", "citations", "tool_text",
)  # fmt: skip
"""The order of ``messages`` columns that ``message_from_row`` unpacks (a test checks it)."""


def message_from_row(row: Row[Any], attachments: Sequence[StoredAttachment] = ()) -> Message:
    """A full ``messages`` row (all columns, table order) and its attachments as a ``Message``."""
    # Unpacking by position: a long thread converts thousands of rows on open.
    (
        ident, conversation_id, parent_id, role, content, reasoning, status, _writer, provider,
        model, api, response_id, previous_response_id, input_tokens, output_tokens,
        reasoning_tokens, cached_tokens, latency_ms, duration_ms, error, created_at, finished_at,
        tool_calls, citations, _tool_text,
    ) = cast("tuple[Any, ...]", row)  # fmt: skip
    return Message(
        id=ident,
        conversation_id=conversation_id,
        parent_id=parent_id,
        role=_role(role, ident),
        content=content,
        # A status this version does not know can only mean the reply did not end normally.
        status=_STATUSES.get(status, MessageStatus.INTERRUPTED),
        created_at=created_at,
        reasoning=reasoning,
        provider=provider,
        model=model,
        api=_APIS.get(api) if api else None,
        response_id=response_id,
        previous_response_id=previous_response_id,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        reasoning_tokens=reasoning_tokens,
        cached_tokens=cached_tokens,
        latency_ms=latency_ms,
        duration_ms=duration_ms,
        error=error,
        finished_at=finished_at,
        attachments=tuple(attachments),
        tool_calls=tool_records(tool_calls) if tool_calls else (),
        citations=citations_from_json(citations) if citations else (),
    )


def tool_calls_to_json(records: Sequence[ToolCallRecord]) -> list[dict[str, Any]] | None:
    return [record.to_dict() for record in records] or None


TOOL_TEXT_LIMIT = 2_000
"""Characters of each tool result that search indexes (its start)."""


def tool_text(records: Sequence[ToolCallRecord]) -> str:
    """The searchable words of a reply's tool calls, indexed after its ``content``."""
    parts = [
        f"{record.tool or record.name} {record.arguments} {record.output[:TOOL_TEXT_LIMIT]}"
        for record in records
    ]
    return "".join(f"\n{part}" for part in parts)


def citations_to_json(citations: Sequence[Citation]) -> list[dict[str, Any]] | None:
    return [{"url": c.url, "title": c.title} for c in citations] or None


def model_to_json(model: ModelInfo) -> dict[str, Any]:
    """A ``ModelInfo`` as a JSON object for the model cache."""
    return {
        "id": model.id,
        "provider": model.provider,
        "label": model.label,
        "family": model.family,
        "endpoints": sorted(api.value for api in model.endpoints),
        "reasoning_efforts": list(model.reasoning_efforts),
        "image_input": model.image_input,
        "file_input": model.file_input,
        "web_search": model.web_search,
        "context_window": model.context_window,
        "verbosity": model.verbosity,
        "builtin": model.builtin,
    }


def model_from_json(data: Mapping[str, Any]) -> ModelInfo:
    """A cached JSON object back as a ``ModelInfo``; raises ``ValueError``/``KeyError`` if bad."""
    endpoints = frozenset(ApiKind(value) for value in data["endpoints"])
    context_window = data.get("context_window")
    return ModelInfo(
        id=str(data["id"]),
        provider=str(data["provider"]),
        label=str(data.get("label") or ""),
        family=data.get("family"),
        endpoints=endpoints,
        reasoning_efforts=tuple(str(level) for level in data.get("reasoning_efforts", ())),
        image_input=bool(data.get("image_input", False)),
        file_input=bool(data.get("file_input", False)),
        web_search=bool(data.get("web_search", False)),
        context_window=int(context_window) if context_window is not None else None,
        verbosity=bool(data.get("verbosity", False)),
        builtin=bool(data.get("builtin", False)),
    )
