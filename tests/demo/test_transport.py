"""The demo transport as a server: routes, bad bodies, benchmarks, pacing, cancellation."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from tests.demo.sse import error_of, stream
from tui.providers.demo import DemoTransport, demo_mounts
from tui.providers.demo.text import bench_tokens, tokenize
from tui.providers.presets import DEMO_BASE_URL


def client_for(transport: DemoTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(mounts=demo_mounts(transport), base_url=DEMO_BASE_URL)


async def test_models_list_in_openai_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [entry["id"] for entry in body["data"]] == ["demo", "demo-pro"]
    assert all(set(entry) == {"id", "object", "created", "owned_by"} for entry in body["data"])
    one = await client.get("/models/demo-pro")
    assert one.status_code == 200 and one.json()["id"] == "demo-pro"
    missing = await client.get("/models/gpt-5.2")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "model_not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/embeddings"), ("GET", "/chat/completions"), ("POST", "/../responses/x")],
)
async def test_unknown_routes_are_404_invalid_url(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, json={"model": "demo"})
    assert response.status_code == 404
    error = error_of(response)
    assert error["message"].startswith(f"Invalid URL ({method} /")
    assert error["type"] == "invalid_request_error"
    assert error["code"] is None


@pytest.mark.parametrize(
    "content", [b"{not json", b"", b"\xff\xfe{}", b'{"model": "demo", "messages": [', b"[1, 2]"]
)
@pytest.mark.parametrize("path", ["/chat/completions", "/responses"])
async def test_bodies_that_are_not_a_json_object_get_400(
    client: httpx.AsyncClient, path: str, content: bytes
) -> None:
    response = await client.post(
        path, content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    if content == b"[1, 2]":
        assert error["message"] == "Invalid body: expected an object, but got an array instead."
    else:
        assert error["message"].startswith("We could not parse the JSON body of your request.")


async def test_the_transport_keeps_serving_after_errors(client: httpx.AsyncClient) -> None:
    await client.post("/responses", content=b"nope")
    ok = await client.post("/responses", json={"model": "demo", "input": "still there?"})
    assert ok.status_code == 200


def test_bench_prompt_parsing() -> None:
    assert bench_tokens("/bench 10000") == 10000
    assert bench_tokens("  /bench  ") == 1000
    assert bench_tokens("/bench 99999999") == 200_000
    assert bench_tokens("/bench 0") == 1
    assert bench_tokens("please /bench 10") is None
    assert bench_tokens("/benchmark") is None


async def test_bench_streams_about_n_tokens_of_mixed_markdown_flat_out() -> None:
    async with client_for(DemoTransport(tokens_per_second=0)) as client:
        started = time.perf_counter()
        events = await stream(
            client,
            "/chat/completions",
            {
                "model": "demo",
                "messages": [{"role": "user", "content": "/bench 10000"}],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
        elapsed = time.perf_counter() - started
    chunks = [event.json for event in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    tokens = chunks[-1]["usage"]["completion_tokens"]
    assert 10_000 <= tokens < 10_200
    assert tokens == len(tokenize(text))
    fences = text.count("```python\n")
    assert fences > 20 and text.count("```") == 2 * fences
    assert "\n- " in text and "## Section 1:" in text and "**bold**" in text
    assert elapsed < 5.0, f"flat out took {elapsed:.2f} s for {tokens} tokens"


async def test_bench_works_on_responses_too(client: httpx.AsyncClient) -> None:
    response = await client.post("/responses", json={"model": "demo", "input": "/bench 500"})
    usage = response.json()["usage"]
    assert 500 <= usage["output_tokens"] < 700


async def timed_stream(
    transport: DemoTransport, body: dict[str, Any], path: str = "/chat/completions"
) -> tuple[float, list[float], int]:
    """Total time, arrival time of each chunk of bytes, and output tokens."""
    async with client_for(transport) as client:
        started = time.perf_counter()
        arrivals: list[float] = []
        async with client.stream("POST", path, json=body) as response:
            async for _ in response.aiter_bytes():
                arrivals.append(time.perf_counter() - started)
        total = time.perf_counter() - started
    async with client_for(DemoTransport(None)) as client:
        reply = await client.post(path, json={**body, "stream": False})
        usage = reply.json()["usage"]
        tokens = usage.get("completion_tokens", usage.get("output_tokens"))
    return total, arrivals, tokens


async def test_paced_stream_takes_about_tokens_over_rate() -> None:
    body = {
        "model": "demo",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "max_completion_tokens": 30,
    }
    total, arrivals, tokens = await timed_stream(DemoTransport(tokens_per_second=100), body)
    assert tokens == 30
    expected = (tokens - 1) / 100
    assert expected * 0.8 <= total <= expected + 1.0
    # Tokens arrive over time, not in one lump at the end.
    assert len(arrivals) >= 10
    assert arrivals[0] < total / 2


async def test_high_rates_stay_accurate_by_batching_sleeps() -> None:
    body = {
        "model": "demo",
        "messages": [{"role": "user", "content": "/bench 2000"}],
        "stream": True,
    }
    total, arrivals, tokens = await timed_stream(DemoTransport(tokens_per_second=4000), body)
    expected = tokens / 4000
    assert expected * 0.8 <= total <= expected + 1.0
    # Sleeps are batched (at least 10 ms apart), so far fewer chunks than tokens.
    assert 3 <= len(arrivals) < tokens / 10


async def test_first_token_latency_delays_the_first_byte() -> None:
    body = {"model": "demo", "input": "Hi", "stream": True, "max_output_tokens": 16}
    transport = DemoTransport(tokens_per_second=None, first_token_latency=0.2)
    total, arrivals, _ = await timed_stream(transport, body, "/responses")
    assert arrivals[0] >= 0.18
    assert total < 2.0


async def test_paced_non_streamed_answer_arrives_when_fully_generated() -> None:
    async with client_for(DemoTransport(tokens_per_second=200)) as client:
        started = time.perf_counter()
        response = await client.post(
            "/responses", json={"model": "demo", "input": "Hi", "max_output_tokens": 40}
        )
        elapsed = time.perf_counter() - started
    assert response.json()["usage"]["output_tokens"] == 40
    assert 0.15 <= elapsed <= 1.5


async def test_closing_a_paced_stream_early_stops_it() -> None:
    transport = DemoTransport(tokens_per_second=50)
    async with client_for(transport) as client:
        started = time.perf_counter()
        async with client.stream(
            "POST",
            "/chat/completions",
            json={
                "model": "demo",
                "messages": [{"role": "user", "content": "/bench 5000"}],
                "stream": True,
            },
        ) as response:
            async for _ in response.aiter_bytes():
                break
        # 5000 tokens at 50/s would take 100 s; leaving must not wait for them.
        assert time.perf_counter() - started < 2.0
        again = await client.post(
            "/responses", json={"model": "demo", "input": "next", "max_output_tokens": 16}
        )
        assert again.status_code == 200


async def test_a_cancelled_reader_does_not_hang() -> None:
    transport = DemoTransport(tokens_per_second=20)

    reading = asyncio.Event()

    async def read_all() -> None:
        async with client_for(transport) as client:
            body = {"model": "demo", "input": "/bench 2000", "stream": True}
            async with client.stream("POST", "/responses", json=body) as response:
                async for _ in response.aiter_bytes():
                    reading.set()  # mid-stream: the bytes are flowing

    task = asyncio.create_task(read_all())
    await asyncio.wait_for(reading.wait(), timeout=5.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=2.0)


def test_negative_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="tokens_per_second"):
        DemoTransport(tokens_per_second=-1)


def test_demo_mounts_cover_the_demo_host_only() -> None:
    transport = DemoTransport(None)
    assert demo_mounts(transport) == {"http://demo.invalid": transport}
    mounts = demo_mounts(tokens_per_second=10, base_url="http://demo.invalid:8080/v1")
    (key,) = mounts
    assert key == "http://demo.invalid:8080"
    only = mounts[key]
    assert isinstance(only, DemoTransport) and only.tokens_per_second == 10
