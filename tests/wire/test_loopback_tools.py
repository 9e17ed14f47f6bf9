"""The loopback server scripted to call tools: its wire shapes over real HTTP, and the adapters.

``tool_calls()`` answers with function calls on the API the request used, streamed or not;
the Responses side stores the response with its call ids, so a chained
``function_call_output`` is accepted and an unknown call id gets OpenAI's 400.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.fixtures import TEST_KEY, ask, collect, provider_for
from tests.support.script import Behaviour, tool_calls
from tests.support.server import LoopbackServer
from tui.domain import (
    ApiKind,
    ChatRequest,
    Finished,
    InputMessage,
    Role,
    ToolCall,
    ToolCallDelta,
    ToolResult,
    ToolSpec,
)
from tui.providers import errors

AUTH = {"authorization": f"Bearer {TEST_KEY}"}
CAPITAL = ("get_capital", {"country": "UK"})
MULTIPLY = ("multiply", {"a": 1231, "b": 2331})
TOOLS = (
    ToolSpec("get_capital", "The capital of a country.", {"type": "object"}),
    ToolSpec("multiply", "Multiply two numbers.", {"type": "object"}),
)


# ---- helpers --------------------------------------------------------------------------------


async def post(
    server: LoopbackServer, path: str, body: dict[str, Any], **headers: str
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        return await client.post(path, json=body, headers={**AUTH, **headers})


def data_lines(response: httpx.Response) -> list[str]:
    return [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]


def chat_chunks(response: httpx.Response) -> list[dict[str, Any]]:
    lines = data_lines(response)
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def responses_events(response: httpx.Response) -> list[dict[str, Any]]:
    events = []
    kind = None
    for line in response.text.splitlines():
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            payload = json.loads(line[6:])
            assert payload["type"] == kind, "the event: line names the payload's type"
            events.append(payload)
    return events


def chat_body(stream: bool, messages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "loopback-chat",
        "messages": messages or [{"role": "user", "content": "Capital of the UK?"}],
        "stream": stream,
    }
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def responses_body(stream: bool, **extra: Any) -> dict[str, Any]:
    return {"model": "loopback-chat", "input": "Capital of the UK?", "stream": stream, **extra}


def tools_request(text: str = "Use the tools.", **options: Any) -> ChatRequest:
    return ask(text, tools=TOOLS, **options)


# ---- the builder ----------------------------------------------------------------------------


def test_the_builder_numbers_calls_and_serialises_arguments() -> None:
    behaviour = tool_calls(CAPITAL, ("my_id", "multiply", '{"a": 1'), ("noop", "{}"))
    assert behaviour.tool_calls == (
        ("call_1", "get_capital", '{"country": "UK"}'),
        ("my_id", "multiply", '{"a": 1'),
        ("call_3", "noop", "{}"),
    )
    assert behaviour.text is None and behaviour.finish_reason == "tool_calls"
    assert tool_calls(CAPITAL, text="Let me look.", finish_reason="stop").finish_reason == "stop"
    assert Behaviour.from_json(behaviour.to_json()) == behaviour
    with pytest.raises(ValueError):
        tool_calls()


# ---- Chat Completions over HTTP -------------------------------------------------------------


async def test_chat_stream_carries_tool_call_deltas_like_openai(loopback: LoopbackServer) -> None:
    loopback.enqueue(tool_calls(CAPITAL, MULTIPLY, usage=(53, 15, 0)))
    response = await post(loopback, "/chat/completions", chat_body(stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    chunks = chat_chunks(response)
    first = chunks[0]["choices"][0]["delta"]
    assert first["role"] == "assistant" and first["content"] is None
    assert first["tool_calls"] == [
        {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_capital", "arguments": ""},
        }
    ]
    fragments: dict[int, list[str]] = {0: [], 1: []}
    heads: dict[int, dict[str, Any]] = {}
    for chunk in chunks[:-2]:
        assert chunk["usage"] is None and chunk["object"] == "chat.completion.chunk"
        for call in chunk["choices"][0]["delta"]["tool_calls"]:
            if "id" in call:
                heads[call["index"]] = call
                assert call["function"]["arguments"] == ""
            else:
                assert set(call) == {"index", "function"}
                fragments[call["index"]].append(call["function"]["arguments"])
    assert heads[1]["id"] == "call_2" and heads[1]["function"]["name"] == "multiply"
    assert all(len(pieces) >= 2 for pieces in fragments.values())
    assert json.loads("".join(fragments[0])) == {"country": "UK"}
    assert json.loads("".join(fragments[1])) == {"a": 1231, "b": 2331}
    finish = chunks[-2]["choices"][0]
    assert finish["delta"] == {} and finish["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 53


async def test_chat_stream_sends_text_before_the_calls(loopback: LoopbackServer) -> None:
    loopback.enqueue(tool_calls(CAPITAL, text="Let me look that up."))
    chunks = chat_chunks(await post(loopback, "/chat/completions", chat_body(stream=True)))
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    text = "".join(d.get("content") or "" for d in deltas)
    assert text == "Let me look that up."
    first_call = next(i for i, d in enumerate(deltas) if "tool_calls" in d)
    assert all("tool_calls" not in d for d in deltas[:first_call])
    assert all("content" not in d for d in deltas[first_call:])


async def test_chat_whole_reply_has_message_tool_calls(loopback: LoopbackServer) -> None:
    loopback.enqueue(tool_calls(CAPITAL), tool_calls(MULTIPLY, text="Computing."))
    body = (await post(loopback, "/chat/completions", chat_body(stream=False))).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_capital", "arguments": '{"country": "UK"}'},
        }
    ]
    second = (await post(loopback, "/chat/completions", chat_body(stream=False))).json()
    assert second["choices"][0]["message"]["content"] == "Computing."
    assert second["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "multiply"


async def test_chat_accepts_tool_messages_and_echoes_their_results(
    loopback: LoopbackServer,
) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Capital and product?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
                {"id": "call_2", "type": "function", "function": {"name": "b", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "London"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "42"}]},
    ]
    response = await post(loopback, "/chat/completions", chat_body(False, messages))
    assert response.status_code == 200
    message = response.json()["choices"][0]["message"]
    assert message["content"] == "[turn 1] tool results: London | 42"
    assert loopback.requests[-1].json["messages"][2]["tool_call_id"] == "call_1"


async def test_the_script_header_can_carry_tool_calls(loopback: LoopbackServer) -> None:
    script = tool_calls(("broken", '{"a": '), sequence_numbers=False).to_json()
    response = await post(
        loopback, "/responses", responses_body(False), **{"x-loopback-script": script}
    )
    call = response.json()["output"][0]
    assert call["type"] == "function_call" and call["arguments"] == '{"a": '


# ---- Responses over HTTP --------------------------------------------------------------------


async def test_responses_stream_has_function_call_events_like_openai(
    loopback: LoopbackServer,
) -> None:
    loopback.enqueue(tool_calls(CAPITAL, ("call_custom", "multiply", MULTIPLY[1])))
    response = await post(loopback, "/responses", responses_body(True))
    events = responses_events(response)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.output_text.delta" not in kinds, "no message item when only calling"
    final = events[-1]["response"]
    assert final["status"] == "completed"
    assert [item["call_id"] for item in final["output"]] == ["call_1", "call_custom"]
    for index, item in enumerate(final["output"]):
        assert item["type"] == "function_call" and item["id"].startswith("fc_")
        mine = [e for e in events if e.get("output_index") == index]
        assert [e["type"] for e in mine[:1] + mine[-2:]] == [
            "response.output_item.added",
            "response.function_call_arguments.done",
            "response.output_item.done",
        ]
        added = mine[0]["item"]
        assert added == {**item, "status": "in_progress", "arguments": ""}
        deltas = [e for e in mine if e["type"] == "response.function_call_arguments.delta"]
        assert len(deltas) >= 2 and all(e["item_id"] == item["id"] for e in deltas)
        assert "".join(e["delta"] for e in deltas) == item["arguments"]
        assert mine[-2]["arguments"] == item["arguments"]
        assert mine[-1]["item"] == item
    assert json.loads(final["output"][1]["arguments"]) == {"a": 1231, "b": 2331}


async def test_responses_stream_with_text_and_no_sequence_numbers(
    loopback: LoopbackServer,
) -> None:
    loopback.enqueue(tool_calls(CAPITAL, text="Checking.", sequence_numbers=False))
    events = responses_events(await post(loopback, "/responses", responses_body(True)))
    assert all("sequence_number" not in e for e in events)
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "Checking."
    output = events[-1]["response"]["output"]
    assert [item["type"] for item in output] == ["message", "function_call"]
    call_added = [
        e
        for e in events
        if e["type"] == "response.output_item.added" and e["item"]["type"] == "function_call"
    ]
    assert call_added[0]["output_index"] == 1


async def test_responses_whole_reply_has_function_call_items(loopback: LoopbackServer) -> None:
    loopback.enqueue(tool_calls(CAPITAL))
    body = (await post(loopback, "/responses", responses_body(False))).json()
    assert body["object"] == "response" and body["status"] == "completed"
    assert body["output"] == [
        {
            "id": body["output"][0]["id"],
            "type": "function_call",
            "status": "completed",
            "arguments": '{"country": "UK"}',
            "call_id": "call_1",
            "name": "get_capital",
        }
    ]


@pytest.mark.parametrize("stream", [True, False])
async def test_a_chained_function_call_output_is_accepted_and_echoed(
    loopback: LoopbackServer, stream: bool
) -> None:
    loopback.enqueue(tool_calls(CAPITAL, MULTIPLY))
    first = (await post(loopback, "/responses", responses_body(False))).json()
    outputs = [
        {"type": "function_call_output", "call_id": "call_1", "output": "London"},
        {"type": "function_call_output", "call_id": "call_2", "output": "2869461"},
    ]
    follow = await post(
        loopback,
        "/responses",
        {**responses_body(stream, previous_response_id=first["id"]), "input": outputs},
    )
    assert follow.status_code == 200
    if stream:
        final = responses_events(follow)[-1]["response"]
    else:
        final = follow.json()
    text = final["output"][0]["content"][0]["text"]
    assert text == "[turn 1] tool results: London | 2869461"
    assert final["previous_response_id"] == first["id"]
    assert loopback.requests[-1].json["input"] == outputs


async def test_an_unknown_call_id_gets_openais_400(loopback: LoopbackServer) -> None:
    loopback.enqueue(tool_calls(CAPITAL))
    first = (await post(loopback, "/responses", responses_body(True))).text
    response_id = responses_events_text_id(first)
    outputs = [{"type": "function_call_output", "call_id": "call_nope", "output": "x"}]
    answer = await post(
        loopback,
        "/responses",
        {**responses_body(False, previous_response_id=response_id), "input": outputs},
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "error": {
            "message": "No tool call found for function call output with call_id call_nope.",
            "type": "invalid_request_error",
            "param": "input",
            "code": None,
        }
    }
    # Outputs chained to a plain (unscripted) reply are not checked: its calls are unknown.
    plain = (await post(loopback, "/responses", responses_body(False))).json()
    outputs = [{"type": "function_call_output", "call_id": "call_1", "output": "x"}]
    again = await post(
        loopback,
        "/responses",
        {**responses_body(False, previous_response_id=plain["id"]), "input": outputs},
    )
    assert again.status_code == 200


def responses_events_text_id(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("data: "):
            payload = json.loads(line[6:])
            if payload["type"] == "response.completed":
                return str(payload["response"]["id"])
    raise AssertionError("no response.completed")


async def test_stateless_function_call_replay_is_accepted(loopback: LoopbackServer) -> None:
    items = [
        {"role": "user", "content": "What is 1231 * 2331?"},
        {"type": "function_call", "call_id": "call_x", "name": "multiply", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_x", "output": "2869461"},
    ]
    body = {**responses_body(False, store=False), "input": items}
    answer = await post(loopback, "/responses", body)
    assert answer.status_code == 200
    text = answer.json()["output"][0]["content"][0]["text"]
    assert text == "[turn 1] tool results: 2869461"


# ---- through the adapters -------------------------------------------------------------------


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
@pytest.mark.parametrize("api", [ApiKind.CHAT, ApiKind.RESPONSES])
async def test_the_adapters_turn_scripted_calls_into_tool_call_events(
    loopback: LoopbackServer, http_client: httpx.AsyncClient, api: ApiKind, stream: bool
) -> None:
    loopback.enqueue(tool_calls(CAPITAL, ("call_9", "multiply", MULTIPLY[1])))
    outcome = await collect(provider_for(loopback, http_client), tools_request(stream=stream), api)
    assert outcome.error is None, outcome.error
    assert outcome.tool_calls == [
        ToolCall("call_1", "get_capital", '{"country": "UK"}'),
        ToolCall("call_9", "multiply", '{"a": 1231, "b": 2331}'),
    ]
    assert outcome.text == ""
    assert outcome.finished == Finished("tool_calls")
    sent = loopback.requests[-1].json
    assert [tool.get("name") or tool["function"]["name"] for tool in sent["tools"]] == [
        "get_capital",
        "multiply",
    ]


@pytest.mark.parametrize("api", [ApiKind.CHAT, ApiKind.RESPONSES])
async def test_a_streamed_call_shows_its_name_and_arguments_as_they_arrive(
    loopback: LoopbackServer, http_client: httpx.AsyncClient, api: ApiKind
) -> None:
    loopback.enqueue(tool_calls(CAPITAL, ("call_9", "multiply", MULTIPLY[1])))
    outcome = await collect(provider_for(loopback, http_client), tools_request(), api)
    deltas = [e for e in outcome.events if isinstance(e, ToolCallDelta)]
    assert len(deltas) >= 4  # at least two pieces of arguments per call
    for index, call in enumerate(outcome.tool_calls):
        mine = [d for d in deltas if d.index == index]
        assert {d.name for d in mine} == {call.name}
        assert "".join(d.arguments for d in mine) == call.arguments
        last_piece = max(i for i, e in enumerate(outcome.events) if e in mine)
        assert last_piece < outcome.events.index(call)  # the pieces come before the call


@pytest.mark.parametrize("api", [ApiKind.CHAT, ApiKind.RESPONSES])
async def test_the_adapters_keep_text_and_invalid_arguments_verbatim(
    loopback: LoopbackServer, http_client: httpx.AsyncClient, api: ApiKind
) -> None:
    loopback.enqueue(tool_calls(("broken", '{"a": 1,'), text="Trying."))
    outcome = await collect(provider_for(loopback, http_client), tools_request(), api)
    assert outcome.text == "Trying."
    assert outcome.tool_calls == [ToolCall("call_1", "broken", '{"a": 1,')]
    assert outcome.finished == Finished("tool_calls")


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
async def test_a_responses_follow_up_with_results_is_accepted(
    loopback: LoopbackServer, http_client: httpx.AsyncClient, stream: bool
) -> None:
    provider = provider_for(loopback, http_client)
    loopback.enqueue(tool_calls(CAPITAL, MULTIPLY))
    first = await collect(provider, tools_request(stream=stream), ApiKind.RESPONSES)
    assert first.finished == Finished("tool_calls")
    response_id = first.started[0].response_id
    assert first.started[0].chainable
    results = tuple(
        ToolResult(call.call_id, output)
        for call, output in zip(first.tool_calls, ("London", "2869461"), strict=True)
    )
    follow_up = tools_request(
        previous_response_id=response_id,
        messages=(InputMessage(Role.USER, "", tool_results=results),),
        stream=stream,
    )
    second = await collect(provider, follow_up, ApiKind.RESPONSES)
    assert second.error is None, second.error
    assert second.text == "[turn 1] tool results: London | 2869461"
    assert second.finished == Finished("stop")
    sent = loopback.requests[-1].json
    assert sent["previous_response_id"] == response_id
    assert sent["input"] == [
        {"type": "function_call_output", "call_id": "call_1", "output": "London"},
        {"type": "function_call_output", "call_id": "call_2", "output": "2869461"},
    ]


async def test_a_responses_follow_up_with_an_unknown_call_id_fails_with_400(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    provider = provider_for(loopback, http_client)
    loopback.enqueue(tool_calls(CAPITAL))
    first = await collect(provider, tools_request(), ApiKind.RESPONSES)
    follow_up = tools_request(
        previous_response_id=first.started[0].response_id,
        messages=(InputMessage(Role.USER, "", tool_results=(ToolResult("call_ghost", "London"),)),),
    )
    second = await collect(provider, follow_up, ApiKind.RESPONSES)
    assert isinstance(second.error, errors.BadRequestError)
    assert not isinstance(second.error, errors.PreviousResponseNotFoundError)
    assert second.error.status == 400
    assert "call_ghost" in str(second.error)
    assert len(loopback.requests) == 2, "a 400 is not retried"


async def test_a_chat_follow_up_with_the_whole_history_is_accepted(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    provider = provider_for(loopback, http_client)
    loopback.enqueue(tool_calls(CAPITAL))
    first = await collect(provider, tools_request("Capital?"), ApiKind.CHAT)
    call = first.tool_calls[0]
    history = (
        InputMessage(Role.USER, "Capital?"),
        InputMessage(Role.ASSISTANT, "", tool_calls=(call,)),
        InputMessage(Role.USER, "", tool_results=(ToolResult(call.call_id, "London"),)),
    )
    second = await collect(provider, tools_request(messages=history), ApiKind.CHAT)
    assert second.error is None, second.error
    assert second.text == "[turn 1] tool results: London"
    sent = loopback.requests[-1].json["messages"]
    assert sent[1]["content"] is None and sent[1]["tool_calls"][0]["id"] == "call_1"
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": "London"}


def test_a_tool_call_delta_without_a_usable_index_is_taken_as_the_first() -> None:
    from tui.providers.chat_completions import ChatStreamParser

    parser = ChatStreamParser()
    out: list[Any] = []
    chunk = {
        "id": "c1",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "content": "Hello ",
                    "tool_calls": [
                        {
                            "index": None,
                            "id": "call_x",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
            }
        ],
    }
    parser.feed("", json.dumps(chunk), out)
    parser.feed("", json.dumps({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}), out)
    parser.feed("", "[DONE]", out)
    assert [e for e in out if isinstance(e, ToolCall)] == [ToolCall("call_x", "f", "{}")]
    assert [e for e in out if isinstance(e, ToolCallDelta)] == [ToolCallDelta(0, "f", "{}")]
