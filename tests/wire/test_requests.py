"""What the client sends, as the loopback server recorded it, and Responses chaining."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.support.fixtures import TEST_KEY, ask, collect, config_for, provider_for
from tests.support.script import reply
from tests.support.server import LoopbackServer
from tui.domain import (
    ApiKind,
    Attachment,
    AttachmentKind,
    ChatRequest,
    Finished,
    InputMessage,
    Role,
)
from tui.providers import errors

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
PDF = b"%PDF-1.4 tiny"
IMAGE = Attachment(AttachmentKind.IMAGE, "cat.png", "image/png", data=PNG)
IMAGE_URL = Attachment(AttachmentKind.IMAGE, "dog.jpg", "image/jpeg", url="https://img.test/d.jpg")
FILE = Attachment(AttachmentKind.FILE, "doc.pdf", "application/pdf", data=PDF)
FILE_URL = Attachment(AttachmentKind.FILE, "web.pdf", "application/pdf", url="https://f.test/w.pdf")

HISTORY = (
    InputMessage(Role.USER, "First question"),
    InputMessage(Role.ASSISTANT, "First answer"),
    InputMessage(Role.USER, "Look at these", (IMAGE, IMAGE_URL, FILE)),
)


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


async def sent(
    server: LoopbackServer,
    client: httpx.AsyncClient,
    request: ChatRequest,
    api: ApiKind,
    **provider: Any,
) -> dict[str, Any]:
    outcome = await collect(provider_for(server, client, **provider), request, api)
    assert outcome.error is None, outcome.error
    body = server.requests[-1].json
    assert isinstance(body, dict)
    return body


async def test_responses_body(loopback: LoopbackServer, http_client: httpx.AsyncClient) -> None:
    request = ChatRequest(
        model="loopback-reasoner",
        messages=HISTORY[:2]
        + (InputMessage(Role.USER, "Look", (IMAGE, IMAGE_URL, FILE, FILE_URL)),),
        instructions="Be brief.",
        reasoning_effort="high",
        reasoning_summary="auto",
        max_output_tokens=500,
        temperature=0.2,
        web_search=True,
    )
    body = await sent(loopback, http_client, request, ApiKind.RESPONSES)
    assert body == {
        "model": "loopback-reasoner",
        "instructions": "Be brief.",
        "input": [
            {"role": "user", "content": "First question"},
            {"role": "assistant", "content": "First answer"},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Look"},
                    {
                        "type": "input_image",
                        "image_url": data_url("image/png", PNG),
                        "detail": "auto",
                    },
                    {
                        "type": "input_image",
                        "image_url": "https://img.test/d.jpg",
                        "detail": "auto",
                    },
                    {
                        "type": "input_file",
                        "filename": "doc.pdf",
                        "file_data": data_url("application/pdf", PDF),
                    },
                    {"type": "input_file", "file_url": "https://f.test/w.pdf"},
                ],
            },
        ],
        "reasoning": {"effort": "high", "summary": "auto"},
        "max_output_tokens": 500,
        "temperature": 0.2,
        "tools": [{"type": "web_search_preview"}],
        "store": True,
        "stream": True,
    }
    headers = loopback.requests[-1].headers
    assert loopback.requests[-1].path == "/responses"
    assert headers["authorization"] == f"Bearer {TEST_KEY}"
    assert headers["accept"] == "text/event-stream"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("tui-chat/")


async def test_responses_minimal_body_sends_store_and_chains(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    request = ask("Next", previous_response_id=None, store=False, stream=False)
    body = await sent(loopback, http_client, request, ApiKind.RESPONSES)
    assert body == {
        "model": "loopback-chat",
        "input": [{"role": "user", "content": "Next"}],
        "store": False,
        "stream": False,
    }


async def test_chat_body(loopback: LoopbackServer, http_client: httpx.AsyncClient) -> None:
    request = ChatRequest(
        model="loopback-chat",
        messages=HISTORY,
        instructions="Be brief.",
        reasoning_effort="low",
        max_output_tokens=300,
        temperature=0.0,
        web_search=True,
    )
    body = await sent(loopback, http_client, request, ApiKind.CHAT)
    assert body == {
        "model": "loopback-chat",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "First question"},
            {"role": "assistant", "content": "First answer"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look at these"},
                    {"type": "image_url", "image_url": {"url": data_url("image/png", PNG)}},
                    {"type": "image_url", "image_url": {"url": "https://img.test/d.jpg"}},
                    {
                        "type": "file",
                        "file": {
                            "filename": "doc.pdf",
                            "file_data": data_url("application/pdf", PDF),
                        },
                    },
                ],
            },
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_completion_tokens": 300,
        "reasoning_effort": "low",
        "temperature": 0.0,
    }
    assert loopback.requests[-1].path == "/chat/completions"


async def test_chat_token_limit_name_follows_the_provider(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    config = config_for(loopback.base_url, max_tokens_param="max_tokens")
    body = await sent(
        loopback, http_client, ask(max_output_tokens=50, stream=False), ApiKind.CHAT, config=config
    )
    assert body["max_tokens"] == 50
    assert "max_completion_tokens" not in body
    assert "stream_options" not in body, "include_usage only applies to streams"


async def test_extra_headers_and_no_authorization_without_a_key(
    http_client: httpx.AsyncClient,
) -> None:
    with LoopbackServer() as server:
        config = config_for(
            server.base_url, requires_key=False, headers=(("X-Organization-ID", "org_1"),)
        )
        await sent(server, http_client, ask(), ApiKind.CHAT, api_key=None, config=config)
        headers = server.requests[-1].headers
    assert headers["x-organization-id"] == "org_1"
    assert "authorization" not in headers


async def test_files_by_url_cannot_go_over_chat(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    request = ask(messages=(InputMessage(Role.USER, "read", (FILE_URL,)),))
    outcome = await collect(provider_for(loopback, http_client), request, ApiKind.CHAT)
    assert isinstance(outcome.error, errors.EndpointNotSupportedError)
    assert outcome.error.use == "responses"
    assert loopback.requests == []


async def test_an_empty_attachment_is_refused_before_sending(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    empty = Attachment(AttachmentKind.IMAGE, "ghost.png", "image/png")
    request = ask(messages=(InputMessage(Role.USER, "see", (empty,)),))
    outcome = await collect(provider_for(loopback, http_client), request, ApiKind.RESPONSES)
    assert isinstance(outcome.error, errors.BadRequestError)
    assert "ghost.png" in str(outcome.error)
    assert loopback.requests == []


async def test_previous_response_id_chain_and_its_loss(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    provider = provider_for(loopback, http_client)
    first = await collect(provider, ask("My name is Ada."), ApiKind.RESPONSES)
    first_id = first.started[0].response_id
    assert first.started[0].chainable and first.text == "[turn 1] My name is Ada."

    second = await collect(
        provider, ask("What is my name?", previous_response_id=first_id), ApiKind.RESPONSES
    )
    assert second.text == "[turn 2] What is my name?"
    assert loopback.requests[-1].json["previous_response_id"] == first_id

    loopback.forget(first_id)
    lost = await collect(
        provider, ask("Still there?", previous_response_id=first_id), ApiKind.RESPONSES
    )
    assert isinstance(lost.error, errors.PreviousResponseNotFoundError)
    assert lost.error.status == 400
    assert len(loopback.requests) == 3, "a lost chain is the engine's to handle, not retried"


async def test_unstored_responses_cannot_be_chained(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    provider = provider_for(loopback, http_client)
    first = await collect(provider, ask("hi", store=False), ApiKind.RESPONSES)
    assert first.started[0].chainable is False
    again = await collect(
        provider,
        ask("again", previous_response_id=first.started[0].response_id),
        ApiKind.RESPONSES,
    )
    assert isinstance(again.error, errors.PreviousResponseNotFoundError)


@pytest.mark.parametrize("api", [ApiKind.CHAT, ApiKind.RESPONSES])
async def test_non_streamed_replies_give_the_same_events(
    api: ApiKind, loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    provider = provider_for(loopback, http_client)
    loopback.enqueue(reply("A whole answer.", reasoning="Some thought."))
    whole = await collect(provider, ask(stream=False), api)
    loopback.enqueue(reply("A whole answer.", reasoning="Some thought."))
    streamed = await collect(provider, ask(), api)
    assert (whole.text, whole.reasoning) == ("A whole answer.", "Some thought.")
    assert (streamed.text, streamed.reasoning) == ("A whole answer.", "Some thought.")
    assert whole.usage == streamed.usage
    assert whole.finished == streamed.finished == Finished("stop")
    assert loopback.requests[0].headers["accept"] == "application/json"


async def test_keep_alive_reuses_one_connection(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    provider = provider_for(loopback, http_client)
    for api in (ApiKind.CHAT, ApiKind.RESPONSES, ApiKind.CHAT):
        outcome = await collect(provider, ask(), api)
        assert outcome.error is None
    await provider.list_models()
    assert loopback.connections == 1
