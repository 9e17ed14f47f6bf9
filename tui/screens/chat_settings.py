"""One conversation's settings: API, reasoning effort, verbosity, temperature, output limit,
system prompt and tools. The model picker sets provider and model; this panel edits the rest.

Dismissed with the edited ``ChatSettings`` (Save, Ctrl+S) or ``None`` (Cancel, Esc); the
caller stores them, and they apply from the conversation's next turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Select, Static, Switch, TextArea

from tui.config.settings import VERBOSITY_LEVELS
from tui.domain import ApiMode, ChatSettings, ModelInfo
from tui.screens.settings_defaults import API_MODES
from tui.screens.settings_fields import FieldRow
from tui.services.history import inert
from tui.services.settings_edit import check_max_output_tokens, check_temperature


class ChatSettingsScreen(ModalScreen[ChatSettings | None]):
    """Edit the settings of one conversation (or of the next new chat)."""

    CSS_PATH = ["fields.tcss", "chat_settings.tcss"]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="chat-settings.cancel"),
        Binding("ctrl+s", "save", "Save", priority=True, id="chat-settings.save"),
    ]

    def __init__(
        self,
        settings: ChatSettings,
        model: ModelInfo,
        *,
        target: str,
        route: str,
        servers: Sequence[str] | None = None,
    ) -> None:
        """``model``: the conversation's model (its effort levels and whether it takes a
        verbosity); ``target``: what the settings are for; ``route``: provider · model;
        ``servers``: the enabled MCP servers, to turn off one by one (default: those of the
        app's open services, if it has them)."""
        super().__init__()
        self.initial = settings
        self.servers = None if servers is None else list(servers)
        self.tools_switch = Switch(settings.tools, id="chat-tools")
        self.server_boxes: dict[str, Checkbox] = {}
        """One checkbox per enabled MCP server, by name (made when composed)."""
        self.model = model
        self.target = target
        self.route = route
        efforts = list(model.reasoning_efforts)
        if settings.reasoning_effort and settings.reasoning_effort not in efforts:
            efforts.append(settings.reasoning_effort)  # kept as it is unless changed here
        self.mode_select: Select[str] = Select(
            API_MODES, value=settings.api_mode.value, allow_blank=False, id="chat-api-mode"
        )
        self.effort_select: Select[str] = Select(
            [(effort, effort) for effort in efforts],
            value=settings.reasoning_effort or Select.NULL,
            prompt="The model's default",
            id="chat-effort",
            disabled=not efforts,
        )
        self.verbosity_select: Select[str] = Select(
            [(level, level) for level in VERBOSITY_LEVELS],
            value=settings.verbosity or Select.NULL,
            prompt="The model's default",
            id="chat-verbosity",
        )
        temperature = settings.temperature
        self.temperature_input = Input(
            "" if temperature is None else f"{temperature:g}",
            placeholder="The model's default (0 to 2)",
            restrict=r"[0-9.]*",
            id="chat-temperature",
        )
        limit = settings.max_output_tokens
        self.max_tokens_input = Input(
            "" if limit is None else str(limit),
            placeholder="The model's default",
            restrict=r"[0-9_]*",
            id="chat-max-tokens",
        )
        self.prompt_area = TextArea(settings.system_prompt or "", id="chat-system-prompt")
        effort_hint = (
            f"{inert(model.id)} takes: {', '.join(model.reasoning_efforts)}."
            if model.reasoning_efforts
            else f"{inert(model.id)} has no reasoning effort setting."
        )
        verbosity_hint = (
            "text.verbosity on Responses, verbosity on Chat Completions."
            if model.verbosity
            else f"{inert(model.id)} may not take it; it is sent only to models that do."
        )
        self.rows = [
            FieldRow("API", self.mode_select, hint="Auto uses Responses where the model has it."),
            FieldRow("Reasoning effort", self.effort_select, hint=effort_hint),
            FieldRow("Verbosity", self.verbosity_select, hint=verbosity_hint),
            FieldRow("Temperature", self.temperature_input, check=check_temperature),
            FieldRow("Max output tokens", self.max_tokens_input, check=check_max_output_tokens),
            FieldRow(
                "System prompt",
                self.prompt_area,
                hint="Sent as instructions (a developer message) with every turn.",
            ),
        ]

    def compose(self) -> ComposeResult:
        with Vertical(id="chat-settings-dialog"):
            yield Static(
                f"Chat settings for {inert(self.target)}", id="chat-settings-title", markup=False
            )
            yield Static(self.route, id="chat-settings-route", markup=False)
            with VerticalScroll(id="chat-settings-form"):
                yield from self.rows
                yield from self._tool_rows()
            with Horizontal(id="chat-settings-actions"):
                yield Static(
                    "They apply from the next message. Ctrl+S saves, Esc cancels.",
                    id="chat-settings-message",
                    markup=False,
                )
                yield Button("Cancel", id="chat-settings-cancel")
                yield Button("Save", variant="primary", id="chat-settings-save")

    def _enabled_servers(self) -> list[str]:
        if self.servers is not None:
            return self.servers
        handle = getattr(self.app, "handle", None)
        services = getattr(handle, "current", None)
        if services is None:
            return []
        return [name for name, server in services.settings.mcp_servers.items() if server.enabled]

    def _tool_rows(self) -> list[FieldRow]:
        """The Tools switch, and a checkbox for each enabled server when there are any."""
        names = self._enabled_servers()
        rows = [
            FieldRow(
                "Tools",
                self.tools_switch,
                hint="Offer the MCP servers' tools to the model in this conversation.",
            )
        ]
        if names:
            off = set(self.initial.tools_off)
            for number, name in enumerate(names):
                self.server_boxes[name] = Checkbox(
                    Content(inert(name)),
                    name not in off,
                    id=f"chat-tools-server-{number}",
                    classes="tool-server",
                    disabled=not self.initial.tools,
                    compact=True,
                )
            rows.append(
                FieldRow(
                    "Servers",
                    Vertical(*self.server_boxes.values(), id="chat-tool-servers"),
                    hint="Unchecked servers' tools are not offered here.",
                )
            )
        return rows

    def on_mount(self) -> None:
        self.mode_select.focus()

    def on_switch_changed(self, event: Switch.Changed) -> None:
        if event.switch is self.tools_switch:
            for box in self.server_boxes.values():
                box.disabled = not event.value

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "chat-settings-save":
            self.action_save()
        elif event.button.id == "chat-settings-cancel":
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_save(self) -> None:
        invalid = [row for row in self.rows if not row.run_check()]
        if invalid:
            invalid[0].control.focus()
            self.query_one("#chat-settings-message", Static).update(
                "Fix the field marked in red, then save."
            )
            return
        self.dismiss(self.edited())

    def edited(self) -> ChatSettings:
        """The settings as the fields hold them (call after the checks pass)."""
        mode, effort, verbosity = (
            self.mode_select.value,
            self.effort_select.value,
            self.verbosity_select.value,
        )
        return replace(
            self.initial,
            api_mode=ApiMode(mode) if isinstance(mode, str) else self.initial.api_mode,
            reasoning_effort=effort if isinstance(effort, str) else None,
            verbosity=verbosity if isinstance(verbosity, str) else None,
            temperature=check_temperature(self.temperature_input.value),
            max_output_tokens=check_max_output_tokens(self.max_tokens_input.value),
            system_prompt=self.prompt_area.text.strip() or None,
            tools=self.tools_switch.value,
            tools_off=self._tools_off(),
        )

    def _tools_off(self) -> tuple[str, ...]:
        """The servers unchecked here, and those turned off before that are not shown (a
        server disabled or gone from the settings keeps its choice)."""
        kept = [name for name in self.initial.tools_off if name not in self.server_boxes]
        unchecked = [name for name, box in self.server_boxes.items() if not box.value]
        return tuple(dict.fromkeys([*kept, *unchecked]))
