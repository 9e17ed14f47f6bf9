"""The provider and model catalog: built-in presets, the user's providers, live model lists.

Providers come from ``presets.BUILTIN_PROVIDERS``; a ``[providers.<name>]`` settings section
overrides a built-in one field by field, and a section with a ``base_url`` under a new name adds
a custom provider. ``ModelCatalog`` lists each provider's models (built-in first, then ids named
in the settings, then the live ``GET /models`` result the caller fetched) and resolves the ids
people type (``gpt-5.2`` is ``openai/gpt-5-2`` at AI/ML API and ``openai/gpt-5.2`` at GMI Cloud).

Keys (``resolve_api_key``, from ``keys``): a literal key from the settings, else the variable
the settings name, else the preset's variable; ``OPENAI_API_KEY`` and the other built-in
providers' variables never go to another host. ``TUI_CHAT_API_KEY`` is the key of the ad-hoc
provider built from ``--base-url`` (``adhoc_provider``).

Nothing here does I/O: the caller reads the environment and fetches ``/models``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from tui.config.settings import MAX_TOKENS_PARAMS, ProviderSettings, Settings
from tui.domain import ApiKind, ApiMode, ModelInfo, ProviderConfig
from tui.providers.capabilities import canonical_key, infer_model, is_chat_model
from tui.providers.keys import (
    has_key,
    missing_key_error,
    resolve_api_key,
)
from tui.providers.presets import (
    BUILTIN_MODELS,
    BUILTIN_PROVIDERS,
    CLOUD_PROVIDERS,
    DEFAULT_MODELS,
    GENERIC_MAX_TOKENS_PARAM,
)

__all__ = [
    "ADHOC_KEY_ENV",
    "ADHOC_PROVIDER",
    "DEMO_PROVIDER",
    "ModelCatalog",
    "UnknownProviderError",
    "adhoc_provider",
    "build_providers",
    "custom_provider",
    "default_model",
    "default_provider",
    "endpoint_for",
    "has_key",
    "is_local_host",
    "matching_preset",
    "missing_key_error",
    "resolve_api_key",
    "validate_base_url",
]

ADHOC_PROVIDER = "custom"
ADHOC_KEY_ENV = "TUI_CHAT_API_KEY"
DEMO_PROVIDER = "demo"


class UnknownProviderError(LookupError):
    """A provider name that is neither built in nor defined in the settings."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        super().__init__(f"Unknown provider {name!r}; known providers: {', '.join(known)}.")


# --------------------------------------------------------------------------------------------
# URLs and hosts
# --------------------------------------------------------------------------------------------


def validate_base_url(base_url: str) -> str:
    """The URL without a trailing slash, or ``ValueError`` saying what is wrong with it.

    A URL carrying ``user:password@`` is refused (keys belong in settings or the environment,
    never in a URL that is shown and stored). Messages never repeat the value: a key pasted
    into the wrong field must not end up on screen or in a log.
    """
    url = base_url.strip()
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "The base URL must not contain a user name or password; put the key in "
            f"{ADHOC_KEY_ENV} or in the settings instead."
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "The base URL must start with http:// or https:// and name a host, e.g. "
            "https://api.example.com/v1."
        )
    if parts.query or parts.fragment:
        raise ValueError("The base URL must not have a query (?...) or fragment (#...).")
    return url.rstrip("/")


def is_local_host(base_url: str) -> bool:
    """Loopback, private-network and single-label hosts: servers that usually need no key."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".lan", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return bool(host) and "." not in host
    return address.is_loopback or address.is_private or address.is_link_local


# --------------------------------------------------------------------------------------------
# Providers from settings
# --------------------------------------------------------------------------------------------


def _host_port(url: str) -> tuple[str, int | None]:
    """The host (loopback names folded to ``localhost``) and the effective port of ``url``."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in ("127.0.0.1", "::1", "localhost") or host.endswith(".localhost"):
        host = "localhost"
    try:
        port = parts.port
    except ValueError:
        return host, None
    if port is None:
        port = {"http": 80, "https": 443}.get(parts.scheme)
    return host, port


def matching_preset(base_url: str) -> ProviderConfig | None:
    """The built-in provider serving at ``base_url``'s host and port, if any.

    The port counts (443/80 when the URL names none): ``http://localhost:8081`` is not Ollama
    just because Ollama is also on localhost.
    """
    wanted = _host_port(base_url)
    return next((p for p in BUILTIN_PROVIDERS.values() if _host_port(p.base_url) == wanted), None)


def _with_protocol_details(config: ProviderConfig) -> ProviderConfig:
    """``config`` with the protocol details of the preset at its host and port, else the
    generic ones: ``max_tokens``, a Responses API that keeps responses (see ``presets``)."""
    preset = matching_preset(config.base_url)
    return replace(
        config,
        max_tokens_param=preset.max_tokens_param if preset else GENERIC_MAX_TOKENS_PARAM,
        supports_responses=preset.supports_responses if preset else True,
        stateful_responses=preset.stateful_responses if preset else True,
    )


def custom_provider(name: str, base_url: str, *, label: str | None = None) -> ProviderConfig:
    """A user-defined OpenAI-compatible provider.

    It needs a key only once the settings name one (``api_key`` or ``api_key_env``): a server
    the user set up without a key is called without one, and its own 401 says if that is wrong.
    A URL on a built-in provider's host and port inherits that preset's protocol details.
    """
    url = validate_base_url(base_url)
    return _with_protocol_details(
        ProviderConfig(
            name=name,
            label=label or name,
            base_url=url,
            requires_key=False,
            local=is_local_host(url),
        )
    )


def _apply_overrides(config: ProviderConfig, section: ProviderSettings) -> ProviderConfig:
    return replace(
        config,
        label=section.label or config.label,
        base_url=validate_base_url(section.base_url) if section.base_url else config.base_url,
        api_key_env=section.api_key_env or config.api_key_env,
        max_tokens_param=section.max_tokens_param or config.max_tokens_param,
        supports_responses=(
            config.supports_responses
            if section.supports_responses is None
            else section.supports_responses
        ),
        # A key the user configured is one the server expects.
        requires_key=config.requires_key or bool(section.api_key or section.api_key_env),
        first_token_timeout=section.first_token_timeout or config.first_token_timeout,
        idle_timeout=section.idle_timeout or config.idle_timeout,
    )


def build_providers(settings: Settings | None) -> tuple[dict[str, ProviderConfig], list[str]]:
    """Built-in providers with the settings' overrides, then custom ones; plus problems found."""
    providers = dict(BUILTIN_PROVIDERS)
    problems: list[str] = []
    for name, section in (settings.providers if settings else {}).items():
        base = providers.get(name)
        try:
            if base is None:
                if not section.base_url:
                    problems.append(
                        f"providers.{name} is not a built-in provider and has no base_url; "
                        f"ignored. Built-in providers: {', '.join(BUILTIN_PROVIDERS)}."
                    )
                    continue
                base = custom_provider(name, section.base_url)
            providers[name] = _apply_overrides(base, section)
        except ValueError as exc:
            problems.append(f"providers.{name}: {exc} Ignored.")
    return providers, problems


def adhoc_provider(
    base_url: str,
    *,
    name: str = ADHOC_PROVIDER,
    label: str | None = None,
    supports_responses: bool | None = None,
    max_tokens_param: str | None = None,
) -> ProviderConfig:
    """The provider behind ``--base-url``; its key is ``TUI_CHAT_API_KEY``.

    A URL on a built-in provider's host and port inherits that preset's protocol details (and
    may use its key variable as a fallback, see ``resolve_api_key``); any other URL gets the
    generic ones (``max_tokens``, Responses assumed, stored responses assumed). Raises
    ``ValueError`` for a URL that is not http(s).
    """
    url = validate_base_url(base_url)
    host = urlsplit(url).hostname
    local = is_local_host(url)
    config = _with_protocol_details(
        ProviderConfig(
            name=name,
            label=label or host or name,
            base_url=url,
            api_key_env=ADHOC_KEY_ENV,
            requires_key=not local,
            local=local,
        )
    )
    if supports_responses is not None:
        config = replace(config, supports_responses=supports_responses)
    if max_tokens_param is not None:
        config = replace(config, max_tokens_param=max_tokens_param)
    return config


# --------------------------------------------------------------------------------------------
# Defaults and endpoint choice
# --------------------------------------------------------------------------------------------


def default_provider(settings: Settings | None, env: Mapping[str, str]) -> str:
    """The provider a new conversation uses.

    ``settings.defaults.provider`` (``load_settings`` fills it from the file or
    ``TUI_CHAT_PROVIDER``), else ``TUI_CHAT_PROVIDER`` from ``env``, when it names a known
    provider; else the first of OpenAI, AI/ML API, GMI Cloud with a key; else the offline demo.
    """
    providers, _ = build_providers(settings)
    for choice in (settings.defaults.provider if settings else None, env.get("TUI_CHAT_PROVIDER")):
        if choice and choice in providers:
            return choice
    for name in CLOUD_PROVIDERS:
        if resolve_api_key(providers[name], settings, env) is not None:
            return name
    return DEMO_PROVIDER


def default_model(provider: str | ProviderConfig) -> str:
    """The preset's default model, else its first built-in model; ``""`` when it has none
    (local servers: the caller picks from their live list)."""
    name = provider if isinstance(provider, str) else provider.name
    if name in DEFAULT_MODELS:
        return DEFAULT_MODELS[name]
    models = BUILTIN_MODELS.get(name, ())
    return models[0].id if models else ""


def endpoint_for(model: ModelInfo, provider: ProviderConfig, api_mode: ApiMode) -> ApiKind:
    """The API a turn uses: the conversation's mode when the model and provider support it,
    else the one they do; ``auto`` prefers Responses where both have it.

    A Responses-only model at a provider without Responses gets Responses anyway: Chat cannot
    serve it, and the server's answer explains the problem better than a guess would.
    """
    available = set(model.endpoints)
    if not provider.supports_responses and ApiKind.CHAT in available:
        available.discard(ApiKind.RESPONSES)
    if not available:
        return ApiKind.RESPONSES
    if api_mode is ApiMode.CHAT:
        return ApiKind.CHAT if ApiKind.CHAT in available else ApiKind.RESPONSES
    return ApiKind.RESPONSES if ApiKind.RESPONSES in available else ApiKind.CHAT


# --------------------------------------------------------------------------------------------
# The catalog
# --------------------------------------------------------------------------------------------


class ModelCatalog:
    """Providers and the models each serves: presets, settings and live lists; no I/O."""

    def __init__(
        self, settings: Settings | None = None, *, extra_providers: Iterable[ProviderConfig] = ()
    ) -> None:
        self.settings = settings if settings is not None else Settings()
        self._providers, self.problems = build_providers(self.settings)
        """Sentences about settings that could not be used, to show once."""
        for config in extra_providers:
            self._providers[config.name] = config
        self._live: dict[str, tuple[ModelInfo, ...]] = {}
        chosen = self.settings.defaults.provider
        if chosen and chosen not in self._providers:
            self.problems.append(
                f"defaults.provider names an unknown provider {chosen!r}; "
                f"known providers: {', '.join(self._providers)}."
            )

    def add_provider(self, config: ProviderConfig) -> None:
        """Register (or replace) a provider, e.g. the ad-hoc ``--base-url`` one."""
        self._providers[config.name] = config
        self._live.pop(config.name, None)

    def apply_facts(self, facts: Mapping[str, Mapping[str, Any]]) -> None:
        """Use what was learned about providers' servers (``tui-chat doctor``, a 404 on
        ``/responses``): ``responses``, ``stateful_responses`` and ``max_tokens_param``.

        Facts recorded for another base URL (the ``custom`` provider of an earlier
        ``--base-url``) are ignored, and a value the settings file gives for the provider
        (``supports_responses``, ``max_tokens_param``) wins over a learned one. Unknown
        providers and keys are skipped; live model lists are kept.
        """
        for name, known in facts.items():
            config = self._providers.get(name)
            if config is None or not isinstance(known, Mapping):
                continue
            learned_at = known.get("base_url")
            if isinstance(learned_at, str) and learned_at.rstrip("/") != config.base_url:
                continue
            section = self.settings.provider(name)
            changes: dict[str, Any] = {}
            responses = known.get("responses")
            if isinstance(responses, bool) and (
                section is None or section.supports_responses is None
            ):
                changes["supports_responses"] = responses
            stateful = known.get("stateful_responses")
            if isinstance(stateful, bool):
                changes["stateful_responses"] = stateful
            param = known.get("max_tokens_param")
            if param in MAX_TOKENS_PARAMS and (section is None or not section.max_tokens_param):
                changes["max_tokens_param"] = param
            if changes:
                self._providers[name] = replace(config, **changes)

    def providers(self) -> list[ProviderConfig]:
        """Every provider: built-in ones in preset order, then custom ones."""
        return list(self._providers.values())

    def provider(self, name: str) -> ProviderConfig:
        """The provider called ``name``; ``UnknownProviderError`` if there is none."""
        try:
            return self._providers[name]
        except KeyError:
            raise UnknownProviderError(name, self._providers) from None

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def listed_models(self, provider: str) -> list[ModelInfo]:
        """Built-in models plus the ids the settings add for the provider (no live ones)."""
        config = self.provider(provider)
        models = list(BUILTIN_MODELS.get(provider, ()))
        section = self.settings.provider(provider)
        for model_id in section.models if section else ():
            if all(model.id != model_id for model in models):
                inferred = infer_model(config, model_id, models)
                models.append(replace(inferred, builtin=True))
        if not config.supports_responses:
            # The provider's setting wins over what the model could do elsewhere.
            models = [_chat_only(model) for model in models]
        return models

    def set_live_models(self, provider: str, live: Iterable[ModelInfo]) -> list[ModelInfo]:
        """Remember a ``GET /models`` result (only ids are used) and return the merged list."""
        self.provider(provider)
        self._live[provider] = tuple(live)
        return self.models(provider)

    def has_live_models(self, provider: str) -> bool:
        """True once ``set_live_models`` was called for the provider."""
        return provider in self._live

    def models(self, provider: str) -> list[ModelInfo]:
        """Listed models, then live-only chat models (sorted by id) with inferred capabilities.

        Built-in capabilities win over a live entry of the same id; embedding, speech, image,
        moderation and fine-tuned models are left out of the live part.
        """
        config = self.provider(provider)
        listed = self.listed_models(provider)
        seen = {model.id for model in listed}
        extra: dict[str, ModelInfo] = {}
        for live_model in self._live.get(provider, ()):
            model_id = live_model.id.strip()
            if not model_id or model_id in seen or model_id in extra:
                continue
            if is_chat_model(model_id):
                extra[model_id] = infer_model(config, model_id, listed)
        return listed + [extra[model_id] for model_id in sorted(extra)]

    def find_model(self, provider: str, model_id: str) -> ModelInfo | None:
        """The provider's model for ``model_id``, tolerant of other providers' spellings.

        Tries the exact id, then a case-insensitive match, then the canonical name
        (``gpt-5.2`` finds ``openai/gpt-5-2`` at AI/ML API), then the family.
        """
        wanted = model_id.strip()
        if not wanted:
            return None
        models = self.models(provider)
        exact = next((model for model in models if model.id == wanted), None)
        if exact is None:
            exact = next((model for model in models if model.id.lower() == wanted.lower()), None)
        if exact is not None:
            return exact
        key = canonical_key(wanted)
        by_key = [model for model in models if canonical_key(model.id) == key]
        by_key.sort(key=lambda model: not model.builtin)
        if by_key:
            return by_key[0]
        return next((model for model in models if model.family == key), None)

    def model_info(self, provider: str, model_id: str) -> ModelInfo:
        """``find_model``, else capabilities inferred from the id (never fails for a known
        provider)."""
        found = self.find_model(provider, model_id)
        if found is not None:
            return found
        return infer_model(self.provider(provider), model_id.strip(), self.listed_models(provider))

    def default_provider(self, env: Mapping[str, str]) -> str:
        """See ``default_provider``."""
        return default_provider(self.settings, env)

    def default_model(self, provider: str) -> str:
        """The preset's default, else the first listed or live model, else ``""``."""
        self.provider(provider)
        preset = default_model(provider)
        if preset:
            return preset
        models = self.models(provider)
        return models[0].id if models else ""

    def endpoint_for(self, provider: str, model_id: str, api_mode: ApiMode) -> ApiKind:
        """``endpoint_for`` with the model looked up (or inferred) by id."""
        return endpoint_for(self.model_info(provider, model_id), self.provider(provider), api_mode)


def _chat_only(model: ModelInfo) -> ModelInfo:
    if ApiKind.CHAT in model.endpoints or not model.endpoints:
        return replace(model, endpoints=frozenset({ApiKind.CHAT}))
    return model
