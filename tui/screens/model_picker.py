"""The model picker: every provider's models with capability badges, a fuzzy filter, and keys
to refresh a provider's live list, switch the API and make the choice the default.

It only shows what ``ModelService`` gives it and returns what was chosen; the caller applies it
to the conversation (or to the next new chat). Model ids from a live ``/models`` list come from
the server and are made inert before they are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.domain import ApiMode, ChatSettings
from tui.services.history import inert
from tui.services.models import (
    ModelChoice,
    ModelService,
    ProviderGroup,
    api_modes_for,
    badges,
    describe_model,
    filter_choices,
)
from tui.widgets.footer import KeysFooter

ID_WIDTH = 34
"""Columns for the model id before the badges (longer ids are cut with an ellipsis)."""
PROVIDER_ROW = "p\x1f"
"""Option-id prefix of a provider's "no models listed" row (Enter asks the server)."""
MAX_MATCHES = 60
"""Filtered rows shown at most (best first); a row says how many more matched."""
API_NAMES = {ApiMode.AUTO: "auto", ApiMode.CHAT: "Chat Completions", ApiMode.RESPONSES: "Responses"}


@dataclass(frozen=True, slots=True)
class PickedModel:
    """The model chosen, with the API mode; ``make_default``: for new chats too."""

    provider: str
    model: str
    api_mode: ApiMode
    make_default: bool = False


@dataclass(frozen=True, slots=True)
class NeedsKey:
    """A model whose provider has no key was chosen: open that provider's settings."""

    provider: str


PickerResult = PickedModel | NeedsKey | None


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class ModelPicker(ModalScreen[PickerResult]):
    """Choose a provider's model for one conversation (or the next new chat)."""

    CSS_PATH = "model_picker.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("enter", "choose", "Use", key_display="⏎", priority=True, id="picker.choose"),
        Binding("ctrl+d", "choose(True)", "Default", priority=True, id="picker.default"),
        Binding("ctrl+r", "refresh", "Refresh list", priority=True, id="picker.refresh"),
        Binding("ctrl+a", "cycle_api", "API", priority=True, id="picker.api"),
        Binding("up", "move(-1)", "Up", show=False, priority=True),
        Binding("down", "move(1)", "Down", show=False, priority=True),
        Binding("pageup", "page(-1)", "Page up", show=False, priority=True),
        Binding("pagedown", "page(1)", "Page down", show=False, priority=True),
    ]

    def __init__(self, service: ModelService, current: ChatSettings, *, target: str) -> None:
        """``current``: the settings the choice replaces; ``target``: what it is for, e.g. a
        conversation's title or "the next new chat"."""
        super().__init__()
        self.service = service
        self.current = current
        self.target = target
        self.api_mode = current.api_mode
        self.groups: list[ProviderGroup] = []
        self.recent: list[ModelChoice] = []
        self.listing: list[ModelChoice] = []
        """Every choice once, in listing order (recent first): what the filter searches."""
        self._rows: dict[str, ModelChoice] = {}
        self._prompts: dict[tuple[str, bool], Content] = {}
        self._current_key = ""
        self._message = ""
        self._id_width = ID_WIDTH
        self._loaded = False
        self.shown_query: str | None = None
        """The filter text the rows were last built for."""

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-dialog"):
            yield Static(id="picker-title", markup=False)
            yield Input(
                placeholder="Filter models (fuzzy): type a name, provider or id", id="picker-filter"
            )
            yield OptionList(id="picker-list")
            yield Static(id="picker-detail", markup=False)
        yield KeysFooter(roomy=100, width=self.app.size.width)

    def on_mount(self) -> None:
        self._show_title()
        self.query_one(Input).focus()  # at once: what is typed while the lists load is kept
        self._fill()

    @work(group="picker-load", exit_on_error=False)
    async def _fill(self) -> None:
        """Show the rows, for whatever has been typed meanwhile: at once from what an earlier
        opening read, then again if the recently used models have changed since."""
        if self.service.loaded:
            self._fill_rows()
        shown = [choice.key for choice in self.recent]
        await self.service.load()
        if not self._loaded or [choice.key for choice in self.service.recent(self.groups)] != shown:
            self._fill_rows()

    def _fill_rows(self) -> None:
        self._load_groups()
        found = self.service.find(self.current.provider or "", self.current.model or "")
        self._current_key = found.key if found is not None else ""
        keep = self._highlighted_key() if self._loaded else self._current_key
        self._loaded = True
        self._show(self.query_one(Input).value, keep=keep)
        # Once the detail line below has taken its height, the list is shorter: scroll again.
        self.call_after_refresh(self.query_one(OptionList).scroll_to_highlight)

    def _load_groups(self) -> None:
        self.groups = self.service.groups()
        self.recent = self.service.recent(self.groups)
        seen = {choice.key for choice in self.recent}
        self.listing = list(self.recent) + [
            choice for group in self.groups for choice in group.choices if choice.key not in seen
        ]
        longest = max((len(choice.model.id) for choice in self.listing), default=10)
        width = min(ID_WIDTH, longest + 2)
        if width != self._id_width:
            self._id_width = width
            self._prompts.clear()

    # ------------------------------------------------------------------ rows

    def _prompt(self, choice: ModelChoice, with_provider: bool) -> Content:
        cache_key = (choice.key, with_provider)
        prompt = self._prompts.get(cache_key)
        if prompt is not None:
            return prompt
        model = choice.model
        mark = "● " if choice.key == self._current_key else "  "
        width = self._id_width
        name = _cut(inert(model.id), width).ljust(width)
        parts: list[tuple[str, str] | str] = [(mark, "bold $accent"), (name, "bold")]
        if with_provider:
            parts.append((" " + _cut(inert(choice.provider_label), 14).ljust(14), "$text-muted"))
        if not choice.has_key:
            parts.append(("  needs a key", "$warning"))
        parts.append(("  " + " · ".join(badges(model)), "$text-muted"))
        prompt = Content.assemble(*parts)
        if not choice.has_key:
            prompt = prompt.stylize("dim")
        self._prompts[cache_key] = prompt
        return prompt

    def _heading(self, group: ProviderGroup) -> Content:
        notes: list[str] = []
        if group.local:
            notes.append("local")
        if not group.has_key:
            notes.append("needs a key: Enter on a model opens its settings")
        suffix = f"  {' · '.join(notes)}" if notes else ""
        return Content.assemble((inert(group.label), "bold underline"), (suffix, "$text-muted"))

    def _options(self, query: str) -> list[Option]:
        options: list[Option] = []
        self._rows.clear()

        def row(choice: ModelChoice, with_provider: bool, prefix: str) -> Option:
            option_id = prefix + choice.key
            self._rows[option_id] = choice
            return Option(self._prompt(choice, with_provider), id=option_id)

        if query.strip():
            matches = filter_choices(self.listing, query)
            options.extend(row(choice, True, "m") for choice in matches[:MAX_MATCHES])
            if len(matches) > MAX_MATCHES:
                more = f"  {len(matches) - MAX_MATCHES} more match: keep typing to narrow"
                options.append(Option(Content.styled(more, "$text-muted italic"), disabled=True))
            return options
        if self.recent:
            options.append(Option(Content.styled("Recently used", "bold underline"), disabled=True))
            options.extend(row(choice, True, "r") for choice in self.recent)
        for group in self.groups:
            options.append(Option(self._heading(group), disabled=True))
            if not group.choices:
                hint = "  no models listed yet: Enter or Ctrl+R asks the server for its list"
                options.append(
                    Option(
                        Content.styled(hint, "$text-muted italic"), id=PROVIDER_ROW + group.provider
                    )
                )
            options.extend(row(choice, False, "m") for choice in group.choices)
        return options

    def _show(self, query: str, *, keep: str | None = None) -> None:
        """Fill the list for ``query`` and highlight ``keep`` (a choice key) when shown."""
        listing = self.query_one(OptionList)
        wanted = keep if keep is not None else self._highlighted_key()
        listing.set_options(self._options(query))
        self.shown_query = query
        index = None
        if wanted and not query.strip():  # filtering highlights the best match instead
            for option_id in (f"m{wanted}", f"r{wanted}"):
                if option_id in self._rows:
                    index = listing.get_option_index(option_id)
                    break
        if index is None:
            index = next(
                (i for i, option in enumerate(listing.options) if not option.disabled), None
            )
        listing.highlighted = index
        if index is not None:
            listing.scroll_to_highlight()
        self._show_detail()

    def _highlighted_key(self) -> str | None:
        choice = self.highlighted
        return choice.key if choice is not None else None

    @property
    def highlighted(self) -> ModelChoice | None:
        """The highlighted model, if a model row is highlighted."""
        option = self.query_one(OptionList).highlighted_option
        if option is None or option.id is None:
            return None
        return self._rows.get(option.id)

    def _highlighted_provider(self) -> str | None:
        option = self.query_one(OptionList).highlighted_option
        if option is None or option.id is None:
            return None
        if option.id.startswith(PROVIDER_ROW):
            return option.id[len(PROVIDER_ROW) :]
        choice = self._rows.get(option.id)
        return choice.provider if choice is not None else None

    # ------------------------------------------------------------------ the lines around it

    def _show_title(self) -> None:
        title = Content.assemble(
            ("Switch model", "bold $primary"),
            (f" for {_cut(inert(self.target), 50)}", "$text-muted"),
            ("   API: ", "$text-muted"),
            (API_NAMES[self.api_mode], "bold"),
            (" (Ctrl+A)", "$text-muted"),
        )
        self.query_one("#picker-title", Static).update(title)

    def _show_detail(self) -> None:
        detail = self.query_one("#picker-detail", Static)
        choice = self.highlighted
        lines: list[str] = []
        if self._message:
            lines.append(self._message)
        if choice is not None:
            model = choice.model
            label = f"{inert(model.label)} — " if model.label and model.label != model.id else ""
            lines.append(f"{label}{describe_model(model)}")
            if self.api_mode not in api_modes_for(model):
                served = "Responses" if self.api_mode is ApiMode.CHAT else "Chat Completions"
                lines.append(
                    f"{API_NAMES[self.api_mode]} does not serve this model: {served} will be used."
                )
            if not choice.has_key:
                lines.append(
                    f"{inert(choice.provider_label)} has no key yet: Enter opens its settings."
                )
        elif self._highlighted_provider() is not None:
            lines.append("Enter or Ctrl+R asks the server for the models it serves.")
        detail.update(Content("\n".join(lines)))

    # ------------------------------------------------------------------ events and keys

    def on_key(self, event: events.Key) -> None:
        """A key that reached the screen before its filter had the focus (typed right after
        the key that opened the picker) is typed into the filter."""
        field = self.query_one(Input)
        if not field.has_focus and event.is_printable and event.character:
            event.stop()
            field.focus()
            field.insert_text_at_cursor(event.character)

    @on(Input.Changed, "#picker-filter")
    def _filter(self, event: Input.Changed) -> None:
        if self._loaded:
            self._show(event.value)

    @on(OptionList.OptionHighlighted)
    def _highlighted_changed(self) -> None:
        self._show_detail()

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        self.action_choose()

    def action_move(self, step: int) -> None:
        listing = self.query_one(OptionList)
        if step < 0:
            listing.action_cursor_up()
        else:
            listing.action_cursor_down()

    def action_page(self, step: int) -> None:
        listing = self.query_one(OptionList)
        if step < 0:
            listing.action_page_up()  # type: ignore[no-untyped-call]
        else:
            listing.action_page_down()  # type: ignore[no-untyped-call]

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_cycle_api(self) -> None:
        modes = list(ApiMode)
        self.api_mode = modes[(modes.index(self.api_mode) + 1) % len(modes)]
        self._show_title()
        self._show_detail()

    def action_choose(self, make_default: bool = False) -> None:
        choice = self.highlighted
        if choice is None:
            if self._highlighted_provider() is not None:
                self.action_refresh()
            return
        if not choice.has_key:
            self.dismiss(NeedsKey(choice.provider))
            return
        api_mode = self.api_mode
        if api_mode not in api_modes_for(choice.model):
            api_mode = ApiMode.AUTO  # the model cannot take the chosen API: let the route pick
        self.dismiss(PickedModel(choice.provider, choice.model.id, api_mode, make_default))

    def action_refresh(self) -> None:
        provider = self._highlighted_provider()
        if provider is None:
            self.notify("Highlight a provider's model (or its row) to refresh its list.")
            return
        self._refresh(provider)

    @work(group="picker-refresh", exclusive=True, exit_on_error=False)
    async def _refresh(self, provider: str) -> None:
        self._message = "Asking the server for its models…"
        self._show_detail()
        keep = self._highlighted_key()
        outcome = await self.service.refresh(provider)
        self._message = inert(outcome.describe())
        self._load_groups()
        self._show(self.query_one(Input).value, keep=keep)
        if keep is None and outcome.error is None:  # on the provider row: go to its first model
            group = next((g for g in self.groups if g.provider == provider), None)
            if group is not None and group.choices:
                self._show(self.query_one(Input).value, keep=group.choices[0].key)
