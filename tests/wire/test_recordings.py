"""Every recorded exchange in ``../shared/wire/fixtures`` replayed through the real provider.

Each is replayed through ``httpx.MockTransport`` and through the loopback server (which sends
the recorded bytes in small HTTP chunks, so events straddle reads). Expected values were read
off the recordings by hand; the longer texts are also checked against the recording's own
``.done`` / ``completed`` events, read naively here as an independent oracle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from tests.support import recordings
from tests.support.fixtures import TEST_KEY, Outcome, collect, config_for, mock_client
from tests.support.script import raw
from tests.support.server import LoopbackServer
from tui.domain import (
    ApiKind,
    ChatRequest,
    InputMessage,
    Role,
    TextDelta,
    ToolCall,
    Usage,
    WebSearch,
)
from tui.providers import errors
from tui.providers.openai_compat import OpenAICompatibleProvider

if not recordings.available():
    pytest.skip(
        f"recorded provider traffic not found at {recordings.FIXTURES} "
        "(it lives beside the checkout in ../shared/wire/fixtures)",
        allow_module_level=True,
    )

Check = Callable[[Outcome, recordings.Recording], None]


@dataclass(frozen=True)
class Expected:
    text: str | None = None
    text_start: str | None = None
    reasoning_start: str | None = None
    usage: Usage | None = None
    response_id: str | None = None
    chainable: bool | None = None
    finish: str | None = None
    incomplete: bool = False
    error: type[errors.ProviderError] | None = None
    status: int | None = None
    code: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    citations: int = 0
    extra: Check | None = None


def _done_text(recording: recordings.Recording) -> str:
    events = recordings.sse_payloads(recording)
    return "".join(e["text"] for e in events if e["type"] == "response.output_text.done")


def _summary_text(recording: recordings.Recording) -> str:
    events = recordings.sse_payloads(recording)
    parts = [e["text"] for e in events if e["type"] == "response.reasoning_summary_text.done"]
    return "\n\n".join(parts)


def _chat_field(recording: recordings.Recording, name: str) -> str:
    pieces = []
    for chunk in recordings.sse_payloads(recording):
        for choice in chunk.get("choices") or []:
            pieces.append(choice["delta"].get(name) or "")
    return "".join(pieces)


def _same_text_as_done_events(outcome: Outcome, recording: recordings.Recording) -> None:
    assert outcome.text == _done_text(recording)


def _reasoning_summary(outcome: Outcome, recording: recordings.Recording) -> None:
    assert outcome.text == _done_text(recording)
    assert outcome.reasoning == _summary_text(recording)
    assert outcome.reasoning.count("\n\n**") == 3, "four summary parts, kept apart"


def _deepseek(outcome: Outcome, recording: recordings.Recording) -> None:
    assert outcome.text == _chat_field(recording, "content")
    assert outcome.reasoning == _chat_field(recording, "reasoning_content")


def _web_search(outcome: Outcome, recording: recordings.Recording) -> None:
    assert outcome.text == _done_text(recording)
    searches = [e for e in outcome.events if isinstance(e, WebSearch)]
    item = "ws_0b8efb0a110fb9bc0069793b041dc88190978ddc8b0a80f2ee"
    assert searches == [
        WebSearch(item),
        WebSearch(item, done=True, query="January 1, 2026 Bitcoin price"),
    ]
    first_text = next(i for i, e in enumerate(outcome.events) if isinstance(e, TextDelta))
    assert outcome.events.index(searches[-1]) < first_text  # shown before the answer
    first = outcome.citations[0]
    assert first.url.startswith("https://www.statmuse.com/money/ask/bitcoin-price-history")
    assert first.title == "Bitcoin Price History Janurary 2026 | StatMuse Money"
    assert (first.start_index, first.end_index) == (295, 401)


EXPECTED: dict[str, Expected] = {
    "01": Expected(
        text="pong",
        usage=Usage(11, 5, 0, 0),
        response_id="resp_00592e63e61b66660169fab1b9f8e481a2b321356198d7ac1b",
        chainable=False,  # the request said store: false, and the server echoed it
        finish="stop",
    ),
    "02": Expected(
        text_start="I'm not a road safety professional",
        reasoning_start="**Providing street crossing instructions",
        usage=Usage(13, 1680, 1408, 0),
        response_id="resp_68c42d0fb418819dbfa579f69406b49508fbf9b1584184ff",
        chainable=True,
        finish="stop",
        extra=_reasoning_summary,
    ),
    "03": Expected(
        text="",
        usage=Usage(58, 23, 0, 0),
        finish="tool_calls",
        tool_calls=(ToolCall("call_sVidsfFJ6zlzRpelrPkTPlpd", "multiply", '{"a":1231,"b":2331}'),),
    ),
    "04": Expected(text="1231 × 2331 = **2,869,461**", usage=Usage(94, 18, 0, 0), finish="stop"),
    "06": Expected(
        text="Hello, Szymon! How can I assist you today?",
        usage=Usage(34, 14, 0, 0),
        response_id="resp_67d4472a0be881909acc6775dded8b110226d617a69aa52e",
        chainable=True,
        finish="stop",
    ),
    "07": Expected(
        text="Your name is Szymon! How can I help you?",
        usage=Usage(64, 14, 0, 0),
        response_id="resp_67d4472b286c81908795c5f61adf7dbd0226d617a69aa52e",
        finish="stop",
    ),
    "08": Expected(text="The capital of France is Paris.", usage=Usage(24, 8, 0, 0)),
    "09": Expected(text="Mexico City (Ciudad de México).", usage=Usage(13, 77, 64, 0)),
    "10": Expected(text_start="Hello! I see you've shared an image of a potato."),
    "11": Expected(
        text_start='The document is titled "Dummy PDF file,"', usage=Usage(23, 72, 0, 0)
    ),
    "12": Expected(
        text_start="Here is what I found",
        usage=Usage(16890, 400, 0, 0),
        citations=3,
        finish="stop",
        extra=_web_search,
    ),
    "13": Expected(
        text_start="Sure! Here is a list of all 50 U.S. states:",
        usage=Usage(14, 50, 0, 0),
        finish="max_output_tokens",
        incomplete=True,
        extra=_same_text_as_done_events,
    ),
    "15": Expected(error=errors.BadRequestError, status=400, code="decimal_below_min_value"),
    "16": Expected(error=errors.AuthenticationError, status=401, code="invalid_api_key"),
    "18": Expected(
        text="",
        usage=Usage(53, 15, 0, 0),
        finish="tool_calls",
        tool_calls=(ToolCall("call_ZR5UUuTt3pf61kjwAJIYdVMj", "get_capital", '{"country":"UK"}'),),
    ),
    "19": Expected(
        text="The capital of the UK is London.", usage=Usage(78, 9, 0, 0), finish="stop"
    ),
    "20": Expected(
        text="Hello! How can I assist you today?",
        usage=Usage(8, 9, 0, 0),
        response_id="chatcmpl-Bl1l9HRq7141vf6fYQzNYUCIRmZid",
        chainable=False,
        finish="stop",
    ),
    "21": Expected(error=errors.AuthenticationError, status=401, code="invalid_api_key"),
    "22": Expected(error=errors.ModelNotFoundError, status=404, code="model_not_found"),
    "23": Expected(
        text="Hello there! 😊 How can I help you today?",
        reasoning_start='Hmm, the user just said "Hello".',
        usage=Usage(6, 212, 198, 0),
        response_id="33be18fc-3842-486c-8c29-dd8e578f7f20",
        chainable=False,
        finish="stop",
        extra=_deepseek,
    ),
    "26": Expected(error=errors.RateLimitError, status=429, code="429"),
    "34": Expected(error=errors.EndpointNotSupportedError, status=404),
    "35": Expected(
        error=errors.PreviousResponseNotFoundError, status=400, code="previous_response_not_found"
    ),
}
MODEL_LISTS = {
    "31": ("mistralai/devstral-small-2505", 21),
    "33": ("text-search-babbage-doc-001", 586),
}


def test_every_recording_has_an_expectation() -> None:
    ids = {name[:2] for name in recordings.names()}
    assert ids == set(EXPECTED) | set(MODEL_LISTS)


def _request(recording: recordings.Recording) -> ChatRequest:
    return ChatRequest(
        model="gpt-4o",
        messages=(InputMessage(Role.USER, "Hello"),),
        stream=recording.asked_to_stream or recording.is_stream,
    )


def _api(recording: recordings.Recording) -> ApiKind:
    return ApiKind.RESPONSES if recording.endpoint.endswith("/responses") else ApiKind.CHAT


def _check(outcome: Outcome, expected: Expected, recording: recordings.Recording) -> None:
    if expected.error is not None:
        error = outcome.error
        assert isinstance(error, expected.error), outcome.events
        assert error.status == expected.status
        assert error.code == expected.code
        assert TEST_KEY not in str(error) and TEST_KEY not in (error.detail or "")
        assert outcome.text == ""
        return
    assert outcome.error is None, outcome.error
    if expected.text is not None:
        assert outcome.text == expected.text
    if expected.text_start is not None:
        assert outcome.text.startswith(expected.text_start)
    if expected.reasoning_start is not None:
        assert outcome.reasoning.startswith(expected.reasoning_start)
    else:
        assert outcome.reasoning == ""
    if expected.usage is not None:
        assert outcome.usage == expected.usage
    started = outcome.started
    assert len(started) == 1
    if expected.response_id is not None:
        assert started[0].response_id == expected.response_id
    if expected.chainable is not None:
        assert started[0].chainable is expected.chainable
    finished = outcome.finished
    assert finished is not None
    assert finished.reason == (expected.finish or "stop")
    assert finished.incomplete is expected.incomplete
    assert tuple(outcome.tool_calls) == expected.tool_calls
    assert len(outcome.citations) == expected.citations
    if expected.extra is not None:
        expected.extra(outcome, recording)


@pytest.mark.parametrize("key", sorted(EXPECTED))
async def test_replayed_through_mock_transport(key: str) -> None:
    recording = recordings.load(key)
    async with mock_client(lambda request: recording.response()) as client:
        provider = OpenAICompatibleProvider(
            config_for("https://api.example.test/v1", api_key_env="OPENAI_API_KEY"),
            client,
            api_key=TEST_KEY,
            max_retries=0,
        )
        outcome = await collect(provider, _request(recording), _api(recording))
    _check(outcome, EXPECTED[key], recording)
    if isinstance(outcome.error, errors.AuthenticationError):
        assert "OPENAI_API_KEY" in str(outcome.error)


@pytest.mark.parametrize("key", sorted(EXPECTED))
async def test_replayed_through_loopback_server(key: str, http_client: httpx.AsyncClient) -> None:
    recording = recordings.load(key)
    with LoopbackServer() as server:
        # 97-byte HTTP chunks: events and UTF-8 characters straddle reads.
        server.enqueue(raw(recording.status, recording.body, recording.headers, chunk_size=97))
        provider = OpenAICompatibleProvider(
            config_for(server.base_url), http_client, api_key=TEST_KEY, max_retries=0
        )
        outcome = await collect(provider, _request(recording), _api(recording))
        assert len(server.requests) == 1
    _check(outcome, EXPECTED[key], recording)


@pytest.mark.parametrize("key", sorted(MODEL_LISTS))
async def test_model_lists(key: str) -> None:
    recording = recordings.load(key)
    first, count = MODEL_LISTS[key]
    async with mock_client(lambda request: recording.response()) as client:
        provider = OpenAICompatibleProvider(
            config_for("http://localhost:1234/v1"), client, api_key=TEST_KEY
        )
        models = await provider.list_models()
    assert len(models) == count
    assert models[0].id == first
    assert all(m.provider == "loop" and not m.builtin for m in models)
