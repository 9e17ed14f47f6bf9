"""Per-conversation settings: pinned when a conversation starts, edited later, and sent as the
loopback server receives them; a new default never changes an existing conversation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.engine.conftest import send
from tests.support.fixtures import TEST_KEY
from tests.support.server import LoopbackServer
from tui.config.settings import load_settings
from tui.domain import ApiMode, ChatSettings
from tui.services.container import Services, open_services


def last_body(server: LoopbackServer) -> dict:  # type: ignore[type-arg]
    posts = [r for r in server.requests if r.method == "POST"]
    return posts[-1].json  # type: ignore[no-any-return]


async def open_at(tmp_path: Path, server: LoopbackServer, **extra: str) -> Services:
    lines = "".join(f"{key} = {value}\n" for key, value in extra.items())
    config = tmp_path / "config.toml"
    config.write_text(
        f'[defaults]\nprovider = "loop"\nmodel = "gpt-5.2"\napi_mode = "responses"\n{lines}\n'
        f'[providers.loop]\nbase_url = "{server.base_url}"\napi_key_env = "LOOP_KEY"\n'
    )
    return await open_services(
        config=str(config),
        db=str(tmp_path / "history.sqlite3"),
        env={"LOOP_KEY": TEST_KEY},
        improve_titles=False,
    )


async def test_a_new_default_never_changes_an_existing_conversation(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    services = await open_at(
        tmp_path,
        loopback,
        reasoning_effort='"low"',
        verbosity='"high"',
        temperature="0.3",
        max_output_tokens="200",
        system_prompt='"Be kind."',
    )
    try:
        first = await send(services, None, "hello")
        conversation_id = first.user.conversation_id
        body = last_body(loopback)
        assert body["reasoning"]["effort"] == "low" and body["text"] == {"verbosity": "high"}
        # Every default changes (as Settings -> Defaults would change them).
        defaults = replace(
            services.settings.defaults,
            model="loopback-chat",
            api_mode=ApiMode.CHAT,
            reasoning_effort="xhigh",
            verbosity="low",
            temperature=1.5,
            max_output_tokens=999,
            system_prompt="Be terse.",
        )
        services.apply_settings(replace(services.settings, defaults=defaults))
        await send(services, conversation_id, "again")
        body = last_body(loopback)
        assert loopback.requests[-1].path.endswith("/responses")
        assert body["model"] == "gpt-5.2"
        assert body["reasoning"]["effort"] == "low"
        assert body["text"] == {"verbosity": "high"}
        assert body["temperature"] == 0.3 and body["max_output_tokens"] == 200
        assert body["instructions"] == "Be kind."
        # A new conversation takes the new defaults.
        await send(services, None, "fresh")
        body = last_body(loopback)
        assert loopback.requests[-1].path.endswith("/chat/completions")
        assert body["model"] == "loopback-chat" and body["temperature"] == 1.5
        assert body["messages"][0] == {"role": "system", "content": "Be terse."}
    finally:
        await services.close()


async def test_saved_settings_apply_from_the_next_turn(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    services = await open_at(tmp_path, loopback)
    try:
        turn = await send(services, None, "hello")
        conversation_id = turn.user.conversation_id
        conversation = await services.history.get(conversation_id)
        assert conversation is not None
        edited = replace(
            services.chat.settings_for(conversation),
            api_mode=ApiMode.CHAT,
            reasoning_effort="high",
            verbosity="low",
            temperature=0.7,
            max_output_tokens=64,
            system_prompt="One line only.",
        )
        stored = await services.chat.save_settings(conversation_id, edited)
        assert services.chat.settings_for(stored) == edited
        turn = await send(services, conversation_id, "now on chat")
        request = loopback.requests[-1]
        assert request.path.endswith("/chat/completions")
        body = request.json
        assert body["reasoning_effort"] == "high" and body["verbosity"] == "low"
        assert body["temperature"] == 0.7
        assert body["messages"][0] == {"role": "system", "content": "One line only."}
        assert body["messages"][-1]["content"] == "now on chat"
        assert len([m for m in body["messages"] if m["role"] == "user"]) == 2  # whole history
        assert turn.reply.api is not None and turn.reply.api.value == "chat"
    finally:
        await services.close()


async def test_an_effort_the_model_does_not_take_is_not_sent(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    services = await open_at(tmp_path, loopback, reasoning_effort='"minimal"')
    try:
        turn = services.chat.next_turn(services.chat.settings_for(None))
        assert turn.reasoning_effort is None  # GPT-5.2 has none..xhigh, not minimal
        await send(services, None, "hello")
        assert "reasoning" not in last_body(loopback) or "effort" not in last_body(loopback).get(
            "reasoning", {}
        )
    finally:
        await services.close()


async def test_a_new_chat_can_start_on_settings_chosen_before_it(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    services = await open_at(tmp_path, loopback)
    try:
        chosen = ChatSettings(
            provider="demo", model="demo-pro", api_mode=ApiMode.RESPONSES, verbosity="low"
        )
        events = [event async for event in services.chat.send(None, "hi", settings=chosen)]
        assert events
        conversation = await services.history.latest_conversation()
        assert conversation is not None
        assert (conversation.provider, conversation.model) == ("demo", "demo-pro")
        assert conversation.params["verbosity"] == "low"
        assert "reasoning_effort" in conversation.params  # pinned, even when unset
    finally:
        await services.close()


async def test_verbosity_default_is_checked(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[defaults]\nverbosity = "loud"\n')
    settings, problems = load_settings(config, {})
    assert settings.defaults.verbosity is None
    assert any("verbosity" in problem and "loud" in problem for problem in problems)
