"""The settings of one provider: its key (masked), key variable, base URL and protocol details."""

from __future__ import annotations

from functools import partial

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Input, Select, Static, Switch

from tui.config.settings import ProviderSettings
from tui.domain import ProviderConfig
from tui.providers.presets import BUILTIN_PROVIDERS
from tui.screens.settings_fields import FieldRow
from tui.services.settings_edit import (
    KeyStatus,
    ProviderEdit,
    check_api_key,
    check_base_url,
    check_env_name,
)

TOKEN_PARAMS = ("max_completion_tokens", "max_tokens")


class ProviderForm(VerticalScroll):
    """The fields of one provider; the key is typed into a password field and never shown."""

    can_focus = False  # Tab goes straight to the fields; the form scrolls to follow focus.

    class StatusChanged(Message):
        """The pending key state changed (a key typed, or the saved key marked for removal)."""

        def __init__(self, form: ProviderForm) -> None:
            super().__init__()
            self.form = form

    class RemoveRequested(Message):
        """The user asked to remove this custom provider."""

        def __init__(self, form: ProviderForm) -> None:
            super().__init__()
            self.form = form

    def __init__(
        self,
        config: ProviderConfig,
        section: ProviderSettings | None,
        status: KeyStatus,
        *,
        id: str,  # noqa: A002 - Textual's own keyword
    ) -> None:
        super().__init__(id=id, classes="provider-form")
        self.config = config
        self.status = status
        self.preset = BUILTIN_PROVIDERS.get(config.name)
        self.custom = self.preset is None
        self.remove_key = False
        """The saved key is to be dropped when the settings are saved."""
        self._shown_status = ""
        self._shown_prompt = Content("")
        env_default = self.preset.api_key_env if self.preset else None
        self.key_input = Input(
            password=True,
            placeholder="Paste a new key (empty keeps the current one)",
            classes="key-input",
        )
        self.env_input = Input(
            value=(section.api_key_env if section else None) or "",
            placeholder=env_default or "e.g. MYBOX_API_KEY (optional)",
            classes="key-env-input",
        )
        self.url_input = Input(
            value=config.base_url if self.custom else (section.base_url if section else "") or "",
            placeholder=self.preset.base_url if self.preset else "http://host:port/v1",
            classes="base-url-input",
        )
        self.param_select: Select[str] = Select(
            [(param, param) for param in TOKEN_PARAMS],
            value=config.max_tokens_param,
            allow_blank=False,
            classes="token-param-select",
        )
        self.responses_switch = Switch(config.supports_responses, classes="responses-switch")
        self.rows = [
            FieldRow("API key", self.key_input, check=check_api_key),
            FieldRow(
                "Key variable",
                self.env_input,
                check=check_env_name,
                hint="The environment variable holding the key"
                + (f"; empty means {env_default}." if env_default else "."),
            ),
            FieldRow(
                "Base URL",
                self.url_input,
                check=partial(check_base_url, required=self.custom),
                hint=None if self.custom else "Empty means the built-in address.",
            ),
            FieldRow(
                "Token limit field",
                self.param_select,
                hint="max_tokens for servers without max_completion_tokens.",
            ),
            FieldRow(
                "Responses API",
                self.responses_switch,
                hint="Turn off for servers that only speak Chat Completions.",
            ),
        ]

    @property
    def provider(self) -> str:
        """The provider's name."""
        return self.config.name

    def compose(self) -> ComposeResult:
        kind = "custom provider" if self.custom else "built-in provider"
        name = f"{self.provider} · " if self.config.label != self.provider else ""
        yield Static(
            Content.assemble((self.config.label, "bold"), f"  {name}{kind}"),
            classes="form-title",
        )
        self._shown_status = self.status_line()
        self._shown_prompt = self.list_prompt()
        yield Static(self._shown_status, classes="key-status", markup=False)
        yield self.rows[0]
        with Horizontal(classes="key-actions") as actions:
            # Only a key in the settings file can be removed from here.
            actions.display = self.status.source == "settings"
            yield Button("Remove saved key", classes="remove-key", compact=True)
        yield from self.rows[1:]
        if self.custom:
            with Horizontal(classes="provider-actions"):
                yield Button(
                    "Remove provider", variant="error", classes="remove-provider", compact=True
                )

    def status_line(self) -> str:
        """Where the key comes from, or what will happen to it on Save; never the key."""
        if self.key_input.value.strip():
            return "A new key will be saved when you press Save."
        if self.remove_key:
            return "The saved key will be removed when you press Save."
        line = self.status.describe()
        if self.status.source is None and self.status.required:
            env_name = self.env_input.value.strip() or self.config.api_key_env
            where = f" or set ${env_name}" if env_name else ""
            line += f" Paste one in the API key field{where}."
        return line

    def list_prompt(self) -> Content:
        """The provider's entry in the list: its label and a short key state."""
        if self.key_input.value.strip():
            state = "new key"
        elif self.remove_key:
            state = "key removed"
        elif self.status.source == "settings":
            state = "saved key"
        elif self.status.source is not None:
            state = "key from env"
        elif not self.status.required:
            state = "no key needed"
        else:
            state = "no key"
        return Content.assemble(self.config.label, ("\n" + state, "dim"))

    def run_checks(self) -> list[FieldRow]:
        """Check every field, showing errors inline; the rows that are invalid."""
        return [row for row in self.rows if not row.run_check()]

    def edit(self) -> ProviderEdit:
        """The form's values; call after ``run_checks`` found nothing wrong."""
        return ProviderEdit(
            name=self.provider,
            base_url=check_base_url(self.url_input.value, required=self.custom),
            api_key_env=check_env_name(self.env_input.value),
            # A Select reads blank until mounted; a form never shown keeps its value.
            max_tokens_param=(
                selected
                if isinstance(selected := self.param_select.value, str)
                else self.config.max_tokens_param
            ),
            supports_responses=self.responses_switch.value,
            new_key=check_api_key(self.key_input.value),
            remove_key=self.remove_key,
        )

    def _refresh_status(self) -> None:
        # Only on a change of state, not on every key stroke: each update costs a relayout.
        line, prompt = self.status_line(), self.list_prompt()
        if line != self._shown_status:
            self._shown_status = line
            self.query_one(".key-status", Static).update(line)
        if prompt != self._shown_prompt:
            self._shown_prompt = prompt
            self.post_message(self.StatusChanged(self))

    @on(Input.Changed, ".key-input, .key-env-input")
    def _key_state_changed(self) -> None:
        self._refresh_status()

    @on(Button.Pressed, ".remove-key")
    def _toggle_remove_key(self, event: Button.Pressed) -> None:
        event.stop()
        self.remove_key = not self.remove_key
        event.button.label = "Keep saved key" if self.remove_key else "Remove saved key"
        self._refresh_status()

    @on(Button.Pressed, ".remove-provider")
    def _request_removal(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.RemoveRequested(self))
