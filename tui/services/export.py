"""Export a conversation to Markdown or JSON, and import that JSON back.

The JSON format (``"format": "tui-chat"``, ``"version": 1``) carries the whole message tree with
parent links, statuses, Responses ids, usage and attachments (inline data as base64), so a thread
can be moved between machines and branched on. It never carries an API key: none is ever stored.

``export --all`` writes every conversation as one document: ``{"format": "tui-chat", "version": 1,
"exported_at": ..., "conversations": [...]}``, each entry what ``document()`` returns for one
conversation without its outer ``format``, ``version`` and ``exported_at`` keys, i.e.
``{"conversation": {...}, "messages": [...]}``. ``tui.services.imports`` reads both.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tui.domain import (
    ApiKind,
    ApiMode,
    Attachment,
    AttachmentKind,
    Conversation,
    Message,
    MessageStatus,
    Role,
    Usage,
    citations_from_json,
    tool_records,
)
from tui.store.repository import ConversationRepository

FORMAT = "tui-chat"
VERSION = 1


class ImportFormatError(ValueError):
    """The file is not a tui-chat export this version can read."""


async def export_markdown(
    repository: ConversationRepository, conversation_id: int, *, whole_tree: bool = False
) -> str:
    """The active path (or every message, in tree order) as a Markdown document."""
    conversation = await _get(repository, conversation_id)
    if whole_tree:
        messages = await repository.all_messages(conversation_id)
    else:
        messages = await repository.active_path(conversation_id)
    return render_markdown(conversation, messages, whole_tree=whole_tree)


def render_markdown(
    conversation: Conversation, messages: Sequence[Message], *, whole_tree: bool = False
) -> str:
    lines = [f"# {conversation.title}", ""]
    meta = [f"Created {conversation.created_at:%Y-%m-%d %H:%M} UTC"]
    if conversation.model:
        meta.append(f"model {conversation.model} ({conversation.provider})")
    lines += ["_" + ", ".join(meta) + "_", ""]
    if conversation.system_prompt:
        lines += ["> **System:** " + conversation.system_prompt.replace("\n", "\n> "), ""]
    depth = _depths(messages) if whole_tree else {}
    for message in messages:
        heading = "## You" if message.role is Role.USER else "## Assistant"
        if message.role is Role.ASSISTANT and message.model:
            heading += f" · {message.model}"
        if whole_tree:
            heading += f" · #{message.id}"
            if message.parent_id is not None:
                heading += f" (reply to #{message.parent_id}, depth {depth[message.id]})"
        lines += [heading, ""]
        for attachment in message.attachments:
            lines.append(f"- attached: {attachment.name} ({attachment.mime_type})")
        if message.attachments:
            lines.append("")
        if message.reasoning:
            lines += [
                "<details><summary>Reasoning</summary>",
                "",
                message.reasoning.strip(),
                "",
                "</details>",
                "",
            ]
        if message.tool_calls:
            lines += markdown_with_tools(message)
        else:
            lines += [message.content.rstrip() or "_(empty)_", ""]
        if message.citations:
            lines += ["Sources:", ""]
            lines += [
                f"{number}. {_source_line(c.url, c.title)}"
                for number, c in enumerate(message.citations, 1)
            ]
            lines.append("")
        if message.status not in (MessageStatus.COMPLETE, MessageStatus.STREAMING):
            note = f"_({message.status.value}"
            note += f": {message.error})_" if message.error else ")_"
            lines += [note, ""]
    return "\n".join(lines).rstrip() + "\n"


def markdown_with_tools(message: Message) -> list[str]:
    """A reply's text with each round of tool calls where it came, as folded details."""
    lines: list[str] = []
    text, start = message.content, 0
    for record in message.tool_calls:
        end = max(start, min(record.offset, len(text)))
        if text[start:end].strip():
            lines += [text[start:end].strip(), ""]
        start = end
        where = f" ({record.server})" if record.server else ""
        took = f", {record.duration_ms} ms" if record.duration_ms is not None else ""
        lines += [
            f"<details><summary>Tool: {html.escape(record.name)}{html.escape(where)}"
            f" · {record.status.value}{took}</summary>",
            "",
            "Arguments:",
            "",
            _fenced(record.arguments or "{}", "json"),
            "",
            "Result:" if not record.error else f"Error: {html.escape(record.error)}",
            "",
            _fenced(record.output, "text"),
            "",
            "</details>",
            "",
        ]
    if text[start:].strip():
        lines += [text[start:].strip(), ""]
    return lines


def _source_line(url: str, title: str | None) -> str:
    """A cited source as a Markdown link, for web addresses only (anything else is text)."""
    label = re.sub(r"([\[\]\\<>*_`])", r"\\\1", title or url)
    if url.lower().startswith(("http://", "https://")) and not re.search(r"[\s<>]", url):
        return f"[{label}](<{url}>)"
    return f"{label} ({html.escape(url)})"


def _fenced(text: str, language: str) -> str:
    """``text`` in a code fence longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"


async def export_json(repository: ConversationRepository, conversation_id: int) -> str:
    """The whole tree as tui-chat JSON."""
    conversation = await _get(repository, conversation_id)
    messages = await repository.all_messages(conversation_id)
    return json.dumps(document(conversation, messages), ensure_ascii=False, indent=2)


def document(conversation: Conversation, messages: Sequence[Message]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(UTC).isoformat(),
        "conversation": {
            "id": conversation.id,
            "title": conversation.title,
            "provider": conversation.provider,
            "model": conversation.model,
            "api_mode": conversation.api_mode.value,
            "system_prompt": conversation.system_prompt,
            "params": conversation.params,
            "active_leaf_id": conversation.active_leaf_id,
            "pinned": conversation.pinned,
            "archived": conversation.archived,
            "created_at": conversation.created_at.isoformat(),
            "updated_at": conversation.updated_at.isoformat(),
        },
        "messages": [_message_dict(message) for message in messages],
    }


async def export_all(
    repository: ConversationRepository, fmt: str, *, whole_tree: bool = False
) -> tuple[str, int]:
    """Every conversation, archived ones too, oldest first: the text and how many there were.

    ``fmt`` is ``json`` (one multi-conversation document) or ``md`` (the Markdown of each, one
    after another, separated by rules).
    """
    every = [
        conversation
        for archived in (False, True)
        for conversation in await repository.list_conversations(limit=2**62, archived=archived)
    ]
    every.sort(key=lambda conversation: conversation.id)
    if fmt == "json":
        entries = []
        for conversation in every:
            messages = await repository.all_messages(conversation.id)
            entry = document(conversation, messages)
            for key in ("format", "version", "exported_at"):
                del entry[key]
            entries.append(entry)
        whole = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": datetime.now(UTC).isoformat(),
            "conversations": entries,
        }
        return json.dumps(whole, ensure_ascii=False, indent=2) + "\n", len(every)
    parts = []
    for conversation in every:
        if whole_tree:
            messages = await repository.all_messages(conversation.id)
        else:
            messages = await repository.active_path(conversation.id)
        parts.append(render_markdown(conversation, messages, whole_tree=whole_tree))
    return "\n---\n\n".join(parts), len(every)


def _message_dict(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "parent_id": message.parent_id,
        "role": message.role.value,
        "content": message.content,
        "reasoning": message.reasoning,
        "status": message.status.value,
        "provider": message.provider,
        "model": message.model,
        "api": message.api.value if message.api else None,
        "response_id": message.response_id,
        "previous_response_id": message.previous_response_id,
        "usage": {
            "input_tokens": message.input_tokens,
            "output_tokens": message.output_tokens,
            "reasoning_tokens": message.reasoning_tokens,
            "cached_tokens": message.cached_tokens,
        },
        "latency_ms": message.latency_ms,
        "duration_ms": message.duration_ms,
        "error": message.error,
        "created_at": message.created_at.isoformat(),
        "finished_at": message.finished_at.isoformat() if message.finished_at else None,
        "attachments": [
            {
                "kind": stored.kind.value,
                "name": stored.name,
                "mime_type": stored.mime_type,
                "url": stored.url,
                "data_base64": base64.b64encode(stored.data).decode("ascii")
                if stored.data is not None
                else None,
            }
            for stored in message.attachments
        ],
        **(
            {"tool_calls": [record.to_dict() for record in message.tool_calls]}
            if message.tool_calls
            else {}
        ),
        **(
            {"citations": [{"url": c.url, "title": c.title} for c in message.citations]}
            if message.citations
            else {}
        ),
    }


async def import_json(repository: ConversationRepository, text: str) -> Conversation:
    """Recreate an exported conversation (new ids, same tree); returns the new conversation."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"The file is not JSON ({exc.msg} at line {exc.lineno}).") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ImportFormatError('The file is not a tui-chat export (no "format": "tui-chat").')
    if data.get("version") != VERSION:
        raise ImportFormatError(
            f"The export is version {data.get('version')!r}; this tui-chat reads version {VERSION}."
        )
    try:
        meta = data["conversation"]
        raw_messages = list(data["messages"])
        conversation = await repository.create_conversation(
            title=str(meta.get("title") or "Imported chat"),
            provider=meta.get("provider"),
            model=meta.get("model"),
            api_mode=ApiMode(meta.get("api_mode") or "auto"),
            system_prompt=meta.get("system_prompt"),
            params=dict(meta.get("params") or {}),
        )
        new_ids: dict[int, int] = {}
        for raw in _parents_first(raw_messages):
            parent = raw.get("parent_id")
            message = await repository.add_message(
                conversation.id,
                role=Role(raw["role"]),
                content=str(raw.get("content") or ""),
                parent_id=new_ids[parent] if parent is not None else None,
                status=MessageStatus.STREAMING,
                provider=raw.get("provider"),
                model=raw.get("model"),
                api=ApiKind(raw["api"]) if raw.get("api") else None,
                previous_response_id=raw.get("previous_response_id"),
                attachments=[attachment_from_json(item) for item in raw.get("attachments") or []],
            )
            usage = raw.get("usage") or {}
            status = MessageStatus(raw.get("status") or "complete")
            if status is MessageStatus.STREAMING:
                status = MessageStatus.INTERRUPTED
            await repository.finish_message(
                message.id,
                status=status,
                reasoning=str(raw.get("reasoning") or ""),
                response_id=raw.get("response_id"),
                usage=Usage(
                    usage.get("input_tokens"),
                    usage.get("output_tokens"),
                    usage.get("reasoning_tokens"),
                    usage.get("cached_tokens"),
                ),
                latency_ms=raw.get("latency_ms"),
                duration_ms=raw.get("duration_ms"),
                error=raw.get("error"),
                tool_calls=tool_records(raw.get("tool_calls")),
                citations=citations_from_json(raw.get("citations")),
            )
            new_ids[int(raw["id"])] = message.id
    except (KeyError, TypeError, ValueError) as exc:
        raise ImportFormatError(f"The export is damaged: {exc!r}.") from exc
    leaf = meta.get("active_leaf_id")
    if leaf in new_ids:
        await repository.set_active_leaf(conversation.id, new_ids[leaf])
    if meta.get("pinned"):
        await repository.set_pinned(conversation.id, True)
    return await _get(repository, conversation.id)


def attachment_from_json(item: dict[str, Any]) -> Attachment:
    """An attachment as the JSON export holds it (inline data as base64)."""
    data = item.get("data_base64")
    return Attachment(
        kind=AttachmentKind(item["kind"]),
        name=str(item["name"]),
        mime_type=str(item["mime_type"]),
        data=base64.b64decode(data) if data else None,
        url=item.get("url"),
    )


def _parents_first(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Order messages so each comes after its parent, whatever order the file has."""
    by_id = {int(raw["id"]): raw for raw in messages}
    children: dict[int | None, list[int]] = {}
    for message_id, raw in by_id.items():
        parent = raw.get("parent_id")
        if parent is not None and int(parent) not in by_id:
            raise ValueError(f"message {message_id} points at a missing parent {parent}")
        children.setdefault(None if parent is None else int(parent), []).append(message_id)
    ordered: list[dict[str, Any]] = []
    queue = deque(sorted(children.get(None, [])))
    while queue:
        message_id = queue.popleft()
        ordered.append(by_id[message_id])
        queue.extend(sorted(children.get(message_id, [])))
    if len(ordered) != len(by_id):
        raise ValueError("some messages are their own ancestors")
    return ordered


def _depths(messages: Sequence[Message]) -> dict[int, int]:
    parents = {message.id: message.parent_id for message in messages}
    depths: dict[int, int] = {}
    for message in messages:
        depth, parent = 0, message.parent_id
        while parent is not None and parent in parents:
            depth += 1
            parent = parents[parent]
        depths[message.id] = depth
    return depths


async def _get(repository: ConversationRepository, conversation_id: int) -> Conversation:
    conversation = await repository.get_conversation(conversation_id)
    if conversation is None:
        raise LookupError(f"There is no conversation {conversation_id}.")
    return conversation
