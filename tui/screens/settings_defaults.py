"""The defaults for new conversations: provider, model, API, reasoning, limits, system prompt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.suggester import SuggestFromList
from textual.widgets import Input, Select, Switch, TextArea

from tui.config.settings import VERBOSITY_LEVELS, Defaults
from tui.domain import ApiMode
from tui.screens.settings_fields import FieldRow
from tui.services.settings_edit import check_max_output_tokens, check_temperature

API_MODES = (
    ("Automatic (Responses where the model has it)", ApiMode.AUTO.value),
    ("Chat Completions", ApiMode.CHAT.value),
    ("Responses", ApiMode.RESPONSES.value),
)
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


class DefaultsForm(VerticalScroll):
    """Fields for ``Defaults``; ``defaults()`` reads them back once ``run_checks`` passes."""

    def __init__(
        self,
        defaults: Defaults,
        providers: Mapping[str, str],
        known_models: Sequence[str],
        *,
        id: str | None = None,  # noqa: A002 - Textual's own keyword
    ) -> None:
        super().__init__(id=id)
        self.initial = defaults
        efforts = list(REASONING_EFFORTS)
        if defaults.reasoning_effort and defaults.reasoning_effort not in efforts:
            efforts.append(defaults.reasoning_effort)
        self.provider_select: Select[str] = Select(
            _provider_options(providers),
            value=defaults.provider or Select.NULL,
            prompt="Automatic: the first one with a key",
            id="default-provider",
        )
        self.model_input = Input(
            defaults.model or "",
            placeholder="The provider's default model",
            suggester=SuggestFromList(known_models),
            id="default-model",
        )
        self.mode_select: Select[str] = Select(
            API_MODES, value=defaults.api_mode.value, allow_blank=False, id="default-api-mode"
        )
        self.reasoning_select: Select[str] = Select(
            [(effort, effort) for effort in efforts],
            value=defaults.reasoning_effort or Select.NULL,
            prompt="The model's default",
            id="default-reasoning",
        )
        self.verbosity_select: Select[str] = Select(
            [(level, level) for level in VERBOSITY_LEVELS],
            value=defaults.verbosity or Select.NULL,
            prompt="The model's default",
            id="default-verbosity",
        )
        temperature = defaults.temperature
        self.temperature_input = Input(
            "" if temperature is None else f"{temperature:g}",
            placeholder="The model's default (0 to 2)",
            restrict=r"[0-9.]*",
            id="default-temperature",
        )
        limit = defaults.max_output_tokens
        self.max_tokens_input = Input(
            "" if limit is None else str(limit),
            placeholder="The model's default",
            restrict=r"[0-9_]*",
            id="default-max-tokens",
        )
        self.prompt_area = TextArea(defaults.system_prompt or "", id="default-system-prompt")
        self.titles_switch = Switch(defaults.improve_titles, id="default-improve-titles")
        self.rows = [
            FieldRow("Provider", self.provider_select),
            FieldRow("Model", self.model_input),
            FieldRow("API", self.mode_select),
            FieldRow("Reasoning effort", self.reasoning_select),
            FieldRow(
                "Verbosity",
                self.verbosity_select,
                hint="For the models that take it (GPT-5): short, medium or long answers.",
            ),
            FieldRow("Temperature", self.temperature_input, check=check_temperature),
            FieldRow("Max output tokens", self.max_tokens_input, check=check_max_output_tokens),
            FieldRow(
                "System prompt",
                self.prompt_area,
                hint="Given to each new conversation, which keeps its own copy.",
            ),
            FieldRow(
                "Improve titles",
                self.titles_switch,
                hint="Ask the model for a better title after the first reply.",
            ),
        ]

    def compose(self) -> ComposeResult:
        yield from self.rows

    def set_providers(self, providers: Mapping[str, str]) -> None:
        """Offer these providers (name to label), keeping the choice if it is still there."""
        keep = self.provider_select.value
        self.provider_select.set_options(_provider_options(providers))
        if isinstance(keep, str) and keep in providers:
            self.provider_select.value = keep

    def run_checks(self) -> list[FieldRow]:
        """Check every field, showing errors inline; the rows that are invalid."""
        return [row for row in self.rows if not row.run_check()]

    def defaults(self) -> Defaults:
        """The edited defaults; fields this form does not show keep their values."""
        provider, mode = self.provider_select.value, self.mode_select.value
        effort, verbosity = self.reasoning_select.value, self.verbosity_select.value
        return replace(
            self.initial,
            provider=provider if isinstance(provider, str) else None,
            model=self.model_input.value.strip() or None,
            api_mode=ApiMode(mode) if isinstance(mode, str) else self.initial.api_mode,
            reasoning_effort=effort if isinstance(effort, str) else None,
            verbosity=verbosity if isinstance(verbosity, str) else None,
            temperature=check_temperature(self.temperature_input.value),
            max_output_tokens=check_max_output_tokens(self.max_tokens_input.value),
            system_prompt=self.prompt_area.text.strip() or None,
            improve_titles=self.titles_switch.value,
        )


def _provider_options(providers: Mapping[str, str]) -> list[tuple[str, str]]:
    return [(f"{label} ({name})", name) for name, label in providers.items()]
