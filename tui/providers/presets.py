"""The built-in providers and the models pre-listed for each of them.

Sources: the AI/ML API and GMI Cloud model pages for the GPT-5.2 family, OpenAI's model pages,
and the servers' own documentation for the local presets. The ``-pro`` models are served only by
the Responses API; AI/ML API spells versions with a hyphen (``openai/gpt-5-2``), GMI Cloud with a
dot (``openai/gpt-5.2``), OpenAI without a namespace (``gpt-5.2``).

Local servers, as of their 2026 releases:

- Ollama, LM Studio and vLLM serve ``/v1/responses``; only LM Studio keeps responses for
  ``previous_response_id`` (Ollama's is stateless; vLLM stores them only when started with
  ``VLLM_ENABLE_RESPONSES_API_STORE=1``).
- llama.cpp's ``llama-server`` gained a stateless ``/v1/responses`` (its server tests cover it);
  older builds answer 404 there, which a user fixes with ``supports_responses = false``.
- They all take ``max_tokens`` on Chat Completions; several reject or ignore the newer name.

A base URL is matched to a preset by host and port (``catalog.matching_preset``): only
``localhost:11434`` is Ollama; a server on another local port gets ``GENERIC_MAX_TOKENS_PARAM``
and assumes stored responses until ``tui-chat doctor`` or a 404 on ``/responses`` says otherwise.
"""

from __future__ import annotations

from dataclasses import replace

from tui.domain import ApiKind, ModelInfo, ProviderConfig

BOTH = frozenset({ApiKind.CHAT, ApiKind.RESPONSES})
RESPONSES_ONLY = frozenset({ApiKind.RESPONSES})

GENERIC_MAX_TOKENS_PARAM = "max_tokens"
"""The Chat Completions token-limit field for servers that match no preset: llama.cpp, vLLM and
most compatible servers ignore ``max_completion_tokens``; only OpenAI requires the newer name."""

DEMO_BASE_URL = "http://demo.invalid/v1"
"""``.invalid`` is reserved (RFC 2606): it can never resolve, so nothing leaves the machine."""

BUILTIN_PROVIDERS: dict[str, ProviderConfig] = {
    config.name: config
    for config in (
        ProviderConfig(
            name="openai",
            label="OpenAI",
            base_url="https://api.openai.com/v1",
            api_key_env="OPENAI_API_KEY",
            max_tokens_param="max_completion_tokens",
        ),
        ProviderConfig(
            name="aimlapi",
            label="AI/ML API",
            base_url="https://api.aimlapi.com/v1",
            api_key_env="AIMLAPI_API_KEY",
            max_tokens_param="max_tokens",
        ),
        ProviderConfig(
            name="gmi",
            label="GMI Cloud",
            base_url="https://api.gmi-serving.com/v1",
            api_key_env="GMI_API_KEY",
            max_tokens_param="max_completion_tokens",
        ),
        ProviderConfig(
            name="ollama",
            label="Ollama",
            base_url="http://localhost:11434/v1",
            requires_key=False,
            local=True,
            max_tokens_param="max_tokens",
            stateful_responses=False,
        ),
        ProviderConfig(
            name="lmstudio",
            label="LM Studio",
            base_url="http://localhost:1234/v1",
            requires_key=False,
            local=True,
            max_tokens_param="max_tokens",
        ),
        ProviderConfig(
            name="vllm",
            label="vLLM",
            base_url="http://localhost:8000/v1",
            requires_key=False,
            local=True,
            max_tokens_param="max_tokens",
            stateful_responses=False,
        ),
        ProviderConfig(
            name="llamacpp",
            label="llama.cpp",
            base_url="http://localhost:8080/v1",
            requires_key=False,
            local=True,
            max_tokens_param="max_tokens",
            stateful_responses=False,
        ),
        ProviderConfig(
            name="demo",
            label="Offline demo",
            base_url=DEMO_BASE_URL,
            requires_key=False,
            local=True,
        ),
    )
}

CLOUD_PROVIDERS = ("openai", "aimlapi", "gmi")
"""Built-in providers that need a key, in the order the default provider is chosen."""

# Capabilities per family; each provider's entry only changes the id and label.
GPT_52_EFFORTS = ("none", "low", "medium", "high", "xhigh")
GPT_52_PRO_EFFORTS = ("medium", "high", "xhigh")

_FAMILIES: dict[str, ModelInfo] = {
    family.family or "": family
    for family in (
        ModelInfo(
            id="gpt-5.2",
            provider="",
            label="GPT-5.2",
            family="gpt-5.2",
            endpoints=BOTH,
            reasoning_efforts=GPT_52_EFFORTS,
            image_input=True,
            file_input=True,
            web_search=True,
            context_window=400_000,
            verbosity=True,
        ),
        ModelInfo(
            id="gpt-5.2-chat-latest",
            provider="",
            label="GPT-5.2 Chat",
            family="gpt-5.2-chat",
            endpoints=BOTH,
            image_input=True,
            file_input=True,
            web_search=True,
            context_window=128_000,
            verbosity=True,
        ),
        ModelInfo(
            id="gpt-5.2-pro",
            provider="",
            label="GPT-5.2 Pro",
            family="gpt-5.2-pro",
            endpoints=RESPONSES_ONLY,
            reasoning_efforts=GPT_52_PRO_EFFORTS,
            image_input=True,
            file_input=True,
            web_search=True,
            context_window=400_000,
            verbosity=True,
        ),
        ModelInfo(
            id="gpt-5-pro",
            provider="",
            label="GPT-5 Pro",
            family="gpt-5-pro",
            endpoints=RESPONSES_ONLY,
            reasoning_efforts=("high",),
            image_input=True,
            file_input=True,
            web_search=True,
            context_window=400_000,
            verbosity=True,
        ),
        ModelInfo(
            id="demo",
            provider="demo",
            label="Demo (both APIs)",
            family="demo",
            endpoints=BOTH,
            reasoning_efforts=("none", "low", "medium", "high"),
            image_input=True,
            file_input=True,
            context_window=128_000,
            verbosity=True,
        ),
        ModelInfo(
            id="demo-pro",
            provider="demo",
            label="Demo Pro (Responses only, always reasons)",
            family="demo-pro",
            endpoints=RESPONSES_ONLY,
            reasoning_efforts=("high",),
            image_input=True,
            file_input=True,
            context_window=128_000,
            verbosity=True,
        ),
    )
}


def _listing(provider: str, *entries: tuple[str, str]) -> tuple[ModelInfo, ...]:
    """``(provider's id, family)`` pairs as ``ModelInfo`` carrying the family's capabilities."""
    return tuple(
        replace(_FAMILIES[family], id=model_id, provider=provider) for model_id, family in entries
    )


BUILTIN_MODELS: dict[str, tuple[ModelInfo, ...]] = {
    "openai": _listing(
        "openai",
        ("gpt-5.2", "gpt-5.2"),
        ("gpt-5.2-chat-latest", "gpt-5.2-chat"),
        ("gpt-5.2-pro", "gpt-5.2-pro"),
    ),
    "aimlapi": _listing(
        "aimlapi",
        ("openai/gpt-5-2", "gpt-5.2"),
        ("openai/gpt-5-2-chat-latest", "gpt-5.2-chat"),
        ("openai/gpt-5-2-pro", "gpt-5.2-pro"),
        ("openai/gpt-5-pro", "gpt-5-pro"),
    ),
    "gmi": _listing(
        "gmi",
        ("openai/gpt-5.2", "gpt-5.2"),
        ("openai/gpt-5.2-chat", "gpt-5.2-chat"),
    ),
    "demo": _listing("demo", ("demo", "demo"), ("demo-pro", "demo-pro")),
}

DEFAULT_MODELS = {
    "openai": "gpt-5.2",
    "aimlapi": "openai/gpt-5-2",
    "gmi": "openai/gpt-5.2",
    "demo": "demo",
}

DEMO_MODELS = tuple(model.id for model in BUILTIN_MODELS["demo"])
DEMO_RESPONSES_ONLY = frozenset(
    model.id for model in BUILTIN_MODELS["demo"] if not model.supports(ApiKind.CHAT)
)

HOST_KEY_ENVS = {
    "api.openai.com": "OPENAI_API_KEY",
    "api.aimlapi.com": "AIMLAPI_API_KEY",
    "api.gmi-serving.com": "GMI_API_KEY",
}
"""A built-in provider's key variable is only ever sent to that provider's own host."""
