"""Tools offered to the model, in each API's own shape, as the loopback server receives them;
and the names they are offered under."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.fixtures import ask, collect, provider_for
from tests.support.script import reply
from tests.support.server import LoopbackServer
from tui.domain import (
    ApiKind,
    ChatRequest,
    InputMessage,
    Role,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from tui.services.tool_names import MAX_NAME, ToolRef, wire_names

CLOCK = ToolSpec(
    name="get_time",
    description="The current time in a time zone.",
    parameters={"type": "object", "properties": {"zone": {"type": "string"}}},
)


@pytest.mark.parametrize("api", [ApiKind.CHAT, ApiKind.RESPONSES])
async def test_tools_reach_the_server_in_each_apis_shape(
    api: ApiKind, loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(reply("It is noon."))
    request = ask("what time is it", tools=(CLOCK,), tool_choice="auto", parallel_tool_calls=True)
    outcome = await collect(provider_for(loopback, http_client), request, api)
    assert outcome.error is None
    body = loopback.requests[-1].json
    schema = {"type": "object", "properties": {"zone": {"type": "string"}}}
    if api is ApiKind.CHAT:
        assert body["tools"] == [
            {
                "type": "function",
                "function": {
                    "name": "get_time",
                    "description": "The current time in a time zone.",
                    "parameters": schema,
                },
            }
        ]
    else:
        assert body["tools"] == [
            {
                "type": "function",
                "name": "get_time",
                "description": "The current time in a time zone.",
                "parameters": schema,
            }
        ]
    assert body["tool_choice"] == "auto" and body["parallel_tool_calls"] is True


@pytest.mark.parametrize("api", [ApiKind.CHAT, ApiKind.RESPONSES])
async def test_no_tools_means_no_tool_keys(
    api: ApiKind, loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(reply("Hello."))
    outcome = await collect(provider_for(loopback, http_client), ask(tool_choice="auto"), api)
    assert outcome.error is None
    body = loopback.requests[-1].json
    assert not {"tools", "tool_choice", "parallel_tool_calls"} & set(body)


async def test_web_search_and_functions_go_together_on_responses(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(reply("Found it."))
    request = ask("news", tools=(CLOCK,), web_search=True)
    outcome = await collect(provider_for(loopback, http_client), request, ApiKind.RESPONSES)
    assert outcome.error is None
    types = [tool["type"] for tool in loopback.requests[-1].json["tools"]]
    assert types == ["function", "web_search_preview"]


def test_names_are_kept_unless_two_servers_share_one() -> None:
    names = wire_names(
        [("files", "read"), ("notes", "read"), ("files", "list"), ("clock", "get_time")]
    )
    assert names == {
        "files__read": ToolRef("files", "read"),
        "notes__read": ToolRef("notes", "read"),
        "list": ToolRef("files", "list"),
        "get_time": ToolRef("clock", "get_time"),
    }


def test_names_fit_the_providers_rules_and_never_collide() -> None:
    long_a = "a" * 80 + "-first"
    long_b = "a" * 80 + "-second"
    names = wire_names(
        [("web", "fetch.url"), ("web", "fetch url"), ("x", long_a), ("x", long_b), ("s", "ü")]
    )
    assert len(names) == 5
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", name) and len(name) <= MAX_NAME, name
    assert len({name.lower() for name in names}) == 5
    assert sorted(ref.tool for ref in names.values()) == sorted(
        ["fetch.url", "fetch url", long_a, long_b, "ü"]
    )


CALL = ToolCall(call_id="call_1", name="get_time", arguments='{"zone": "UTC"}')
SECOND = ToolCall(call_id="call_2", name="get_time", arguments='{"zone": "CET"}')


async def test_chat_sends_the_calls_then_a_tool_message_per_result(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(reply("It is noon in UTC and 1 pm in CET."))
    history = (
        InputMessage(Role.USER, "what time is it here and there"),
        InputMessage(Role.ASSISTANT, "", tool_calls=(CALL, SECOND)),
        InputMessage(
            Role.USER,
            "",
            tool_results=(ToolResult("call_1", "12:00"), ToolResult("call_2", "13:00")),
        ),
    )
    request = ChatRequest(model="loopback-chat", messages=history, tools=(CLOCK,))
    outcome = await collect(provider_for(loopback, http_client), request, ApiKind.CHAT)
    assert outcome.error is None
    messages = loopback.requests[-1].json["messages"]
    assert messages[1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"zone": "UTC"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": '{"zone": "CET"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "12:00"},
        {"role": "tool", "tool_call_id": "call_2", "content": "13:00"},
    ]


async def test_responses_sends_only_the_outputs_chained_to_the_calling_response(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    """The provider keeps the call; the next request chains to it and carries the outputs."""
    loopback.enqueue(reply("Noted."))
    provider = provider_for(loopback, http_client)
    first = await collect(provider, ask("remember this"), ApiKind.RESPONSES)
    assert first.error is None and first.started and first.started[0].chainable
    response_id = first.started[0].response_id
    loopback.enqueue(reply("It is noon."))
    request = ChatRequest(
        model="loopback-chat",
        messages=(InputMessage(Role.USER, "", tool_results=(ToolResult("call_1", "12:00"),)),),
        previous_response_id=response_id,
        tools=(CLOCK,),
    )
    outcome = await collect(provider, request, ApiKind.RESPONSES)
    assert outcome.error is None
    body = loopback.requests[-1].json
    assert body["previous_response_id"] == response_id
    assert body["input"] == [
        {"type": "function_call_output", "call_id": "call_1", "output": "12:00"}
    ]


async def test_responses_resends_calls_and_outputs_as_items_without_a_chain(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    """The whole history, as after ``previous_response_not_found``: the call is an item too."""
    loopback.enqueue(reply("It is noon."))
    history = (
        InputMessage(Role.USER, "what time is it"),
        InputMessage(Role.ASSISTANT, "Let me look.", tool_calls=(CALL,)),
        InputMessage(Role.USER, "", tool_results=(ToolResult("call_1", "12:00"),)),
    )
    request = ChatRequest(model="loopback-chat", messages=history, tools=(CLOCK,))
    outcome = await collect(provider_for(loopback, http_client), request, ApiKind.RESPONSES)
    assert outcome.error is None
    assert loopback.requests[-1].json["input"] == [
        {"role": "user", "content": "what time is it"},
        {"role": "assistant", "content": "Let me look."},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_time",
            "arguments": '{"zone": "UTC"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "12:00"},
    ]
