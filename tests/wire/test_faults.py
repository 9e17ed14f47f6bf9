"""End to end over the loopback server: every fault, bounded in time, with the right outcome."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from tests.support.fixtures import TEST_KEY, ask, collect, config_for, provider_for
from tests.support.script import Behaviour, fault, http_error, raw, reply
from tests.support.server import LoopbackServer
from tui.domain import ApiKind, Finished, TextDelta
from tui.providers import errors
from tui.providers.openai_compat import OpenAICompatibleProvider

APIS = [ApiKind.CHAT, ApiKind.RESPONSES]
TEXT = "one two three four five six seven eight"
THREE_WORDS_IN = {ApiKind.CHAT: 4, ApiKind.RESPONSES: 7}
"""Events before the fourth word: the role chunk, or created/in_progress/item/part events."""


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("api", APIS)
async def test_reset_mid_stream_keeps_partial_text_and_never_retries(
    api: ApiKind, loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(fault("reset", after=THREE_WORDS_IN[api], text=TEXT))
    outcome = await collect(provider_for(loopback, http_client), ask(), api)
    assert outcome.text == "one two three "
    assert isinstance(outcome.error, errors.NetworkError)
    assert len(loopback.requests) == 1


@pytest.mark.parametrize("api", APIS)
async def test_reset_before_any_event_is_retried(
    api: ApiKind, loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(fault("reset", after=0), reply(TEXT))
    outcome = await collect(provider_for(loopback, http_client), ask(), api)
    assert outcome.text == TEXT
    assert len(loopback.requests) == 2


@pytest.mark.parametrize("api", APIS)
async def test_reset_after_the_response_started_but_before_content_is_retried(
    api: ApiKind, loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    before_text = THREE_WORDS_IN[api] - 3  # the role chunk, or created/in_progress/item/part
    loopback.enqueue(fault("reset", after=before_text), reply(TEXT))
    outcome = await collect(provider_for(loopback, http_client), ask(), api)
    assert outcome.text == TEXT
    assert len(loopback.requests) == 2
    assert [started.response_id[-2:] for started in outcome.started] == ["02"], (
        "one ResponseStarted, from the attempt that answered"
    )


async def test_a_stall_before_content_is_not_retried(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(fault("stall", after=2, stall_seconds=30))
    # Long enough for the first two events on a busy machine, far below the 30 s stall.
    provider = provider_for(loopback, http_client, stall_timeout=1.0)
    outcome = await collect(provider, ask(), ApiKind.RESPONSES)
    assert isinstance(outcome.error, errors.StreamTimeoutError)
    assert outcome.started[0].response_id == "resp_loopback000001"
    assert len(loopback.requests) == 1


async def test_resets_until_retries_run_out(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(*[fault("reset", after=0)] * 3)
    outcome = await collect(provider_for(loopback, http_client), ask())
    assert isinstance(outcome.error, errors.NetworkError)
    assert len(loopback.requests) == 3


@pytest.mark.parametrize("api", APIS)
async def test_stall_mid_stream_fails_fast_and_drops_the_connection(
    api: ApiKind, loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(fault("stall", after=THREE_WORDS_IN[api], stall_seconds=30, text=TEXT))
    started = time.monotonic()
    outcome = await collect(provider_for(loopback, http_client, stall_timeout=0.3), ask(), api)
    assert time.monotonic() - started < 5
    assert isinstance(outcome.error, errors.StreamTimeoutError)
    assert "0.3 s" in str(outcome.error)
    assert outcome.text == "one two three "
    assert len(loopback.requests) == 1
    await eventually(lambda: loopback.disconnects == [0])


async def test_keepalive_comments_are_not_a_stall(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(reply("alive", delay=0.3, keepalive_every=0.05))
    provider = provider_for(loopback, http_client, stall_timeout=0.2)
    outcome = await collect(provider, ask())
    assert outcome.text == "alive"


@pytest.mark.parametrize(
    "headers", [(("retry-after", "0.3"),), (("retry-after-ms", "300"),)], ids=["s", "ms"]
)
async def test_429_waits_as_long_as_the_server_asks(
    headers: tuple[tuple[str, str], ...],
    loopback: LoopbackServer,
    http_client: httpx.AsyncClient,
) -> None:
    loopback.enqueue(http_error(429, "Rate limit reached", headers=headers), reply("after wait"))
    provider = provider_for(loopback, http_client, backoff_base=5.0)
    started = time.monotonic()
    outcome = await collect(provider, ask())
    waited = time.monotonic() - started
    assert outcome.text == "after wait"
    assert 0.3 <= waited < 3, "honoured retry-after, not the 5 s backoff"
    assert len(loopback.requests) == 2


async def test_429_with_a_long_wait_is_reported_not_retried(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(http_error(429, "Rate limit reached", headers=(("retry-after", "300"),)))
    outcome = await collect(provider_for(loopback, http_client), ask())
    assert isinstance(outcome.error, errors.RateLimitError)
    assert outcome.error.retry_after == 300
    assert "300 s" in str(outcome.error)
    assert len(loopback.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retried_twice(
    status: int, loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(*[http_error(status, "The server is overloaded.")] * 3)
    outcome = await collect(provider_for(loopback, http_client), ask(), ApiKind.RESPONSES)
    assert isinstance(outcome.error, errors.ServerError)
    assert outcome.error.status == status
    assert len(loopback.requests) == 3


@pytest.mark.parametrize("status", [408, 409, 429])
async def test_timeouts_conflicts_and_rate_limits_are_retried(
    status: int, loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(http_error(status, "not now"), reply("then yes"))
    outcome = await collect(provider_for(loopback, http_client), ask())
    assert outcome.text == "then yes"
    assert len(loopback.requests) == 2


def test_backoff_doubles_from_the_base_with_jitter_and_a_cap(
    http_client: httpx.AsyncClient,
) -> None:
    provider = OpenAICompatibleProvider(
        config_for("http://127.0.0.1:9/v1"), http_client, max_retries=10, backoff_base=0.5
    )
    busy = errors.ServerError(status=503)
    for attempt, ceiling in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 8.0]):
        delays = {provider._retry_delay(busy, {}, attempt, False) for _ in range(50)}
        assert all(d is not None and 0.75 * ceiling <= d <= ceiling for d in delays), attempt
        assert len(delays) > 1, "jittered"
    assert provider._retry_delay(busy, {}, 10, False) is None, "retries run out"


async def test_a_retry_can_succeed(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(http_error(503, "busy"), http_error(502, "bad gateway"), reply("third time"))
    outcome = await collect(provider_for(loopback, http_client), ask())
    assert outcome.text == "third time"
    assert len(loopback.requests) == 3


async def test_retries_can_be_turned_off(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(http_error(503, "busy"))
    outcome = await collect(provider_for(loopback, http_client, max_retries=0), ask())
    assert isinstance(outcome.error, errors.ServerError)
    assert len(loopback.requests) == 1


async def test_x_should_retry_overrides_the_status(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    never = (("x-should-retry", "false"),)
    always = (("x-should-retry", "true"),)
    loopback.enqueue(http_error(503, "busy", headers=never))
    outcome = await collect(provider_for(loopback, http_client), ask())
    assert isinstance(outcome.error, errors.ServerError)
    assert len(loopback.requests) == 1
    loopback.enqueue(http_error(400, "try again", headers=always), reply("ok"))
    outcome = await collect(provider_for(loopback, http_client), ask())
    assert outcome.text == "ok"
    assert len(loopback.requests) == 3


async def test_client_errors_are_not_retried(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(http_error(400, "Invalid 'temperature'", code="decimal_below_min_value"))
    outcome = await collect(provider_for(loopback, http_client), ask())
    assert isinstance(outcome.error, errors.BadRequestError)
    assert len(loopback.requests) == 1


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("kind", ["malformed_json", "invalid_utf8"])
async def test_broken_events_mid_stream(
    api: ApiKind, kind: str, loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(fault(kind, after=THREE_WORDS_IN[api], text=TEXT))
    outcome = await collect(provider_for(loopback, http_client), ask(), api)
    assert isinstance(outcome.error, errors.MalformedResponseError)
    assert outcome.text == "one two three "
    assert len(loopback.requests) == 1


@pytest.mark.parametrize("api", APIS)
async def test_error_event_inside_a_200_stream(
    api: ApiKind, loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(
        fault("error_event", after=THREE_WORDS_IN[api], text=TEXT, error_code="server_error")
    )
    outcome = await collect(provider_for(loopback, http_client), ask(), api)
    assert isinstance(outcome.error, errors.ServerError)
    assert outcome.text == "one two three "
    assert len(loopback.requests) == 1


@pytest.mark.parametrize("api", APIS)
async def test_unknown_events_and_comments_are_skipped(
    api: ApiKind, loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(reply(TEXT, unknown_events=True))
    outcome = await collect(provider_for(loopback, http_client), ask(), api)
    assert outcome.text == TEXT
    assert outcome.finished == Finished("stop")


@pytest.mark.parametrize("api", APIS)
async def test_a_huge_single_event(
    api: ApiKind, loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    size = 4_200_000  # a multiple of the 12-byte unit the server repeats
    loopback.enqueue(reply(huge_bytes=size))
    outcome = await collect(provider_for(loopback, http_client), ask(), api)
    assert len(outcome.text.encode()) == size
    assert outcome.text.startswith("big é data big é data")
    assert outcome.finished == Finished("stop")


@pytest.mark.parametrize("api", APIS)
async def test_cancelling_the_task_closes_the_connection(
    api: ApiKind, loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(reply(TEXT, delay=0.1))
    provider = provider_for(loopback, http_client)
    two_words = asyncio.Event()
    texts: list[str] = []

    async def consume() -> None:
        async for event in provider.stream(ask(), api):
            if isinstance(event, TextDelta):
                texts.append(event.text)
                if len(texts) == 2:
                    two_words.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(two_words.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(lambda: loopback.disconnects == [0])
    assert texts == ["one ", "two "]


async def test_closing_the_iterator_closes_the_connection(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(reply(TEXT, delay=0.1))
    stream = provider_for(loopback, http_client).stream(ask(), ApiKind.RESPONSES)
    first = [await asyncio.wait_for(anext(stream), 5) for _ in range(2)]
    assert isinstance(first[1], TextDelta)
    await stream.aclose()
    await eventually(lambda: loopback.disconnects == [0])


async def test_cancelling_during_a_retry_wait(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(http_error(503, "busy", headers=(("retry-after", "60"),)))
    provider = provider_for(loopback, http_client)
    task = asyncio.create_task(collect(provider, ask()))
    await eventually(lambda: len(loopback.requests) == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_missing_key_fails_without_a_request(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    outcome = await collect(provider_for(loopback, http_client, api_key=None), ask())
    assert isinstance(outcome.error, errors.MissingKeyError)
    assert "LOOP_API_KEY" in str(outcome.error)
    assert loopback.requests == []


async def test_wrong_key_is_an_authentication_error_and_stays_secret(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    wrong = "sk-test-wrong-key-9876543210fedcba"
    outcome = await collect(provider_for(loopback, http_client, api_key=wrong), ask())
    assert isinstance(outcome.error, errors.AuthenticationError)
    assert wrong not in str(outcome.error) and wrong not in (outcome.error.detail or "")
    assert TEST_KEY not in str(outcome.error)
    assert len(loopback.requests) == 1


async def test_connection_refused_is_a_network_error(http_client: httpx.AsyncClient) -> None:
    server = LoopbackServer().start()
    server.stop()  # the port is now closed
    outcome = await collect(provider_for(server, http_client), ask())
    assert isinstance(outcome.error, errors.NetworkError)
    assert f"127.0.0.1:{server.port}" in str(outcome.error)


async def test_unknown_path_is_a_base_url_problem(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    config = config_for(f"http://127.0.0.1:{loopback.port}/v2")
    outcome = await collect(provider_for(loopback, http_client, config=config), ask())
    assert isinstance(outcome.error, errors.EndpointNotFoundError)


async def test_a_redirect_is_reported_not_followed(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(raw(307, b"", {"location": "https://elsewhere.test/v1/chat/completions"}))
    outcome = await collect(provider_for(loopback, http_client), ask())
    assert isinstance(outcome.error, errors.EndpointNotFoundError)
    assert "elsewhere.test" in (outcome.error.detail or "")
    assert len(loopback.requests) == 1


@pytest.mark.parametrize("api", APIS)
async def test_flat_out_mode_scripted_by_header(
    api: ApiKind, http_client: httpx.AsyncClient
) -> None:
    with LoopbackServer() as server:
        script = Behaviour(flood=500).to_json()
        config = config_for(server.base_url, headers=(("x-loopback-script", script),))
        provider = provider_for(server, http_client, config=config)
        outcome = await collect(provider, ask(), api)
    assert outcome.text == "tok " * 500
    assert outcome.finished == Finished("stop")
