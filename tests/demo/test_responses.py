"""The demo model over the Responses API: events, reasoning, chaining, memory, limits, errors."""

from __future__ import annotations

from typing import Any

import httpx

from tests.demo.sse import Event, error_of, raw_stream, stream
from tui.providers.demo import DemoTransport, demo_mounts
from tui.providers.demo.text import tokenize
from tui.providers.presets import DEMO_BASE_URL

PATH = "/responses"

TEXT_EVENTS = [
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
]


def collapse(names: list[str]) -> list[str]:
    """Event names with runs of the same delta event folded into one."""
    out: list[str] = []
    for name in names:
        if not (out and name == out[-1] and name.endswith(".delta")):
            out.append(name)
    return out


def output_text(events: list[Event]) -> str:
    return "".join(
        event.json["delta"] for event in events if event.name == "response.output_text.delta"
    )


async def test_stream_framing_has_event_lines_and_no_done(client: httpx.AsyncClient) -> None:
    raw = await raw_stream(client, PATH, {"model": "demo", "input": "Hi", "stream": True})
    assert "[DONE]" not in raw
    blocks = [block for block in raw.split("\n\n") if block]
    for block in blocks:
        event_line, data_line = block.split("\n")
        assert event_line.startswith("event: response.")
        assert data_line.startswith("data: {")
    assert blocks[-1].startswith("event: response.completed\n")


async def test_text_stream_event_order_and_numbering(client: httpx.AsyncClient) -> None:
    events = await stream(client, PATH, {"model": "demo", "input": "Hello there", "stream": True})
    names = [event.name for event in events]
    assert collapse(names) == [
        "response.created",
        "response.in_progress",
        *TEXT_EVENTS,
        "response.completed",
    ]
    bodies = [event.json for event in events]
    assert [body["sequence_number"] for body in bodies] == list(range(len(events)))
    assert all(body["type"] == event.name for body, event in zip(bodies, events, strict=True))
    created, in_progress, completed = bodies[0], bodies[1], bodies[-1]
    response_id = created["response"]["id"]
    assert response_id.startswith("resp_demo_")
    for early in (created, in_progress):
        assert early["response"]["status"] == "in_progress"
        assert early["response"]["usage"] is None
        assert early["response"]["output"] == []
    final = completed["response"]
    assert final["id"] == response_id and final["status"] == "completed"
    text = output_text(events)
    done = next(body for body in bodies if body["type"] == "response.output_text.done")
    assert done["text"] == text
    (message,) = final["output"]
    assert message["type"] == "message" and message["status"] == "completed"
    assert message["content"][0]["text"] == text
    assert final["usage"]["output_tokens"] == len(tokenize(text))
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == 0
    assert final["usage"]["total_tokens"] == (
        final["usage"]["input_tokens"] + final["usage"]["output_tokens"]
    )
    item_ids = {body["item_id"] for body in bodies if "item_id" in body}
    assert item_ids == {message["id"]} and message["id"].startswith("msg_demo_")


async def test_reasoning_summary_streams_before_the_answer(client: httpx.AsyncClient) -> None:
    body = {
        "model": "demo",
        "input": "Why is the sky blue?",
        "stream": True,
        "reasoning": {"effort": "medium", "summary": "auto"},
    }
    events = await stream(client, PATH, body)
    reasoning_part = [
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    ]
    assert collapse([event.name for event in events]) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        *reasoning_part,
        *reasoning_part,
        "response.output_item.done",
        *TEXT_EVENTS,
        "response.completed",
    ]
    bodies = [event.json for event in events]
    assert bodies[2]["item"]["type"] == "reasoning" and bodies[2]["item"]["summary"] == []
    dones = [body for body in bodies if body["type"] == "response.reasoning_summary_text.done"]
    assert [body["summary_index"] for body in dones] == [0, 1]
    assert dones[0]["text"].startswith("**Reading the request**\n\n")
    message_added = next(
        body
        for body in bodies
        if body["type"] == "response.output_item.added" and body["item"]["type"] == "message"
    )
    assert message_added["output_index"] == 1
    final = bodies[-1]["response"]
    assert [item["type"] for item in final["output"]] == ["reasoning", "message"]
    assert final["reasoning"] == {"effort": "medium", "summary": "auto"}
    summary_tokens = sum(len(tokenize(body["text"])) for body in dones)
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == summary_tokens


async def test_reasoning_without_a_summary_request_shows_no_summary(
    client: httpx.AsyncClient,
) -> None:
    body = {"model": "demo", "input": "Hi", "stream": True, "reasoning": {"effort": "low"}}
    events = await stream(client, PATH, body)
    names = {event.name for event in events}
    assert not any("reasoning_summary" in name for name in names)
    final = events[-1].json["response"]
    assert final["output"][0] == {
        "id": final["output"][0]["id"],
        "type": "reasoning",
        "summary": [],
    }
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] > 0


async def test_responses_only_model_always_reasons(client: httpx.AsyncClient) -> None:
    body = {"model": "demo-pro", "input": "Prove it", "reasoning": {"summary": "detailed"}}
    response = await client.post(PATH, json=body)
    assert response.status_code == 200
    final = response.json()
    assert final["reasoning"]["effort"] == "high"
    assert [item["type"] for item in final["output"]] == ["reasoning", "message"]
    assert len(final["output"][0]["summary"]) == 3
    low = await client.post(PATH, json={**body, "reasoning": {"effort": "low"}})
    assert low.status_code == 400
    assert error_of(low)["param"] == "reasoning.effort"


async def test_non_streamed_response(client: httpx.AsyncClient) -> None:
    response = await client.post(
        PATH, json={"model": "demo", "input": "Hi", "instructions": "Be kind."}
    )
    assert response.status_code == 200
    final = response.json()
    assert final["object"] == "response" and final["status"] == "completed"
    assert final["instructions"] == "Be kind." and final["store"] is True
    text = final["output"][0]["content"][0]["text"]
    assert "> Following your instructions: “Be kind.”" in text
    assert final["usage"]["output_tokens"] == len(tokenize(text))


async def chain_turn(
    client: httpx.AsyncClient, text: str, previous: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "demo", "input": text, **extra}
    if previous is not None:
        body["previous_response_id"] = previous
    response = await client.post(PATH, json=body)
    assert response.status_code == 200, response.text
    final = response.json()
    assert isinstance(final, dict)
    return final


def answer(final: dict[str, Any]) -> str:
    text = final["output"][-1]["content"][0]["text"]
    assert isinstance(text, str)
    return text


async def test_chained_responses_remember_the_conversation(client: httpx.AsyncClient) -> None:
    first = await chain_turn(client, "My name is Ada.")
    second = await chain_turn(client, "What is my name?", first["id"])
    third = await chain_turn(client, "And again?", second["id"])
    assert "This is the start of our conversation." in answer(first)
    assert "This is message 2 from you" in answer(second)
    assert "This is message 3 from you" in answer(third)
    assert "your first one was “My name is Ada.”" in answer(third)
    assert third["previous_response_id"] == second["id"]
    # Earlier turns are billed again as input, as on OpenAI.
    inputs = [turn["usage"]["input_tokens"] for turn in (first, second, third)]
    assert inputs[0] < inputs[1] < inputs[2]
    # A branch from the first turn has its own history.
    branch = await chain_turn(client, "Something else", first["id"])
    assert "This is message 2 from you" in answer(branch)


async def test_streamed_turns_chain_too(client: httpx.AsyncClient) -> None:
    events = await stream(client, PATH, {"model": "demo", "input": "First", "stream": True})
    first_id = events[0].json["response"]["id"]
    second = await chain_turn(client, "Second", first_id)
    assert "your first one was “First”" in answer(second)


async def test_instructions_do_not_carry_over(client: httpx.AsyncClient) -> None:
    first = await chain_turn(client, "Hi", instructions="Speak French.")
    assert "Following your instructions" in answer(first)
    second = await chain_turn(client, "Again", first["id"])
    assert "Following your instructions" not in answer(second)
    assert second["instructions"] is None


async def test_unknown_previous_response_is_the_real_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        PATH,
        json={"model": "demo", "input": "x", "previous_response_id": "resp_gone", "stream": True},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert error_of(response) == {
        "message": "Previous response with id 'resp_gone' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }


async def test_unstored_responses_cannot_be_chained(client: httpx.AsyncClient) -> None:
    unstored = await chain_turn(client, "Secret", store=False)
    assert unstored["store"] is False
    response = await client.post(
        PATH, json={"model": "demo", "input": "x", "previous_response_id": unstored["id"]}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "previous_response_not_found"


async def test_oldest_responses_are_forgotten_past_the_limit() -> None:
    transport = DemoTransport(None, max_stored_responses=2)
    async with httpx.AsyncClient(mounts=demo_mounts(transport), base_url=DEMO_BASE_URL) as client:
        first = await chain_turn(client, "one")
        second = await chain_turn(client, "two")
        await chain_turn(client, "three")
        gone = await client.post(
            PATH, json={"model": "demo", "input": "x", "previous_response_id": first["id"]}
        )
        assert error_of(gone)["code"] == "previous_response_not_found"
        kept = await chain_turn(client, "four", second["id"])
        assert "your first one was “two”" in answer(kept)


async def test_a_resent_history_counts_its_turns(client: httpx.AsyncClient) -> None:
    """What the engine sends after previous_response_not_found: the whole path as input."""
    history = [
        {"role": "user", "content": "Start here"},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Sure."}],
        },
        {"role": "user", "content": [{"type": "input_text", "text": "Next"}]},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Look at this"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            ],
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "ignored"},
    ]
    text = answer(await chain_turn(client, "", input=history))
    assert "This is message 3 from you" in text
    assert "your first one was “Start here”" in text
    assert "I received 1 attachment with it." in text


async def test_max_output_tokens_ends_with_response_incomplete(
    client: httpx.AsyncClient,
) -> None:
    body = {"model": "demo", "input": "Tell me everything", "stream": True, "max_output_tokens": 20}
    events = await stream(client, PATH, body)
    names = collapse([event.name for event in events])
    assert names[-1] == "response.incomplete"
    assert "response.completed" not in names
    final = events[-1].json["response"]
    assert final["status"] == "incomplete"
    assert final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["max_output_tokens"] == 20
    assert final["output"][0]["status"] == "incomplete"
    assert final["usage"]["output_tokens"] == 20
    assert len(tokenize(output_text(events))) == 20


async def test_the_limit_counts_reasoning_tokens_too(client: httpx.AsyncClient) -> None:
    body = {
        "model": "demo-pro",
        "input": "Think hard",
        "max_output_tokens": 16,
        "reasoning": {"summary": "auto"},
    }
    final = (await client.post(PATH, json=body)).json()
    assert final["status"] == "incomplete"
    assert [item["type"] for item in final["output"]] == ["reasoning"]
    assert final["usage"]["output_tokens"] == 16
    assert final["usage"]["output_tokens_details"]["reasoning_tokens"] == 16


async def test_bad_requests_get_openai_errors(client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], int, str | None, str | None]] = [
        ({"input": "x"}, 400, "model", "missing_required_parameter"),
        ({"model": "demo"}, 400, "input", "missing_required_parameter"),
        ({"model": "nope", "input": "x"}, 400, "model", "model_not_found"),
        ({"model": "demo", "input": 5}, 400, "input", "invalid_type"),
        ({"model": "demo", "input": "x", "max_output_tokens": 8}, 400, "max_output_tokens", None),
        ({"model": "demo", "input": "x", "temperature": 3}, 400, "temperature", None),
        ({"model": "demo", "input": "x", "instructions": 1}, 400, "instructions", "invalid_type"),
        (
            {"model": "demo", "input": "x", "reasoning": {"summary": "all"}},
            400,
            "reasoning.summary",
            "invalid_value",
        ),
        ({"model": "demo", "input": "x", "store": "no"}, 400, "store", "invalid_type"),
    ]
    for body, status, param, code in cases:
        response = await client.post(PATH, json=body)
        assert response.status_code == status, body
        error = error_of(response)
        assert error["param"] == param, body
        if code is not None:
            assert error["code"] == code, body
    below = error_of(
        await client.post(PATH, json={"model": "demo", "input": "x", "max_output_tokens": 8})
    )
    assert below["message"] == (
        "Invalid 'max_output_tokens': integer below minimum value. "
        "Expected a value >= 16, but got 8 instead."
    )
