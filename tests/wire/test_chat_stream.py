"""Chat Completions streams written by hand, one per quirk seen on compatible servers."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.fixtures import Outcome, replay, streamed
from tui.domain import ApiKind, Finished, ToolCall, Usage
from tui.providers import errors

BASE = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m-1", "created": 1}


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return b"data: " + json.dumps({**BASE, "choices": choices, **extra}).encode() + b"\n\n"


DONE = b"data: [DONE]\n\n"
USAGE = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}


async def run(reply: httpx.Response, **request: Any) -> Outcome:
    return await replay(reply, ApiKind.CHAT, **request)


async def test_plain_text_usage_chunk_and_done() -> None:
    outcome = await run(
        streamed(
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, "stop"),
            chunk(None, usage=USAGE),
            DONE,
        )
    )
    assert outcome.text == "Hello"
    assert outcome.usage == Usage(5, 7)
    assert outcome.started[0].response_id == "chatcmpl-1"
    assert outcome.started[0].model == "m-1"
    assert outcome.started[0].chainable is False
    assert outcome.finished == Finished("stop")


async def test_usage_on_the_finish_chunk_and_cache_hits_deepseek_style() -> None:
    usage = {
        **USAGE,
        "prompt_cache_hit_tokens": 3,
        "completion_tokens_details": {"reasoning_tokens": 4},
    }
    outcome = await run(streamed(chunk({"content": "x"}), chunk({}, "stop", usage=usage), DONE))
    assert outcome.usage == Usage(5, 7, 4, 3)


async def test_no_usage_anywhere_is_fine() -> None:
    outcome = await run(streamed(chunk({"content": "x"}), chunk({}, "stop"), DONE))
    assert outcome.usage is None
    assert outcome.finished == Finished("stop")


async def test_usage_only_in_x_groq() -> None:
    outcome = await run(
        streamed(chunk({"content": "x"}), chunk({}, "stop", x_groq={"usage": USAGE}), DONE)
    )
    assert outcome.usage == Usage(5, 7)


async def test_reasoning_content_and_reasoning_fields() -> None:
    outcome = await run(
        streamed(
            chunk({"reasoning_content": "think ", "content": None}),
            chunk({"reasoning": "more", "reasoning_details": [{"text": "more"}]}),
            chunk({"content": "answer", "reasoning_content": None}),
            chunk({}, "stop"),
            DONE,
        )
    )
    assert outcome.reasoning == "think more"
    assert outcome.text == "answer"


async def test_error_inside_a_200_stream_keeps_the_partial_text() -> None:
    error = {"code": 502, "message": "Upstream provider failed"}
    outcome = await run(streamed(chunk({"content": "partial "}), chunk(None, error=error), DONE))
    assert outcome.text == "partial "
    assert isinstance(outcome.error, errors.ServerError)
    assert outcome.error.status == 502
    assert outcome.error.detail == "Upstream provider failed"


async def test_error_inside_a_200_stream_with_a_client_error_code() -> None:
    outcome = await run(
        streamed(chunk(None, error={"code": 400, "message": "Token limit reached"}), DONE)
    )
    assert isinstance(outcome.error, errors.BadRequestError)
    assert "Token limit reached" in str(outcome.error)


async def test_repeated_finish_reason_gives_one_finished() -> None:
    outcome = await run(
        streamed(
            chunk({"content": "x"}),
            chunk({}, "length"),
            chunk({}, "stop", usage=USAGE),
            chunk(None, moderation={"flagged": False}),
            DONE,
        )
    )
    assert outcome.finished == Finished("length", incomplete=True)
    assert outcome.usage == Usage(5, 7)


async def test_eof_without_done_ends_the_stream() -> None:
    outcome = await run(streamed(chunk({"content": "x"}), chunk({}, "stop")))
    assert outcome.finished == Finished("stop")


async def test_done_without_finish_reason_is_a_normal_end() -> None:
    outcome = await run(streamed(chunk({"content": "x"}), DONE))
    assert outcome.finished == Finished("stop")


async def test_eof_before_any_end_signal_is_a_network_error() -> None:
    outcome = await run(streamed(chunk({"content": "cut "}), chunk({"content": "off"})))
    assert outcome.text == "cut off"
    assert isinstance(outcome.error, errors.NetworkError)


async def test_keepalive_comments_before_the_first_chunk() -> None:
    comments = b": OPENROUTER PROCESSING\n\n" * 5
    outcome = await run(streamed(comments, chunk({"content": "ok"}), chunk({}, "stop"), DONE))
    assert outcome.text == "ok"


async def test_malformed_json_keeps_what_came_before() -> None:
    outcome = await run(streamed(chunk({"content": "good"}) + b"data: {nope\n\n", DONE))
    assert outcome.text == "good"
    assert isinstance(outcome.error, errors.MalformedResponseError)


async def test_a_chunk_that_is_not_an_object_is_malformed() -> None:
    outcome = await run(streamed(b"data: [1, 2]\n\n", DONE))
    assert isinstance(outcome.error, errors.MalformedResponseError)


async def test_odd_shapes_inside_a_chunk_are_ignored_not_fatal() -> None:
    odd = b'data: {"id": "c", "choices": ["x"], "usage": null}\n\n'
    odd += b'data: {"id": "c", "choices": [{"delta": "text"}]}\n\n'
    outcome = await run(streamed(odd, chunk({"content": "fine"}), chunk({}, "stop"), DONE))
    assert outcome.text == "fine"


async def test_invalid_utf8_is_malformed() -> None:
    outcome = await run(streamed(chunk({"content": "ok"}), b'data: {"x": "\xff"}\n\n', DONE))
    assert outcome.text == "ok"
    assert isinstance(outcome.error, errors.MalformedResponseError)
    assert "UTF-8" in str(outcome.error)


async def test_parallel_tool_calls_are_assembled() -> None:
    first = {
        "index": 0,
        "id": "call_a",
        "type": "function",
        "function": {"name": "one", "arguments": ""},
    }
    second = {
        "index": 1,
        "id": "call_b",
        "type": "function",
        "function": {"name": "two", "arguments": "{}"},
    }
    outcome = await run(
        streamed(
            chunk({"role": "assistant", "content": None, "tool_calls": [first]}),
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x"'}}]}),
            chunk({"tool_calls": [second, {"index": 0, "function": {"arguments": ": 1}"}}]}),
            chunk({}, "tool_calls"),
            DONE,
        )
    )
    assert outcome.tool_calls == [
        ToolCall("call_a", "one", '{"x": 1}'),
        ToolCall("call_b", "two", "{}"),
    ]
    assert outcome.finished == Finished("tool_calls")


async def test_refusal_and_citations() -> None:
    citation = {
        "type": "url_citation",
        "url_citation": {"url": "https://a.test", "title": "A", "start_index": 0, "end_index": 3},
    }
    outcome = await run(
        streamed(
            chunk({"refusal": "I can't help with that."}),
            chunk({"content": "", "annotations": [citation]}),
            chunk({}, "stop"),
            DONE,
        )
    )
    assert outcome.text == "I can't help with that."
    assert [(c.url, c.title, c.start_index, c.end_index) for c in outcome.citations] == [
        ("https://a.test", "A", 0, 3)
    ]


async def test_a_json_answer_to_a_stream_request_is_read_as_one_reply() -> None:
    body = {
        "id": "chatcmpl-9",
        "model": "m",
        "choices": [
            {"message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}
        ],
    }
    outcome = await run(httpx.Response(200, json=body))
    assert outcome.text == "whole"
    assert outcome.finished == Finished("stop")


async def test_an_error_object_in_a_200_json_body() -> None:
    outcome = await run(
        httpx.Response(200, json={"error": {"message": "Model overloaded", "code": 503}}),
        stream=False,
    )
    assert isinstance(outcome.error, errors.ServerError)


async def test_a_web_page_instead_of_the_api() -> None:
    outcome = await run(streamed(b"<html><body>Welcome</body></html>", content_type="text/html"))
    assert isinstance(outcome.error, errors.MalformedResponseError)
    assert "base URL" in str(outcome.error)


async def test_non_stream_reply_with_reasoning_tool_calls_and_length() -> None:
    message = {
        "role": "assistant",
        "content": "partial",
        "reasoning_content": "because",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        ],
    }
    body = {
        "id": "chatcmpl-2",
        "model": "m",
        "usage": USAGE,
        "choices": [{"message": message, "finish_reason": "length"}],
    }
    outcome = await run(httpx.Response(200, json=body), stream=False)
    assert (outcome.reasoning, outcome.text) == ("because", "partial")
    assert outcome.tool_calls == [ToolCall("call_1", "f", "{}")]
    assert outcome.usage == Usage(5, 7)
    assert outcome.finished == Finished("length", incomplete=True)


async def test_non_stream_body_that_is_not_json() -> None:
    outcome = await run(httpx.Response(200, content=b"{truncated"), stream=False)
    assert isinstance(outcome.error, errors.MalformedResponseError)
