"""SettingsScreen: providers (keys masked), defaults and theme; dismisses with the new Settings.

The screen edits a copy: nothing is written until the app saves the dismissed ``Settings``
(``apply_settings`` does it off the event loop). Escape or Cancel dismisses with ``None`` and
puts back a theme that was being previewed.

Usage from the app (inside a worker, or with a callback)::

    statuses = key_statuses(catalog.providers(), settings)
    new = await self.app.push_screen_wait(
        SettingsScreen(settings, catalog.providers(), statuses, focus_provider="openai")
    )
    if new is not None:
        await apply_settings(new)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from itertools import count
from typing import TYPE_CHECKING

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    ContentSwitcher,
    Input,
    Label,
    OptionList,
    Select,
    Static,
    TabbedContent,
    TabPane,
)
from textual.widgets.option_list import Option

from tui.config.settings import Settings
from tui.domain import ProviderConfig
from tui.providers.catalog import DEMO_PROVIDER, custom_provider
from tui.providers.presets import BUILTIN_MODELS, BUILTIN_PROVIDERS
from tui.screens.settings_defaults import DefaultsForm
from tui.screens.settings_fields import FieldRow
from tui.screens.settings_mcp import McpSection
from tui.screens.settings_providers import ProviderForm
from tui.services.settings_edit import (
    KeyStatus,
    apply_settings,
    check_base_url,
    check_new_provider_name,
    edited_providers,
    key_status,
    key_statuses,
)

if TYPE_CHECKING:
    from tui.config.settings import McpServerSettings
    from tui.services.mcp_client import McpHub

__all__ = ["KeyStatus", "SettingsScreen", "apply_settings", "key_status", "key_statuses"]

HINT = "Ctrl+S saves · Esc cancels"


SECTIONS = ("providers", "defaults", "appearance", "mcp")
"""The settings' tabs, as ``tab`` names them."""


class SettingsScreen(ModalScreen[Settings | None]):
    """Edit providers, defaults and the theme; dismiss with the new ``Settings`` or ``None``."""

    CSS_PATH = ["fields.tcss", "settings.tcss"]
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="settings.cancel"),
        Binding("ctrl+s", "save", "Save", id="settings.save"),
    ]

    def __init__(
        self,
        settings: Settings,
        providers: Sequence[ProviderConfig],
        statuses: Mapping[str, KeyStatus] | None = None,
        *,
        focus_provider: str | None = None,
        themes: Sequence[str] | None = None,
        preview_theme: bool = True,
        env: Mapping[str, str] | None = None,
        tab: str = "providers",
        mcp: McpHub | None = None,
    ) -> None:
        """Args:
        settings: the current settings (left untouched).
        providers: every provider, e.g. ``ModelCatalog.providers()``. The offline demo can be
            the default but has nothing to edit; the one-off ``--base-url`` provider (neither
            built in nor in the settings) lives for one run only and is left out.
        statuses: each provider's ``KeyStatus``; computed from ``env`` when not given.
        focus_provider: open on this provider's key field (e.g. after a missing-key error).
        themes: theme names to offer; default: the app's registered themes.
        preview_theme: apply the chosen theme at once (undone on cancel).
        tab: the section to open on: ``providers``, ``defaults``, ``appearance`` or ``mcp``.
        mcp: the running MCP servers, for their live state; default: the app's services'
            (``app.handle``), if it has them open.
        """
        super().__init__()
        self.settings = settings
        if statuses is None:
            statuses = key_statuses(providers, settings, env)
        self.focus_provider = focus_provider
        self.tab = tab if tab in SECTIONS else "providers"
        self.themes = themes
        self.preview_theme = preview_theme
        self.mcp = mcp
        self.removed: set[str] = set()
        """Custom providers removed on the screen, dropped on Save."""
        kept = [
            config
            for config in providers
            if config.name in BUILTIN_PROVIDERS or config.name in settings.providers
        ]
        self.labels: dict[str, str] = {config.name: config.label for config in kept}
        """Providers a default can name, by name, in list order."""
        chosen = settings.defaults.provider
        if chosen and chosen not in self.labels:
            self.labels[chosen] = f"{chosen} (unknown)"  # kept as it is unless changed here
        self.forms: dict[str, ProviderForm] = {}
        self._form_ids = count()
        for config in kept:
            if config.name != DEMO_PROVIDER:
                status = statuses.get(config.name) or key_status(config, settings, env)
                self.add_form(config, status)
        self._original_theme: str | None = None

    def add_form(self, config: ProviderConfig, status: KeyStatus) -> ProviderForm:
        """Create (not mount) the form for one provider."""
        # Provider names may not be valid DOM ids (a TOML key can be anything).
        form_id = f"provider-{next(self._form_ids)}"
        form = ProviderForm(config, self.settings.provider(config.name), status, id=form_id)
        self.forms[config.name] = form
        return form

    def provider_form(self, name: str) -> ProviderForm:
        """The form of provider ``name`` (``KeyError`` if it has none)."""
        return self.forms[name]

    # ------------------------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        with Vertical(id="settings-dialog"):
            yield Static("Settings", id="settings-title")
            with TabbedContent(id="settings-tabs", initial=f"tab-{self.tab}"):
                with TabPane("Providers", id="tab-providers"):
                    with Horizontal(id="providers-body"):
                        entries = [
                            Option(form.list_prompt(), id=name) for name, form in self.forms.items()
                        ]
                        yield OptionList(*entries, id="provider-list")
                        # Forms mount when first shown: each is ~35 widgets, and opening fast
                        # matters more than browsing fast.
                        first = self.forms.get(self.focus_provider or "") or next(
                            iter(self.forms.values()), None
                        )
                        with ContentSwitcher(
                            id="provider-forms", initial=first.id if first else None
                        ):
                            if first is not None:
                                yield first
                    with Horizontal(id="add-provider"):
                        yield Label("Add a provider", classes="field-label")
                        yield Input(placeholder="name, e.g. mybox", id="new-provider-name")
                        yield Input(
                            placeholder="base URL, e.g. http://localhost:8000/v1",
                            id="new-provider-url",
                        )
                        yield Button("Add", id="add-provider-button", compact=True)
                    yield Static("", id="add-provider-error", classes="field-error")
                with TabPane("Defaults", id="tab-defaults"):
                    yield DefaultsForm(
                        self.settings.defaults,
                        self.labels,
                        self._known_models(),
                        id="defaults-form",
                    )
                with TabPane("MCP servers", id="tab-mcp"):
                    yield self._mcp_section()
                with TabPane("Appearance", id="tab-appearance"):
                    with VerticalScroll(id="appearance-form"):
                        names = self._theme_names()
                        # What is on screen now; it differs from the file only after a fallback.
                        current = self.app.theme if self.preview_theme else self.settings.ui.theme
                        yield FieldRow(
                            "Theme",
                            Select(
                                [(name, name) for name in names],
                                value=current if current in names else self.app.theme,
                                allow_blank=False,
                                id="theme-select",
                            ),
                            hint="Applied at once while you choose; Cancel puts the old one back.",
                        )
            with Horizontal(id="settings-actions"):
                yield Static(HINT, id="settings-message", markup=False)
                yield Button("Cancel", id="settings-cancel")
                yield Button("Save", variant="primary", id="settings-save")

    def _mcp_section(self) -> McpSection:
        """The MCP servers, with the hub given or else the one of the app's open services."""
        hub, source = self.mcp, self

        def running() -> Iterable[McpServerSettings]:
            """The servers the hub runs (to start a failed one afresh)."""
            return source.settings.mcp_servers.values()

        if hub is None:
            handle = getattr(self.app, "handle", None)
            services = getattr(handle, "current", None)
            if services is not None:
                hub, source = services.mcp, services
        return McpSection(self.settings.mcp_servers, hub, running=running, id="mcp-section")

    def _known_models(self) -> list[str]:
        ids = {model.id for models in BUILTIN_MODELS.values() for model in models}
        for section in self.settings.providers.values():
            ids.update(section.models)
        return sorted(ids)

    def _theme_names(self) -> list[str]:
        names = list(self.themes) if self.themes is not None else list(self.app.available_themes)
        if self.app.theme not in names:
            names.append(self.app.theme)
        return sorted(set(names))

    async def on_mount(self) -> None:
        self._original_theme = self.app.theme
        if self.focus_provider in self.forms:
            await self.show_provider(self.focus_provider)
            # After the first refresh: the tabs hide and show their panes while mounting,
            # which would take an earlier focus away again.
            self.call_after_refresh(self.forms[self.focus_provider].key_input.focus)
        elif self.tab == "mcp":  # opened on the servers: their keys work at once
            self.call_after_refresh(self.query_one("#mcp-list", OptionList).focus)

    # ---------------------------------------------------------------------------- providers

    async def show_provider(self, name: str, *, focus_key: bool = False) -> None:
        """Bring provider ``name``'s form into view (optionally focusing its key field)."""
        self.query_one("#settings-tabs", TabbedContent).active = "tab-providers"
        options = self.query_one("#provider-list", OptionList)
        options.highlighted = options.get_option_index(name)
        form = await self._show_form(name)
        if focus_key:
            form.key_input.focus()

    async def _show_form(self, name: str) -> ProviderForm:
        form = self.forms[name]
        switcher = self.query_one("#provider-forms", ContentSwitcher)
        if form.parent is None:
            await switcher.add_content(form, set_current=True)
        else:
            switcher.current = form.id
        return form

    @on(OptionList.OptionHighlighted, "#provider-list")
    async def _provider_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        # Events from an earlier highlight may arrive late; only the current one counts.
        if event.option_index == event.option_list.highlighted and event.option.id in self.forms:
            await self._show_form(event.option.id)

    @on(ProviderForm.StatusChanged)
    def _provider_status_changed(self, event: ProviderForm.StatusChanged) -> None:
        options = self.query_one("#provider-list", OptionList)
        options.replace_option_prompt(event.form.provider, event.form.list_prompt())

    @on(ProviderForm.RemoveRequested)
    async def _remove_provider(self, event: ProviderForm.RemoveRequested) -> None:
        name = event.form.provider
        options = self.query_one("#provider-list", OptionList)
        options.remove_option(name)
        del self.forms[name]
        self.labels.pop(name, None)
        self.removed.add(name)
        await event.form.remove()
        self._refresh_provider_choices()
        if self.forms:
            await self.show_provider(next(iter(self.forms)))
        options.focus()
        self._say(f"Removed {name}; press Save to keep the change.")

    @on(Button.Pressed, "#add-provider-button")
    @on(Input.Submitted, "#new-provider-name, #new-provider-url")
    async def _add_provider(self) -> None:
        name_input = self.query_one("#new-provider-name", Input)
        url_input = self.query_one("#new-provider-url", Input)
        error = self.query_one("#add-provider-error", Static)
        try:
            name = check_new_provider_name(name_input.value, self.labels)
            url = check_base_url(url_input.value, required=True)
            config = custom_provider(name, url or "")
        except ValueError as exc:
            error.update(str(exc))
            error.add_class("-shown")
            return
        error.update("")
        error.remove_class("-shown")
        form = self.add_form(config, KeyStatus(name, None, None, required=False))
        self.labels[name] = config.label
        self.query_one("#provider-list", OptionList).add_option(Option(form.list_prompt(), id=name))
        self._refresh_provider_choices()
        name_input.value = ""
        url_input.value = ""
        await self.show_provider(name, focus_key=True)
        self._say(f"Added {name}; press Save to keep it.")

    def _refresh_provider_choices(self) -> None:
        self.query_one(DefaultsForm).set_providers(self.labels)

    @on(McpSection.Say)
    def _mcp_says(self, event: McpSection.Say) -> None:
        self._say(event.text, error=event.error)

    # ------------------------------------------------------------------------------ theme

    @on(Select.Changed, "#theme-select")
    def _preview_theme(self, event: Select.Changed) -> None:
        if self.preview_theme and isinstance(event.value, str) and event.value != self.app.theme:
            self.app.theme = event.value

    # ----------------------------------------------------------------------- save / cancel

    def _say(self, message: str, *, error: bool = False) -> None:
        notice = self.query_one("#settings-message", Static)
        notice.update(message)
        notice.set_class(error, "-error")

    @on(Input.Changed)
    def _clear_fixed_error(self) -> None:
        notice = self.query_one("#settings-message", Static)
        if notice.has_class("-error") and not any(row.error for row in self.query(FieldRow)):
            self._say(HINT)

    async def collect(self) -> Settings | None:
        """The edited ``Settings``, or ``None`` after showing what is invalid."""
        invalid: list[FieldRow] = []
        for form in self.forms.values():
            invalid.extend(form.run_checks())
        invalid.extend(self.query_one(DefaultsForm).run_checks())
        if invalid:
            await self._reveal(invalid[0])
            fields = "1 field needs" if len(invalid) == 1 else f"{len(invalid)} fields need"
            self._say(f"{fields} fixing: {invalid[0].error}", error=True)
            return None
        if self.query_one(McpSection).pending_add:
            self.query_one("#settings-tabs", TabbedContent).active = "tab-mcp"
            self.query_one("#add-mcp-button", Button).focus()
            self._say("Press Add to add the new MCP server, or clear its fields.", error=True)
            return None
        pending = self.query("#add-provider Input").results(Input)
        if any(field.value.strip() for field in pending):
            self.query_one("#settings-tabs", TabbedContent).active = "tab-providers"
            self.query_one("#add-provider-button", Button).focus()
            self._say("Press Add to add the new provider, or clear its fields.", error=True)
            return None
        return self._build()

    async def _reveal(self, row: FieldRow) -> None:
        form = next((form for form in self.forms.values() if row in form.rows), None)
        if form is not None:
            await self.show_provider(form.provider)
        else:
            self.query_one("#settings-tabs", TabbedContent).active = "tab-defaults"
        row.control.focus()

    def _build(self) -> Settings:
        settings = self.settings
        theme = self.query_one("#theme-select", Select).value
        providers = edited_providers(
            settings.providers, [form.edit() for form in self.forms.values()], self.removed
        )
        return replace(
            settings,
            defaults=self.query_one(DefaultsForm).defaults(),
            ui=replace(settings.ui, theme=theme if isinstance(theme, str) else settings.ui.theme),
            providers=providers,
            mcp_servers=dict(self.query_one(McpSection).servers),
        )

    @on(Button.Pressed, "#settings-save")
    async def action_save(self) -> None:
        """Check every field; dismiss with the new settings, or show what to fix."""
        result = await self.collect()
        if result is not None:
            self.dismiss(result)

    @on(Button.Pressed, "#settings-cancel")
    def action_cancel(self) -> None:
        """Dismiss with ``None``, putting back the theme that was there before."""
        if self._original_theme and self.app.theme != self._original_theme:
            self.app.theme = self._original_theme
        self.dismiss(None)
