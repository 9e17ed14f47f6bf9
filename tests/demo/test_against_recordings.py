"""The demo's bytes have the shape of real recorded OpenAI traffic, so adapters parse it as is.

For each recording, the demo is asked the same kind of request; every field the real server
sent must be present in the demo's answer (the demo may add none the adapters would trip on),
and events come in the same order.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.demo.sse import Event, error_of, stream

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "wire" / "fixtures"

if not FIXTURES.is_dir():
    pytest.skip(
        f"recorded wire fixtures not found at {FIXTURES} (they sit beside the checkout in CI)",
        allow_module_level=True,
    )


def recording(name: str) -> dict[str, Any]:
    value = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert isinstance(value, dict)
    return value


def recorded_events(name: str) -> list[Event]:
    events = []
    for block in recording(name)["body_text"].split("\n\n"):
        lines = block.strip().split("\n")
        if not lines[0]:
            continue
        if lines[0].startswith("event: "):
            events.append(Event(lines[0].removeprefix("event: "), lines[1].removeprefix("data: ")))
        else:
            events.append(Event("message", lines[0].removeprefix("data: ")))
    return events


def grammar(events: list[Event]) -> list[str]:
    """Event names with repeats of a delta, and of whole reasoning summary parts, folded."""
    out: list[str] = []
    for event in events:
        name = event.name
        if out and name == out[-1] and name.endswith(".delta"):
            continue
        if name == "response.reasoning_summary_part.added" and "reasoning_part" in out[-1:]:
            out.pop()
        out.append(name)
        if name == "response.reasoning_summary_part.done":
            out[-4:] = ["reasoning_part"]
    return out


def assert_covers(recorded: dict[str, Any], demo: dict[str, Any], where: str) -> None:
    """Every key of the recorded object is in the demo's, recursively for nested objects."""
    missing = set(recorded) - set(demo)
    assert not missing, f"{where}: the demo lacks {sorted(missing)}"
    for key, value in recorded.items():
        if isinstance(value, dict) and isinstance(demo[key], dict) and value:
            assert_covers(value, demo[key], f"{where}.{key}")


def first_by_kind(events: list[Event]) -> dict[tuple[str, str], dict[str, Any]]:
    """First event of each (name, item type) pair, so message and reasoning items compare."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for event in events:
        body = event.json
        kind = body.get("item", {}).get("type", "")
        out.setdefault((event.name, kind), body)
    return out


@pytest.mark.parametrize(
    ("fixture", "request_body"),
    [
        ("01_responses_stream_text_gpt55.json", {"input": "Reply with exactly: pong"}),
        (
            "02_responses_stream_reasoning_summary_o3mini.json",
            {
                "input": "How do I cross the street?",
                "reasoning": {"effort": "high", "summary": "detailed"},
                "include": ["reasoning.encrypted_content"],
            },
        ),
        (
            "13_responses_stream_incomplete_max_output_tokens.json",
            {"input": "List all U.S. states.", "max_output_tokens": 50},
        ),
    ],
)
async def test_responses_stream_matches_recording(
    client: httpx.AsyncClient, fixture: str, request_body: dict[str, Any]
) -> None:
    recorded = recorded_events(fixture)
    demo = await stream(client, "/responses", {"model": "demo", "stream": True, **request_body})
    assert grammar(demo) == grammar(recorded)
    demo_kinds = first_by_kind(demo)
    for key, body in first_by_kind(recorded).items():
        assert key in demo_kinds, f"the demo never sends {key}"
        assert_covers(body, demo_kinds[key], f"{fixture} {key[0]}")


async def test_chat_stream_matches_recording(client: httpx.AsyncClient) -> None:
    recorded = [
        event.json
        for event in recorded_events("19_chat_stream_text_include_usage_gpt4omini.json")[:-1]
    ]
    demo_events = await stream(
        client,
        "/chat/completions",
        {
            "model": "demo",
            "messages": [{"role": "user", "content": "What is the capital of the UK?"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert demo_events[-1].data == "[DONE]"
    demo = [event.json for event in demo_events[:-1]]
    for position in (0, 1, -2, -1):  # role chunk, a content chunk, finish chunk, usage chunk
        assert set(demo[position]) == set(recorded[position])
        assert_covers(recorded[position], demo[position], f"chunk {position}")
        for recorded_choice, demo_choice in zip(
            recorded[position]["choices"], demo[position]["choices"], strict=True
        ):
            assert set(recorded_choice) == set(demo_choice)
            assert set(recorded_choice["delta"]) == set(demo_choice["delta"])
    assert demo[-1]["choices"] == recorded[-1]["choices"] == []


async def test_chat_completion_matches_recording(client: httpx.AsyncClient) -> None:
    recorded = json.loads(
        recording("20_chat_nonstream_with_ratelimit_headers_gpt4o.json")["body_text"]
    )
    response = await client.post(
        "/chat/completions",
        json={"model": "demo", "messages": [{"role": "user", "content": "Hello"}]},
    )
    demo = response.json()
    assert set(demo) == set(recorded)
    assert_covers(recorded, demo, "chat.completion")
    assert set(demo["choices"][0]) == set(recorded["choices"][0])
    assert set(demo["choices"][0]["message"]) == set(recorded["choices"][0]["message"])


@pytest.mark.parametrize(
    "fixture",
    ["07_responses_prev_id_turn2_gpt4o.json", "09_responses_gpt5pro_nonstream_reasoning_item.json"],
)
async def test_response_object_matches_recording(client: httpx.AsyncClient, fixture: str) -> None:
    recorded = json.loads(recording(fixture)["body_text"])
    first = (
        await client.post("/responses", json={"model": "demo-pro", "input": "My name?"})
    ).json()
    demo = (
        await client.post(
            "/responses",
            json={
                "model": "demo-pro",
                "input": "What is it?",
                "previous_response_id": first["id"],
                "include": ["reasoning.encrypted_content"],
            },
        )
    ).json()
    # Account details and deprecated echoes are OpenAI's own, not the protocol's.
    recorded.pop("billing", None)
    recorded["reasoning"].pop("generate_summary", None)
    assert_covers(recorded, demo, fixture)
    for recorded_item in recorded["output"]:
        demo_item = next(item for item in demo["output"] if item["type"] == recorded_item["type"])
        assert_covers(recorded_item, demo_item, f"{fixture} {recorded_item['type']} item")


async def test_responses_only_error_is_the_recorded_one(client: httpx.AsyncClient) -> None:
    recorded = recording("34_chat_404_responses_only_model_gpt5pro.json")
    response = await client.post(
        "/chat/completions",
        json={"model": "demo-pro", "messages": [{"role": "user", "content": "Hi"}]},
    )
    assert response.status_code == recorded["status"]
    assert response.json() == json.loads(recorded["body_text"])


async def test_previous_response_not_found_matches_the_recorded_error(
    client: httpx.AsyncClient,
) -> None:
    recorded = recording("35_responses_400_previous_response_not_found.json")
    recorded_error = json.loads(recorded["body_text"])["error"]
    missing_id = recorded["request"]["body"]["previous_response_id"]
    response = await client.post(
        "/responses", json={"model": "demo", "input": "x", "previous_response_id": missing_id}
    )
    assert response.status_code == recorded["status"] == 400
    assert error_of(response) == recorded_error


async def test_model_not_found_matches_the_recorded_error(client: httpx.AsyncClient) -> None:
    recorded = recording("22_chat_404_model_not_found_stream.json")
    model = recorded["request"]["body"]["model"]
    response = await client.post(
        "/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "x"}], "stream": True},
    )
    assert response.status_code == recorded["status"]
    assert response.json() == json.loads(recorded["body_text"])
