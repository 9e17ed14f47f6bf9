"""``tui-chat import FILE``: read a file of conversations, check all of it, store all of it at once.

Formats, told apart by their content:

- a tui-chat export of one conversation (``export ID --format json``);
- a tui-chat export of many (``export --all --format json``): ``{"format": "tui-chat",
  "version": 1, "exported_at": ..., "conversations": [...]}``, each entry the single export's
  ``{"conversation": {...}, "messages": [...]}`` (the outer keys may be repeated in an entry);
- ChatGPT's data export ``conversations.json``: a JSON array of conversations with a ``mapping``
  of nodes. It is read item by item with ``ijson``, so memory follows the text, not the JSON tree.
  Branches stay branches; nodes without a message, system messages that are empty and tool
  messages (tool output ChatGPT keeps out of the visible thread) are left out, their children
  hung on the nearest kept ancestor. Times and the model (``metadata.model_slug``) are kept.

One transaction stores it all (``tui.store.bulk``): rounds of conversations are converted while
the previous round is written, and an entry that cannot be converted rolls every round back.
A problem is an ``ImportFormatError`` naming the entry, e.g. ``conversation
17 ('Trip plan'): node abc has no author role`` (entries are counted from 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tui.domain import (
    ApiKind,
    ApiMode,
    MessageStatus,
    Role,
    citations_from_json,
    tool_records,
)
from tui.services.export import FORMAT, VERSION, ImportFormatError, attachment_from_json
from tui.store.bulk import (
    BATCH,
    BulkWriter,
    PreparedConversation,
    PreparedMessage,
    Rows,
    check,
)
from tui.store.convert import now_utc

Progress = Callable[[int, float], None]
"""``progress(stored, read)``: conversations stored so far, and the part of the file read (0-1)."""

_ROLES = {"user": Role.USER, "assistant": Role.ASSISTANT, "system": Role.SYSTEM}


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import stored."""

    conversation_ids: list[int]
    titles: list[str]
    messages: int
    kind: str
    """``tui-chat``, ``tui-chat-all`` or ``chatgpt``."""


def read_conversations(stream: IO[bytes]) -> tuple[str, Iterator[PreparedConversation]]:
    """The kind of a file and its conversations, converted one by one as they are read.

    Raises ``ImportFormatError`` here for a file of no known kind, and from the iterator for an
    entry that cannot be converted.
    """
    first = _first_char(stream)
    if first == b"[":
        return "chatgpt", _chatgpt_items(stream)
    try:
        data = json.load(stream)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"The file is not JSON ({exc}).") from exc
    if isinstance(data, list):  # pragma: no cover - the '[' test above catches arrays
        return "chatgpt", (chatgpt_conversation(item, n) for n, item in enumerate(data, 1))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ImportFormatError('The file is not a tui-chat export (no "format": "tui-chat").')
    if data.get("version") != VERSION:
        raise ImportFormatError(
            f"The export is version {data.get('version')!r}; this tui-chat reads version {VERSION}."
        )
    if "conversations" in data:
        entries = data["conversations"]
        if not isinstance(entries, list):
            raise ImportFormatError('"conversations" is not a list.')
        return "tui-chat-all", (tui_conversation(entry, n) for n, entry in enumerate(entries, 1))
    return "tui-chat", iter([tui_conversation(data, None)])


def _first_char(stream: IO[bytes]) -> bytes:
    while True:
        char = stream.read(1)
        if not char or not char.isspace():
            break
    if char == b"\xef":  # a UTF-8 byte order mark
        stream.read(2)
        return _first_char(stream)
    stream.seek(stream.tell() - len(char))
    return char


def _chatgpt_items(stream: IO[bytes]) -> Iterator[PreparedConversation]:
    import ijson  # type: ignore[import-untyped,unused-ignore]

    number = 0
    try:
        for number, item in enumerate(ijson.items(stream, "item", use_float=True), 1):
            yield chatgpt_conversation(item, number)
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise ImportFormatError(
            f"The file is not JSON (after conversation {number}: {_first_line(exc)})."
        ) from None


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip()


# ------------------------------------------------------------------------------------ ChatGPT


def _time(value: Any, fallback: datetime) -> datetime:
    if value is None:
        return fallback
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"the time {value!r} is not a number of seconds")
    return datetime.fromtimestamp(float(value), UTC)


def _text(content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    parts = content.get("parts")
    if isinstance(parts, list):
        return "\n".join(part for part in parts if isinstance(part, str))
    text = content.get("text")
    return text if isinstance(text, str) else ""


def chatgpt_conversation(item: Any, number: int) -> PreparedConversation:
    """One entry of ChatGPT's ``conversations.json``."""
    title = item.get("title") if isinstance(item, dict) else None
    label = f"conversation {number}" + (f" ({title!r})" if isinstance(title, str) else "")
    try:
        return _chatgpt(item)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ImportFormatError(f"{label}: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"{exc.args[0]!r} is missing"
    return str(exc)


def _chatgpt(item: Any) -> PreparedConversation:
    if not isinstance(item, dict):
        raise ValueError("is not a JSON object")
    mapping = item.get("mapping")
    if not isinstance(mapping, dict):
        raise ValueError("has no mapping of messages")
    now = now_utc()
    created = _time(item.get("create_time"), now)
    updated = _time(item.get("update_time"), created)
    title = item.get("title")
    title = title if isinstance(title, str) and title.split() else "Imported chat"

    roots: list[str] = []
    for node_id, node in mapping.items():
        if not isinstance(node, dict):
            raise ValueError(f"node {node_id} is not a JSON object")
        parent = node.get("parent")
        if parent is None or parent not in mapping:
            roots.append(node_id)
    messages: list[PreparedMessage] = []
    kept: dict[str, int | None] = {}  # node id -> index of itself or its nearest kept ancestor
    model: str | None = None
    stack: list[tuple[str, int | None]] = [(root, None) for root in reversed(roots)]
    seen: set[str] = set()
    while stack:
        node_id, above = stack.pop()
        if node_id in seen:
            raise ValueError(f"node {node_id} is reached twice (a loop in the mapping)")
        seen.add(node_id)
        node = mapping[node_id]
        if not isinstance(node, dict):
            raise ValueError(f"node {node_id} is not a JSON object")
        index = above
        message = node.get("message")
        if message is not None:
            prepared = _chatgpt_message(node_id, message, above, created)
            if prepared is not None:
                index = len(messages)
                messages.append(prepared)
                if prepared.role is Role.ASSISTANT and prepared.model:
                    model = prepared.model
        kept[node_id] = index
        children = node.get("children") or []
        if not isinstance(children, list):
            raise ValueError(f"node {node_id} has children that are not a list")
        for child in reversed(children):
            if child not in mapping:
                raise ValueError(f"node {node_id} has a child {child} that is not in the mapping")
            stack.append((child, index))
    current = item.get("current_node")
    leaf = kept.get(current) if isinstance(current, str) else None
    if leaf is None and messages:  # no current node: the end of the first branch
        leaf = _first_branch_leaf(messages)
    index = leaf
    while index is not None:  # the model that answered last on the shown branch
        if messages[index].role is Role.ASSISTANT and messages[index].model:
            model = messages[index].model
            break
        index = messages[index].parent
    return PreparedConversation(
        title=title,
        created_at=created,
        updated_at=updated,
        messages=messages,
        active_leaf=leaf,
        provider="openai" if model else None,
        model=model,
    )


def _first_branch_leaf(messages: list[PreparedMessage]) -> int:
    first_child: dict[int | None, int] = {}
    for index, message in enumerate(messages):
        first_child.setdefault(message.parent, index)
    leaf = first_child[None]
    while leaf in first_child:
        leaf = first_child[leaf]
    return leaf


def _chatgpt_message(
    node_id: str, message: Any, parent: int | None, fallback: datetime
) -> PreparedMessage | None:
    if not isinstance(message, dict):
        raise ValueError(f"node {node_id} has a message that is not a JSON object")
    author = message.get("author")
    role_name = author.get("role") if isinstance(author, dict) else None
    if not isinstance(role_name, str) or not role_name:
        raise ValueError(f"node {node_id} has no author role")
    content = _text(message.get("content"))
    if role_name == "tool":
        return None
    role = _ROLES.get(role_name)
    if role is None:
        raise ValueError(f"node {node_id} has an unknown author role {role_name!r}")
    if role is Role.SYSTEM and not content.strip():
        return None
    metadata = message.get("metadata")
    slug = metadata.get("model_slug") if isinstance(metadata, dict) else None
    created = _time(message.get("create_time"), fallback)
    return PreparedMessage(
        role=role,
        content=content,
        created_at=created,
        parent=parent,
        provider="openai" if role is Role.ASSISTANT and slug else None,
        model=slug if role is Role.ASSISTANT and isinstance(slug, str) else None,
        finished_at=created,
    )


# ----------------------------------------------------------------------------------- tui-chat


def tui_conversation(data: Any, number: int | None) -> PreparedConversation:
    """One tui-chat export (``{"conversation": ..., "messages": ...}``)."""
    label = "the conversation" if number is None else f"conversation {number}"
    try:
        meta = data["conversation"]
        title = meta.get("title")
        if isinstance(title, str) and number is not None:
            label += f" ({title!r})"
        return _tui(meta, data["messages"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ImportFormatError(f"{label}: {_reason(exc)}") from None


def _iso(value: Any, fallback: datetime) -> datetime:
    if value is None:
        return fallback
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _tui(meta: dict[str, Any], raw_messages: list[dict[str, Any]]) -> PreparedConversation:
    now = now_utc()
    created = _iso(meta.get("created_at"), now)
    by_id: dict[int, dict[str, Any]] = {}
    for raw in raw_messages:
        by_id[int(raw["id"])] = raw
    children: dict[int | None, list[int]] = {}
    for message_id, raw in by_id.items():
        parent = raw.get("parent_id")
        if parent is not None and int(parent) not in by_id:
            raise ValueError(f"message {message_id} points at a missing parent {parent}")
        children.setdefault(None if parent is None else int(parent), []).append(message_id)
    index_of: dict[int, int] = {}
    messages: list[PreparedMessage] = []
    queue = sorted(children.get(None, []))
    position = 0
    while position < len(queue):
        message_id = queue[position]
        position += 1
        raw = by_id[message_id]
        parent = raw.get("parent_id")
        status = MessageStatus(raw.get("status") or "complete")
        if status is MessageStatus.STREAMING:
            status = MessageStatus.INTERRUPTED
        usage = raw.get("usage") or {}
        finished = raw.get("finished_at")
        index_of[message_id] = len(messages)
        messages.append(
            PreparedMessage(
                role=Role(raw["role"]),
                content=str(raw.get("content") or ""),
                created_at=_iso(raw.get("created_at"), created),
                parent=index_of[int(parent)] if parent is not None else None,
                reasoning=str(raw.get("reasoning") or ""),
                status=status,
                provider=raw.get("provider"),
                model=raw.get("model"),
                api=ApiKind(raw["api"]).value if raw.get("api") else None,
                response_id=raw.get("response_id"),
                previous_response_id=raw.get("previous_response_id"),
                input_tokens=usage.get("input_tokens"),
                output_tokens=usage.get("output_tokens"),
                reasoning_tokens=usage.get("reasoning_tokens"),
                cached_tokens=usage.get("cached_tokens"),
                latency_ms=raw.get("latency_ms"),
                duration_ms=raw.get("duration_ms"),
                error=raw.get("error"),
                finished_at=_iso(finished, now) if finished else None,
                attachments=tuple(
                    attachment_from_json(item) for item in raw.get("attachments") or []
                ),
                tool_calls=tool_records(raw.get("tool_calls")),
                citations=citations_from_json(raw.get("citations")),
            )
        )
        queue.extend(sorted(children.get(message_id, [])))
    if len(messages) != len(by_id):
        raise ValueError("some messages are their own ancestors")
    leaf_id = meta.get("active_leaf_id")
    leaf = index_of.get(int(leaf_id)) if leaf_id is not None else None
    if leaf is None and messages:
        leaf = len(messages) - 1
    return PreparedConversation(
        title=str(meta.get("title") or "Imported chat"),
        created_at=created,
        updated_at=_iso(meta.get("updated_at"), created),
        messages=messages,
        active_leaf=leaf,
        provider=meta.get("provider"),
        model=meta.get("model"),
        api_mode=ApiMode(meta.get("api_mode") or "auto"),
        system_prompt=meta.get("system_prompt"),
        params=dict(meta.get("params") or {}),
        pinned=bool(meta.get("pinned")),
        archived=bool(meta.get("archived")),
    )


# ---------------------------------------------------------------------------------- the import


async def import_file(
    sessions: async_sessionmaker[AsyncSession],
    path: Path | IO[bytes],
    *,
    progress: Progress | None = None,
    location: str = "the database",
) -> ImportResult:
    """Read, convert and store a file in one transaction; raises ``ImportFormatError``.

    Reading and converting a round of ``BATCH`` conversations runs in a worker thread while the
    previous round is written, so the event loop only waits for the database.
    """
    if isinstance(path, Path):
        with path.open("rb") as stream:
            return await _import_stream(sessions, stream, progress, location)
    return await _import_stream(sessions, path, progress, location)


async def _import_stream(
    sessions: async_sessionmaker[AsyncSession],
    stream: IO[bytes],
    progress: Progress | None,
    location: str,
) -> ImportResult:
    try:
        size = os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, io.UnsupportedOperation):
        size = len(stream.getbuffer()) if isinstance(stream, io.BytesIO) else 0
    kind, conversations = await asyncio.to_thread(read_conversations, stream)
    titles: list[str] = []
    numbered = enumerate(conversations, 1)

    def next_round(writer: BulkWriter) -> tuple[Rows, float] | None:
        """The next round's rows and how much of the file has been read (in a thread)."""
        batch: list[PreparedConversation] = []
        for number, conversation in numbered:
            try:
                check(conversation)
            except ValueError as exc:
                raise ImportFormatError(
                    f"conversation {number} ({conversation.title!r}): {exc}"
                ) from None
            batch.append(conversation)
            titles.append(conversation.title)
            if len(batch) >= BATCH:
                break
        if not batch:
            return None
        read = min(1.0, stream.tell() / size) if size else 0.0
        return writer.rows(batch), read

    if progress is not None:
        progress(0, 0.0)
    async with BulkWriter(sessions, location=location) as writer:
        pending = asyncio.ensure_future(asyncio.to_thread(next_round, writer))
        try:
            while (ready := await pending) is not None:
                rows, read = ready
                pending = asyncio.ensure_future(asyncio.to_thread(next_round, writer))
                await writer.write(rows)
                if progress is not None:
                    progress(len(writer.conversation_ids), read)
        finally:
            if not pending.done():  # a write failed: let the reader finish its round
                with contextlib.suppress(Exception):
                    await pending
    if progress is not None:
        progress(len(writer.conversation_ids), 1.0)
    return ImportResult(
        conversation_ids=writer.conversation_ids,
        titles=titles,
        messages=writer.messages,
        kind=kind,
    )
