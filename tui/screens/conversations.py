"""The conversations screen: browse, search and manage every saved conversation.

It is what the app opens on when the history has conversations, and Ctrl+O brings it back from
anywhere. Rows come page by page from ``HistoryService`` (summary columns only); typing in the
search field searches titles and message text as you type. Every I/O call runs in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Input, OptionList, ProgressBar, Static
from textual.worker import Worker

from tui.domain import Conversation
from tui.safe_text import inert
from tui.screens.worker_notices import notify_store_failure
from tui.widgets.conversation_list import ConversationList
from tui.widgets.footer import KeysFooter
from tui.widgets.path_input import PathInput

if TYPE_CHECKING:
    from tui.services.handle import ServiceHandle
    from tui.services.history import HistoryService

UNDO_SECONDS = 6.0
"""How long a delete can be undone before it is carried out."""
POLL_SECONDS = 1.0
"""How often the list asks the database whether anything changed (another copy, a title)."""
LOAD_AHEAD = 40
"""Rows left below the highlight when the next page is fetched."""
ROOMY_FOOTER_WIDTH = 160
"""The list has many keys: packed up to this width so that they fit."""

SPARE_KEYS = ("v", "space", "i", "e", "f", "p", "a", "slash", "r", "d")
"""The list's keys a narrow footer may leave out, first out first (``?`` lists them all)."""


def now() -> datetime:
    """The time rows are dated against (a function, so snapshots can pin it)."""
    return datetime.now().astimezone()


class ConversationsScreen(Screen[None]):
    """Saved conversations: open, search, rename, pin, archive, delete, fork, export, import."""

    @dataclass
    class OpenRequested(Message):
        """Open this conversation (scrolled to ``message_id``, a search hit, when given)."""

        conversation_id: int
        message_id: int | None = None

    class BackRequested(Message):
        """Esc on the list: back to the conversation underneath."""

    CSS_PATH = "conversations.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="conversations.back"),
        Binding("up", "move(-1)", "Up", show=False),
        Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
    ]

    def __init__(self, handle: ServiceHandle) -> None:
        super().__init__()
        self.handle = handle
        self.archive_view = False
        """True: the archive (restore with ``a``); False: the list."""
        self.came_from: int | None = None
        """The conversation shown before the list was opened: highlighted when it loads."""
        self.auto_opened = False
        """Opened at launch: an empty history goes straight to a new chat."""
        self._total = 0
        self._loaded = 0
        self._loading_more = False
        self._token: int | None = None
        self._pending_delete: list[int] = []
        self._undo_timer: object | None = None
        self._path_action: str | None = None
        self._renaming: int | None = None

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header(icon="◆")
        yield Input(
            placeholder="Search titles and messages (Enter opens, ↑↓ move, Esc clears)",
            id="search",
        )
        yield Static("", id="list-info", markup=False)
        yield Input(id="rename")
        yield Static("", id="list-empty", markup=False)
        yield ConversationList(id="conversations")
        yield PathInput(id="list-path")
        yield ProgressBar(id="import-progress", show_eta=False)
        yield KeysFooter(roomy=ROOMY_FOOTER_WIDTH, width=self.app.size.width, spare=SPARE_KEYS)

    def on_mount(self) -> None:
        self.title, self.sub_title = "tui-chat", "Conversations"
        self.query_one("#rename").display = False
        self.query_one("#list-path").display = False
        self.query_one("#list-empty").display = False
        self.query_one("#import-progress").display = False
        self.set_interval(POLL_SECONDS, self._poll, name="conversations-poll")

    @property
    def listing(self) -> ConversationList:
        return self.query_one(ConversationList)

    @property
    def search(self) -> Input:
        return self.query_one("#search", Input)

    def prepare(self, came_from: int | None, *, focus_search: bool) -> None:
        """Called before each showing: Ctrl+O focuses an empty search on where you came from."""
        self.came_from = came_from
        if self.is_mounted:
            self.search.value = ""
            self._close_prompts()
            (self.search if focus_search else self.listing).focus()
        self._focus_search = focus_search

    def on_screen_resume(self) -> None:
        (self.search if getattr(self, "_focus_search", False) else self.listing).focus()
        self.reload(keep=self.came_from)

    # ------------------------------------------------------------------ loading

    async def _history(self) -> HistoryService:
        services = await self.handle.get()
        return services.history

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        notify_store_failure(self, event)

    @work(group="list", exclusive=True, exit_on_error=False)
    async def reload(self, keep: int | None = None) -> None:
        """Show the list (or the search results for the text in the search field)."""
        history = await self._history()
        self._token = await history.change_token()
        query = self.search.value.strip()
        moment = now()
        listing = self.listing
        if query:
            hits = await history.search(query)
            if self.archive_view:
                hits = [hit for hit in hits if hit.conversation.archived]
            listing.show_hits(hits, moment)
            listing.highlight_conversation(keep)
            self._total = self._loaded = len(hits)
            count = len(hits)
            self._info(f"{count} match{'es' if count != 1 else ''} for “{inert(query)}”")
        else:
            page = await history.page(archived=self.archive_view)
            if keep is None and listing.current is not None:
                keep = listing.current.id
            listing.show_conversations(page.conversations, moment, keep=keep)
            self._total, self._loaded = page.total, len(page.conversations)
            where = "Archive" if self.archive_view else "Conversations"
            self._info(f"{where} · {page.total}")
            if (
                self.auto_opened
                and not self.archive_view
                and page.total == 0
                and self.app.screen is self
            ):
                self.auto_opened = False
                self.app.pop_screen()  # an empty history goes straight to a new chat
                return
        self.auto_opened = False
        self._show_empty(query)

    def _info(self, text: str) -> None:
        self.query_one("#list-info", Static).update(text)

    def _show_empty(self, query: str) -> None:
        empty = self.query_one("#list-empty", Static)
        nothing = not self.listing.rows
        empty.display = nothing  # the list stays, empty and focused, so its keys still work
        if not nothing:
            return
        if query:
            empty.update(f"Nothing matches “{inert(query)}”. Esc clears the search.")
        elif self.archive_view:
            empty.update("The archive is empty. v goes back to the conversations.")
        else:
            empty.update(
                "No saved conversations yet.\n\nCtrl+N starts a new chat; i imports a file "
                "(a tui-chat export or ChatGPT's conversations.json)."
            )

    @work(group="list-more", exclusive=True, exit_on_error=False)
    async def load_more(self) -> None:
        if self._loading_more or self._loaded >= self._total or self.search.value.strip():
            return
        self._loading_more = True
        try:
            history = await self._history()
            page = await history.page(archived=self.archive_view, offset=self._loaded)
            self._loaded += len(page.conversations)
            self.listing.append_conversations(page.conversations)
        finally:
            self._loading_more = False

    async def _poll(self) -> None:
        """Another copy of the app, or a title landing, changed the database: show it."""
        services = self.handle.current
        if services is None or self.app.screen is not self or self._token is None:
            return
        if self._renaming is not None:
            return
        try:
            token = await services.history.change_token()
        except Exception:  # the database went away; the next action says so
            return
        if token != self._token:
            self.reload()

    @on(OptionList.OptionHighlighted, "#conversations")
    def _highlighted(self) -> None:
        if self.listing.remaining_below() < LOAD_AHEAD:
            self.load_more()

    @on(Input.Changed, "#search")
    def _search_changed(self) -> None:
        self.reload()

    # ------------------------------------------------------------------ moving and opening

    def action_move(self, step: int) -> None:
        listing = self.listing
        if step < 0:
            listing.action_cursor_up()
        else:
            listing.action_cursor_down()

    def action_page(self, step: int) -> None:
        if step < 0:
            self.listing.action_page_up()  # type: ignore[no-untyped-call]
        else:
            self.listing.action_page_down()  # type: ignore[no-untyped-call]

    def action_focus_search(self) -> None:
        self.search.focus()

    @on(Input.Submitted, "#search")
    def _open_from_search(self) -> None:
        self.open_highlighted()

    @on(OptionList.OptionSelected, "#conversations")
    def _open_from_list(self) -> None:
        self.open_highlighted()

    def open_highlighted(self) -> None:
        listing = self.listing
        conversation = listing.current
        if conversation is None:
            return
        hit = listing.current_hit
        message_id = hit.message_id if hit is not None else None
        self.post_message(self.OpenRequested(conversation.id, message_id))

    def action_back(self) -> None:
        """Esc: clear the search, close a prompt, or go back to the conversation."""
        if self.query_one("#rename").display or self.query_one("#list-path").display:
            self._close_prompts()
            return
        if self.search.value:
            self.search.value = ""
            return
        if self.archive_view:
            self.action_toggle_archive()
            return
        self.post_message(self.BackRequested())

    def action_toggle_archive(self) -> None:
        self.archive_view = not self.archive_view
        self.sub_title = "Archive" if self.archive_view else "Conversations"
        self.listing.selected.clear()
        self.refresh_bindings()
        self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "undo":
            return bool(self._pending_delete)
        return True

    # ------------------------------------------------------------------ managing

    def _targets(self) -> list[Conversation]:
        return self.listing.selection_or_current()

    def action_toggle_select(self) -> None:
        listing = self.listing
        conversation = listing.current
        if conversation is None:
            return
        if conversation.id in listing.selected:
            listing.selected.discard(conversation.id)
        else:
            listing.selected.add(conversation.id)
        listing.refresh_row(conversation)
        listing.action_cursor_down()

    def action_rename(self) -> None:
        listing = self.listing
        conversation = listing.current
        if conversation is None:
            return
        self._renaming = conversation.id
        field = self.query_one("#rename", Input)
        field.value = inert(conversation.title)
        field.border_title = "Rename: Enter saves, Esc cancels"
        field.display = True
        self.query_one("#list-info").display = False
        field.focus()

    @on(Input.Submitted, "#rename")
    def _rename_submitted(self, event: Input.Submitted) -> None:
        ident = self._renaming
        title = event.value.strip()
        self._close_prompts()
        if ident is None or not title:
            return
        self._rename(ident, title)

    @work(group="manage", exit_on_error=False)
    async def _rename(self, conversation_id: int, title: str) -> None:
        history = await self._history()
        try:
            await history.rename(conversation_id, title)
        except (LookupError, ValueError) as exc:
            self.notify(str(exc), title="Not renamed", severity="error")
            return
        self.reload(keep=conversation_id)

    def action_pin(self) -> None:
        targets = self._targets()
        if targets:
            pin = not all(conversation.pinned for conversation in targets)
            self._apply("pin", [c.id for c in targets], pin)

    def action_archive(self) -> None:
        targets = self._targets()
        if targets:
            self._apply("archive", [c.id for c in targets], not self.archive_view)

    @work(group="manage", exit_on_error=False)
    async def _apply(self, verb: str, ids: list[int], on: bool) -> None:
        history = await self._history()
        for ident in ids:
            if verb == "pin":
                await history.set_pinned(ident, on)
            else:
                await history.set_archived(ident, on)
        self.listing.selected.clear()
        count = f"{len(ids)} conversations" if len(ids) > 1 else "Conversation"
        if verb == "pin":
            self.notify(f"{count} {'pinned' if on else 'unpinned'}.", timeout=3)
        else:
            self.notify(
                f"{count} {'archived (v shows the archive)' if on else 'restored'}.", timeout=4
            )
        self.reload(keep=ids[0] if verb == "pin" else None)

    def action_delete(self) -> None:
        targets = self._targets()
        if not targets:
            return
        services = self.handle.current
        if services is None:
            return
        self._flush_delete()  # one undo at a time: an earlier delete is carried out now
        ids = [c.id for c in targets]
        services.history.hide(ids)
        self._pending_delete = ids
        self.listing.selected.clear()
        what = f"“{targets[0].title}”" if len(ids) == 1 else f"{len(ids)} conversations"
        self.notify(f"Deleted {what}. u undoes it.", timeout=UNDO_SECONDS)
        self._undo_timer = self.set_timer(UNDO_SECONDS, self._flush_delete)
        self.refresh_bindings()
        self.reload()

    def action_undo(self) -> None:
        services = self.handle.current
        if not self._pending_delete or services is None:
            return
        ids, self._pending_delete = self._pending_delete, []
        services.history.unhide(ids)
        self.notify("Delete undone.", timeout=3)
        self.refresh_bindings()
        self.reload(keep=ids[0])

    def _flush_delete(self) -> None:
        if not self._pending_delete:
            return
        ids, self._pending_delete = self._pending_delete, []
        self.refresh_bindings()
        self._purge(ids)

    @work(group="purge", exit_on_error=False)
    async def _purge(self, ids: list[int]) -> None:
        history = await self._history()
        await history.purge(ids)

    def action_fork(self) -> None:
        conversation = self.listing.current
        if conversation is not None:
            self._fork(conversation.id)

    @work(group="manage", exit_on_error=False)
    async def _fork(self, conversation_id: int) -> None:
        history = await self._history()
        copy = await history.fork(conversation_id)
        self.notify(f"Forked as “{copy.title}”.", timeout=4)
        self.reload(keep=copy.id)

    def action_export(self) -> None:
        conversation = self.listing.current
        if conversation is None:
            return
        from tui.services.history import export_name

        self._open_path("export", str(Path.cwd() / export_name(conversation, "md")))

    def action_import(self) -> None:
        self._open_path("import", "")

    def _open_path(self, action: str, value: str) -> None:
        field = self.query_one("#list-path", PathInput)
        self._path_action = action
        field.placeholder = (
            "Export to (.md or .json): Tab completes, Enter writes, Esc closes"
            if action == "export"
            else "Import from (a tui-chat export or ChatGPT's conversations.json): Tab completes"
        )
        field.value = value
        field.display = True
        field.cursor_position = len(value)
        field.focus()

    @on(Input.Submitted, "#list-path")
    def _path_submitted(self, event: Input.Submitted) -> None:
        action, path = self._path_action, event.value.strip()
        conversation = self.listing.current
        self._close_prompts()
        if not path:
            return
        if action == "export" and conversation is not None:
            self._export(conversation.id, Path(path))
        elif action == "import":
            self._import(Path(path).expanduser())

    @work(group="manage", exit_on_error=False)
    async def _export(self, conversation_id: int, path: Path) -> None:
        history = await self._history()
        try:
            written = await history.export(conversation_id, path)
        except FileExistsError:
            self.notify(f"{path} exists already; choose another name.", severity="error")
            return
        except (OSError, LookupError) as exc:
            self.notify(f"Could not export: {exc}", title="Not exported", severity="error")
            return
        self.notify(f"Exported to {written}.", timeout=5)

    @work(group="import", exclusive=True, exit_on_error=False)
    async def _import(self, path: Path) -> None:

        history = await self._history()
        bar = self.query_one("#import-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True

        def progress(done: int, read: float) -> None:
            bar.update(total=1000, progress=round(read * 1000))

        try:
            count = await history.import_file(path, progress)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.notify(inert(f"{path.name}: {reason}"), title="Nothing imported", severity="error")
            return
        except Exception as exc:  # the database refused it: nothing was written
            self.notify(inert(str(exc)), title="Nothing imported", severity="error")
            return
        finally:
            bar.display = False
        self.notify(f"Imported {count} conversation{'s' if count != 1 else ''}.", timeout=5)
        self.reload()

    def _close_prompts(self) -> None:
        for ident in ("#rename", "#list-path"):
            widget = self.query_one(ident)
            if widget.display:
                widget.display = False
                self.listing.focus()
        self.query_one("#list-info").display = True
        self._renaming = None

    def on_unmount(self) -> None:
        self._flush_delete()
