"""The wire shapes the loopback server sends, built the way OpenAI's servers build them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tests.support.script import Behaviour

CREATED = 1_760_000_000


def pieces(text: str) -> list[str]:
    """Split into word-sized deltas, as models stream them."""
    return re.findall(r"\s*\S+\s*|\s+", text) if text else []


def _sse(payload: Mapping[str, Any], event: str | None = None) -> bytes:
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


def _answer(behaviour: Behaviour, text: str) -> list[str]:
    if behaviour.flood:
        return ["tok "] * behaviour.flood
    if behaviour.huge_bytes:
        unit = "big é data "  # 12 bytes: the event is huge_bytes rounded down to a multiple
        return [unit * (behaviour.huge_bytes // len(unit.encode()))]
    return pieces(text)


def chat_usage(behaviour: Behaviour) -> dict[str, Any] | None:
    """The Chat Completions ``usage`` object for the behaviour's numbers."""
    if behaviour.usage is None:
        return None
    prompt, completion, reasoning = behaviour.usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def responses_usage(behaviour: Behaviour) -> dict[str, Any] | None:
    """The Responses ``usage`` object for the behaviour's numbers."""
    if behaviour.usage is None:
        return None
    prompt, completion, reasoning = behaviour.usage
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + completion,
    }


def chat_events(
    behaviour: Behaviour, *, chat_id: str, model: str, text: str, include_usage: bool
) -> list[bytes]:
    """A Chat Completions stream, one element per SSE event."""
    base = {
        "id": chat_id,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_loopback",
        **behaviour.extra,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse({**base, "choices": [choice], "usage": None})

    events = [chunk({"role": "assistant", "content": ""})]
    if behaviour.unknown_events:
        events.append(b": keep-alive\n\n")
        events.append(_sse({"type": "loopback.unknown", "note": "ignore me"}, "ping"))
    events += [chunk({behaviour.reasoning_field: p}) for p in pieces(behaviour.reasoning)]
    events += [chunk({"content": p}) for p in _answer(behaviour, text)]
    events.append(chunk({}, behaviour.finish_reason))
    usage = chat_usage(behaviour)
    if include_usage and usage is not None:
        events.append(_sse({**base, "choices": [], "usage": usage}))
    if not behaviour.no_done:
        events.append(b"data: [DONE]\n\n")
    return events


def chat_error_event(behaviour: Behaviour, chat_id: str) -> list[bytes]:
    """OpenRouter's mid-stream failure: a chunk with a top-level ``error``, then ``[DONE]``."""
    error = {"code": behaviour.error_code, "message": behaviour.error_message}
    return [
        _sse({"id": chat_id, "object": "chat.completion.chunk", "error": error}),
        b"data: [DONE]\n\n",
    ]


def chat_completion(behaviour: Behaviour, *, chat_id: str, model: str, text: str) -> bytes:
    """A non-streamed ``chat.completion`` body."""
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if behaviour.reasoning:
        message[behaviour.reasoning_field] = behaviour.reasoning
    body = {
        "id": chat_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": behaviour.finish_reason}],
        "usage": chat_usage(behaviour),
        **behaviour.extra,
    }
    return json.dumps(body, indent=2).encode()


def response_object(
    behaviour: Behaviour,
    *,
    response_id: str,
    model: str,
    request: Mapping[str, Any],
    text: str,
    status: str,
) -> dict[str, Any]:
    """A Response object as ``response.*`` events and non-streamed bodies carry it."""
    output: list[dict[str, Any]] = []
    if status != "in_progress":
        if behaviour.reasoning:
            summary = [{"type": "summary_text", "text": behaviour.reasoning}]
            output.append({"id": f"rs_{response_id}", "type": "reasoning", "summary": summary})
        content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
        output.append(
            {
                "id": f"msg_{response_id}",
                "type": "message",
                "status": "incomplete" if status == "incomplete" else "completed",
                "role": "assistant",
                "content": content,
            }
        )
    return {
        "id": response_id,
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": behaviour.incomplete} if status == "incomplete" else None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": model,
        "output": output,
        "previous_response_id": request.get("previous_response_id"),
        "reasoning": request.get("reasoning") or {"effort": None, "summary": None},
        "store": request.get("store", True),
        "tools": request.get("tools") or [],
        "usage": None if status == "in_progress" else responses_usage(behaviour),
        **behaviour.extra,
    }


def responses_events(
    behaviour: Behaviour,
    *,
    response_id: str,
    model: str,
    request: Mapping[str, Any],
    text: str,
) -> list[bytes]:
    """A Responses stream, one element per SSE event, with contiguous sequence numbers."""
    payloads: list[dict[str, Any]] = []

    def emit(kind: str, **fields: Any) -> None:
        payloads.append({"type": kind, **fields})

    started = response_object(
        behaviour,
        response_id=response_id,
        model=model,
        request=request,
        text="",
        status="in_progress",
    )
    emit("response.created", response=started)
    emit("response.in_progress", response=started)
    index = 0
    if behaviour.reasoning:
        item = {"id": f"rs_{response_id}", "type": "reasoning", "summary": []}
        emit("response.output_item.added", output_index=index, item=item)
        part = {"type": "summary_text", "text": ""}
        emit(
            "response.reasoning_summary_part.added",
            item_id=item["id"],
            output_index=index,
            summary_index=0,
            part=part,
        )
        for piece in pieces(behaviour.reasoning):
            emit(
                "response.reasoning_summary_text.delta",
                item_id=item["id"],
                output_index=index,
                summary_index=0,
                delta=piece,
                obfuscation="xx",
            )
        emit(
            "response.reasoning_summary_text.done",
            item_id=item["id"],
            output_index=index,
            summary_index=0,
            text=behaviour.reasoning,
        )
        emit(
            "response.reasoning_summary_part.done",
            item_id=item["id"],
            output_index=index,
            summary_index=0,
            part={"type": "summary_text", "text": behaviour.reasoning},
        )
        done_item = {**item, "summary": [{"type": "summary_text", "text": behaviour.reasoning}]}
        emit("response.output_item.done", output_index=index, item=done_item)
        index += 1
    message_id = f"msg_{response_id}"
    message = {
        "id": message_id,
        "type": "message",
        "status": "in_progress",
        "content": [],
        "role": "assistant",
    }
    emit("response.output_item.added", output_index=index, item=message)
    empty_part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    emit(
        "response.content_part.added",
        item_id=message_id,
        output_index=index,
        content_index=0,
        part=empty_part,
    )
    if behaviour.unknown_events:
        emit("response.loopback_future_event", item_id=message_id, note="ignore me")
    answer = _answer(behaviour, text)
    for piece in answer:
        emit(
            "response.output_text.delta",
            item_id=message_id,
            output_index=index,
            content_index=0,
            delta=piece,
            logprobs=[],
            obfuscation="xx",
        )
    full = "".join(answer)
    emit(
        "response.output_text.done",
        item_id=message_id,
        output_index=index,
        content_index=0,
        text=full,
        logprobs=[],
    )
    emit(
        "response.content_part.done",
        item_id=message_id,
        output_index=index,
        content_index=0,
        part={**empty_part, "text": full},
    )
    status = "incomplete" if behaviour.incomplete else "completed"
    emit(
        "response.output_item.done",
        output_index=index,
        item={**message, "status": status, "content": [{**empty_part, "text": full}]},
    )
    final = response_object(
        behaviour,
        response_id=response_id,
        model=model,
        request=request,
        text=full,
        status=status,
    )
    emit(f"response.{status}", response=final)
    return framed_events(behaviour, payloads)


def framed_events(behaviour: Behaviour, payloads: list[dict[str, Any]]) -> list[bytes]:
    """Responses payloads as SSE events: numbered, with the behaviour's extra keys (and a
    comment after the second when it mixes in unknown events)."""
    events: list[bytes] = []
    for number, payload in enumerate(payloads):
        if behaviour.sequence_numbers:
            payload["sequence_number"] = number
        payload.update(behaviour.extra)
        events.append(_sse(payload, payload["type"]))
        if behaviour.unknown_events and number == 1:
            events.append(b": keep-alive\n\n")
    return events


def responses_error_events(behaviour: Behaviour, response_id: str) -> list[bytes]:
    """A mid-stream failure: an ``error`` event, then ``response.failed``."""
    error = {
        "type": "server_error",
        "code": behaviour.error_code,
        "message": behaviour.error_message,
        "param": None,
    }
    failed = {
        "id": response_id,
        "object": "response",
        "status": "failed",
        "usage": None,
        "error": {"code": behaviour.error_code, "message": behaviour.error_message},
    }
    return [
        _sse({"type": "error", "error": error}, "error"),
        _sse({"type": "response.failed", "response": failed}, "response.failed"),
    ]


def flood_template(api: str, response_id: str, model: str) -> tuple[bytes, bytes, bytes]:
    """(head, one delta, tail) for flat-out streams: the delta is ``%d``-formatted per event."""
    if api == "chat":
        behaviour = Behaviour(text="", usage=(1, 1, 0))
        events = chat_events(
            behaviour, chat_id=response_id, model=model, text="", include_usage=True
        )
        delta = {
            "id": response_id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_loopback",
            "choices": [
                {"index": 0, "delta": {"content": "tok "}, "logprobs": None, "finish_reason": None}
            ],
            "usage": None,
            "obfuscation": "%d",
        }
        return events[0], _sse(delta), b"".join(events[1:])
    behaviour = Behaviour(text="", sequence_numbers=False)
    events = responses_events(behaviour, response_id=response_id, model=model, request={}, text="")
    delta = {
        "type": "response.output_text.delta",
        "item_id": f"msg_{response_id}",
        "output_index": 0,
        "content_index": 0,
        "delta": "tok ",
        "logprobs": [],
        "obfuscation": "pad",
        "sequence_number": 1234567,
    }
    template = _sse(delta, "response.output_text.delta").replace(b"1234567", b"%d")
    return b"".join(events[:4]), template, b"".join(events[4:])


def error_body(message: str, code: str | None, param: str | None = None) -> bytes:
    """OpenAI's error envelope, pretty-printed as OpenAI sends it."""
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return json.dumps({"error": error}, indent=2).encode()


def models_body(models: tuple[str, ...]) -> bytes:
    """A ``GET /models`` list in OpenAI's shape."""
    data = [
        {"id": m, "object": "model", "created": CREATED, "owned_by": "loopback"} for m in models
    ]
    return json.dumps({"object": "list", "data": data}).encode()


def user_turns(items: list[Any]) -> int:
    """How many user messages a ``messages`` or ``input`` list holds."""
    return sum(1 for item in items if isinstance(item, dict) and item.get("role") == "user")


def echo(items: list[Any], turns: int) -> str:
    """The default answer: the turn number and the last user text."""
    last = ""
    for item in items:
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, list):
                content = " ".join(
                    str(part.get("text", "")) for part in content if isinstance(part, dict)
                ).strip()
            last = content if isinstance(content, str) else ""
    return f"[turn {turns}] {last or '(no text)'}"
