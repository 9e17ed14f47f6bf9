"""The demo model's bytes, framed exactly as OpenAI frames them.

Chat Completions streams ``data: <chunk>`` lines ending with ``data: [DONE]``; the Responses API
streams ``event: <type>`` + ``data: <json>`` pairs numbered by ``sequence_number`` and ending with
``response.completed`` or ``response.incomplete`` (no ``[DONE]``). Streams are produced as
``Frame`` values so the transport can pace the ones that carry a token.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

_PADDING = "pQ7xK2mZr9LwT4bN"


@dataclass(frozen=True, slots=True)
class Frame:
    """Bytes to send; ``token`` marks one token's worth of model time (pacing counts these)."""

    data: bytes
    token: bool = False


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def sse_data(value: Any) -> bytes:
    """``data: <json>`` and the blank line that ends the event."""
    return f"data: {_json(value)}\n\n".encode()


def sse_event(value: dict[str, Any]) -> bytes:
    """``event: <type>`` + ``data: <json>``: the Responses framing."""
    return f"event: {value['type']}\ndata: {_json(value)}\n\n".encode()


def pretty_json(value: Any, indent: int = 2) -> bytes:
    """Non-streamed bodies are pretty-printed, as OpenAI sends them."""
    return (json.dumps(value, ensure_ascii=False, indent=indent) + "\n").encode()


def error_body(message: str, *, type_: str, param: str | None, code: str | None) -> bytes:
    """OpenAI's error envelope."""
    error = {"message": message, "type": type_, "param": param, "code": code}
    return pretty_json({"error": error}, indent=4)


def padding(token: str) -> str:
    """Stands in for OpenAI's ``obfuscation`` field: noise a client must ignore."""
    return _PADDING[: 3 + len(token) % 12]


@dataclass(frozen=True, slots=True)
class DemoCall:
    """A tool call the demo makes: ids, the tool's name and its arguments as streamed."""

    call_id: str
    item_id: str
    """The Responses ``function_call`` item's id (``fc_...``)."""
    name: str
    pieces: tuple[str, ...]
    """The arguments JSON, split into the deltas that stream it."""

    @property
    def arguments(self) -> str:
        """The whole arguments JSON."""
        return "".join(self.pieces)


CALL_OVERHEAD_TOKENS = 4
"""Tokens a tool call costs beyond its arguments (name, framing), as usage counts them."""


@dataclass(slots=True)
class DemoReply:
    """A planned answer: what is streamed and what usage reports."""

    reasoning: list[list[str]]
    """Summary parts, each as its tokens (possibly cut short by the token limit)."""
    text: list[str]
    input_tokens: int
    truncated: bool = False
    show_reasoning: bool = True
    """False when Responses was not asked for a summary: the time is spent, nothing shown."""
    calls: list[DemoCall] = field(default_factory=list)
    """Tool calls made instead of (or after) the text; the reply then ends with ``tool_calls``."""

    @property
    def reasoning_tokens(self) -> int:
        """Tokens spent reasoning, shown or not."""
        return sum(len(part) for part in self.reasoning)

    @property
    def output_tokens(self) -> int:
        """Reasoning plus answer tokens (and tool calls), as the APIs count output."""
        calls = sum(len(call.pieces) + CALL_OVERHEAD_TOKENS for call in self.calls)
        return self.reasoning_tokens + len(self.text) + calls

    @property
    def finish_reason(self) -> str:
        """Chat Completions' ``finish_reason``."""
        if self.calls:
            return "tool_calls"
        return "length" if self.truncated else "stop"

    @property
    def answer(self) -> str:
        """The visible answer as one string."""
        return "".join(self.text)

    @property
    def reasoning_texts(self) -> list[str]:
        """Each reasoning summary part as one string."""
        return ["".join(part) for part in self.reasoning]


# --------------------------------------------------------------------------------------------
# Chat Completions
# --------------------------------------------------------------------------------------------


def chat_usage(reply: DemoReply) -> dict[str, Any]:
    """Chat Completions ``usage`` with every detail field OpenAI sends."""
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reply.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def chat_completion(reply: DemoReply, *, completion_id: str, model: str, created: int) -> bytes:
    """The non-streamed ``chat.completion`` body."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.answer}
    if reply.calls:
        message["content"] = reply.answer or None
        message["tool_calls"] = [
            {
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in reply.calls
        ]
    message["refusal"] = None
    message["annotations"] = []
    if reply.reasoning:
        message["reasoning_content"] = "\n\n".join(reply.reasoning_texts)
    return pretty_json(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
            "usage": chat_usage(reply),
            "service_tier": "default",
            "system_fingerprint": "fp_demo",
        }
    )


def chat_stream(
    reply: DemoReply,
    *,
    completion_id: str,
    model: str,
    created: int,
    include_usage: bool,
    obfuscate: bool,
) -> Iterator[Frame]:
    """``chat.completion.chunk`` events; reasoning arrives as ``delta.reasoning_content``."""

    def chunk(delta: dict[str, Any], finish: str | None = None, token: str = "") -> bytes:
        body: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_demo",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if include_usage:
            body["usage"] = None
        if obfuscate:
            body["obfuscation"] = padding(token)
        return sse_data(body)

    if reply.reasoning:
        yield Frame(chunk({"role": "assistant", "content": None, "reasoning_content": ""}))
        for index, part in enumerate(reply.reasoning):
            if index:
                yield Frame(chunk({"content": None, "reasoning_content": "\n\n"}))
            for token in part:
                delta = {"content": None, "reasoning_content": token}
                yield Frame(chunk(delta, token=token), token=True)
    elif reply.text or not reply.calls:
        yield Frame(chunk({"role": "assistant", "content": "", "refusal": None}))
    for token in reply.text:
        yield Frame(chunk({"content": token}, token=token), token=True)
    for index, call in enumerate(reply.calls):
        head: dict[str, Any] = {
            "index": index,
            "id": call.call_id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        if index == 0 and not reply.reasoning and not reply.text:
            # As OpenAI: the role comes with the first call, content null.
            opening: dict[str, Any] = {
                "role": "assistant",
                "content": None,
                "tool_calls": [head],
                "refusal": None,
            }
        else:
            opening = {"tool_calls": [head]}
        yield Frame(chunk(opening, token=call.name))
        for piece in call.pieces:
            more: dict[str, Any] = {
                "tool_calls": [{"index": index, "function": {"arguments": piece}}]
            }
            yield Frame(chunk(more, token=piece), token=True)
    yield Frame(chunk({}, reply.finish_reason))
    if include_usage:
        body: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_demo",
            "choices": [],
            "usage": chat_usage(reply),
        }
        if obfuscate:
            body["obfuscation"] = padding("usage")
        yield Frame(sse_data(body))
    yield Frame(b"data: [DONE]\n\n")


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResponseMeta:
    """The request-derived fields a Response object echoes, and the ids of its items."""

    response_id: str
    model: str
    created_at: int
    instructions: str | None
    max_output_tokens: int | None
    previous_response_id: str | None
    effort: str | None
    summary: str | None
    store: bool
    temperature: float
    top_p: float
    reasoning_id: str
    message_id: str
    encrypted_reasoning: bool = False
    """``include: ["reasoning.encrypted_content"]`` was asked for."""
    tools: tuple[Any, ...] = ()
    """``tools`` as echoed (function tools get ``strict``, as OpenAI adds it)."""
    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True


def responses_usage(reply: DemoReply) -> dict[str, Any]:
    """Responses ``usage``; ``output_tokens`` includes the reasoning tokens."""
    return {
        "input_tokens": reply.input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": reply.output_tokens,
        "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }


def _reasoning_item(meta: ResponseMeta, reply: DemoReply, done: bool) -> dict[str, Any]:
    summary = (
        [{"type": "summary_text", "text": text} for text in reply.reasoning_texts]
        if done and reply.show_reasoning
        else []
    )
    item: dict[str, Any] = {"id": meta.reasoning_id, "type": "reasoning", "summary": summary}
    if meta.encrypted_reasoning:
        # Opaque to clients; stands in for what stateless multi-turn would send back.
        item["encrypted_content"] = "gAAAAB" + meta.reasoning_id.encode().hex()
    return item


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _message_item(meta: ResponseMeta, status: str, text: str | None) -> dict[str, Any]:
    return {
        "id": meta.message_id,
        "type": "message",
        "status": status,
        "content": [] if text is None else [_text_part(text)],
        "phase": "final_answer",
        "role": "assistant",
    }


def _call_item(call: DemoCall, done: bool) -> dict[str, Any]:
    return {
        "id": call.item_id,
        "type": "function_call",
        "status": "completed" if done else "in_progress",
        "arguments": call.arguments if done else "",
        "call_id": call.call_id,
        "name": call.name,
    }


def _has_message(reply: DemoReply) -> bool:
    return bool(reply.text) or not (reply.truncated or reply.calls)


def _final_output(meta: ResponseMeta, reply: DemoReply) -> list[dict[str, Any]]:
    output = []
    if reply.reasoning:
        output.append(_reasoning_item(meta, reply, done=True))
    if _has_message(reply):
        status = "incomplete" if reply.truncated else "completed"
        output.append(_message_item(meta, status, reply.answer))
    output.extend(_call_item(call, done=True) for call in reply.calls)
    return output


def response_object(
    meta: ResponseMeta, reply: DemoReply | None, *, final: bool = True
) -> dict[str, Any]:
    """A Response as OpenAI returns it; ``in_progress`` with no output while ``final`` is false."""
    if final and reply is not None:
        status = "incomplete" if reply.truncated else "completed"
    else:
        status = "in_progress"
    done = status != "in_progress" and reply is not None
    return {
        "id": meta.response_id,
        "object": "response",
        "created_at": meta.created_at,
        "status": status,
        "background": False,
        "completed_at": meta.created_at if done else None,
        "error": None,
        "frequency_penalty": 0.0,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": meta.instructions,
        "max_output_tokens": meta.max_output_tokens,
        "max_tool_calls": None,
        "model": meta.model,
        "moderation": None,
        "output": _final_output(meta, reply) if done and reply is not None else [],
        "parallel_tool_calls": meta.parallel_tool_calls,
        "presence_penalty": 0.0,
        "previous_response_id": meta.previous_response_id,
        "prompt_cache_key": None,
        "prompt_cache_retention": None,
        "reasoning": {"effort": meta.effort, "summary": meta.summary},
        "safety_identifier": None,
        "service_tier": "default" if done else "auto",
        "store": meta.store,
        "temperature": meta.temperature,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": meta.tool_choice,
        "tools": list(meta.tools),
        "top_logprobs": 0,
        "top_p": meta.top_p,
        "truncation": "disabled",
        "usage": responses_usage(reply) if done and reply is not None else None,
        "user": None,
        "metadata": {},
    }


def responses_stream(meta: ResponseMeta, reply: DemoReply, *, obfuscate: bool) -> Iterator[Frame]:
    """The Responses event sequence, ``sequence_number`` counting from 0."""
    sequence = 0

    def event(body: dict[str, Any], token: str | None = None) -> Frame:
        nonlocal sequence
        if token is not None and obfuscate:
            body["obfuscation"] = padding(token)
        body["sequence_number"] = sequence
        sequence += 1
        return Frame(sse_event(body), token=token is not None)

    yield event({"type": "response.created", "response": response_object(meta, reply, final=False)})
    yield event(
        {"type": "response.in_progress", "response": response_object(meta, reply, final=False)}
    )
    output_index = 0
    if reply.reasoning:
        item = _reasoning_item(meta, reply, done=False)
        yield event({"type": "response.output_item.added", "output_index": 0, "item": item})
        for summary_index, part in enumerate(reply.reasoning):
            if not reply.show_reasoning:
                # Reasoning still takes time when no summary was asked for.
                yield from (Frame(b"", token=True) for _ in part)
                continue
            where = {"item_id": meta.reasoning_id, "output_index": 0}
            where["summary_index"] = summary_index
            empty = {"type": "summary_text", "text": ""}
            yield event({"type": "response.reasoning_summary_part.added", **where, "part": empty})
            for token in part:
                delta = {"type": "response.reasoning_summary_text.delta", **where, "delta": token}
                yield event(delta, token)
            text = "".join(part)
            yield event({"type": "response.reasoning_summary_text.done", **where, "text": text})
            full = {"type": "summary_text", "text": text}
            yield event({"type": "response.reasoning_summary_part.done", **where, "part": full})
        item = _reasoning_item(meta, reply, done=True)
        yield event({"type": "response.output_item.done", "output_index": 0, "item": item})
        output_index = 1
    if _has_message(reply):
        added = _message_item(meta, "in_progress", None)
        yield event(
            {"type": "response.output_item.added", "output_index": output_index, "item": added}
        )
        where = {"item_id": meta.message_id, "output_index": output_index, "content_index": 0}
        yield event({"type": "response.content_part.added", **where, "part": _text_part("")})
        for token in reply.text:
            delta = {"type": "response.output_text.delta", **where, "delta": token, "logprobs": []}
            yield event(delta, token)
        text = reply.answer
        yield event({"type": "response.output_text.done", **where, "text": text, "logprobs": []})
        yield event({"type": "response.content_part.done", **where, "part": _text_part(text)})
        status = "incomplete" if reply.truncated else "completed"
        done_item = _message_item(meta, status, text)
        yield event(
            {"type": "response.output_item.done", "output_index": output_index, "item": done_item}
        )
        output_index += 1
    for call in reply.calls:
        yield from _call_events(event, call, output_index)
        output_index += 1
    terminal = "response.incomplete" if reply.truncated else "response.completed"
    yield event({"type": terminal, "response": response_object(meta, reply)})


def _call_events(event: Callable[..., Frame], call: DemoCall, output_index: int) -> Iterator[Frame]:
    """One ``function_call`` item: added, argument deltas, arguments done, item done."""
    yield event(
        {
            "type": "response.output_item.added",
            "item": _call_item(call, done=False),
            "output_index": output_index,
        }
    )
    for piece in call.pieces:
        delta = {
            "type": "response.function_call_arguments.delta",
            "delta": piece,
            "item_id": call.item_id,
            "output_index": output_index,
        }
        yield event(delta, piece)
    yield event(
        {
            "type": "response.function_call_arguments.done",
            "arguments": call.arguments,
            "item_id": call.item_id,
            "output_index": output_index,
        }
    )
    yield event(
        {
            "type": "response.output_item.done",
            "item": _call_item(call, done=True),
            "output_index": output_index,
        }
    )
