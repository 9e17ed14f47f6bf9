"""Below the settings screen: key status (never the key), field checks, the edited Settings."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tui.config.settings import ProviderSettings, Secret, Settings, load_settings
from tui.providers.catalog import ModelCatalog, custom_provider
from tui.providers.presets import BUILTIN_PROVIDERS
from tui.services.settings_edit import (
    KeyStatus,
    ProviderEdit,
    apply_settings,
    check_api_key,
    check_base_url,
    check_env_name,
    check_max_output_tokens,
    check_new_provider_name,
    check_temperature,
    edited_provider,
    edited_providers,
    key_status,
    key_statuses,
)

KEY = "sk-proj-abcdefghijklmnop1234"


def test_key_from_settings_wins_and_is_masked() -> None:
    settings = Settings(providers={"openai": ProviderSettings("openai", api_key=Secret(KEY))})
    env = {"OPENAI_API_KEY": "sk-env-zzzz9999"}
    status = key_status(BUILTIN_PROVIDERS["openai"], settings, env)
    assert status == KeyStatus("openai", "settings", "sk-…1234", True)
    assert KEY not in repr(status) and KEY not in status.describe()
    assert status.describe() == "Key saved in the settings file: sk-…1234"


def test_key_from_the_environment_names_the_variable() -> None:
    env = {"GMI_API_KEY": "gmi-secret-value-77"}
    status = key_status(BUILTIN_PROVIDERS["gmi"], Settings(), env)
    assert status.source == "env:GMI_API_KEY"
    assert status.env_name == "GMI_API_KEY"
    assert status.describe() == "Key from $GMI_API_KEY: gmi…e-77"


def test_settings_can_name_another_variable() -> None:
    settings = Settings(providers={"aimlapi": ProviderSettings("aimlapi", api_key_env="MY_AIML")})
    catalog = ModelCatalog(settings)
    statuses = key_statuses(catalog.providers(), settings, {"MY_AIML": "aiml-abcdefghij"})
    assert statuses["aimlapi"].source == "env:MY_AIML"
    assert statuses["openai"].source is None and statuses["openai"].required
    assert not statuses["ollama"].required
    assert statuses["ollama"].describe().startswith("No key needed")


def test_openai_key_is_never_reported_for_another_host() -> None:
    box = custom_provider("box", "http://10.0.0.5:8000/v1")
    settings = Settings(providers={"box": ProviderSettings("box", api_key_env="OPENAI_API_KEY")})
    status = key_status(box, settings, {"OPENAI_API_KEY": KEY})
    assert status.source is None and status.masked is None


def test_short_keys_are_fully_hidden() -> None:
    settings = Settings(providers={"openai": ProviderSettings("openai", api_key=Secret("abc123"))})
    assert key_status(BUILTIN_PROVIDERS["openai"], settings, {}).masked == "••••••"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", None), (" 0 ", 0.0), ("2", 2.0), ("0.7", 0.7)],
)
def test_temperature_accepts(text: str, expected: float | None) -> None:
    assert check_temperature(text) == expected


@pytest.mark.parametrize("text", ["2.01", "-1", "warm", "1.2.3"])
def test_temperature_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="Temperature must be"):
        check_temperature(text)


def test_max_output_tokens() -> None:
    assert check_max_output_tokens("") is None
    assert check_max_output_tokens("4_096") == 4096
    for bad in ("0", "-5", "lots"):
        with pytest.raises(ValueError, match="Max output tokens"):
            check_max_output_tokens(bad)


def test_env_name_refuses_what_looks_like_a_key_without_repeating_it() -> None:
    assert check_env_name(" MY_KEY ") == "MY_KEY"
    assert check_env_name("") is None
    with pytest.raises(ValueError) as caught:
        check_env_name("sk-proj-abc def")
    assert "sk-proj" not in str(caught.value)


def test_api_key_text() -> None:
    assert check_api_key("  ") is None
    assert check_api_key(f" {KEY}\n") == Secret(KEY)
    with pytest.raises(ValueError, match="without spaces") as caught:
        check_api_key("sk-abc def")
    assert "sk-abc" not in str(caught.value)


def test_base_url() -> None:
    assert check_base_url("", required=False) is None
    assert check_base_url("http://h:1/v1/", required=False) == "http://h:1/v1"
    with pytest.raises(ValueError, match="required"):
        check_base_url(" ", required=True)
    with pytest.raises(ValueError, match="user name or password") as caught:
        check_base_url(f"https://me:{KEY}@api.example.com/v1", required=False)
    assert KEY not in str(caught.value)


def test_new_provider_name() -> None:
    assert check_new_provider_name(" mybox ", ["other"]) == "mybox"
    for bad, message in [
        ("", "Give the new provider a name"),
        ("My Box", "starts with a letter"),
        ("9box", "starts with a letter"),
        ("other", "already a provider"),
        ("openai", "already a provider"),
        ("custom", "already a provider"),
    ]:
        with pytest.raises(ValueError, match=message):
            check_new_provider_name(bad, ["other"])


def builtin_edit(name: str, **changes: object) -> ProviderEdit:
    preset = BUILTIN_PROVIDERS[name]
    values: dict[str, object] = {
        "name": name,
        "base_url": None,
        "api_key_env": None,
        "max_tokens_param": preset.max_tokens_param,
        "supports_responses": preset.supports_responses,
    }
    values.update(changes)
    return ProviderEdit(**values)  # type: ignore[arg-type]


def test_builtin_provider_stores_only_what_differs_from_its_preset() -> None:
    assert edited_provider(builtin_edit("openai"), None) is None
    section = edited_provider(
        builtin_edit("aimlapi", supports_responses=False, max_tokens_param="max_tokens"), None
    )
    # max_tokens is AI/ML API's preset; only the switch differs.
    assert section == ProviderSettings("aimlapi", supports_responses=False)


def test_key_is_kept_replaced_or_removed() -> None:
    previous = ProviderSettings("openai", api_key=Secret("sk-old-key-000011112222"), models=("m",))
    kept = edited_provider(builtin_edit("openai"), previous)
    assert kept is not None and kept.api_key == previous.api_key and kept.models == ("m",)
    replaced = edited_provider(builtin_edit("openai", new_key=Secret(KEY)), previous)
    assert replaced is not None and replaced.api_key == Secret(KEY)
    removed = edited_provider(builtin_edit("openai", remove_key=True), previous)
    assert removed is not None and removed.api_key is None and removed.models == ("m",)
    assert edited_provider(builtin_edit("openai", remove_key=True), None) is None


def test_custom_provider_needs_a_base_url() -> None:
    edit = ProviderEdit("box", None, None, "max_completion_tokens", True)
    with pytest.raises(ValueError, match="needs a base URL"):
        edited_provider(edit, None)
    section = edited_provider(
        ProviderEdit("box", "http://h:1/v1", "BOX_KEY", "max_tokens", False), None
    )
    # max_tokens is what an unknown server gets anyway: nothing to store.
    assert section == ProviderSettings(
        "box", base_url="http://h:1/v1", api_key_env="BOX_KEY", supports_responses=False
    )
    section = edited_provider(
        ProviderEdit("box", "http://h:1/v1", None, "max_completion_tokens", True), None
    )
    assert section == ProviderSettings(
        "box", base_url="http://h:1/v1", max_tokens_param="max_completion_tokens"
    )


def test_sections_the_screen_did_not_show_are_kept() -> None:
    original = {
        "broken": ProviderSettings("broken"),  # no base_url: the catalog ignores it
        "box": ProviderSettings("box", base_url="http://h:1/v1", api_key=Secret(KEY)),
        "gone": ProviderSettings("gone", base_url="http://h:2/v1"),
    }
    fresh_box = ProviderEdit("box", "http://h:3/v1", None, "max_completion_tokens", True)
    providers = edited_providers(original, [fresh_box], removed=["gone", "box"])
    assert providers["broken"] == original["broken"]
    assert "gone" not in providers
    # Removed and added again: it starts afresh, without the old key.
    # (max_completion_tokens is not what an unknown server gets by default, so it is kept.)
    assert providers["box"] == ProviderSettings(
        "box", base_url="http://h:3/v1", max_tokens_param="max_completion_tokens"
    )


async def test_apply_settings_writes_an_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "config.toml"
    settings = Settings(
        providers={"openai": ProviderSettings("openai", api_key=Secret(KEY))}, config_path=path
    )
    await apply_settings(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded, problems = load_settings(path, env={})
    assert problems == []
    assert loaded.providers["openai"].api_key == Secret(KEY)


async def test_apply_settings_needs_a_path() -> None:
    with pytest.raises(ValueError, match="no file"):
        await apply_settings(Settings())
