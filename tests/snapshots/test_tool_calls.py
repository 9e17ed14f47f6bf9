"""SVG snapshots of tool calls: the approval modal, and a reply with its call blocks.

The model is the loopback server scripted to call tools, the tools a real MCP server over
stdio; the clocks (the store's, the screen's, the engine's and the tool runner's) are pinned as
in ``test_conversation``, so every duration shown is the same on every run.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from textual.pilot import Pilot

import tui.services.mcp_client as mcp_client
from tests.snapshots.test_conversation import (  # noqa: F401 - frozen_time is an autouse fixture
    LOOP_ENV,
    SIZE,
    THEME,
    SnapCompare,
    SteppingClock,
    finished,
    frozen_time,
    ready,
    send,
    views,
)
from tests.snapshots.test_snapshots import steady
from tests.support.fixtures import TEST_KEY
from tests.support.script import reply, tool_calls
from tests.support.server import LoopbackServer
from tests.ui.conftest import loopback_config, wait_for
from tests.ui.hosts import footer_entries
from tui.app import TuiApp
from tui.domain import ToolStatus
from tui.screens.tool_approval import ToolApprovalScreen
from tui.services.container import Services, open_services

REPO = Path(__file__).resolve().parents[2]


def tools_app(tmp_path: Path, server: LoopbackServer) -> TuiApp:
    """The app on the loopback model with the test MCP server, every clock pinned."""
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        loopback_config(server)
        + "\n[mcp_servers.test]\n"
        + f"command = {json.dumps(sys.executable)}\n"
        + 'args = ["-m", "tests.support.mcp_servers"]\n'
        + f"cwd = {json.dumps(str(REPO))}\n"
    )

    async def factory() -> Services:
        services = await open_services(
            config=str(config_path),
            db=str(tmp_path / "history.sqlite3"),
            env=LOOP_ENV,
            demo_tokens_per_second=0,
            improve_titles=False,
        )
        services.chat.clock = SteppingClock().monotonic
        return services

    app = TuiApp(factory, theme=THEME)
    app.animation_level = "none"
    return app


async def approval_shown(pilot: Pilot[None]) -> ToolApprovalScreen:
    await wait_for(lambda: isinstance(pilot.app.screen, ToolApprovalScreen), timeout=20)
    screen = pilot.app.screen
    assert isinstance(screen, ToolApprovalScreen)
    await wait_for(lambda: screen.focused is not None)
    return screen


@pytest.fixture(autouse=True)
def tool_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The MCP hub times each call with a clock that moves 0.25 s per reading."""
    monkeypatch.setattr(mcp_client, "time", SteppingClock(step=0.25))


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(api_key=TEST_KEY) as running:
        yield running


class TestToolCalls:
    def test_the_approval_modal(
        self, snap_compare: SnapCompare, tmp_path: Path, server: LoopbackServer
    ) -> None:
        """The second of two calls: its name, server, description and arguments, and the
        three choices with their keys."""
        server.enqueue(
            tool_calls(
                ("clock", {}),
                ("add", {"a": 1231, "b": 2331}),
                text="I will check the time and add the numbers.",
            ),
            reply("never sent"),
        )

        async def run_before(pilot: Pilot[None]) -> None:
            await ready(pilot)
            await send(pilot, "What time is it, and what is 1231 + 2331?")
            await approval_shown(pilot)
            await pilot.press("y")
            await wait_for(
                lambda: (
                    isinstance(pilot.app.screen, ToolApprovalScreen)
                    and pilot.app.screen.request.position == 2
                ),
                timeout=20,
            )
            await approval_shown(pilot)
            await steady(pilot)

        assert snap_compare(tools_app(tmp_path, server), run_before=run_before, terminal_size=SIZE)

    def test_a_reply_with_folded_and_unfolded_tool_calls(
        self, snap_compare: SnapCompare, tmp_path: Path, server: LoopbackServer
    ) -> None:
        """Two rounds between three stretches of text; the first call is unfolded."""
        server.enqueue(
            tool_calls(("echo", {"text": "hello"}), text="First I echo."),
            tool_calls(("add", {"a": 1231, "b": 2331}), text="\n\nThen I add."),
            reply("\n\nThe echo said **hello** and the sum is **3562**."),
        )

        async def run_before(pilot: Pilot[None]) -> None:
            await ready(pilot)
            await send(pilot, "Echo hello, then add 1231 and 2331.")
            for _ in range(2):
                modal = await approval_shown(pilot)
                await pilot.press("y")
                await wait_for(partial(lambda shown: pilot.app.screen is not shown, modal))
            await finished(pilot, 2)
            answer = views(pilot)[1]
            blocks = answer.tool_blocks
            assert [b.record.status for b in blocks] == [ToolStatus.DONE] * 2
            blocks[0].focus()
            await pilot.press("enter")
            await wait_for(lambda: blocks[0].unfolded)
            await wait_for(lambda: "⏎ Details" in footer_entries(pilot.app))
            await steady(pilot)

        assert snap_compare(tools_app(tmp_path, server), run_before=run_before, terminal_size=SIZE)
