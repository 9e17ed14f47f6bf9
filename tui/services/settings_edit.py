"""What the settings screen needs below the UI: key status, field checks, the edited Settings.

Nothing here imports Textual, and no key is ever returned unmasked: ``KeyStatus`` carries only
where a key comes from and its masked form. Check messages never repeat the rejected value,
since a key pasted into the wrong field must not end up on screen or in a log.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from tui.config.settings import MAX_TOKENS_PARAMS, ProviderSettings, Secret, Settings, save_settings
from tui.domain import ProviderConfig
from tui.providers.catalog import ADHOC_PROVIDER, custom_provider, validate_base_url
from tui.providers.keys import find_api_key
from tui.providers.presets import BUILTIN_PROVIDERS

__all__ = [
    "KeyStatus",
    "ProviderEdit",
    "apply_settings",
    "check_api_key",
    "check_base_url",
    "check_env_name",
    "check_max_output_tokens",
    "check_new_provider_name",
    "check_temperature",
    "edited_provider",
    "edited_providers",
    "key_status",
    "key_statuses",
]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROVIDER_NAME = re.compile(r"[a-z][a-z0-9_-]*")


@dataclass(frozen=True)
class KeyStatus:
    """Whether a provider has a key now, and from where; never the key itself."""

    provider: str
    source: str | None
    """``"settings"`` (the settings file), ``"env:NAME"``, or ``None`` when there is no key."""
    masked: str | None
    """The key as ``sk-…a1b2``; ``None`` when there is no key."""
    required: bool = True
    """False for servers that work without a key (local ones, custom ones naming none)."""

    @property
    def env_name(self) -> str | None:
        """The variable the key came from, if it came from the environment."""
        if self.source and self.source.startswith("env:"):
            return self.source.removeprefix("env:")
        return None

    def describe(self) -> str:
        """One line for the screen, e.g. ``Key from $OPENAI_API_KEY: sk-…a1b2``."""
        if self.source == "settings":
            return f"Key saved in the settings file: {self.masked}"
        if self.env_name:
            return f"Key from ${self.env_name}: {self.masked}"
        if not self.required:
            return "No key needed (the server may still ask for one)."
        return "No key set."


def key_status(
    config: ProviderConfig, settings: Settings | None, env: Mapping[str, str] | None = None
) -> KeyStatus:
    """Where ``config``'s key comes from, resolved as requests resolve it (``find_api_key``)."""
    found = find_api_key(config, settings, os.environ if env is None else env)
    if found is None:
        return KeyStatus(config.name, None, None, config.requires_key)
    key, source = found
    return KeyStatus(config.name, source, Secret(key).masked(), config.requires_key)


def key_statuses(
    providers: Iterable[ProviderConfig],
    settings: Settings | None,
    env: Mapping[str, str] | None = None,
) -> dict[str, KeyStatus]:
    """``key_status`` for each provider, by name."""
    return {config.name: key_status(config, settings, env) for config in providers}


# --------------------------------------------------------------------------------------------
# Field checks: each returns the parsed value or raises ValueError with a sentence to show.
# --------------------------------------------------------------------------------------------


def check_temperature(text: str) -> float | None:
    """Empty means the model's default; otherwise a number from 0 to 2."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError("Temperature must be a number from 0 to 2.") from None
    if not 0 <= value <= 2:
        raise ValueError("Temperature must be from 0 to 2.")
    return value


def check_max_output_tokens(text: str) -> int | None:
    """Empty means the model's default; otherwise a positive whole number."""
    text = text.strip().replace("_", "")
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise ValueError("Max output tokens must be a whole number.") from None
    if value <= 0:
        raise ValueError("Max output tokens must be more than 0.")
    return value


def check_env_name(text: str) -> str | None:
    """Empty means the provider's default variable; otherwise a valid variable name."""
    text = text.strip()
    if not text:
        return None
    if not _ENV_NAME.fullmatch(text):
        raise ValueError(
            "Give the name of an environment variable (letters, digits and _), "
            "e.g. MYBOX_API_KEY, not the key itself."
        )
    return text


def check_api_key(text: str) -> Secret | None:
    """Empty keeps the current key; otherwise one line of printable characters, no spaces."""
    text = text.strip()
    if not text:
        return None
    if not all(char.isprintable() and not char.isspace() and char.isascii() for char in text):
        raise ValueError("An API key is one line of printable characters, without spaces.")
    return Secret(text)


def check_base_url(text: str, *, required: bool) -> str | None:
    """Empty means the preset's URL (an error when ``required``); else ``validate_base_url``."""
    if not text.strip():
        if required:
            raise ValueError("A base URL is required, e.g. http://localhost:8000/v1.")
        return None
    return validate_base_url(text)


def check_new_provider_name(text: str, taken: Iterable[str]) -> str:
    """A name for a new custom provider: short, lower-case, not already used."""
    name = text.strip()
    if not name:
        raise ValueError("Give the new provider a name, e.g. mybox.")
    if not _PROVIDER_NAME.fullmatch(name):
        raise ValueError(
            "A provider name starts with a letter and uses only a-z, 0-9, '-' and '_'."
        )
    if name in set(taken) or name in BUILTIN_PROVIDERS or name == ADHOC_PROVIDER:
        raise ValueError(f"There is already a provider called {name}.")
    return name


# --------------------------------------------------------------------------------------------
# Building the new Settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProviderEdit:
    """The checked values of one provider's fields on the screen."""

    name: str
    base_url: str | None
    """None: the preset's URL (built-in providers only)."""
    api_key_env: str | None
    max_tokens_param: str
    supports_responses: bool
    new_key: Secret | None = None
    """A key typed on the screen; None keeps the current one."""
    remove_key: bool = False
    """Drop the key saved in the settings file (a typed ``new_key`` wins)."""


def edited_provider(
    edit: ProviderEdit, previous: ProviderSettings | None
) -> ProviderSettings | None:
    """The settings section for ``edit``: only what differs from the preset is stored.

    A built-in provider with nothing left to store has no section (``None``); its label and
    extra model ids from the file are kept as they were.
    """
    preset = BUILTIN_PROVIDERS.get(edit.name)
    if preset is None and not edit.base_url:
        raise ValueError(f"The custom provider {edit.name} needs a base URL.")
    if edit.max_tokens_param not in MAX_TOKENS_PARAMS:
        raise ValueError("The token limit field must be max_completion_tokens or max_tokens.")
    # A custom provider's defaults depend on its URL (max_tokens unless it is OpenAI's host).
    baseline = preset or replace(custom_provider(edit.name, edit.base_url or ""), base_url="")
    if edit.new_key:
        api_key: Secret | None = edit.new_key
    elif edit.remove_key:
        api_key = None
    else:
        api_key = previous.api_key if previous else None
    section = ProviderSettings(
        name=edit.name,
        label=previous.label if previous else None,
        base_url=edit.base_url if edit.base_url != baseline.base_url else None,
        api_key=api_key,
        api_key_env=edit.api_key_env if edit.api_key_env != baseline.api_key_env else None,
        max_tokens_param=(
            edit.max_tokens_param
            if edit.max_tokens_param != baseline.max_tokens_param
            or (previous is not None and previous.max_tokens_param)
            else None
        ),
        supports_responses=(
            edit.supports_responses
            if edit.supports_responses != baseline.supports_responses
            else None
        ),
        models=previous.models if previous else (),
    )
    if preset is not None and section == ProviderSettings(name=edit.name):
        return None
    return section


def edited_providers(
    original: Mapping[str, ProviderSettings],
    edits: Iterable[ProviderEdit],
    removed: Iterable[str],
) -> dict[str, ProviderSettings]:
    """``original`` with the edited sections replaced and the removed ones dropped.

    Sections the screen did not show (e.g. ones the catalog could not use) are kept as they
    were: the screen never deletes what it did not display.
    """
    providers = dict(original)
    dropped = set(removed)
    for name in dropped:
        providers.pop(name, None)
    for edit in edits:
        # A provider removed and added again on the screen starts afresh.
        previous = None if edit.name in dropped else original.get(edit.name)
        section = edited_provider(edit, previous)
        if section is None:
            providers.pop(edit.name, None)
        else:
            providers[edit.name] = section
    return providers


async def apply_settings(settings: Settings, path: Path | None = None) -> None:
    """Save ``settings`` (to ``path``, else ``settings.config_path``) off the event loop.

    Raises ``OSError`` when the file cannot be written, and ``ValueError`` when there is no
    path to write to.
    """
    target = path or settings.config_path
    if target is None:
        raise ValueError("These settings have no file to be saved to.")
    await asyncio.to_thread(save_settings, settings, target)
