"""The MCP servers of the settings screen: each server, how it is reached and its live state.

Edits (enable or disable, clear the always-allowed tools, remove, add) are pending, like the
rest of the screen: they are written when the screen is saved. Starting a server acts at once,
on the running hub, and so only for a server whose settings are saved as they stand.

The hub has no public way to add a listener after it is built, so the live state is read from
``McpHub.states()`` twice a second while the section is on screen.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from tui.config.settings import MCP_NAME, McpServerSettings, parse_mcp_server
from tui.safe_text import inert
from tui.services.mcp_config import describe

if TYPE_CHECKING:
    from textual.timer import Timer

    from tui.services.mcp_client import McpHub, ServerState

KEYS_HINT = "e enable/disable · s start · c clear allowed · Del remove"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def parse_new_server(name: str, where: str, taken: Iterable[str]) -> McpServerSettings:
    """A server from the add form: a name and a command line (split as a shell would) or a URL.

    Checked as the settings file is checked; ``ValueError`` with the sentence to show.
    """
    name = name.strip()
    where = where.strip()
    if not name:
        raise ValueError("Give the new server a name, e.g. files.")
    if not MCP_NAME.match(name):
        raise ValueError("A server's name is letters, digits, - and _ (at most 32 characters).")
    if name in set(taken):
        raise ValueError(f"There is already a server called {name}.")
    if not where:
        raise ValueError("Give a command to run (e.g. npx -y some-server) or an http(s) URL.")
    section: dict[str, object]
    if _URL.match(where):
        section = {"url": where}
    else:
        try:
            words = shlex.split(where)
        except ValueError as exc:
            raise ValueError(f"The command line cannot be read: {exc}.") from None
        if not words:
            raise ValueError("Give a command to run (e.g. npx -y some-server) or an http(s) URL.")
        section = {"command": words[0], "args": words[1:]}
    problems: list[str] = []
    server = parse_mcp_server(name, section, problems)
    if server is None or problems:
        raise ValueError(problems[0] if problems else "This server cannot be used.")
    return server


class McpSection(Vertical):
    """The MCP servers: a list, the highlighted server's details and actions, an add form."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "toggle_enabled", "Enable/disable", show=False),
        Binding("s", "start", "Start now", show=False),
        Binding("c", "clear_allowed", "Clear allowed tools", show=False),
        Binding("delete,x", "remove", "Remove", show=False),
    ]

    class Say(Message):
        """A line for the screen's message area."""

        def __init__(self, text: str, *, error: bool = False) -> None:
            super().__init__()
            self.text = text
            self.error = error

    def __init__(
        self,
        servers: Mapping[str, McpServerSettings],
        hub: McpHub | None = None,
        *,
        running: Callable[[], Iterable[McpServerSettings]] | None = None,
        id: str | None = None,  # noqa: A002 - Textual's own keyword
    ) -> None:
        """``servers``: as saved; ``hub``: the running servers (None: states are not known);
        ``running``: the servers the hub is configured with (to start a failed one afresh)."""
        super().__init__(id=id)
        self.saved: dict[str, McpServerSettings] = dict(servers)
        self.servers: dict[str, McpServerSettings] = dict(servers)
        """The servers as edited here, in order; what Save writes."""
        self.hub = hub
        self._hub_servers = running
        self.results: dict[str, str] = {}
        """What the last start from here found, by server."""
        self._starting: set[str] = set()
        self._shown: dict[str, Content] = {}
        self._timer: Timer | None = None
        self._texts: dict[str, Content] = {}
        """What each detail line shows, so that a tick that changes nothing costs nothing."""

    # ---------------------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="mcp-body"):
            yield OptionList(
                *[Option(self._prompt(name), id=name) for name in self.servers], id="mcp-list"
            )
            with VerticalScroll(id="mcp-detail"):
                yield Static("", id="mcp-name")
                yield Static("", id="mcp-where")
                yield Static("", id="mcp-state")
                yield Static("", id="mcp-allowed")
                yield Static("", id="mcp-result")
                with Horizontal(id="mcp-actions"):
                    yield Button("Disable", id="mcp-toggle", compact=True)
                    yield Button("Start", id="mcp-start", compact=True)
                    yield Button("Clear allowed", id="mcp-clear", compact=True)
                    yield Button("Remove", id="mcp-remove", variant="error", compact=True)
                yield Static(KEYS_HINT, id="mcp-keys", markup=False)
        with Horizontal(id="add-mcp"):
            yield Label("Add a server", classes="field-label")
            yield Input(placeholder="name", id="new-mcp-name")
            yield Input(placeholder="command or URL", id="new-mcp-where")
            yield Button("Add", id="add-mcp-button", compact=True)
        yield Static("", id="add-mcp-error", classes="field-error")

    def on_mount(self) -> None:
        self._timer = self.set_interval(0.5, self._tick, name="mcp-states")
        options = self.query_one("#mcp-list", OptionList)
        if self.servers:
            options.highlighted = 0
        self._show_detail()

    def on_show(self) -> None:
        self.refresh_states()

    def _tick(self) -> None:
        if self.screen.is_current and self.region.width:
            self.refresh_states()

    # ----------------------------------------------------------------------------- state

    @property
    def current(self) -> str | None:
        """The highlighted server's name."""
        option = self.query_one("#mcp-list", OptionList).highlighted_option
        return option.id if option is not None and option.id in self.servers else None

    def live_state(self, name: str) -> ServerState | None:
        """The hub's state of ``name``, if the hub runs it with the settings shown here."""
        if self.hub is None or self.saved.get(name) != self.servers.get(name):
            return None
        return next((state for state in self.hub.states() if state.name == name), None)

    def state_text(self, name: str) -> str:
        """The server's state as shown: live, or what Save will do."""
        server = self.servers[name]
        saved = self.saved.get(name)
        if saved is None:
            return "new: press Save to add it"
        if saved != server:
            if saved.enabled != server.enabled:
                return ("enabled" if server.enabled else "disabled") + " when you press Save"
            return "changed: press Save to apply"
        state = self.live_state(name)
        if state is not None:
            return state.describe()  # the hub's error is inert already
        return "disabled" if not server.enabled else "not started"

    def _prompt(self, name: str) -> Content:
        state = self.state_text(name)
        if state.startswith("failed:"):
            state = "failed"
        return Content.assemble(inert(name), ("\n" + state, "dim"))

    def refresh_states(self) -> None:
        """Bring the list and the details up to date with the hub (only what changed)."""
        if not self.is_mounted:
            return
        options = self.query_one("#mcp-list", OptionList)
        for name in self.servers:
            prompt = self._prompt(name)
            if self._shown.get(name) != prompt:
                self._shown[name] = prompt
                options.replace_option_prompt(name, prompt)
        self._show_detail()

    def _update(self, selector: str, content: Content | str) -> None:
        widget = self.query_one(selector, Static)
        text = content if isinstance(content, Content) else Content(content)
        if self._texts.get(selector) != text:
            self._texts[selector] = text
            widget.update(text)

    def _show_detail(self) -> None:
        name = self.current
        actions = self.query_one("#mcp-actions")
        if name is None:
            empty = "No MCP servers yet: add one below." if not self.servers else ""
            self._update("#mcp-name", empty)
            for selector in ("#mcp-where", "#mcp-state", "#mcp-allowed", "#mcp-result"):
                self._update(selector, "")
            self.query_one("#mcp-result").display = False
            actions.display = False
            return
        actions.display = True
        server = self.servers[name]
        where = describe(server).removeprefix(inert(name)).strip()
        self._update("#mcp-name", Content.assemble((inert(name), "bold")))
        self._update("#mcp-where", Content(where))
        self._update("#mcp-state", Content.assemble(("State: ", "dim"), self.state_text(name)))
        allowed = ", ".join(inert(tool) for tool in server.always_allow) or "none"
        self._update("#mcp-allowed", Content.assemble(("Always allowed: ", "dim"), allowed))
        result = self.results.get(name, "")
        self._update("#mcp-result", Content(result))
        self.query_one("#mcp-result").display = bool(result)
        toggle = self.query_one("#mcp-toggle", Button)
        label = "Disable" if server.enabled else "Enable"
        if str(toggle.label) != label:
            toggle.label = label
        self.query_one("#mcp-clear", Button).disabled = not server.always_allow

    @on(OptionList.OptionHighlighted, "#mcp-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._show_detail()

    def _say(self, text: str, *, error: bool = False) -> None:
        self.post_message(self.Say(text, error=error))

    # --------------------------------------------------------------------------- actions

    def _edit(self, name: str, server: McpServerSettings) -> None:
        self.servers[name] = server
        self.refresh_states()

    @on(Button.Pressed, "#mcp-toggle")
    def action_toggle_enabled(self) -> None:
        """Enable or disable the highlighted server (written on Save)."""
        name = self.current
        if name is None:
            return
        server = self.servers[name]
        self._edit(name, replace(server, enabled=not server.enabled))
        done = "Enabled" if not server.enabled else "Disabled"
        self._say(f"{done} {inert(name)}; press Save to keep the change.")

    @on(Button.Pressed, "#mcp-clear")
    def action_clear_allowed(self) -> None:
        """Forget the highlighted server's always-allowed tools (written on Save)."""
        name = self.current
        if name is None or not self.servers[name].always_allow:
            return
        self._edit(name, replace(self.servers[name], always_allow=()))
        self._say(f"{inert(name)}'s tools will ask again once you press Save.")

    @on(Button.Pressed, "#mcp-remove")
    def action_remove(self) -> None:
        """Remove the highlighted server (written on Save; Cancel keeps it)."""
        name = self.current
        if name is None:
            return
        options = self.query_one("#mcp-list", OptionList)
        index = options.highlighted or 0
        del self.servers[name]
        self._shown.pop(name, None)
        self.results.pop(name, None)
        options.remove_option(name)
        if options.option_count:
            options.highlighted = min(index, options.option_count - 1)
        self._show_detail()
        self._say(f"Removed {inert(name)}; press Save to keep the change, Cancel to keep it.")

    @on(Button.Pressed, "#mcp-start")
    def action_start(self) -> None:
        """Start the highlighted server now (or list its tools again), on the running hub."""
        name = self.current
        if name is None:
            return
        server = self.servers[name]
        if self.hub is None:
            self._say("The MCP servers are not running here.", error=True)
        elif self.saved.get(name) != server:
            self._say(f"Press Save first: {inert(name)} starts as saved.", error=True)
        elif not server.enabled:
            self._say(f"{inert(name)} is disabled: enable it and save first.", error=True)
        elif name not in self._starting:
            self._starting.add(name)
            self.results[name] = "Starting…"
            self._start(name)
            self.refresh_states()

    @work(group="mcp-start", exit_on_error=False)
    async def _start(self, name: str) -> None:
        hub = self.hub
        assert hub is not None
        try:
            state = self.live_state(name)
            if state is not None and state.status == "failed" and self._hub_servers is not None:
                # A failed start is not tried again by the hub: configure it afresh.
                running = list(self._hub_servers())
                hub.configure(server for server in running if server.name != name)
                hub.configure(running)
            tools = await hub.tools([name])
        except Exception as exc:  # the hub reports failures as states; this is a bug
            self.results[name] = inert(f"Could not start: {exc}")
        else:
            found = [tool.name for tool in tools if tool.server == name]
            state = self.live_state(name)
            if found:
                shown = ", ".join(inert(tool) for tool in found[:12])
                more = f" and {len(found) - 12} more" if len(found) > 12 else ""
                self.results[name] = f"Tools: {shown}{more}"
            elif state is not None and state.status == "failed":
                self.results[name] = "It did not start."
            else:
                self.results[name] = "It offers no tools."
        finally:
            self._starting.discard(name)
        self.refresh_states()

    # ------------------------------------------------------------------------------ add

    @on(Button.Pressed, "#add-mcp-button")
    @on(Input.Submitted, "#new-mcp-name, #new-mcp-where")
    def add_server(self, event: Message | None = None) -> None:
        """Add the server of the form (written on Save), or show why it cannot be."""
        if event is not None:
            event.stop()
        name_input = self.query_one("#new-mcp-name", Input)
        where_input = self.query_one("#new-mcp-where", Input)
        error = self.query_one("#add-mcp-error", Static)
        try:
            server = parse_new_server(name_input.value, where_input.value, self.servers)
        except ValueError as exc:
            error.update(Content(inert(str(exc))))
            error.add_class("-shown")
            return
        error.update("")
        error.remove_class("-shown")
        self.servers[server.name] = server
        options = self.query_one("#mcp-list", OptionList)
        options.add_option(Option(self._prompt(server.name), id=server.name))
        options.highlighted = options.get_option_index(server.name)
        name_input.value = ""
        where_input.value = ""
        options.focus()
        self.refresh_states()
        self._say(f"Added {server.name}; press Save to keep it.")

    @on(Input.Changed, "#new-mcp-name, #new-mcp-where")
    def _clear_add_error(self) -> None:
        error = self.query_one("#add-mcp-error", Static)
        if error.has_class("-shown"):
            error.update("")
            error.remove_class("-shown")

    @property
    def pending_add(self) -> bool:
        """The add form holds text not added yet."""
        return any(field.value.strip() for field in self.query("#add-mcp Input").results(Input))
