"""The provider registry: one provider object per configured provider, on the one shared client.

It is also the engine's router: a provider name, a model id and an API mode become a ready
``Route`` (provider, its config, the model's capabilities, the API to use).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tui.config.settings import Settings
from tui.domain import ApiMode, ModelInfo, ProviderConfig
from tui.providers.catalog import (
    ModelCatalog,
    UnknownProviderError,
    endpoint_for,
    missing_key_error,
    resolve_api_key,
)
from tui.providers.errors import ConfigurationError, ModelNotFoundError
from tui.providers.openai_compat import OpenAICompatibleProvider
from tui.services.turns import Route

if TYPE_CHECKING:
    import httpx


class ProviderRegistry:
    """Providers by name, built lazily around the shared ``httpx.AsyncClient``."""

    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        *,
        env: Mapping[str, str],
        catalog: ModelCatalog | None = None,
        keys: Mapping[str, str] | None = None,
        facts: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """``keys`` holds keys given for this run only (``--api-key``), by provider name;
        ``facts`` what is known about providers' servers (already applied to ``catalog``)."""
        self.settings = settings
        self.client = client
        self.env = env
        self.catalog = catalog or ModelCatalog(settings)
        self.keys: dict[str, str] = dict(keys or {})
        """Keys given for this run only, by provider name."""
        self.facts: dict[str, dict[str, Any]] = facts if facts is not None else {}
        """What was learned about each provider's server (shared with ``Services``)."""
        self._providers: dict[str, OpenAICompatibleProvider] = {}

    def names(self) -> list[str]:
        return [config.name for config in self.catalog.providers()]

    def config(self, name: str) -> ProviderConfig:
        try:
            return self.catalog.provider(name)
        except UnknownProviderError as exc:
            raise ConfigurationError(str(exc)) from None

    def api_key(self, name: str) -> str | None:
        if name in self.keys:
            return self.keys[name]
        return resolve_api_key(self.config(name), self.settings, self.env)

    def has_key(self, name: str) -> bool:
        config = self.config(name)
        return not config.requires_key or self.api_key(name) is not None

    def provider(self, name: str) -> OpenAICompatibleProvider:
        provider = self._providers.get(name)
        if provider is None:
            config = self.config(name)
            provider = OpenAICompatibleProvider(
                config,
                self.client,
                api_key=self.api_key(name),
                missing_key=lambda: missing_key_error(config, self.settings),
            )
            self._providers[name] = provider
        return provider

    def learn(self, name: str, facts: Mapping[str, Any]) -> dict[str, Any]:
        """Remember ``facts`` about ``name``'s server for this run; later routes follow them.

        Returns what the caller should persist (``save_provider_facts`` merges it into the
        stored record) so the next start knows too: facts learned at another ``base_url`` (an
        earlier ``--base-url``) are cleared rather than merged with the new ones.
        """
        self.config(name)
        known = self.facts.get(name, {})
        update = dict(facts)
        if "base_url" in facts and known.get("base_url") not in (None, facts["base_url"]):
            update = {**{key: None for key in known}, **update}
        merged = {key: value for key, value in {**known, **update}.items() if value is not None}
        self.facts[name] = merged
        self.catalog.apply_facts({name: merged})
        self._providers.pop(name, None)  # rebuilt with the new config on next use
        return update

    def models(self, name: str) -> list[ModelInfo]:
        self.config(name)
        return self.catalog.models(name)

    async def refresh_models(self, name: str) -> list[ModelInfo]:
        """Ask the provider for its live list and merge it with the built-in one."""
        live = await self.provider(name).list_models()
        return self.catalog.set_live_models(name, live)

    def default_provider(self) -> str:
        return self.catalog.default_provider(self.env)

    def route(self, provider: str | None, model: str | None, api_mode: ApiMode) -> Route:
        name = provider or self.default_provider()
        config = self.config(name)
        model_id = model or self.catalog.default_model(name)
        if not model_id:
            raise ModelNotFoundError(
                f"No model is chosen for {config.label} ('tui-chat models --refresh -p {name}' "
                "lists what it serves; -m picks one on the command line)."
            )
        info = self.catalog.model_info(name, model_id)
        api = endpoint_for(info, config, api_mode)
        return Route(self.provider(name), config, info, api, api_mode)
