"""``GET /models`` from servers that each shape it their own way."""

from __future__ import annotations

import httpx
import pytest

from tests.support.fixtures import TEST_KEY, config_for, mock_client, provider_for
from tests.support.script import http_error, raw
from tests.support.server import LoopbackServer
from tui.providers import errors
from tui.providers.openai_compat import OpenAICompatibleProvider

GMI_DOCUMENTED_EXAMPLE = b"""{
"object": "list",
"data": [
{
"id": "",
"object": "deepseek-ai/DeepSeek-R1",
"created": 1687530000,
"owned_by": "public",
},
// ... other models ...
]
}"""


async def ids(body: bytes, content_type: str = "application/json") -> list[str]:
    reply = httpx.Response(200, headers={"content-type": content_type}, content=body)
    async with mock_client(lambda _: reply) as client:
        provider = OpenAICompatibleProvider(
            config_for("https://m.test/v1"), client, api_key=TEST_KEY
        )
        return [model.id for model in await provider.list_models()]


async def test_loopback_models_with_the_key(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    models = await provider_for(loopback, http_client).list_models()
    assert [m.id for m in models] == ["loopback-chat", "loopback-reasoner", "loopback-pro"]
    assert {(m.provider, m.builtin) for m in models} == {("loop", False)}
    request = loopback.requests[0]
    assert (request.method, request.path) == ("GET", "/models")
    assert request.header("authorization") == f"Bearer {TEST_KEY}"


async def test_gmi_documented_example_is_tolerated() -> None:
    assert await ids(GMI_DOCUMENTED_EXAMPLE) == ["deepseek-ai/DeepSeek-R1"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'[{"id": "a"}, {"id": "b"}]', ["a", "b"]),
        (b'{"models": [{"name": "llama3:8b"}, {"model": "qwen3"}]}', ["llama3:8b", "qwen3"]),
        (b'{"data": ["plain", " spaced ", ""]}', ["plain", "spaced"]),
        (b'{"data": [{"id": "a"}, {"id": "a"}, {"id": 7}, {"object": "model"}, null]}', ["a"]),
    ],
    ids=["bare-list", "ollama-like", "strings", "junk-entries"],
)
async def test_odd_shapes(body: bytes, expected: list[str]) -> None:
    assert await ids(body) == expected


@pytest.mark.parametrize("body", [b"<html>hi</html>", b'{"data": {"id": "x"}}', b"\xff\xfe"])
async def test_unreadable_lists_raise_a_typed_error(body: bytes) -> None:
    with pytest.raises(errors.MalformedResponseError):
        await ids(body)


async def test_errors_are_raised_typed(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    with pytest.raises(errors.AuthenticationError) as caught:
        await provider_for(loopback, http_client, api_key="sk-test-not-it-000000000").list_models()
    assert "LOOP_API_KEY" in str(caught.value)
    with pytest.raises(errors.MissingKeyError):
        await provider_for(loopback, http_client, api_key=None).list_models()
    loopback.enqueue(http_error(404, "Not found"))
    with pytest.raises(errors.EndpointNotFoundError):
        await provider_for(loopback, http_client).list_models()


async def test_model_lists_are_retried_like_other_requests(
    loopback: LoopbackServer, http_client: httpx.AsyncClient
) -> None:
    loopback.enqueue(http_error(503, "busy"), raw(200, b'{"data": [{"id": "late"}]}'))
    models = await provider_for(loopback, http_client).list_models()
    assert [m.id for m in models] == ["late"]
    assert len(loopback.requests) == 2
