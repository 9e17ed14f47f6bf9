"""The model picker and the per-conversation settings, driven with Pilot: what the screen shows,
what the store keeps, and what the loopback server receives."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import cast

from textual import events
from textual.command import CommandPalette
from textual.widgets import Input, OptionList

from tests.support.fixtures import TEST_KEY
from tests.support.server import LoopbackServer
from tests.ui.conftest import AppFactory, wait_for
from tests.ui.hosts import footer_entries, screen_lines
from tests.ui.test_conversation_screen import idle, send_and_wait, stored_path, views
from tui.app import TuiApp
from tui.domain import ApiMode
from tui.screens.chat_settings import ChatSettingsScreen
from tui.screens.conversation import ConversationScreen
from tui.screens.conversations import ConversationsScreen
from tui.screens.model_picker import MAX_MATCHES, ModelPicker
from tui.screens.settings import SettingsScreen
from tui.services.models import filter_choices
from tui.widgets.prompt_input import PromptInput
from tui.widgets.status_bar import StatusBar

SIZE = (120, 40)


def status(app: TuiApp) -> str:
    return str(app.screen_stack[0].query_one(StatusBar).render())


def picker(app: TuiApp) -> ModelPicker:
    screen = app.screen
    assert isinstance(screen, ModelPicker)
    return screen


def row_texts(app: TuiApp) -> list[str]:
    listing = picker(app).query_one(OptionList)
    return [str(option.prompt) for option in listing.options]


async def open_picker(pilot) -> ModelPicker:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+t")
    await wait_for(lambda: isinstance(pilot.app.screen, ModelPicker))
    await wait_for(lambda: picker(pilot.app).query_one(OptionList).option_count > 0)
    return picker(pilot.app)


async def choose(  # type: ignore[no-untyped-def]
    pilot, query: str, *keys: str, settle: bool = True
) -> None:
    """Filter for ``query`` and press ``keys`` (Enter by default) on the best match; with
    ``settle``, wait for the choice to be stored."""
    screen = await open_picker(pilot)
    await pilot.press(*query)
    await wait_for(lambda: screen.query_one(Input).value == query)
    await pilot.press(*(keys or ("enter",)))
    await wait_for(lambda: not isinstance(pilot.app.screen, ModelPicker))
    if settle:
        await pilot.app.workers.wait_for_complete()


async def test_the_picker_lists_every_provider_with_badges(app_factory: AppFactory) -> None:
    app = app_factory(new_chat=True)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        assert "^t Model" in footer_entries(app)
        await open_picker(pilot)
        rows = row_texts(app)
        text = "\n".join(rows)
        for heading in ("OpenAI", "AI/ML API", "GMI Cloud", "Ollama", "llama.cpp", "Offline demo"):
            assert any(row.startswith(heading) for row in rows), heading
        pro = next(row for row in rows if "openai/gpt-5-2-pro" in row)
        assert "Responses only" in pro and "reasoning medium–xhigh" in pro and "400k" in pro
        assert "needs a key" in pro  # no AIMLAPI_API_KEY in this test's environment
        demo = next(row for row in rows if row.lstrip("● ").startswith("demo "))
        assert demo.startswith("●")  # the model in use is marked
        assert "Chat+Responses" in demo and "needs a key" not in demo
        assert "no models listed yet" in text  # a local server before its list is fetched


async def test_choosing_a_model_applies_to_this_conversation_only(
    app_factory: AppFactory,
) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "first chat")
        first = (await stored_path(app))[0].conversation_id
        await pilot.press("ctrl+n")
        await send_and_wait(pilot, "second chat")
        await choose(pilot, "demo-pro")
        assert "demo-pro · Responses" in status(app)
        # The key after the picker closes goes to the prompt and sends.
        await send_and_wait(pilot, "which model", 4)
        assert views(app)[-1].message.model == "demo-pro"
        services = app.handle.current
        assert services is not None
        second = await services.history.get(views(app)[-1].message.conversation_id)
        untouched = await services.history.get(first)
        assert second is not None and untouched is not None
        assert (second.model, untouched.model) == ("demo-pro", "demo")
        assert await services.store.repository.recent_models(1) == [("demo", "demo-pro")]


async def test_filter_and_api_cycle(app_factory: AppFactory) -> None:
    app = app_factory(new_chat=True)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        screen = await open_picker(pilot)
        await pilot.press(*"gmi 5.2 chat")
        await wait_for(lambda: screen.highlighted is not None)
        choice = screen.highlighted
        assert choice is not None
        assert (choice.provider, choice.model.id) == ("gmi", "openai/gpt-5.2-chat")
        await pilot.press("ctrl+a")  # auto -> Chat Completions
        assert screen.api_mode is ApiMode.CHAT
        assert "API: Chat Completions" in str(screen.query_one("#picker-title").render())
        for key in "zzzq":
            await pilot.press(key)
        await wait_for(lambda: screen.query_one(OptionList).option_count == 0)
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))


async def test_a_new_chat_starts_on_the_chosen_model_and_api(app_factory: AppFactory) -> None:
    app = app_factory(new_chat=True)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        assert "Offline demo · demo · Responses · default effort" in status(app)
        screen = await open_picker(pilot)
        await pilot.press(*"demo")
        await pilot.press("ctrl+a")  # Chat Completions
        await pilot.press("enter")
        await wait_for(lambda: not isinstance(app.screen, ModelPicker))
        await app.workers.wait_for_complete()
        assert screen.api_mode is ApiMode.CHAT
        assert "demo · Chat Completions" in status(app)
        await send_and_wait(pilot, "hello")
        path = await stored_path(app)
        assert path[-1].api is not None and path[-1].api.value == "chat"
        await pilot.press("ctrl+n")  # a new chat is back on the defaults, figures cleared
        await wait_for(lambda: "Responses" in status(app))
        assert "↓" not in status(app)


async def test_make_default_keeps_existing_conversations(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "made on demo")
        old = (await stored_path(app))[0].conversation_id
        await pilot.press("ctrl+n")
        await choose(pilot, "demo-pro", "ctrl+d")
        saved = tomllib.loads((tmp_path / "config.toml").read_text())
        assert saved["defaults"]["model"] == "demo-pro"
        assert saved["defaults"]["provider"] == "demo"
        services = app.handle.current
        assert services is not None
        assert services.settings.defaults.model == "demo-pro"
        conversation = await services.history.get(old)
        assert conversation is not None and conversation.model == "demo"
        app.open_conversation(old)
        await wait_for(lambda: cast(ConversationScreen, app.screen_stack[0]).conversation_id == old)
        await wait_for(lambda: "· demo · " in status(app))


async def test_picker_from_the_conversations_list(app_factory: AppFactory) -> None:
    app = app_factory(new_chat=True)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "listed chat")
        conversation_id = (await stored_path(app))[0].conversation_id
        await pilot.press("ctrl+o")
        await wait_for(lambda: isinstance(app.screen, ConversationsScreen))
        listing = app.screen.query_one("#conversations", OptionList)
        await wait_for(lambda: listing.option_count > 0)
        listing.focus()
        await choose(pilot, "demo-pro")
        assert isinstance(app.screen, ConversationsScreen)
        services = app.handle.current
        assert services is not None
        conversation = await services.history.get(conversation_id)
        assert conversation is not None and conversation.model == "demo-pro"
        await wait_for(lambda: any("demo-pro" in line for line in screen_lines(app)))


async def test_the_palette_finds_switch_model(app_factory: AppFactory) -> None:
    app = app_factory(new_chat=True)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await pilot.press("ctrl+p")
        await wait_for(lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"model")
        palette = app.screen
        results = palette.query_one(OptionList)
        await wait_for(
            lambda: any("Switch model" in str(option.prompt) for option in results.options)
        )
        first = results.options[0]
        assert "Switch model" in str(first.prompt)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, ModelPicker))


async def test_a_keyless_model_opens_its_providers_settings(app_factory: AppFactory) -> None:
    app = app_factory(new_chat=True)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await choose(pilot, "openai gpt-5.2-pro", settle=False)
        await wait_for(lambda: isinstance(app.screen, SettingsScreen))
        settings = app.screen
        assert isinstance(settings, SettingsScreen)
        await wait_for(lambda: settings.focused is settings.provider_form("openai").key_input)
        services = app.handle.current
        assert services is not None
        assert services.chat.settings_for(None).model in (None, "demo")  # nothing chosen


async def test_refresh_shows_the_live_list_or_the_providers_error(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    config = f'[providers.loop]\nbase_url = "{server.base_url}"\napi_key_env = "LOOP_KEY"\n'
    app = app_factory(config=config, env={"LOOP_KEY": TEST_KEY}, new_chat=True)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        screen = await open_picker(pilot)
        listing = screen.query_one(OptionList)
        row = listing.get_option_index("p\x1floop")
        listing.highlighted = row
        await pilot.press("ctrl+r")
        detail = screen.query_one("#picker-detail")
        await wait_for(lambda: "lists 3 chat models" in str(detail.render()))
        assert any("loopback-reasoner" in text for text in row_texts(app))
        services = app.handle.current
        assert services is not None
        cached = await services.store.repository.cached_models("loop")
        assert cached is not None and len(cached[0]) == 3
        # The key is taken back: the next refresh shows the server's refusal, in one line.
        server.api_key = "another-key"
        listing.highlighted = next(
            i for i, option in enumerate(listing.options) if "loopback-chat" in str(option.prompt)
        )
        await pilot.press("ctrl+r")
        detail = screen.query_one("#picker-detail")
        await wait_for(lambda: str(detail.render()).startswith("loop: "))
        assert "\n" not in str(detail.render()).split("\n")[0]
        assert TEST_KEY not in str(detail.render()) and "another-key" not in str(detail.render())
        assert any("loopback-reasoner" in text for text in row_texts(app))  # the list is kept


async def test_keys_typed_as_the_picker_opens_go_to_its_filter(app_factory: AppFactory) -> None:
    app = app_factory(new_chat=True)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "hello")
        for key in ("ctrl+t", *"pro"):  # all at once, as a fast typist's keys arrive
            app.post_message(events.Key(key, key if len(key) == 1 else None))
        await wait_for(lambda: isinstance(app.screen, ModelPicker))
        screen = picker(app)
        await wait_for(lambda: screen.shown_query == "pro")
        assert any("demo-pro" in row for row in row_texts(app))
        conversation = app.screen_stack[0]
        assert isinstance(conversation, ConversationScreen)
        assert conversation.query_one("PromptInput", PromptInput).text == ""  # nothing went astray


async def test_a_broad_filter_shows_the_best_matches_and_counts_the_rest(
    app_factory: AppFactory, tmp_path: Path
) -> None:
    from tui.domain import ModelInfo
    from tui.store.db import open_store

    database = tmp_path / "big.sqlite3"
    store = await open_store(path=database)
    try:
        models = [ModelInfo(id=f"vendor/model-{n:03}", provider="gateway") for n in range(300)]
        await store.repository.cache_models("gateway", models)
    finally:
        await store.close()
    config = '[providers.gateway]\nbase_url = "http://127.0.0.1:9/v1"\n'
    app = app_factory(config=config, db=database, new_chat=True)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        screen = await open_picker(pilot)
        assert sum("vendor/model-" in row for row in row_texts(app)) == 300  # browsing: all
        await pilot.press(*"model")
        await wait_for(lambda: screen.shown_query == "model")
        rows = row_texts(app)
        assert sum("vendor/model-" in row for row in rows) == MAX_MATCHES
        matched = len(filter_choices(screen.listing, "model"))  # the 300 and a few demo ids
        assert matched >= 300
        assert rows[-1].strip().startswith(f"{matched - MAX_MATCHES} more match")
        await pilot.press(*"-123")
        await wait_for(lambda: screen.shown_query == "model-123")
        assert "vendor/model-123" in row_texts(app)[0]
        assert not any("more match" in row for row in row_texts(app))


async def test_chat_settings_round_trip_into_the_request(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    config = (
        '[defaults]\nprovider = "loop"\nmodel = "gpt-5.2"\napi_mode = "responses"\n\n'
        f'[providers.loop]\nbase_url = "{server.base_url}"\napi_key_env = "LOOP_KEY"\n'
    )
    app = app_factory(config=config, env={"LOOP_KEY": TEST_KEY})
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "first")
        await pilot.press("ctrl+g")
        await wait_for(lambda: isinstance(app.screen, ChatSettingsScreen))
        panel = app.screen
        assert isinstance(panel, ChatSettingsScreen)
        panel.effort_select.value = "high"
        panel.verbosity_select.value = "low"
        panel.temperature_input.value = "0.5"
        panel.max_tokens_input.value = "321"
        panel.prompt_area.text = "Answer in one line."
        await pilot.press("ctrl+s")
        await wait_for(lambda: not isinstance(app.screen, ChatSettingsScreen))
        await app.workers.wait_for_complete()
        assert "effort high" in status(app)
        services = app.handle.current
        assert services is not None
        conversation_id = (await stored_path(app))[0].conversation_id
        stored = await services.history.get(conversation_id)
        assert stored is not None
        assert stored.params["reasoning_effort"] == "high"
        assert stored.params["verbosity"] == "low"
        assert stored.params["temperature"] == 0.5
        assert stored.params["max_output_tokens"] == 321
        assert stored.system_prompt == "Answer in one line."
        await send_and_wait(pilot, "second", 4)
        body = [r for r in server.requests if r.path.endswith("/responses")][-1].json
        assert body["reasoning"]["effort"] == "high"
        assert body["text"] == {"verbosity": "low"}
        assert body["temperature"] == 0.5
        assert body["max_output_tokens"] == 321
        assert body["instructions"] == "Answer in one line."
        # Exported with the conversation.
        from tui.services.export import export_json

        exported = await export_json(services.store.repository, conversation_id)
        assert '"verbosity": "low"' in exported and "Answer in one line." in exported


async def test_an_invalid_field_is_shown_and_nothing_saved(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "hello")
        await pilot.press("ctrl+g")
        await wait_for(lambda: isinstance(app.screen, ChatSettingsScreen))
        panel = app.screen
        assert isinstance(panel, ChatSettingsScreen)
        panel.temperature_input.value = "7"
        await pilot.press("ctrl+s")
        await wait_for(lambda: "from 0 to 2" in "\n".join(screen_lines(app)))
        assert isinstance(app.screen, ChatSettingsScreen)
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, ConversationScreen))
        services = app.handle.current
        assert services is not None
        stored = await services.history.get((await stored_path(app))[0].conversation_id)
        assert stored is not None and stored.params.get("temperature") is None
