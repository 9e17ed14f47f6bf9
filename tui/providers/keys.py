"""API keys: where each provider's key comes from, and where a key may never go.

Order: the settings' literal key, else the variable the settings name (``api_key_env``), else
the preset's variable, else the variable bound to the provider's host. A built-in provider's
variable (``OPENAI_API_KEY``, ``AIMLAPI_API_KEY``, ``GMI_API_KEY``) is only ever sent to that
provider's own https host: a custom base URL never receives the user's OpenAI key, even when the
settings name that variable for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from tui.config.settings import Settings
from tui.domain import ProviderConfig
from tui.providers.errors import MissingKeyError
from tui.providers.presets import HOST_KEY_ENVS


def _key_env_allowed(env_name: str, config: ProviderConfig) -> bool:
    """A built-in provider's key variable goes only to that provider's own https host."""
    for host, bound_env in HOST_KEY_ENVS.items():
        if bound_env == env_name:
            parts = urlsplit(config.base_url)
            return parts.scheme == "https" and parts.hostname == host
    return True


def _key_env_candidates(config: ProviderConfig, settings: Settings | None) -> list[str]:
    section = settings.provider(config.name) if settings else None
    names = [
        section.api_key_env if section else None,
        config.api_key_env,
        HOST_KEY_ENVS.get(urlsplit(config.base_url).hostname or ""),
    ]
    return list(dict.fromkeys(name for name in names if name))


def resolve_api_key(
    config: ProviderConfig, settings: Settings | None, env: Mapping[str, str]
) -> str | None:
    """The key for ``config``: the settings' literal key, else the settings' ``api_key_env``,
    else the preset's variable, else the variable bound to the provider's host; ``None`` if
    none is set. A built-in provider's variable is never used for another host."""
    found = find_api_key(config, settings, env)
    return found[0] if found else None


def find_api_key(
    config: ProviderConfig, settings: Settings | None, env: Mapping[str, str]
) -> tuple[str, str] | None:
    """``resolve_api_key``'s key with where it came from: ``"settings"`` or ``"env:NAME"``."""
    section = settings.provider(config.name) if settings else None
    if section is not None and section.api_key:
        literal = section.api_key.get().strip()
        if literal:
            return literal, "settings"
    for env_name in _key_env_candidates(config, settings):
        if not _key_env_allowed(env_name, config):
            continue
        value = env.get(env_name, "").strip()
        if value:
            return value, f"env:{env_name}"
    return None


def missing_key_error(config: ProviderConfig, settings: Settings | None) -> MissingKeyError:
    """The error to show when ``resolve_api_key`` found nothing; it names where a key can go."""
    candidates = _key_env_candidates(config, settings)
    usable = [name for name in candidates if _key_env_allowed(name, config)]
    refused = [name for name in candidates if name not in usable]
    detail = None
    if refused:
        host = urlsplit(config.base_url).hostname
        detail = (
            f"{', '.join(refused)} is only sent to its own provider, not to {host}; "
            f"set api_key_env for [providers.{config.name}] to another variable."
        )
    return MissingKeyError(
        f"No API key is set for {config.label}.",
        key_env=usable[0] if usable else None,
        provider=config.name,
        detail=detail,
    )


def has_key(config: ProviderConfig, settings: Settings | None, env: Mapping[str, str]) -> bool:
    """True when the provider needs no key or one is available."""
    return not config.requires_key or resolve_api_key(config, settings, env) is not None
