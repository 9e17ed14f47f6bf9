"""Provider routing as real servers need it: presets matched by host and port, Chat Completions
when a server has no ``/responses`` (learned once, remembered), and the token-limit field."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.engine.conftest import send, write_config
from tests.engine.test_cli import run
from tests.support.fixtures import TEST_KEY
from tests.support.script import http_error
from tests.support.server import LoopbackServer
from tui.config.settings import ProviderSettings, Settings
from tui.domain import (
    ApiKind,
    ApiMode,
    ChatRequest,
    InputMessage,
    MessageStatus,
    Role,
)
from tui.providers.catalog import ModelCatalog, adhoc_provider, custom_provider
from tui.providers.chat_completions import build_chat_body
from tui.providers.errors import NoResponsesApiError
from tui.services.container import Services, open_services
from tui.services.turns import RouteChosen

CHAT_ONLY = frozenset({ApiKind.CHAT})


def localhost_url(server: LoopbackServer) -> str:
    return f"http://localhost:{server.port}/v1"


async def open_loop(tmp_path: Path, base_url: str, extra: str = "") -> Services:
    config = write_config(tmp_path / "config.toml", base_url, extra=extra)
    return await open_services(
        config=str(config),
        db=str(tmp_path / "history.sqlite3"),
        env={"LOOP_KEY": TEST_KEY},
        improve_titles=False,
    )


# ------------------------------------------------------------------ presets by host and port


def test_a_localhost_url_on_an_unknown_port_is_not_ollama() -> None:
    for config in (
        adhoc_provider("http://localhost:8081/v1"),
        custom_provider("box", "http://localhost:8081/v1"),
        custom_provider("box", "http://127.0.0.1:5001/v1"),
    ):
        assert config.local and not config.requires_key
        assert config.supports_responses and config.stateful_responses
        assert config.max_tokens_param == "max_tokens"


def test_localhost_on_ollamas_port_still_gets_ollamas_details() -> None:
    for url in ("http://localhost:11434/v1", "http://127.0.0.1:11434/v1"):
        for config in (adhoc_provider(url), custom_provider("mine", url)):
            assert not config.stateful_responses, url
            assert config.supports_responses and config.max_tokens_param == "max_tokens"
    lm_studio = adhoc_provider("http://localhost:1234/v1")
    assert lm_studio.stateful_responses  # LM Studio keeps responses


def test_the_effective_port_comes_from_the_scheme() -> None:
    assert adhoc_provider("https://api.openai.com/v1").max_tokens_param == "max_completion_tokens"
    assert adhoc_provider("https://api.openai.com:443/v1").max_tokens_param == (
        "max_completion_tokens"
    )
    elsewhere = adhoc_provider("https://api.openai.com:8443/v1")
    assert elsewhere.max_tokens_param == "max_tokens"
    assert adhoc_provider("https://api.aimlapi.com/v1").max_tokens_param == "max_tokens"
    assert adhoc_provider("https://api.gmi-serving.com/v1").max_tokens_param == (
        "max_completion_tokens"
    )


async def test_a_localhost_custom_provider_chains_its_second_turn(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    services = await open_loop(tmp_path, localhost_url(loopback))
    try:
        first = await send(services, None, "first question")
        assert first.reply.status is MessageStatus.COMPLETE and first.reply.response_id
        await send(services, first.user.conversation_id, "second question")
    finally:
        await services.close()
    chained = loopback.requests[-1]
    assert chained.path == "/responses"
    assert chained.json["previous_response_id"] == first.reply.response_id
    assert [item["content"] for item in chained.json["input"]] == ["second question"]


async def test_a_localhost_base_url_chains_its_second_turn(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    services = await open_services(
        db=str(tmp_path / "history.sqlite3"),
        env={},
        base_url=localhost_url(loopback),
        api_key=TEST_KEY,
        improve_titles=False,
    )
    try:
        options = {"provider": "custom", "model": "loopback-chat"}
        first = await send(services, None, "one", **options)
        await send(services, first.user.conversation_id, "two", **options)
    finally:
        await services.close()
    assert loopback.requests[-1].json["previous_response_id"] == first.reply.response_id


# ------------------------------------------------------------------ no /responses


@pytest.fixture
def no_responses() -> Iterator[LoopbackServer]:
    with LoopbackServer(api_key=TEST_KEY, responses=False) as server:
        yield server


@pytest.fixture
async def services(tmp_path: Path, no_responses: LoopbackServer) -> AsyncIterator[Services]:
    opened = await open_loop(tmp_path, localhost_url(no_responses))
    yield opened
    await opened.close()


async def test_auto_answers_over_chat_when_the_server_has_no_responses(
    tmp_path: Path, no_responses: LoopbackServer, services: Services
) -> None:
    first = await send(services, None, "hello there")
    assert first.finished.error is None
    assert first.reply.status is MessageStatus.COMPLETE
    assert first.reply.api is ApiKind.CHAT
    assert "hello there" in first.reply.content
    assert [r.path for r in no_responses.requests] == ["/responses", "/chat/completions"]
    routes = [e.api for e in first.events if isinstance(e, RouteChosen)]
    assert routes == [ApiKind.RESPONSES, ApiKind.CHAT]  # the status line follows the switch

    # Remembered for this run: the next turn goes straight to Chat Completions.
    second = await send(services, first.user.conversation_id, "and again")
    assert second.reply.status is MessageStatus.COMPLETE
    assert [r.path for r in no_responses.requests][2:] == ["/chat/completions"]
    assert no_responses.requests[-1].json["messages"][-1]["content"] == "and again"
    assert all(m.endpoints == CHAT_ONLY for m in services.registry.models("loop"))

    # And for the next start: stored, and applied when the services open.
    facts = await services.store.repository.provider_facts()
    assert facts["loop"]["responses"] is False
    fresh = await open_services(
        config=str(tmp_path / "config.toml"),
        db=str(tmp_path / "history.sqlite3"),
        env={"LOOP_KEY": TEST_KEY},
        improve_titles=False,
    )
    try:
        assert fresh.registry.config("loop").supports_responses is False
        before = len(no_responses.requests)
        third = await send(fresh, None, "a new chat")
        assert third.reply.status is MessageStatus.COMPLETE
        assert [r.path for r in no_responses.requests][before:] == ["/chat/completions"]
    finally:
        await fresh.close()


async def test_facts_survive_a_settings_change(services: Services) -> None:
    await send(services, None, "learn it")
    assert services.registry.config("loop").supports_responses is False
    services.apply_settings(services.settings)
    assert services.registry.config("loop").supports_responses is False
    assert services.registry.route("loop", "loopback-chat", ApiMode.AUTO).api is ApiKind.CHAT


async def test_explicit_responses_fails_clearly_and_keeps_the_message(
    no_responses: LoopbackServer, services: Services
) -> None:
    turn = await send(services, None, "keep me", api_mode=ApiMode.RESPONSES)
    error = turn.finished.error
    assert isinstance(error, NoResponsesApiError)
    text = str(error)
    assert "\n" not in text
    assert "no Responses API (404 on /responses)" in text
    assert "Chat Completions or auto" in text
    assert turn.reply.status is MessageStatus.FAILED
    assert [r.path for r in no_responses.requests] == ["/responses"]  # no silent fallback
    path = await services.store.repository.active_path(turn.user.conversation_id)
    assert [(m.role, m.content) for m in path][0] == (Role.USER, "keep me")
    assert "loop" not in await services.store.repository.provider_facts()
    assert services.registry.config("loop").supports_responses is True


async def test_a_405_on_responses_also_means_no_responses_api(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    services = await open_loop(tmp_path, loopback.base_url)
    try:
        loopback.enqueue(http_error(405, "Method Not Allowed"))
        turn = await send(services, None, "hi")
    finally:
        await services.close()
    assert turn.reply.status is MessageStatus.COMPLETE and turn.reply.api is ApiKind.CHAT
    assert [r.path for r in loopback.requests] == ["/responses", "/chat/completions"]


def test_ask_on_a_server_without_responses_just_answers() -> None:
    with LoopbackServer(api_key=TEST_KEY, responses=False) as server:
        args = ("ask", "--base-url", server.base_url, "--api-key", TEST_KEY, "-m", "loopback-chat")
        explicit = run(*args, "--api", "responses", "strict")
        first = run(*args, "hello")
        assert first.returncode == 0, first.stderr
        assert "hello" in first.stdout and first.stderr == ""
        second = run(*args, "-c", "again")  # a new process: the fact came from the database
        assert second.returncode == 0, second.stderr
        paths = [r.path for r in server.requests]
    assert explicit.returncode == 1
    assert explicit.stderr.strip().splitlines() == [
        "tui-chat: error: This server has no Responses API (404 on /responses). Choose Chat "
        "Completions or auto as the API (on the command line: --api chat). Your message is kept "
        "in conversation 1."
    ]
    assert paths == ["/responses", "/responses", "/chat/completions", "/chat/completions"]


async def test_other_errors_on_responses_never_fall_back(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    services = await open_loop(tmp_path, loopback.base_url)
    try:
        loopback.enqueue(http_error(400, "Unsupported parameter: 'store'."))
        turn = await send(services, None, "hi")
        assert turn.reply.status is MessageStatus.FAILED
        assert [r.path for r in loopback.requests] == ["/responses"]
        assert await services.store.repository.provider_facts() == {}
    finally:
        await services.close()


# ------------------------------------------------------------------ the token-limit field


def chat_body(config_url: str) -> dict[str, object]:
    request = ChatRequest(
        model="m", messages=(InputMessage(Role.USER, "hi"),), max_output_tokens=64
    )
    return build_chat_body(request, custom_provider("p", config_url))


def test_unknown_and_local_servers_get_max_tokens_and_openai_the_new_name() -> None:
    for url in ("https://llm.example.com/v1", "http://localhost:8081/v1", "http://10.0.0.5/v1"):
        body = chat_body(url)
        assert body["max_tokens"] == 64 and "max_completion_tokens" not in body, url
    openai = chat_body("https://api.openai.com/v1")
    assert openai["max_completion_tokens"] == 64 and "max_tokens" not in openai
    catalog = ModelCatalog()
    assert catalog.provider("openai").max_tokens_param == "max_completion_tokens"
    assert catalog.provider("gmi").max_tokens_param == "max_completion_tokens"
    assert catalog.provider("aimlapi").max_tokens_param == "max_tokens"


async def test_a_turn_sends_max_tokens_unless_the_settings_say_otherwise(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    (tmp_path / "plain").mkdir()
    services = await open_loop(tmp_path / "plain", localhost_url(loopback))
    try:
        await send(services, None, "hi", api_mode=ApiMode.CHAT, max_output_tokens=40)
    finally:
        await services.close()
    assert loopback.requests[-1].json["max_tokens"] == 40

    (tmp_path / "set").mkdir()
    override = 'max_tokens_param = "max_completion_tokens"\n'
    services = await open_loop(tmp_path / "set", localhost_url(loopback), extra=override)
    try:
        # A probed or learned value never beats the user's own setting.
        services.registry.learn("loop", {"max_tokens_param": "max_tokens"})
        await send(services, None, "hi", api_mode=ApiMode.CHAT, max_output_tokens=40)
    finally:
        await services.close()
    body = loopback.requests[-1].json
    assert body["max_completion_tokens"] == 40 and "max_tokens" not in body


def test_facts_apply_to_the_catalog_but_settings_win() -> None:
    settings = Settings(
        providers={
            "box": ProviderSettings(name="box", base_url="http://localhost:9000/v1"),
            "pinned": ProviderSettings(
                name="pinned",
                base_url="http://localhost:9001/v1",
                supports_responses=True,
                max_tokens_param="max_completion_tokens",
            ),
        }
    )
    catalog = ModelCatalog(settings)
    learned = {"responses": False, "stateful_responses": False, "max_tokens_param": "max_tokens"}
    catalog.apply_facts({"box": learned, "pinned": learned, "unknown": learned})
    box = catalog.provider("box")
    assert (box.supports_responses, box.stateful_responses) == (False, False)
    assert catalog.model_info("box", "qwen3").endpoints == CHAT_ONLY
    pinned = catalog.provider("pinned")
    assert pinned.supports_responses and pinned.max_tokens_param == "max_completion_tokens"
    assert not pinned.stateful_responses


def test_facts_learned_at_another_base_url_are_ignored() -> None:
    catalog = ModelCatalog()
    catalog.add_provider(adhoc_provider("http://localhost:8081/v1"))
    catalog.apply_facts({"custom": {"responses": False, "base_url": "http://localhost:8080/v1"}})
    assert catalog.provider("custom").supports_responses
    catalog.apply_facts({"custom": {"responses": False, "base_url": "http://localhost:8081/v1"}})
    assert not catalog.provider("custom").supports_responses


async def test_facts_from_an_earlier_base_url_are_cleared_not_merged(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    services = await open_loop(tmp_path, loopback.base_url)
    repository = services.store.repository
    try:
        old = {"stateful_responses": False, "base_url": "http://localhost:9/v1"}
        await repository.save_provider_facts("loop", services.registry.learn("loop", old))
        new = {"responses": False, "base_url": loopback.base_url}
        await repository.save_provider_facts("loop", services.registry.learn("loop", new))
        assert services.registry.facts["loop"] == new
        config = services.registry.config("loop")
        assert not config.supports_responses and config.stateful_responses
    finally:
        await services.close()
    reopened = await open_loop(tmp_path, loopback.base_url)
    try:
        config = reopened.registry.config("loop")
        assert not config.supports_responses and config.stateful_responses
    finally:
        await reopened.close()
