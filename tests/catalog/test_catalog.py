"""The catalog: presets, model lookups and aliases, settings overrides, live lists, endpoints."""

from __future__ import annotations

import pytest

from tui.config.settings import ProviderSettings, Secret, Settings, parse_settings
from tui.domain import ApiKind, ApiMode, ModelInfo, ProviderConfig
from tui.providers.catalog import (
    ModelCatalog,
    UnknownProviderError,
    adhoc_provider,
    default_model,
    endpoint_for,
    is_local_host,
)

CHAT = frozenset({ApiKind.CHAT})
RESPONSES = frozenset({ApiKind.RESPONSES})
BOTH = frozenset({ApiKind.CHAT, ApiKind.RESPONSES})


def live(provider: str, *ids: str) -> list[ModelInfo]:
    """What an adapter's ``list_models`` returns: ids only."""
    return [ModelInfo(id=model_id, provider=provider, builtin=False) for model_id in ids]


def test_builtin_providers_have_their_documented_endpoints_and_token_params() -> None:
    catalog = ModelCatalog()
    names = [config.name for config in catalog.providers()]
    assert names == ["openai", "aimlapi", "gmi", "ollama", "lmstudio", "vllm", "llamacpp", "demo"]
    aimlapi = catalog.provider("aimlapi")
    assert (aimlapi.label, aimlapi.base_url, aimlapi.api_key_env) == (
        "AI/ML API",
        "https://api.aimlapi.com/v1",
        "AIMLAPI_API_KEY",
    )
    assert aimlapi.max_tokens_param == "max_tokens"
    gmi = catalog.provider("gmi")
    assert (gmi.base_url, gmi.api_key_env, gmi.max_tokens_param) == (
        "https://api.gmi-serving.com/v1",
        "GMI_API_KEY",
        "max_completion_tokens",
    )
    assert catalog.provider("openai").base_url == "https://api.openai.com/v1"
    for name, port in (("ollama", 11434), ("lmstudio", 1234), ("vllm", 8000), ("llamacpp", 8080)):
        local = catalog.provider(name)
        assert local.base_url == f"http://localhost:{port}/v1"
        assert local.local and not local.requires_key and local.api_key_env is None
    demo = catalog.provider("demo")
    assert demo.base_url.startswith("http://demo.invalid/")
    assert not demo.requires_key


def test_only_lm_studio_among_local_servers_keeps_responses_for_chaining() -> None:
    catalog = ModelCatalog()
    stateful = {c.name for c in catalog.providers() if c.local and c.stateful_responses}
    assert stateful == {"lmstudio", "demo"}


@pytest.mark.parametrize(
    ("provider", "ids"),
    [
        ("openai", ["gpt-5.2", "gpt-5.2-chat-latest", "gpt-5.2-pro"]),
        (
            "aimlapi",
            [
                "openai/gpt-5-2",
                "openai/gpt-5-2-chat-latest",
                "openai/gpt-5-2-pro",
                "openai/gpt-5-pro",
            ],
        ),
        ("gmi", ["openai/gpt-5.2", "openai/gpt-5.2-chat"]),
        ("demo", ["demo", "demo-pro"]),
    ],
)
def test_each_cloud_provider_lists_the_gpt_5_2_family(provider: str, ids: list[str]) -> None:
    models = ModelCatalog().models(provider)
    assert [model.id for model in models] == ids
    assert all(model.provider == provider and model.builtin for model in models)


def test_pro_models_are_responses_only_and_the_others_speak_both() -> None:
    catalog = ModelCatalog()
    endpoints = {
        (model.provider, model.id): model.endpoints
        for name in ("openai", "aimlapi", "gmi", "demo")
        for model in catalog.models(name)
    }
    assert endpoints[("openai", "gpt-5.2-pro")] == RESPONSES
    assert endpoints[("aimlapi", "openai/gpt-5-2-pro")] == RESPONSES
    assert endpoints[("aimlapi", "openai/gpt-5-pro")] == RESPONSES
    assert endpoints[("demo", "demo-pro")] == RESPONSES
    assert endpoints[("openai", "gpt-5.2")] == BOTH
    assert endpoints[("gmi", "openai/gpt-5.2-chat")] == BOTH
    assert endpoints[("demo", "demo")] == BOTH


def test_family_capabilities_are_shared_across_providers() -> None:
    catalog = ModelCatalog()
    openai = catalog.find_model("openai", "gpt-5.2")
    aimlapi = catalog.find_model("aimlapi", "openai/gpt-5-2")
    gmi = catalog.find_model("gmi", "openai/gpt-5.2")
    assert openai is not None and aimlapi is not None and gmi is not None
    assert openai.family == aimlapi.family == gmi.family == "gpt-5.2"
    assert openai.reasoning_efforts == ("none", "low", "medium", "high", "xhigh")
    assert openai.image_input and openai.file_input and openai.web_search
    pro = catalog.find_model("openai", "gpt-5.2-pro")
    assert pro is not None and pro.family == "gpt-5.2-pro"
    assert pro.reasoning_efforts == ("medium", "high", "xhigh")
    old_pro = catalog.find_model("aimlapi", "openai/gpt-5-pro")
    assert old_pro is not None and old_pro.reasoning_efforts == ("high",)
    chat = catalog.find_model("openai", "gpt-5.2-chat-latest")
    assert chat is not None and chat.family == "gpt-5.2-chat" and chat.reasoning_efforts == ()


@pytest.mark.parametrize(
    ("provider", "typed", "found"),
    [
        ("aimlapi", "gpt-5.2", "openai/gpt-5-2"),
        ("aimlapi", "openai/gpt-5.2", "openai/gpt-5-2"),
        ("aimlapi", "gpt-5.2-pro", "openai/gpt-5-2-pro"),
        ("aimlapi", "GPT-5.2-chat-latest", "openai/gpt-5-2-chat-latest"),
        ("gmi", "gpt-5.2", "openai/gpt-5.2"),
        ("gmi", "openai/gpt-5-2", "openai/gpt-5.2"),
        ("gmi", "gpt-5.2-chat-latest", "openai/gpt-5.2-chat"),
        ("openai", "openai/gpt-5-2", "gpt-5.2"),
        ("openai", "gpt-5.2-chat", "gpt-5.2-chat-latest"),
        ("openai", "gpt-5.2-pro-2025-12-11", "gpt-5.2-pro"),
        ("openai", " gpt-5.2 ", "gpt-5.2"),
    ],
)
def test_find_model_accepts_other_providers_spellings(
    provider: str, typed: str, found: str
) -> None:
    model = ModelCatalog().find_model(provider, typed)
    assert model is not None
    assert model.id == found


def test_find_model_does_not_invent_models_a_provider_lacks() -> None:
    catalog = ModelCatalog()
    assert catalog.find_model("gmi", "gpt-5.2-pro") is None
    assert catalog.find_model("openai", "gpt-5.2-mini") is None
    assert catalog.find_model("openai", "") is None


def test_unknown_provider_is_a_clear_error() -> None:
    with pytest.raises(UnknownProviderError, match="Unknown provider 'nope'; known providers: "):
        ModelCatalog().models("nope")


def test_live_list_merges_with_builtins_and_builtin_capabilities_win() -> None:
    catalog = ModelCatalog()
    merged = catalog.set_live_models(
        "openai",
        live(
            "openai",
            "gpt-5.2",
            "gpt-5.2-pro",
            "gpt-4.1",
            "gpt-5.2-2025-12-11",
            "o3-pro",
            "text-embedding-3-large",
            "whisper-1",
            "tts-1-hd",
            "dall-e-3",
            "omni-moderation-latest",
            "ft:gpt-4o-mini:acme::abc123",
            "gpt-4o-realtime-preview",
            "babbage-002",
            "gpt-3.5-turbo-instruct",
        ),
    )
    assert [model.id for model in merged] == [
        "gpt-5.2",
        "gpt-5.2-chat-latest",
        "gpt-5.2-pro",
        "gpt-4.1",
        "gpt-5.2-2025-12-11",
        "o3-pro",
    ]
    by_id = {model.id: model for model in merged}
    # The built-in entry, not a bare live one.
    assert by_id["gpt-5.2-pro"].builtin and by_id["gpt-5.2-pro"].endpoints == RESPONSES
    # A dated snapshot of a listed model inherits its capabilities.
    snapshot = by_id["gpt-5.2-2025-12-11"]
    assert not snapshot.builtin and snapshot.family == "gpt-5.2"
    assert snapshot.reasoning_efforts == ("none", "low", "medium", "high", "xhigh")
    # Live-only models get conservative guesses from the id.
    assert by_id["o3-pro"].endpoints == RESPONSES
    assert by_id["gpt-4.1"].endpoints == BOTH and by_id["gpt-4.1"].reasoning_efforts == ()
    assert catalog.has_live_models("openai") and not catalog.has_live_models("gmi")


def test_live_list_of_a_local_server_keeps_its_chat_models() -> None:
    catalog = ModelCatalog()
    merged = catalog.set_live_models(
        "ollama",
        live("ollama", "llama3.2:3b", "nomic-embed-text:latest", "qwen2.5-vl:7b", "bge-m3"),
    )
    assert [model.id for model in merged] == ["llama3.2:3b", "qwen2.5-vl:7b"]
    llama, vision = merged
    assert llama.endpoints == BOTH and not llama.image_input and not llama.web_search
    assert vision.image_input
    assert catalog.default_model("ollama") == "llama3.2:3b"


def test_a_provider_without_responses_makes_every_model_chat_only() -> None:
    settings = Settings(providers={"gmi": ProviderSettings(name="gmi", supports_responses=False)})
    catalog = ModelCatalog(settings)
    catalog.set_live_models("gmi", live("gmi", "openai/gpt-5.1"))
    assert {model.id: model.endpoints for model in catalog.models("gmi")} == {
        "openai/gpt-5.2": CHAT,
        "openai/gpt-5.2-chat": CHAT,
        "openai/gpt-5.1": CHAT,
    }


def test_model_info_infers_an_unknown_id_instead_of_failing() -> None:
    catalog = ModelCatalog()
    guessed = catalog.model_info("openai", "gpt-5.4-pro")
    assert guessed.endpoints == RESPONSES and not guessed.builtin
    assert catalog.model_info("lmstudio", "phi-4").endpoints == BOTH
    known = catalog.model_info("aimlapi", "gpt-5.2")
    assert known.id == "openai/gpt-5-2" and known.builtin


def test_settings_override_a_builtin_provider_and_add_models() -> None:
    settings = Settings(
        providers={
            "aimlapi": ProviderSettings(
                name="aimlapi",
                base_url="https://eu.aimlapi.example/v1",
                api_key_env="MY_AIML_KEY",
                max_tokens_param="max_completion_tokens",
                supports_responses=False,
                models=("openai/gpt-5-2", "google/gemini-3-pro"),
            )
        }
    )
    catalog = ModelCatalog(settings)
    config = catalog.provider("aimlapi")
    assert config.base_url == "https://eu.aimlapi.example/v1"
    assert config.api_key_env == "MY_AIML_KEY"
    assert config.max_tokens_param == "max_completion_tokens"
    assert not config.supports_responses
    assert config.label == "AI/ML API"
    ids = [model.id for model in catalog.models("aimlapi")]
    assert ids.count("openai/gpt-5-2") == 1
    assert ids[-1] == "google/gemini-3-pro"
    assert catalog.problems == []


def test_custom_providers_come_from_settings_and_bad_ones_are_reported() -> None:
    problems: list[str] = []
    settings = parse_settings(
        {
            "providers": {
                "mybox": {
                    "base_url": "http://10.0.0.5:8000/v1/",
                    "max_tokens_param": "max_tokens",
                    "supports_responses": False,
                    "models": ["qwen3-32b"],
                },
                "router": {"base_url": "https://router.example.com/api/v1", "label": "Router"},
                "typo": {"api_key_env": "X"},
            },
            "defaults": {"provider": "missing"},
        },
        problems,
    )
    catalog = ModelCatalog(settings)
    box = catalog.provider("mybox")
    assert box.base_url == "http://10.0.0.5:8000/v1"
    assert box.local and not box.requires_key and not box.supports_responses
    assert [model.id for model in catalog.models("mybox")] == ["qwen3-32b"]
    assert catalog.models("mybox")[0].endpoints == CHAT
    router = catalog.provider("router")
    assert router.label == "Router" and not router.local
    # No key configured: called without one, so its own 401 would explain a missing key.
    assert not router.requires_key
    assert "typo" not in catalog
    assert any(
        "providers.typo" in problem and "base_url" in problem for problem in catalog.problems
    )
    assert any(
        "defaults.provider" in problem and "'missing'" in problem for problem in catalog.problems
    )


def test_adhoc_provider_from_a_base_url() -> None:
    remote = adhoc_provider("https://llm.example.com/v1/")
    assert remote.base_url == "https://llm.example.com/v1"
    assert remote.api_key_env == "TUI_CHAT_API_KEY"
    assert remote.requires_key and not remote.local and remote.supports_responses
    local = adhoc_provider("http://127.0.0.1:8080/v1", supports_responses=False)
    assert local.local and not local.requires_key and not local.supports_responses
    on_aimlapi = adhoc_provider("https://api.aimlapi.com/v1")
    assert on_aimlapi.max_tokens_param == "max_tokens"
    catalog = ModelCatalog()
    catalog.add_provider(remote)
    assert catalog.provider("custom") is remote


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("api.example.com/v1", "must start with http:// or https://"),
        ("ftp://example.com/v1", "must start with http:// or https://"),
        ("https:///v1", "name a host"),
        ("https://example.com/v1?key=1", "must not have a query"),
    ],
)
def test_adhoc_provider_rejects_bad_urls_clearly(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        adhoc_provider(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://me:sk-secret-123@llm.example.com/v1",
        "sk-secret-123",
        "https://llm.example.com/v1?key=sk-secret-123",
    ],
)
def test_bad_urls_are_refused_without_repeating_them(url: str) -> None:
    """A key pasted into the URL field must not be echoed into messages."""
    with pytest.raises(ValueError) as caught:
        adhoc_provider(url)
    assert "sk-secret-123" not in str(caught.value)


def test_credentials_in_a_url_point_to_the_key_variable() -> None:
    with pytest.raises(ValueError, match="TUI_CHAT_API_KEY"):
        adhoc_provider("https://me:pw@llm.example.com/v1")


def test_default_models() -> None:
    assert default_model("openai") == "gpt-5.2"
    assert default_model("aimlapi") == "openai/gpt-5-2"
    assert default_model("gmi") == "openai/gpt-5.2"
    assert default_model(ModelCatalog().provider("demo")) == "demo"
    assert default_model("ollama") == ""
    assert ModelCatalog().default_model("lmstudio") == ""


def _model(endpoints: frozenset[ApiKind]) -> ModelInfo:
    return ModelInfo(id="m", provider="p", endpoints=endpoints)


WITH_RESPONSES = ProviderConfig(name="p", label="P", base_url="https://p.example/v1")
CHAT_ONLY = ProviderConfig(
    name="p", label="P", base_url="https://p.example/v1", supports_responses=False
)


@pytest.mark.parametrize(
    ("endpoints", "provider", "mode", "expected"),
    [
        (BOTH, WITH_RESPONSES, ApiMode.AUTO, ApiKind.RESPONSES),
        (BOTH, WITH_RESPONSES, ApiMode.CHAT, ApiKind.CHAT),
        (BOTH, WITH_RESPONSES, ApiMode.RESPONSES, ApiKind.RESPONSES),
        (RESPONSES, WITH_RESPONSES, ApiMode.CHAT, ApiKind.RESPONSES),
        (RESPONSES, WITH_RESPONSES, ApiMode.AUTO, ApiKind.RESPONSES),
        (CHAT, WITH_RESPONSES, ApiMode.RESPONSES, ApiKind.CHAT),
        (CHAT, WITH_RESPONSES, ApiMode.AUTO, ApiKind.CHAT),
        (BOTH, CHAT_ONLY, ApiMode.AUTO, ApiKind.CHAT),
        (BOTH, CHAT_ONLY, ApiMode.RESPONSES, ApiKind.CHAT),
        (RESPONSES, CHAT_ONLY, ApiMode.CHAT, ApiKind.RESPONSES),
    ],
)
def test_endpoint_for(
    endpoints: frozenset[ApiKind], provider: ProviderConfig, mode: ApiMode, expected: ApiKind
) -> None:
    assert endpoint_for(_model(endpoints), provider, mode) is expected


def test_catalog_endpoint_for_looks_the_model_up() -> None:
    catalog = ModelCatalog()
    assert catalog.endpoint_for("aimlapi", "gpt-5.2-pro", ApiMode.CHAT) is ApiKind.RESPONSES
    assert catalog.endpoint_for("gmi", "gpt-5.2", ApiMode.CHAT) is ApiKind.CHAT
    assert catalog.endpoint_for("demo", "demo", ApiMode.AUTO) is ApiKind.RESPONSES


def test_secret_settings_are_not_in_the_catalog_repr() -> None:
    settings = Settings(
        providers={"gmi": ProviderSettings(name="gmi", api_key=Secret("gmi-secret-value-42"))}
    )
    catalog = ModelCatalog(settings)
    shown = repr(catalog.providers()) + repr(catalog.settings) + repr(catalog.models("gmi"))
    assert "gmi-secret-value-42" not in shown


def test_configuring_a_key_makes_a_provider_require_it() -> None:
    settings = Settings(
        providers={
            "vllm": ProviderSettings(name="vllm", api_key_env="VLLM_KEY"),
            "box": ProviderSettings(
                name="box", base_url="https://box.example/v1", api_key=Secret("k")
            ),
        }
    )
    catalog = ModelCatalog(settings)
    assert catalog.provider("vllm").requires_key and catalog.provider("vllm").local
    assert catalog.provider("vllm").api_key_env == "VLLM_KEY"
    assert catalog.provider("box").requires_key


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://localhost:11434/v1", True),
        ("http://127.0.0.1:8080/v1", True),
        ("http://[::1]:8000/v1", True),
        ("http://192.168.1.20:1234/v1", True),
        ("http://10.0.0.5:8000/v1", True),
        ("http://gpu-box:8000/v1", True),
        ("http://studio.local:1234/v1", True),
        ("https://api.openai.com/v1", False),
        ("https://8.8.8.8/v1", False),
        ("https://llm.example.com/v1", False),
    ],
)
def test_is_local_host(url: str, local: bool) -> None:
    assert is_local_host(url) is local
