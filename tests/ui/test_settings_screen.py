"""The settings screen as a user drives it: keys stay masked, bad values block Save."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widgets import Button, ContentSwitcher, Input, OptionList, Select, Switch, TextArea

from tests.ui.conftest import wait_for
from tests.ui.settings_host import SettingsHost
from tui.config.settings import ProviderSettings, Secret, Settings
from tui.domain import ApiMode
from tui.providers.catalog import ModelCatalog
from tui.screens.settings import SettingsScreen

SIZE = (110, 40)
OLD_KEY = "sk-live-OLDSECRET0123456789a1b2"
NEW_KEY = "sk-proj-NEWSECRET9876543210zz99"


def with_openai_key() -> Settings:
    return Settings(providers={"openai": ProviderSettings("openai", api_key=Secret(OLD_KEY))})


def nothing_queued(app: App[Any]) -> bool:
    """No message waits to be handled by the app, the screen or any of its widgets."""
    nodes = [app, *app.screen.walk_children(with_self=True)]
    return all(node._message_queue.empty() for node in nodes)


def assert_never_shown(text: str, key: str) -> None:
    assert key not in text
    assert key[3:-4] not in text  # not even the part a masked key hides


async def test_typed_key_is_saved_and_never_shown() -> None:
    app = SettingsHost(with_openai_key())
    async with app.run_test(size=SIZE) as pilot:
        screen = app.settings_screen
        text = app.screen_text()
        assert "Key saved in the settings file: sk-…a1b2" in text
        assert_never_shown(text, OLD_KEY)
        form = screen.provider_form("openai")
        await pilot.click(form.key_input)
        await pilot.press(*NEW_KEY)
        await pilot.pause()
        text = app.screen_text()
        assert "•" * len(NEW_KEY) in text
        assert "A new key will be saved when you press Save." in text
        assert_never_shown(text, NEW_KEY)
        assert_never_shown(text, OLD_KEY)
        await pilot.press("ctrl+s")
        await pilot.pause()
    [saved] = app.results
    assert saved is not None
    openai = saved.providers["openai"]
    assert openai.api_key == Secret(NEW_KEY)
    assert openai.base_url is None and openai.api_key_env is None
    assert NEW_KEY not in repr(saved)


async def test_empty_key_field_keeps_the_current_key() -> None:
    app = SettingsHost(with_openai_key())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#settings-save")
        await pilot.pause()
    [saved] = app.results
    assert saved is not None
    assert saved.providers["openai"].api_key == Secret(OLD_KEY)


async def test_remove_saved_key_falls_back_to_nothing() -> None:
    app = SettingsHost(with_openai_key(), env={"OPENAI_API_KEY": "sk-env-ENVSECRET55554444c3d4"})
    async with app.run_test(size=SIZE) as pilot:
        form = app.settings_screen.provider_form("openai")
        await pilot.click(form.query_one(".remove-key", Button))
        await pilot.pause()
        text = app.screen_text()
        assert "The saved key will be removed when you press Save." in text
        assert "Keep saved key" in text
        assert "key removed" in text  # the provider list says so too
        await pilot.press("ctrl+s")
        await pilot.pause()
    [saved] = app.results
    assert saved is not None
    assert "openai" not in saved.providers  # nothing left that differs from the preset


async def test_key_from_the_environment_is_shown_masked_with_its_source() -> None:
    env_key = "gmi-ENVSECRET-abcdefghijklmn7788"
    app = SettingsHost(Settings(), env={"GMI_API_KEY": env_key}, focus_provider="gmi")
    async with app.run_test(size=SIZE):
        text = app.screen_text()
        assert "Key from $GMI_API_KEY: gmi…7788" in text
        assert_never_shown(text, env_key)
        assert not app.settings_screen.provider_form("gmi").query_one(".key-actions").display


async def test_focus_provider_lands_on_its_key_field() -> None:
    app = SettingsHost(Settings(), focus_provider="aimlapi")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.settings_screen
        form = screen.provider_form("aimlapi")
        assert app.focused is form.key_input
        assert screen.query_one("#provider-forms", ContentSwitcher).current == form.id
        options = screen.query_one("#provider-list", OptionList)
        assert options.highlighted_option is not None
        assert options.highlighted_option.id == "aimlapi"
        text = app.screen_text()
        assert "AI/ML API" in text
        assert "No key set. Paste one in the API key field or set $AIMLAPI_API_KEY." in text


async def test_browsing_the_provider_list_switches_forms() -> None:
    app = SettingsHost(Settings())
    async with app.run_test(size=SIZE) as pilot:
        screen = app.settings_screen
        await pilot.click("#provider-list")
        await pilot.press("down", "down")
        await pilot.pause()
        current = screen.query_one("#provider-forms", ContentSwitcher).current
        assert current == screen.provider_form("gmi").id
        assert "GMI Cloud" in app.screen_text()


async def test_invalid_base_url_blocks_saving_until_fixed() -> None:
    app = SettingsHost(Settings(), focus_provider="openai")
    async with app.run_test(size=SIZE) as pilot:
        form = app.settings_screen.provider_form("openai")
        await pilot.click(form.url_input)
        await pilot.press(*"ftp://example.com")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.results == []
        assert isinstance(app.screen, SettingsScreen)
        text = app.screen_text()
        assert "The base URL must start with http:// or https://" in text
        assert "1 field needs fixing" in text
        assert app.focused is form.url_input
        form.url_input.value = ""
        await pilot.press(*"http://127.0.0.1:9999/v1/")
        await pilot.pause()
        assert "must start with http://" not in app.screen_text()  # cleared once fixed
        await pilot.press("ctrl+s")
        await pilot.pause()
    [saved] = app.results
    assert saved is not None
    assert saved.providers["openai"].base_url == "http://127.0.0.1:9999/v1"


async def test_a_key_pasted_into_the_base_url_is_not_repeated_in_the_error() -> None:
    app = SettingsHost(Settings(), focus_provider="openai")
    async with app.run_test(size=SIZE) as pilot:
        form = app.settings_screen.provider_form("openai")
        await pilot.click(form.url_input)
        await pilot.press(*NEW_KEY)
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = form.rows[2].error
        assert error is not None and NEW_KEY not in error
        assert app.results == []


async def test_invalid_temperature_blocks_saving_with_a_visible_message() -> None:
    app = SettingsHost(Settings())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#--content-tab-tab-defaults")
        await pilot.click("#default-temperature")
        await pilot.press(*"2.5")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.results == []
        text = app.screen_text()
        assert "Temperature must be from 0 to 2." in text
        assert "1 field needs fixing: Temperature must be from 0 to 2." in text
        await pilot.press("backspace", "backspace", "backspace", *"0.7")
        await pilot.press("ctrl+s")
        await pilot.pause()
    [saved] = app.results
    assert saved is not None
    assert saved.defaults.temperature == 0.7


async def test_defaults_are_edited_and_returned() -> None:
    app = SettingsHost(Settings())
    async with app.run_test(size=SIZE) as pilot:
        screen = app.settings_screen
        await pilot.click("#--content-tab-tab-defaults")
        screen.query_one("#default-provider", Select).value = "gmi"
        screen.query_one("#default-api-mode", Select).value = "chat"
        screen.query_one("#default-reasoning", Select).value = "high"
        await pilot.click("#default-model")
        await pilot.press(*"openai/gpt-5.2")
        await pilot.click("#default-max-tokens")
        await pilot.press(*"4096")
        await pilot.click("#default-system-prompt")
        await pilot.press(*"Be brief.", "enter", *"Answer in English.")
        await pilot.click("#default-improve-titles")
        await pilot.press("ctrl+s")
        await pilot.pause()
    [saved] = app.results
    assert saved is not None
    defaults = saved.defaults
    assert defaults.provider == "gmi"
    assert defaults.model == "openai/gpt-5.2"
    assert defaults.api_mode is ApiMode.CHAT
    assert defaults.reasoning_effort == "high"
    assert defaults.max_output_tokens == 4096
    assert defaults.system_prompt == "Be brief.\nAnswer in English."
    assert defaults.improve_titles is False
    assert defaults.temperature is None


async def test_cancel_returns_none_and_puts_the_theme_back() -> None:
    app = SettingsHost(with_openai_key(), theme="dusk")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.settings_screen
        await pilot.click("#--content-tab-tab-appearance")
        screen.query_one("#theme-select", Select).value = "paper"
        await pilot.pause()
        assert app.theme == "paper"  # previewed at once
        await pilot.press("escape")
        await pilot.pause()
        assert app.theme == "dusk"
        assert not isinstance(app.screen, SettingsScreen)
    assert app.results == [None]


async def test_chosen_theme_is_saved() -> None:
    app = SettingsHost(Settings(), theme="dusk")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#--content-tab-tab-appearance")
        app.settings_screen.query_one("#theme-select", Select).value = "moss"
        await pilot.click("#settings-save")
        await pilot.pause()
        assert app.theme == "moss"
    [saved] = app.results
    assert saved is not None and saved.ui.theme == "moss"


async def test_add_a_custom_provider() -> None:
    app = SettingsHost(Settings())
    async with app.run_test(size=SIZE) as pilot:
        screen = app.settings_screen
        await pilot.click("#new-provider-name")
        await pilot.press(*"mybox")
        await pilot.click("#new-provider-url")
        await pilot.press(*"http://10.0.0.5:8000/v1", "enter")
        await pilot.pause()
        form = screen.provider_form("mybox")
        assert app.focused is form.key_input
        assert "mybox" in app.screen_text()
        await pilot.click(form.responses_switch)
        form.param_select.value = "max_tokens"
        await pilot.press("ctrl+s")
        await pilot.pause()
    [saved] = app.results
    assert saved is not None
    mybox = saved.providers["mybox"]
    assert mybox.base_url == "http://10.0.0.5:8000/v1"
    assert mybox.supports_responses is False
    # max_tokens is the default for a server that matches no preset: nothing to store.
    assert mybox.max_tokens_param is None
    assert ModelCatalog(saved).provider("mybox").max_tokens_param == "max_tokens"
    assert mybox.api_key is None


async def test_adding_a_provider_with_a_taken_name_or_bad_url_is_refused() -> None:
    app = SettingsHost(Settings())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#new-provider-name")
        await pilot.press(*"openai")
        await pilot.click("#new-provider-url")
        await pilot.press(*"http://localhost:1/v1", "enter")
        await pilot.pause()
        assert "There is already a provider called openai." in app.screen_text()
        app.settings_screen.query_one("#new-provider-name", Input).value = "box"
        app.settings_screen.query_one("#new-provider-url", Input).value = "localhost:1"
        await pilot.click("#add-provider-button")
        await pilot.pause()
        assert "must start with http:// or https://" in app.screen_text()
        assert "box" not in app.settings_screen.forms
        # A half-filled new provider is not silently dropped on Save.
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.results == []
        assert "Press Add to add the new provider" in app.screen_text()


async def test_remove_a_custom_provider() -> None:
    settings = Settings(
        defaults=Settings().defaults.__class__(provider="box"),
        providers={
            "box": ProviderSettings("box", base_url="http://127.0.0.1:8000/v1"),
            "other": ProviderSettings("other", base_url="http://127.0.0.1:8001/v1"),
        },
    )
    app = SettingsHost(settings, focus_provider="box")
    async with app.run_test(size=SIZE) as pilot:
        screen = app.settings_screen
        form = screen.provider_form("box")
        await pilot.click(form.query_one(".remove-provider", Button))
        await pilot.pause()
        assert "box" not in screen.forms
        options = screen.query_one("#provider-list", OptionList)
        assert all(option.id != "box" for option in options.options)
        assert "Removed box; press Save to keep the change." in app.screen_text()
        await pilot.press("ctrl+s")
        await pilot.pause()
    [saved] = app.results
    assert saved is not None
    assert "box" not in saved.providers
    assert saved.providers["other"].base_url == "http://127.0.0.1:8001/v1"
    assert saved.defaults.provider is None  # it named the removed provider


async def test_env_variable_name_is_checked() -> None:
    app = SettingsHost(Settings(), focus_provider="gmi")
    async with app.run_test(size=SIZE) as pilot:
        form = app.settings_screen.provider_form("gmi")
        await pilot.click(form.env_input)
        await pilot.press(*"my key")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.results == []
        assert "Give the name of an environment variable" in app.screen_text()
        form.env_input.value = "MY_GMI_KEY"
        await pilot.press("ctrl+s")
        await pilot.pause()
    [saved] = app.results
    assert saved is not None
    assert saved.providers["gmi"].api_key_env == "MY_GMI_KEY"


async def test_untouched_settings_round_trip_unchanged() -> None:
    settings = Settings(
        providers={
            "aimlapi": ProviderSettings("aimlapi", api_key_env="MY_AIML", models=("x/y",)),
            "mybox": ProviderSettings(
                "mybox",
                base_url="http://10.0.0.5:8000/v1",
                max_tokens_param="max_tokens",
                supports_responses=False,
            ),
        },
    )
    app = SettingsHost(settings)
    async with app.run_test(size=SIZE) as pilot:
        assert app.settings_screen.query_one("#default-improve-titles", Switch).value is True
        assert app.settings_screen.query_one("#default-system-prompt", TextArea).text == ""
        await pilot.press("ctrl+s")
        await pilot.pause()
    [saved] = app.results
    assert saved is not None
    assert saved.providers == settings.providers
    assert saved.defaults == settings.defaults


async def test_opening_on_a_provider_settles() -> None:
    """The list and the forms must not keep re-selecting each other (a busy loop)."""
    seen: list[object] = []
    app = SettingsHost(Settings(), focus_provider="llamacpp")
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await pilot.pause()
        await wait_for(lambda: nothing_queued(app))
        highlights = sum(isinstance(m, OptionList.OptionHighlighted) for m in seen)
        await pilot.pause()  # one more round: whatever a loop had set off would be here now
        assert nothing_queued(app)
        assert sum(isinstance(m, OptionList.OptionHighlighted) for m in seen) == highlights
        options = app.settings_screen.query_one("#provider-list", OptionList)
        assert options.highlighted_option is not None
        assert options.highlighted_option.id == "llamacpp"


async def test_without_preview_the_theme_changes_only_on_save() -> None:
    app = SettingsHost(Settings(), theme="dusk", preview_theme=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#--content-tab-tab-appearance")
        app.settings_screen.query_one("#theme-select", Select).value = "paper"
        await pilot.pause()
        assert app.theme == "dusk"
        await pilot.press("ctrl+s")
        await pilot.pause()
    [saved] = app.results
    assert saved is not None and saved.ui.theme == "paper"
