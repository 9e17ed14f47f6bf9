"""Responses streams written by hand, one per quirk the protocol notes call out."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.fixtures import Outcome, replay, streamed
from tui.domain import ApiKind, Finished, ToolCall, Usage
from tui.providers import errors

USAGE = {
    "input_tokens": 9,
    "input_tokens_details": {"cached_tokens": 2},
    "output_tokens": 30,
    "output_tokens_details": {"reasoning_tokens": 20},
    "total_tokens": 39,
}


def response(status: str = "in_progress", **fields: Any) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "model": "m-1",
        "status": status,
        "output": [],
        "usage": None,
        "store": True,
        **fields,
    }


def event(kind: str, *, named: bool = True, **fields: Any) -> bytes:
    head = f"event: {kind}\n".encode() if named else b""
    return head + b"data: " + json.dumps({"type": kind, **fields}).encode() + b"\n\n"


CREATED = event("response.created", response=response())
COMPLETED = event("response.completed", response=response("completed", usage=USAGE))


def delta(text: str, kind: str = "response.output_text.delta") -> bytes:
    return event(kind, item_id="msg_1", output_index=0, content_index=0, delta=text)


async def run(reply: httpx.Response, **request: Any) -> Outcome:
    return await replay(reply, ApiKind.RESPONSES, **request)


async def test_text_usage_and_a_chainable_id() -> None:
    outcome = await run(streamed(CREATED, delta("Hel"), delta("lo"), COMPLETED))
    assert outcome.text == "Hello"
    assert outcome.usage == Usage(9, 30, 20, 2)
    started = outcome.started[0]
    assert (started.response_id, started.model, started.chainable) == ("resp_1", "m-1", True)
    assert outcome.finished == Finished("stop")


async def test_unstored_responses_are_not_chainable() -> None:
    created = event("response.created", response=response(store=False))
    outcome = await run(streamed(created, delta("x"), COMPLETED))
    assert outcome.started[0].chainable is False


async def test_without_sequence_numbers_or_event_lines() -> None:
    outcome = await run(
        streamed(
            event("response.created", named=False, response=response()),
            event("response.output_text.delta", named=False, item_id="m", delta="legacy"),
            event("response.completed", named=False, response=response("completed")),
        )
    )
    assert outcome.text == "legacy"
    assert outcome.finished == Finished("stop")


async def test_event_name_is_used_when_the_json_has_no_type() -> None:
    untyped = b'event: response.output_text.delta\ndata: {"delta": "named"}\n\n'
    outcome = await run(streamed(CREATED, untyped, COMPLETED))
    assert outcome.text == "named"


async def test_unknown_events_are_skipped() -> None:
    outcome = await run(
        streamed(
            CREATED,
            event("response.audio.delta", delta="AAAA"),
            event("response.something_new", payload={"x": 1}),
            event("response.web_search_call.searching", item_id="ws_1"),
            delta("kept"),
            COMPLETED,
        )
    )
    assert outcome.text == "kept"
    assert outcome.finished == Finished("stop")


async def test_reasoning_summary_parts_are_separated() -> None:
    summary = "response.reasoning_summary_text.delta"
    outcome = await run(
        streamed(
            CREATED,
            event("response.output_item.added", item={"type": "reasoning", "id": "rs_1"}),
            event("response.reasoning_summary_part.added", summary_index=0),
            delta("**One**", summary),
            event("response.reasoning_summary_part.added", summary_index=1),
            delta("**Two**", summary),
            event("response.output_item.added", item={"type": "message", "id": "msg_1"}),
            delta("answer"),
            COMPLETED,
        )
    )
    assert outcome.reasoning == "**One**\n\n**Two**"
    assert outcome.text == "answer"


async def test_raw_reasoning_text_deltas() -> None:
    outcome = await run(
        streamed(CREATED, delta("thinking", "response.reasoning_text.delta"), delta("a"), COMPLETED)
    )
    assert outcome.reasoning == "thinking"


async def test_text_sent_only_in_done_events_still_arrives() -> None:
    outcome = await run(
        streamed(
            CREATED,
            event("response.reasoning_summary_part.added", summary_index=0),
            event("response.reasoning_summary_text.done", summary_index=0, text="why"),
            event("response.content_part.added", item_id="msg_1"),
            event("response.output_text.done", item_id="msg_1", text="only done"),
            COMPLETED,
        )
    )
    assert (outcome.reasoning, outcome.text) == ("why", "only done")


async def test_done_events_do_not_repeat_streamed_text() -> None:
    outcome = await run(
        streamed(
            CREATED,
            event("response.content_part.added", item_id="msg_1"),
            delta("once"),
            event("response.output_text.done", item_id="msg_1", text="once"),
            COMPLETED,
        )
    )
    assert outcome.text == "once"


async def test_completed_output_is_used_when_nothing_streamed() -> None:
    output = [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "thought"}]},
        {
            "type": "message",
            "content": [{"type": "output_text", "text": "from output", "annotations": []}],
        },
    ]
    final = event("response.completed", response=response("completed", output=output))
    outcome = await run(streamed(CREATED, final))
    assert (outcome.reasoning, outcome.text) == ("thought", "from output")


async def test_incomplete_ends_with_its_reason() -> None:
    incomplete = response(
        "incomplete", incomplete_details={"reason": "content_filter"}, usage=USAGE
    )
    outcome = await run(
        streamed(CREATED, delta("cut"), event("response.incomplete", response=incomplete))
    )
    assert outcome.text == "cut"
    assert outcome.usage == Usage(9, 30, 20, 2)
    assert outcome.finished == Finished("content_filter", incomplete=True)


@pytest.mark.parametrize(
    ("error_event", "expected"),
    [
        (
            {
                "error": {
                    "type": "insufficient_quota",
                    "code": "insufficient_quota",
                    "message": "You exceeded your current quota.",
                    "param": None,
                }
            },
            errors.QuotaExceededError,
        ),
        (
            {"code": "server_error", "message": "Something broke.", "param": None},
            errors.ServerError,
        ),
        (
            {"code": "rate_limit_exceeded", "message": "Rate limit reached.", "param": None},
            errors.RateLimitError,
        ),
        (
            {"code": "context_length_exceeded", "message": "Too long.", "param": "input"},
            errors.ContextTooLongError,
        ),
    ],
    ids=["nested-quota", "flat-server", "flat-rate", "flat-context"],
)
async def test_error_events_in_both_shapes(
    error_event: dict[str, Any], expected: type[errors.ProviderError]
) -> None:
    failed = event("response.failed", response=response("failed", error={"code": "x"}))
    outcome = await run(streamed(CREATED, delta("so far"), event("error", **error_event), failed))
    assert outcome.text == "so far"
    assert type(outcome.error) is expected


async def test_response_failed_alone() -> None:
    error = {"code": "server_error", "message": "An error occurred while processing your request."}
    failed = event("response.failed", response=response("failed", error=error))
    outcome = await run(streamed(CREATED, failed))
    assert isinstance(outcome.error, errors.ServerError)
    assert outcome.error.detail == error["message"]


async def test_response_failed_without_details() -> None:
    outcome = await run(streamed(CREATED, event("response.failed", response=response("failed"))))
    assert isinstance(outcome.error, errors.ServerError)


async def test_eof_before_a_terminal_event() -> None:
    outcome = await run(streamed(CREATED, delta("half")))
    assert outcome.text == "half"
    assert isinstance(outcome.error, errors.NetworkError)


async def test_anything_after_the_terminal_event_is_ignored() -> None:
    outcome = await run(
        streamed(CREATED, delta("x"), COMPLETED, b"data: [DONE]\n\n", delta("late"))
    )
    assert outcome.text == "x"
    assert outcome.finished == Finished("stop")


async def test_function_call_and_citation() -> None:
    call = {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "f",
        "arguments": '{"a": 1}',
    }
    annotation = {
        "type": "url_citation",
        "url": "https://b.test",
        "title": "B",
        "start_index": 1,
        "end_index": 2,
    }
    outcome = await run(
        streamed(
            CREATED,
            event("response.output_item.added", item={**call, "arguments": ""}),
            event("response.function_call_arguments.delta", item_id="fc_1", delta='{"a"'),
            event("response.output_item.done", item=call),
            event("response.output_text.annotation.added", annotation=annotation),
            event("response.output_text.annotation.added", annotation={"type": "file_citation"}),
            COMPLETED,
        )
    )
    assert outcome.tool_calls == [ToolCall("call_1", "f", '{"a": 1}')]
    assert [c.url for c in outcome.citations] == ["https://b.test"]
    assert outcome.finished == Finished("tool_calls")


async def test_malformed_event_after_text() -> None:
    outcome = await run(streamed(CREATED, delta("ok"), b"event: x\ndata: {bad json\n\n"))
    assert outcome.text == "ok"
    assert isinstance(outcome.error, errors.MalformedResponseError)


async def test_non_stream_failed_and_incomplete_bodies() -> None:
    failed = response("failed", error={"code": "server_error", "message": "boom"})
    outcome = await run(httpx.Response(200, json=failed), stream=False)
    assert isinstance(outcome.error, errors.ServerError)
    incomplete = response(
        "incomplete",
        incomplete_details={"reason": "max_output_tokens"},
        output=[{"type": "message", "content": [{"type": "output_text", "text": "par"}]}],
    )
    outcome = await run(httpx.Response(200, json=incomplete), stream=False)
    assert outcome.text == "par"
    assert outcome.finished == Finished("max_output_tokens", incomplete=True)


async def test_non_stream_body_with_only_output_text() -> None:
    outcome = await run(
        httpx.Response(200, json=response("completed", output_text="convenience")), stream=False
    )
    assert outcome.text == "convenience"


async def test_error_body_served_as_octet_stream_deepseek_style() -> None:
    body = json.dumps(
        {
            "error": {
                "message": "bad input",
                "type": "invalid_request_error",
                "code": "invalid_request_error",
            }
        }
    ).encode()
    reply = httpx.Response(400, headers={"content-type": "application/octet-stream"}, content=body)
    outcome = await run(reply)
    assert isinstance(outcome.error, errors.BadRequestError)
    assert "bad input" in str(outcome.error)
