"""ModelService: every provider's models for the model picker, with badges, filter and order.

The picker lists the built-in catalog, custom providers, the demo models and each provider's
live ``GET /models`` list. Live lists come from the store's cache (one query when the picker
first opens) and from a refresh the user asks for; recently used models come first. Nothing here
imports Textual: the screen shows what this returns.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from tui.domain import ApiKind, ApiMode, ModelInfo

if TYPE_CHECKING:
    from tui.config.settings import Settings
    from tui.services.provider_registry import ProviderRegistry
    from tui.store.db import Store

log = logging.getLogger(__name__)

RECENT = 8
"""Recently used models shown above the providers."""


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """One row of the picker: a model at a provider."""

    provider: str
    provider_label: str
    model: ModelInfo
    has_key: bool
    recent: bool = False

    @property
    def key(self) -> str:
        """A stable identity for the row (``provider/model``)."""
        return f"{self.provider}\x1f{self.model.id}"

    @property
    def haystack(self) -> str:
        """What the filter matches against, lower-cased."""
        label = self.model.label if self.model.label != self.model.id else ""
        return f"{self.model.id} {label} {self.provider_label} {self.provider}".lower()


@dataclass(frozen=True, slots=True)
class ProviderGroup:
    """One provider's section of the picker."""

    provider: str
    label: str
    has_key: bool
    local: bool
    choices: tuple[ModelChoice, ...]
    fetched_at: datetime | None = None
    """When the live list was last fetched (None: never; only built-in models are shown)."""


@dataclass(frozen=True, slots=True)
class Refreshed:
    """What a refresh of one provider's live list brought."""

    provider: str
    label: str
    count: int = 0
    added: int = 0
    error: str | None = None

    def describe(self) -> str:
        if self.error is not None:
            return f"{self.label}: {self.error}"
        new = f", {self.added} new" if self.added else ""
        return f"{self.label} lists {self.count} chat models{new}."


# --------------------------------------------------------------------------------------------
# Badges and the filter: pure functions, cheap enough to run on every keystroke
# --------------------------------------------------------------------------------------------


def api_badge(model: ModelInfo) -> str:
    """``Chat+Responses``, ``Responses only`` or ``Chat only``."""
    chat, responses = model.supports(ApiKind.CHAT), model.supports(ApiKind.RESPONSES)
    if chat and responses:
        return "Chat+Responses"
    return "Responses only" if responses else "Chat only"


def context_badge(tokens: int | None) -> str:
    """``400k``, ``1M``; ``""`` when unknown."""
    if not tokens:
        return ""
    if tokens >= 1_000_000:
        return f"{tokens / 1_000_000:g}M"
    return f"{tokens // 1000}k"


def badges(model: ModelInfo) -> list[str]:
    """The capability badges of a row, in a fixed order."""
    out = [api_badge(model)]
    efforts = model.reasoning_efforts
    if efforts:
        span = efforts[0] if len(efforts) == 1 else f"{efforts[0]}–{efforts[-1]}"
        out.append(f"reasoning {span}")
    if model.image_input:
        out.append("image")
    if model.file_input:
        out.append("file")
    if model.web_search:
        out.append("web")
    context = context_badge(model.context_window)
    if context:
        out.append(context)
    return out


def describe_model(model: ModelInfo) -> str:
    """One line about a model for the picker's detail line."""
    parts = [api_badge(model)]
    if model.reasoning_efforts:
        parts.append("reasoning effort " + " / ".join(model.reasoning_efforts))
    else:
        parts.append("no reasoning effort setting")
    inputs = [
        name for name, on in (("images", model.image_input), ("files", model.file_input)) if on
    ]
    parts.append(("takes " + " and ".join(inputs)) if inputs else "text only")
    if model.web_search:
        parts.append("web search")
    if model.verbosity:
        parts.append("verbosity")
    if model.context_window:
        parts.append(f"{model.context_window:,} tokens of context")
    if not model.builtin:
        parts.append("capabilities guessed from the id")
    return " · ".join(parts)


def fuzzy_score(query: str, haystack: str) -> float | None:
    """How well ``query`` matches ``haystack`` (lower-cased); None when it does not.

    Each word of the query must appear in order as a subsequence; a contiguous match scores
    more than a scattered one, and more again at the start of a word.
    """
    score = 0.0
    for word in query.lower().split():
        at = haystack.find(word)
        if at >= 0:
            start = at == 0 or not haystack[at - 1].isalnum()
            score += 100 + (50 if start else 0) - at * 0.1
            continue
        position, gaps = -1, 0
        for char in word:
            found = haystack.find(char, position + 1)
            if found < 0:
                return None
            gaps += found - position - 1
            position = found
        score += 50 - min(gaps, 49)
    return score


def filter_choices(choices: Sequence[ModelChoice], query: str) -> list[ModelChoice]:
    """The choices matching ``query``, best first (ties keep the listing order)."""
    if not query.strip():
        return list(choices)
    wanted = query.strip().lower()
    scored: list[tuple[float, int, ModelChoice]] = []
    for index, choice in enumerate(choices):
        score = fuzzy_score(query, choice.haystack)
        if score is not None:
            model_id = choice.model.id.lower()
            if model_id == wanted or model_id.rsplit("/", 1)[-1] == wanted:
                score += 500  # the id itself, typed out
            score -= len(model_id) * 0.01  # of equal matches, the shorter id
            scored.append((-score, index, choice))
    scored.sort(key=lambda item: (item[0], item[1]))
    return [choice for _, _, choice in scored]


def api_modes_for(model: ModelInfo) -> tuple[ApiMode, ...]:
    """The API modes that make sense for a model (``auto`` always)."""
    modes = [ApiMode.AUTO]
    if model.supports(ApiKind.CHAT):
        modes.append(ApiMode.CHAT)
    if model.supports(ApiKind.RESPONSES):
        modes.append(ApiMode.RESPONSES)
    return tuple(modes)


# --------------------------------------------------------------------------------------------
# The service
# --------------------------------------------------------------------------------------------


class ModelSources(Protocol):
    """What the service reads and changes (``Services`` provides it)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def registry(self) -> ProviderRegistry: ...
    @property
    def store(self) -> Store: ...
    async def refresh_models(self, provider: str) -> list[ModelInfo]: ...
    def apply_settings(self, settings: Settings) -> None: ...


class ModelService:
    """Providers and their models, as the picker shows them."""

    def __init__(self, services: ModelSources) -> None:
        self.services = services
        self._cached: dict[str, list[ModelInfo]] | None = None
        self._fetched: dict[str, datetime] = {}
        self._recent: list[tuple[str, str]] = []
        self._applied_to: object = None

    @property
    def loaded(self) -> bool:
        """``load`` has run once: what the picker shows can be built without waiting."""
        return self._cached is not None

    async def load(self) -> None:
        """Read the cached live lists (once) and the recently used models (each time: a turn
        elsewhere may have used another model)."""
        repository = self.services.store.repository
        if self._cached is None:
            try:
                self._cached = await repository.all_cached_models()
            except Exception:  # a broken cache only costs the live lists
                log.info("model cache unreadable", exc_info=True)
                self._cached = {}
        try:
            self._recent = await repository.recent_models(limit=RECENT * 2)
        except Exception:
            log.info("model usage unreadable", exc_info=True)
        self._apply_cache()

    def _apply_cache(self) -> None:
        """Give a (maybe rebuilt, after a settings change) catalog the cached live lists."""
        catalog = self.services.registry.catalog
        if self._applied_to is catalog or self._cached is None:
            return
        for provider, models in self._cached.items():
            if provider in catalog and not catalog.has_live_models(provider):
                catalog.set_live_models(provider, models)
        self._applied_to = catalog

    def groups(self) -> list[ProviderGroup]:
        """Every provider with its models, in catalog order (built-in presets first)."""
        self._apply_cache()
        registry = self.services.registry
        out: list[ProviderGroup] = []
        for config in registry.catalog.providers():
            has_key = registry.has_key(config.name)
            choices = tuple(
                ModelChoice(config.name, config.label, model, has_key)
                for model in registry.models(config.name)
            )
            out.append(
                ProviderGroup(
                    config.name,
                    config.label,
                    has_key,
                    config.local,
                    choices,
                    self._fetched.get(config.name),
                )
            )
        return out

    def recent(self, groups: Iterable[ProviderGroup]) -> list[ModelChoice]:
        """The recently used models that are still listed, most recent first."""
        by_key = {choice.key: choice for group in groups for choice in group.choices}
        out: list[ModelChoice] = []
        for provider, model in self._recent:
            choice = by_key.get(f"{provider}\x1f{model}")
            if choice is not None:
                out.append(replace(choice, recent=True))
            if len(out) == RECENT:
                break
        return out

    def find(self, provider: str, model: str) -> ModelChoice | None:
        """The row for ``model`` at ``provider`` (tolerant of other spellings), if listed."""
        registry = self.services.registry
        if provider not in registry.catalog:
            return None
        info = registry.catalog.find_model(provider, model)
        if info is None:
            return None
        config = registry.config(provider)
        return ModelChoice(provider, config.label, info, registry.has_key(provider))

    async def refresh(self, provider: str) -> Refreshed:
        """Ask ``provider`` for its live list again; the provider's error is returned, not
        raised."""
        from tui.providers.errors import ProviderError

        registry = self.services.registry
        config = registry.config(provider)
        before = {model.id for model in registry.models(provider)}
        try:
            models = await self.services.refresh_models(provider)
        except ProviderError as exc:
            return Refreshed(provider, config.label, error=str(exc))
        if self._cached is not None:
            self._cached[provider] = list(models)
        self._fetched[provider] = _now()
        added = sum(1 for model in models if model.id not in before)
        return Refreshed(provider, config.label, count=len(models), added=added)

    async def note_used(self, provider: str, model: str) -> None:
        """Remember a choice, so it is listed first next time."""
        await self.services.store.repository.note_model_used(provider, model)
        self._recent = [(provider, model)] + [
            pair for pair in self._recent if pair != (provider, model)
        ]

    async def make_default(self, provider: str, model: str, api_mode: ApiMode) -> None:
        """New chats start on this model from now on (saved in the settings file).

        Raises ``OSError``/``ValueError`` when the file cannot be written; the choice is
        still used for this run.
        """
        from tui.services.settings_edit import apply_settings

        services = self.services
        settings = services.settings
        defaults = replace(settings.defaults, provider=provider, model=model, api_mode=api_mode)
        updated = replace(settings, defaults=defaults)
        services.apply_settings(updated)
        await apply_settings(updated, updated.config_path, previous=settings)


def _now() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
