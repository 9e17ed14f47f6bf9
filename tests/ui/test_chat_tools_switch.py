"""The Tools switch and the per-server checkboxes of the chat settings panel (Ctrl+G): what
they store on the conversation, and what the next request to the provider offers."""

from __future__ import annotations

from typing import Any

from textual.widget import Widget
from textual.widgets import Checkbox, Switch

from tests.support.fixtures import TEST_KEY
from tests.support.server import LoopbackServer
from tests.ui.conftest import AppFactory, loopback_config, wait_for
from tests.ui.test_conversation_screen import idle, send_and_wait, stored_path
from tests.ui.test_settings_mcp import TOOL_COUNT, server_table
from tui.app import TuiApp
from tui.domain import ChatSettings, ModelInfo
from tui.screens.chat_settings import ChatSettingsScreen

SIZE = (100, 36)
LOOP_ENV = {"LOOP_KEY": TEST_KEY}


def config(server: LoopbackServer) -> str:
    return (
        loopback_config(server, api="chat")
        + "\n"
        + server_table("one")
        + "\n"
        + server_table("two")
        + '\n[mcp_servers.off]\ncommand = "nothing"\nenabled = false\n'
    )


def offered(server: LoopbackServer) -> list[str] | None:
    """The tool names of the last chat request, or None when it sent no ``tools``."""
    body: dict[str, Any] = [r for r in server.requests if r.path.endswith("/completions")][-1].json
    if "tools" not in body:
        return None
    return [tool["function"]["name"] for tool in body["tools"]]


async def open_panel(pilot, app: TuiApp) -> ChatSettingsScreen:  # type: ignore[no-untyped-def]
    await pilot.press("ctrl+g")
    await wait_for(lambda: isinstance(app.screen, ChatSettingsScreen))
    panel = app.screen
    assert isinstance(panel, ChatSettingsScreen)
    await wait_for(lambda: panel.tools_switch.region.width > 0)
    return panel


async def toggle(pilot, widget: Widget) -> None:  # type: ignore[no-untyped-def]
    """Focus ``widget`` (the form scrolls to it) and press Space, as a user would."""
    widget.focus()
    await pilot.pause()
    await pilot.press("space")
    await pilot.pause()


async def save_panel(pilot, app: TuiApp) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Ctrl+S in the panel; the conversation's params as stored."""
    await pilot.press("ctrl+s")
    await wait_for(lambda: not isinstance(app.screen, ChatSettingsScreen))
    await app.workers.wait_for_complete()
    services = app.handle.current
    assert services is not None
    stored = await services.history.get((await stored_path(app))[0].conversation_id)
    assert stored is not None
    return stored.params


async def test_a_server_turned_off_offers_none_of_its_tools(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    app = app_factory(config=config(server), env=LOOP_ENV)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "first")
        names = offered(server)
        assert names is not None and len(names) == 2 * TOOL_COUNT
        assert "one__echo" in names and "two__echo" in names  # same tools: prefixed
        panel = await open_panel(pilot, app)
        assert list(panel.server_boxes) == ["one", "two"]  # the disabled server is not offered
        assert all(box.value for box in panel.server_boxes.values())
        await toggle(pilot, panel.server_boxes["two"])
        assert panel.server_boxes["two"].value is False
        params = await save_panel(pilot, app)
        assert params["tools"] is True
        assert params["tools_off"] == ["two"]
        await send_and_wait(pilot, "second", 4)
        names = offered(server)
        assert names is not None and len(names) == TOOL_COUNT
        assert "echo" in names  # no other server has one: its own name
        assert not any(name.startswith("two") for name in names)
        # The panel shows the choice again.
        panel = await open_panel(pilot, app)
        assert panel.server_boxes["two"].value is False
        assert panel.server_boxes["one"].value is True
        await pilot.press("escape")


async def test_tools_off_sends_no_tools_at_all(
    app_factory: AppFactory, server: LoopbackServer
) -> None:
    app = app_factory(config=config(server), env=LOOP_ENV)
    async with app.run_test(size=SIZE) as pilot:
        await idle(app)
        await send_and_wait(pilot, "first")
        assert offered(server) is not None
        panel = await open_panel(pilot, app)
        await toggle(pilot, panel.tools_switch)
        assert panel.tools_switch.value is False
        assert all(box.disabled for box in panel.server_boxes.values())
        params = await save_panel(pilot, app)
        assert params["tools"] is False
        assert params["tools_off"] == []
        await send_and_wait(pilot, "second", 4)
        assert offered(server) is None
        panel = await open_panel(pilot, app)
        assert panel.query_one("#chat-tools", Switch).value is False
        await pilot.press("escape")


async def test_without_servers_only_the_switch_is_shown() -> None:
    from textual.app import App

    class Host(App[None]):
        results: list[ChatSettings | None] = []

        def on_mount(self) -> None:
            settings = ChatSettings(tools_off=("gone",))
            self.push_screen(
                ChatSettingsScreen(
                    settings, ModelInfo(id="m", provider="p"), target="t", route="r", servers=[]
                ),
                self.results.append,
            )

    app = Host()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        panel = app.screen
        assert isinstance(panel, ChatSettingsScreen)
        assert panel.tools_switch.value is True
        assert not panel.query(Checkbox)
        await pilot.press("ctrl+s")
        await pilot.pause()
    [saved] = app.results
    assert saved is not None
    assert saved.tools is True and saved.tools_off == ("gone",)  # a server gone keeps it
