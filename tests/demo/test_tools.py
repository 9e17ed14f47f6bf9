"""The demo model calls tools, through the app's real adapters, on both APIs."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.demo.sse import Event, stream
from tests.support.fixtures import Outcome, collect
from tui.domain import (
    ApiKind,
    ChatRequest,
    InputMessage,
    ResponseStarted,
    Role,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from tui.providers.demo import DemoTransport, demo_mounts
from tui.providers.http import make_client
from tui.providers.openai_compat import OpenAICompatibleProvider
from tui.providers.presets import BUILTIN_PROVIDERS

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "wire" / "fixtures"
NOW = "2026-12-04T20:51:00+00:00"

CLOCK = ToolSpec(
    "current_time",
    "Tell the current time.",
    {"type": "object", "properties": {}, "required": []},
)
WEATHER = ToolSpec(
    "get_weather",
    "Weather for a city.",
    {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
)
ZONED = ToolSpec(
    "world_clock",
    "The time somewhere.",
    {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]},
)
BOTH_APIS = pytest.mark.parametrize("api", [ApiKind.CHAT, ApiKind.RESPONSES])
BOTH_MODES = pytest.mark.parametrize("streamed", [True, False], ids=["stream", "whole"])


@pytest.fixture
async def provider(transport: DemoTransport) -> AsyncIterator[OpenAICompatibleProvider]:
    """The demo provider as the app builds it: the shared client with the demo mounted."""
    async with make_client(mounts=demo_mounts(transport)) as client:
        yield OpenAICompatibleProvider(BUILTIN_PROVIDERS["demo"], client, max_retries=0)


def request(*messages: InputMessage, **options: Any) -> ChatRequest:
    values: dict[str, Any] = {"model": "demo", "messages": messages, "tools": (CLOCK,)}
    values.update(options)
    return ChatRequest(**values)


def user(text: str) -> InputMessage:
    return InputMessage(Role.USER, text)


def response_id(outcome: Outcome) -> str:
    started = [event for event in outcome.events if isinstance(event, ResponseStarted)]
    return started[0].response_id


async def follow_up(
    provider: OpenAICompatibleProvider,
    api: ApiKind,
    history: list[InputMessage],
    outcome: Outcome,
    outputs: dict[str, str],
    **options: Any,
) -> Outcome:
    """Send the tool results back as the app would: Chat resends all, Responses chains."""
    calls = tuple(outcome.tool_calls)
    results = tuple(ToolResult(call.call_id, outputs[call.name]) for call in calls)
    answer = InputMessage(Role.USER, "", tool_results=results)
    if api is ApiKind.CHAT:
        history += [InputMessage(Role.ASSISTANT, "", tool_calls=calls), answer]
        return await collect(provider, request(*history, **options), api)
    chained = request(answer, previous_response_id=response_id(outcome), **options)
    return await collect(provider, chained, api)


@BOTH_APIS
@BOTH_MODES
async def test_a_clock_question_calls_the_clock_tool(
    provider: OpenAICompatibleProvider, api: ApiKind, streamed: bool
) -> None:
    outcome = await collect(provider, request(user("What time is it?"), stream=streamed), api)
    assert outcome.finished is not None and outcome.finished.reason == "tool_calls"
    [call] = outcome.tool_calls
    assert call.name == "current_time"
    assert json.loads(call.arguments) == {}
    assert re.fullmatch(r"call_[0-9a-f]{24}", call.call_id)
    assert outcome.text == ""
    assert outcome.usage is not None and outcome.usage.output_tokens


@BOTH_APIS
@BOTH_MODES
async def test_required_arguments_get_plausible_values(
    provider: OpenAICompatibleProvider, api: ApiKind, streamed: bool
) -> None:
    body = request(
        user("Use get_weather for Paris, and tell me the time"),
        tools=(WEATHER, ZONED),
        stream=streamed,
    )
    outcome = await collect(provider, body, api)
    calls = {call.name: json.loads(call.arguments) for call in outcome.tool_calls}
    assert calls == {
        "get_weather": {"city": "Paris", "days": 1},
        "world_clock": {"timezone": "UTC"},
    }


@BOTH_APIS
async def test_without_tools_the_answer_is_text(
    provider: OpenAICompatibleProvider, api: ApiKind
) -> None:
    outcome = await collect(provider, request(user("What time is it?"), tools=()), api)
    assert outcome.tool_calls == []
    assert outcome.text.startswith("## What time is it")
    assert outcome.finished is not None and outcome.finished.reason == "stop"


@BOTH_APIS
async def test_tool_choice_none_answers_in_text(
    provider: OpenAICompatibleProvider, api: ApiKind
) -> None:
    outcome = await collect(provider, request(user("What time is it?"), tool_choice="none"), api)
    assert outcome.tool_calls == []
    assert outcome.text.startswith("## What time is it")


@BOTH_APIS
async def test_an_unrelated_question_is_answered_in_text(
    provider: OpenAICompatibleProvider, api: ApiKind
) -> None:
    outcome = await collect(provider, request(user("Explain Python lists")), api)
    assert outcome.tool_calls == []
    assert outcome.finished is not None and outcome.finished.reason == "stop"


@BOTH_APIS
async def test_tool_choice_required_calls_a_tool_anyway(
    provider: OpenAICompatibleProvider, api: ApiKind
) -> None:
    outcome = await collect(
        provider, request(user("Explain Python lists"), tool_choice="required"), api
    )
    assert [call.name for call in outcome.tool_calls] == ["current_time"]


@BOTH_APIS
@BOTH_MODES
async def test_results_sent_back_are_quoted_in_a_text_answer(
    provider: OpenAICompatibleProvider, api: ApiKind, streamed: bool
) -> None:
    history = [user("What time is it?")]
    first = await collect(provider, request(*history, stream=streamed), api)
    second = await follow_up(provider, api, history, first, {"current_time": NOW}, stream=streamed)
    assert second.tool_calls == []
    assert f"The `current_time` tool says: {NOW}." in second.text
    assert second.finished is not None and second.finished.reason == "stop"
    assert second.usage is not None and second.usage.output_tokens


@BOTH_APIS
async def test_long_outputs_are_shortened(provider: OpenAICompatibleProvider, api: ApiKind) -> None:
    history = [user("What time is it?")]
    first = await collect(provider, request(*history), api)
    long = "tick " * 200
    second = await follow_up(provider, api, history, first, {"current_time": long})
    quoted = second.text.split("says: ", 1)[1].split("\n", 1)[0]
    assert 150 < len(quoted) < 210 and "…" in quoted


@BOTH_APIS
@BOTH_MODES
async def test_use_both_calls_two_tools_in_parallel(
    provider: OpenAICompatibleProvider, api: ApiKind, streamed: bool
) -> None:
    history = [user("Use both tools, please.")]
    body = request(*history, tools=(CLOCK, WEATHER), stream=streamed)
    outcome = await collect(provider, body, api)
    assert [call.name for call in outcome.tool_calls] == ["current_time", "get_weather"]
    assert len({call.call_id for call in outcome.tool_calls}) == 2
    second = await follow_up(
        provider,
        api,
        history,
        outcome,
        {"current_time": NOW, "get_weather": "Sunny, 21 °C"},
        tools=(CLOCK, WEATHER),
    )
    assert "The `current_time` tool says" in second.text
    assert "The `get_weather` tool says: Sunny, 21 °C." in second.text


@BOTH_APIS
async def test_parallel_tool_calls_false_makes_one_call(
    provider: OpenAICompatibleProvider, api: ApiKind
) -> None:
    body = request(user("Use both tools"), tools=(CLOCK, WEATHER), parallel_tool_calls=False)
    outcome = await collect(provider, body, api)
    assert [call.name for call in outcome.tool_calls] == ["current_time"]


@BOTH_APIS
async def test_twice_gives_two_rounds_then_text(
    provider: OpenAICompatibleProvider, api: ApiKind
) -> None:
    history = [user("Check the clock twice")]
    first = await collect(provider, request(*history), api)
    assert [call.name for call in first.tool_calls] == ["current_time"]
    second = await follow_up(provider, api, history, first, {"current_time": "20:51"})
    assert [call.name for call in second.tool_calls] == ["current_time"]
    assert second.finished is not None and second.finished.reason == "tool_calls"
    assert second.tool_calls[0].call_id != first.tool_calls[0].call_id
    third = await follow_up(provider, api, history, second, {"current_time": "20:52"})
    assert third.tool_calls == []
    assert "20:52" in third.text
    assert third.finished is not None and third.finished.reason == "stop"


async def test_responses_unknown_call_id_is_refused(provider: OpenAICompatibleProvider) -> None:
    first = await collect(provider, request(user("What time is it?")), ApiKind.RESPONSES)
    stray = InputMessage(Role.USER, "", tool_results=(ToolResult("call_nope", "x"),))
    chained = request(stray, previous_response_id=response_id(first))
    outcome = await collect(provider, chained, ApiKind.RESPONSES)
    assert outcome.error is not None and outcome.error.status == 400
    message = "No tool call found for function call output with call_id call_nope."
    assert message in f"{outcome.error.message} {outcome.error.detail}"


async def test_responses_unknown_call_id_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/responses",
        json={
            "model": "demo",
            "input": [{"type": "function_call_output", "call_id": "call_x", "output": "1"}],
            "tools": [{"type": "function", "name": "current_time", "parameters": {}}],
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "No tool call found for function call output with call_id call_x.",
        "type": "invalid_request_error",
        "param": "input",
        "code": None,
    }


async def test_responses_stateless_replay_is_accepted(client: httpx.AsyncClient) -> None:
    """As fixture 04: the function_call item is replayed beside its output, store false."""
    response = await client.post(
        "/responses",
        json={
            "model": "demo",
            "store": False,
            "input": [
                {"role": "user", "content": "What time is it?"},
                {
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": "current_time",
                    "arguments": "{}",
                },
                {"type": "function_call_output", "call_id": "call_1", "output": NOW},
            ],
            "tools": [{"type": "function", "name": "current_time", "parameters": {}}],
        },
    )
    assert response.status_code == 200, response.text
    [item] = response.json()["output"]
    assert f"The `current_time` tool says: {NOW}." in item["content"][0]["text"]


async def test_chat_tool_message_must_answer_the_previous_call(
    client: httpx.AsyncClient,
) -> None:
    tools = [{"type": "function", "function": {"name": "current_time", "parameters": {}}}]
    call = {
        "id": "call_a",
        "type": "function",
        "function": {"name": "current_time", "arguments": "{}"},
    }
    stray = await client.post(
        "/chat/completions",
        json={
            "model": "demo",
            "tools": tools,
            "messages": [
                {"role": "user", "content": "time?"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_b", "content": "x"},
            ],
        },
    )
    assert stray.status_code == 400
    assert stray.json()["error"]["message"].startswith(
        "Invalid parameter: messages with role 'tool' must be a response to a preceeding"
    )
    unanswered = await client.post(
        "/chat/completions",
        json={
            "model": "demo",
            "tools": tools,
            "messages": [
                {"role": "user", "content": "time?"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "user", "content": "hello?"},
            ],
        },
    )
    assert unanswered.status_code == 400
    assert unanswered.json()["error"]["message"].endswith("did not have response messages: call_a")


async def test_chat_non_streamed_tool_call_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/chat/completions",
        json={
            "model": "demo",
            "messages": [{"role": "user", "content": "What time is it?"}],
            "tools": [{"type": "function", "function": {"name": "current_time"}}],
        },
    )
    [choice] = response.json()["choices"]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    [call] = message["tool_calls"]
    assert call["type"] == "function" and call["function"] == {
        "name": "current_time",
        "arguments": "{}",
    }


# --------------------------------------------------------------------------------------------
# Wire shapes against the recordings
# --------------------------------------------------------------------------------------------

needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason=f"recorded wire fixtures not found at {FIXTURES}"
)


def recorded_events(name: str) -> list[Event]:
    value = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    events = []
    for block in value["body_text"].split("\n\n"):
        lines = block.strip().split("\n")
        if not lines[0]:
            continue
        if lines[0].startswith("event: "):
            events.append(Event(lines[0].removeprefix("event: "), lines[1].removeprefix("data: ")))
        else:
            events.append(Event("message", lines[0].removeprefix("data: ")))
    return events


def folded(names: list[str]) -> list[str]:
    return [name for i, name in enumerate(names) if i == 0 or name != names[i - 1]]


def key_sets(body: Any) -> Any:
    """The keys of an object, recursively (values dropped), to compare shapes."""
    if isinstance(body, dict):
        return {key: key_sets(value) for key, value in body.items()}
    if isinstance(body, list):
        return [key_sets(value) for value in body[:1]]
    return None


@needs_fixtures
async def test_responses_tool_call_stream_matches_recording(client: httpx.AsyncClient) -> None:
    recorded = recorded_events("03_responses_stream_function_call_gpt55.json")
    demo = await stream(
        client,
        "/responses",
        {
            "model": "demo",
            "stream": True,
            "input": [{"role": "user", "content": "What is 1231 * 2331? Use the multiply tool."}],
            "tools": [
                {
                    "type": "function",
                    "name": "multiply",
                    "description": "Multiply two numbers.",
                    "parameters": {
                        "type": "object",
                        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                        "required": ["a", "b"],
                    },
                }
            ],
        },
    )
    assert folded([e.name for e in demo]) == folded([e.name for e in recorded])
    assert sum(e.name.endswith(".delta") for e in demo) > 1
    for mine, theirs in zip(folded_events(demo), folded_events(recorded), strict=True):
        mine_keys, their_keys = set(mine.json), set(theirs.json)
        assert their_keys <= mine_keys, mine.name
        if "item" in theirs.json:
            assert key_sets(mine.json["item"]) == key_sets(theirs.json["item"])
    final = demo[-1].json["response"]
    [item] = final["output"]
    assert item["type"] == "function_call" and item["status"] == "completed"
    assert json.loads(item["arguments"]) == {"a": 1, "b": 1}
    assert re.fullmatch(r"fc_[0-9a-z_]+", item["id"])
    assert re.fullmatch(r"call_[0-9a-f]{24}", item["call_id"])
    assert final["tools"][0]["name"] == "multiply" and final["tools"][0]["strict"] is True


def folded_events(events: list[Event]) -> list[Event]:
    return [e for i, e in enumerate(events) if i == 0 or e.name != events[i - 1].name]


@needs_fixtures
async def test_chat_tool_call_stream_matches_recording(client: httpx.AsyncClient) -> None:
    fixture = "18_chat_stream_tool_call_include_usage_gpt4omini.json"
    recorded = [event.json for event in recorded_events(fixture)[:-1]]
    body = json.loads((FIXTURES / fixture).read_text(encoding="utf-8"))["request"]["body"]
    events = await stream(client, "/chat/completions", {**body, "model": "demo"})
    assert events[-1].data == "[DONE]"
    demo = [event.json for event in events[:-1]]
    assert len(demo) == len(recorded)  # the same argument pieces: {" country ":" UK "}
    for mine, theirs in zip(demo, recorded, strict=True):
        assert set(mine) == set(theirs)
        assert key_sets(mine["choices"]) == key_sets(theirs["choices"])
    pieces = [
        chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
        for chunk in recorded[1:-2]
    ]
    mine_pieces = [
        chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
        for chunk in demo[1:-2]
    ]
    assert mine_pieces == pieces
    assert demo[-2]["choices"][0]["finish_reason"] == "tool_calls"


async def test_text_answers_carry_no_tool_fields(provider: OpenAICompatibleProvider) -> None:
    outcome = await collect(provider, request(user("Hello there")), ApiKind.CHAT)
    assert any(isinstance(event, TextDelta) for event in outcome.events)
    assert not any(isinstance(event, ToolCall) for event in outcome.events)


@BOTH_APIS
@BOTH_MODES
async def test_reasoning_then_a_tool_call(
    provider: OpenAICompatibleProvider, api: ApiKind, streamed: bool
) -> None:
    body = request(
        user("What time is it?"),
        reasoning_effort="low",
        reasoning_summary="auto",
        stream=streamed,
    )
    outcome = await collect(provider, body, api)
    assert outcome.reasoning
    assert [call.name for call in outcome.tool_calls] == ["current_time"]
    assert outcome.finished is not None and outcome.finished.reason == "tool_calls"


@pytest.mark.parametrize(
    ("path", "tools", "choice"),
    [
        (
            "/chat/completions",
            [
                {"type": "function", "function": {"name": "current_time"}},
                {"type": "function", "function": {"name": "lookup"}},
            ],
            {"type": "function", "function": {"name": "lookup"}},
        ),
        (
            "/responses",
            [
                {"type": "function", "name": "current_time"},
                {"type": "function", "name": "lookup"},
            ],
            {"type": "function", "name": "lookup"},
        ),
    ],
)
async def test_a_named_tool_choice_forces_that_tool(
    client: httpx.AsyncClient, path: str, tools: list[Any], choice: dict[str, Any]
) -> None:
    key = "messages" if path == "/chat/completions" else "input"
    body = {
        "model": "demo",
        key: [{"role": "user", "content": "What time is it?"}],
        "tools": tools,
        "tool_choice": choice,
    }
    response = await client.post(path, json=body)
    assert response.status_code == 200, response.text
    final = response.json()
    if path == "/chat/completions":
        calls = final["choices"][0]["message"]["tool_calls"]
        names = [call["function"]["name"] for call in calls]
    else:
        names = [item["name"] for item in final["output"] if item["type"] == "function_call"]
    assert names == ["lookup"]
    missing = await client.post(
        path, json={**body, "tool_choice": json.loads(json.dumps(choice).replace("lookup", "x"))}
    )
    assert missing.status_code == 400
    assert "'x' not found in 'tools'" in missing.json()["error"]["message"]
