"""API-key resolution, the rule that keeps OPENAI_API_KEY at OpenAI, and the default provider."""

from __future__ import annotations

from pathlib import Path

from tui.config.settings import ProviderSettings, Secret, Settings, load_settings
from tui.providers.catalog import (
    ModelCatalog,
    adhoc_provider,
    default_provider,
    has_key,
    missing_key_error,
    resolve_api_key,
)

OPENAI_KEY = "sk-openai-0123456789abcdef"


def settings_with(**sections: ProviderSettings) -> Settings:
    return Settings(providers=dict(sections))


def test_preset_key_variable_is_used() -> None:
    catalog = ModelCatalog()
    env = {"OPENAI_API_KEY": OPENAI_KEY, "AIMLAPI_API_KEY": "aiml-1", "GMI_API_KEY": "gmi-1"}
    assert resolve_api_key(catalog.provider("openai"), None, env) == OPENAI_KEY
    assert resolve_api_key(catalog.provider("aimlapi"), None, env) == "aiml-1"
    assert resolve_api_key(catalog.provider("gmi"), None, env) == "gmi-1"
    assert resolve_api_key(catalog.provider("ollama"), None, env) is None
    assert resolve_api_key(catalog.provider("demo"), None, env) is None


def test_literal_key_beats_named_variable_beats_preset_variable() -> None:
    env = {"GMI_API_KEY": "from-preset-var", "MY_GMI": "from-named-var"}
    gmi = ModelCatalog().provider("gmi")
    named = settings_with(gmi=ProviderSettings(name="gmi", api_key_env="MY_GMI"))
    assert resolve_api_key(gmi, named, env) == "from-named-var"
    literal = settings_with(
        gmi=ProviderSettings(name="gmi", api_key=Secret("literal"), api_key_env="MY_GMI")
    )
    assert resolve_api_key(gmi, literal, env) == "literal"
    # A named variable that is unset falls back to the preset's.
    assert resolve_api_key(gmi, named, {"GMI_API_KEY": "from-preset-var"}) == "from-preset-var"


def test_blank_values_count_as_unset() -> None:
    gmi = ModelCatalog().provider("gmi")
    blank = settings_with(gmi=ProviderSettings(name="gmi", api_key=Secret("  ")))
    assert resolve_api_key(gmi, blank, {"GMI_API_KEY": "   "}) is None
    assert resolve_api_key(gmi, blank, {"GMI_API_KEY": " real \n"}) == "real"


def test_openai_key_never_goes_to_a_custom_provider() -> None:
    settings = settings_with(
        mybox=ProviderSettings(name="mybox", base_url="https://llm.example.com/v1")
    )
    catalog = ModelCatalog(settings)
    env = {"OPENAI_API_KEY": OPENAI_KEY}
    assert resolve_api_key(catalog.provider("mybox"), settings, env) is None


def test_openai_key_is_refused_even_when_the_settings_name_it_for_another_host() -> None:
    settings = settings_with(
        proxy=ProviderSettings(
            name="proxy", base_url="https://proxy.example.com/v1", api_key_env="OPENAI_API_KEY"
        )
    )
    catalog = ModelCatalog(settings)
    proxy = catalog.provider("proxy")
    assert resolve_api_key(proxy, settings, {"OPENAI_API_KEY": OPENAI_KEY}) is None
    error = missing_key_error(proxy, settings)
    assert error.detail is not None
    assert "OPENAI_API_KEY is only sent to its own provider, not to proxy.example.com" in (
        error.detail
    )
    assert OPENAI_KEY not in str(error)


def test_openai_preset_moved_to_another_host_loses_the_openai_key() -> None:
    settings = settings_with(
        openai=ProviderSettings(name="openai", base_url="https://gateway.example.com/openai/v1")
    )
    openai = ModelCatalog(settings).provider("openai")
    assert resolve_api_key(openai, settings, {"OPENAI_API_KEY": OPENAI_KEY}) is None


def test_other_builtin_key_variables_stay_at_their_hosts_too() -> None:
    settings = settings_with(
        other=ProviderSettings(
            name="other", base_url="https://other.example.com/v1", api_key_env="GMI_API_KEY"
        )
    )
    other = ModelCatalog(settings).provider("other")
    assert resolve_api_key(other, settings, {"GMI_API_KEY": "gmi-1"}) is None


def test_adhoc_provider_uses_tui_chat_api_key_and_never_the_openai_key_elsewhere() -> None:
    remote = adhoc_provider("https://llm.example.com/v1")
    assert resolve_api_key(remote, None, {"OPENAI_API_KEY": OPENAI_KEY}) is None
    assert resolve_api_key(remote, None, {"TUI_CHAT_API_KEY": "adhoc"}) == "adhoc"


def test_adhoc_provider_on_openai_falls_back_to_the_openai_key() -> None:
    on_openai = adhoc_provider("https://api.openai.com/v1")
    assert resolve_api_key(on_openai, None, {"OPENAI_API_KEY": OPENAI_KEY}) == OPENAI_KEY
    assert (
        resolve_api_key(on_openai, None, {"OPENAI_API_KEY": OPENAI_KEY, "TUI_CHAT_API_KEY": "t"})
        == "t"
    )
    # Plain http to OpenAI's host never carries the key.
    plain = adhoc_provider("http://api.openai.com/v1")
    assert resolve_api_key(plain, None, {"OPENAI_API_KEY": OPENAI_KEY}) is None


def test_missing_key_error_names_where_the_key_can_go() -> None:
    aimlapi = ModelCatalog().provider("aimlapi")
    error = missing_key_error(aimlapi, None)
    assert error.key_env == "AIMLAPI_API_KEY"
    assert error.provider == "aimlapi"
    assert str(error) == (
        "No API key is set for AI/ML API. "
        "Set the key in Settings (Ctrl+S) or the AIMLAPI_API_KEY environment variable."
    )


def test_has_key() -> None:
    catalog = ModelCatalog()
    assert has_key(catalog.provider("ollama"), None, {})
    assert not has_key(catalog.provider("openai"), None, {})
    assert has_key(catalog.provider("openai"), None, {"OPENAI_API_KEY": OPENAI_KEY})


def test_keys_never_appear_in_reprs() -> None:
    secret = "sk-very-secret-key-000111"
    settings = settings_with(
        openai=ProviderSettings(name="openai", api_key=Secret(secret)),
        mine=ProviderSettings(name="mine", base_url="https://x.example/v1", api_key=Secret(secret)),
    )
    catalog = ModelCatalog(settings)
    texts = [
        repr(settings),
        str(settings),
        repr(catalog.providers()),
        repr([catalog.models(name) for name in ("openai", "mine")]),
        repr(missing_key_error(catalog.provider("mine"), settings)),
        str(missing_key_error(catalog.provider("mine"), settings)),
        repr(catalog.problems),
    ]
    assert resolve_api_key(catalog.provider("openai"), settings, {}) == secret
    for text in texts:
        assert secret not in text


def test_default_provider_is_the_first_cloud_provider_with_a_key() -> None:
    assert default_provider(None, {}) == "demo"
    assert default_provider(None, {"GMI_API_KEY": "g"}) == "gmi"
    assert default_provider(None, {"GMI_API_KEY": "g", "AIMLAPI_API_KEY": "a"}) == "aimlapi"
    every = {"GMI_API_KEY": "g", "AIMLAPI_API_KEY": "a", "OPENAI_API_KEY": OPENAI_KEY}
    assert default_provider(None, every) == "openai"
    literal = settings_with(gmi=ProviderSettings(name="gmi", api_key=Secret("g")))
    assert default_provider(literal, {}) == "gmi"


def test_an_openai_key_alone_does_not_select_a_moved_openai_preset() -> None:
    settings = settings_with(
        openai=ProviderSettings(name="openai", base_url="https://gateway.example.com/v1")
    )
    assert default_provider(settings, {"OPENAI_API_KEY": OPENAI_KEY}) == "demo"


def test_an_explicit_choice_wins_when_it_names_a_known_provider() -> None:
    chosen = load_settings(Path("/nonexistent/config.toml"), {"TUI_CHAT_PROVIDER": "ollama"})[0]
    assert default_provider(chosen, {"OPENAI_API_KEY": OPENAI_KEY}) == "ollama"
    assert default_provider(None, {"TUI_CHAT_PROVIDER": "lmstudio", "GMI_API_KEY": "g"}) == (
        "lmstudio"
    )
    assert default_provider(None, {"TUI_CHAT_PROVIDER": "nope", "GMI_API_KEY": "g"}) == "gmi"


def test_a_custom_provider_can_be_the_default(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[defaults]\nprovider = "mybox"\n\n[providers.mybox]\nbase_url = "http://10.1.1.1:8000/v1"\n'
    )
    settings, problems = load_settings(config, {})
    assert problems == []
    assert ModelCatalog(settings).default_provider({}) == "mybox"
