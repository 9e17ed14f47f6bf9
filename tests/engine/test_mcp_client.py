"""The MCP hub against real MCP servers: child processes over stdio and uvicorn over HTTP."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.support.mcp_servers import FIXED_CLOCK, HttpServer, serve_http
from tui.config.settings import McpServerSettings
from tui.services.mcp_client import McpHub, McpTool, ServerState, ToolOutcome

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "secret-token"
TEST_TOOLS = {"echo", "add", "clock", "slow", "big", "crash", "crash_once", "fail", "image", "pid"}


def stdio(name: str, *flags: str, **extra: Any) -> McpServerSettings:
    return McpServerSettings(
        name=name,
        command=sys.executable,
        args=("-m", "tests.support.mcp_servers", *flags),
        cwd=str(REPO_ROOT),
        **extra,
    )


@asynccontextmanager
async def open_hub(*servers: McpServerSettings, **options: Any) -> AsyncIterator[McpHub]:
    hub = McpHub(servers, **options)
    try:
        yield hub
    finally:
        await hub.close()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def server_pid(hub: McpHub, server: str) -> int:
    outcome = await hub.call(server, "pid", {})
    assert outcome.error is None, outcome
    return int(outcome.output)


@pytest.fixture(scope="module")
def http_server() -> Iterator[HttpServer]:
    with serve_http(token=TOKEN) as server:
        yield server


def http(url: str, token: str = TOKEN) -> McpServerSettings:
    return McpServerSettings(name="web", url=url, headers={"Authorization": f"Bearer {token}"})


# -- listing and calling -----------------------------------------------------------------------


async def test_stdio_lists_tools_and_calls_them() -> None:
    async with open_hub(stdio("local")) as hub:
        assert hub.states() == [ServerState("local", "stopped")]
        # A call starts the server lazily.
        assert (await hub.call("local", "echo", {"text": "lazy"})).output == "lazy"
        tools = await hub.tools()
        assert {tool.name for tool in tools} == TEST_TOOLS
        assert all(isinstance(tool, McpTool) and tool.server == "local" for tool in tools)
        add = next(tool for tool in tools if tool.name == "add")
        assert add.description == "Adds two integers."
        assert add.parameters["type"] == "object"
        assert set(add.parameters["properties"]) == {"a", "b"}

        echo = await hub.call("local", "echo", {"text": "hello\nworld"})
        assert echo == ToolOutcome("hello\nworld", None, echo.duration_ms)
        assert echo.duration_ms >= 0 and not echo.truncated
        assert (await hub.call("local", "add", {"a": 2, "b": 40})).output == "42"
        assert (await hub.call("local", "clock", {})).output == FIXED_CLOCK
        assert hub.states() == [ServerState("local", "ready", tools=len(TEST_TOOLS))]


async def test_http_lists_tools_and_calls_them_with_the_headers(http_server: HttpServer) -> None:
    async with open_hub(http(http_server.url)) as hub:
        tools = await hub.tools()
        assert {tool.name for tool in tools} == TEST_TOOLS
        assert (await hub.call("web", "echo", {"text": "over http"})).output == "over http"
        assert (await hub.call("web", "add", {"a": 1, "b": 2})).output == "3"
        failed = await hub.call("web", "fail", {})
        assert failed.error == "the tool reported an error"
        assert "this tool always fails" in failed.output
        slow = await hub.call("web", "slow", {"seconds": 5}, timeout=0.3)
        assert slow.error == "timed out after 0.3 s"
        assert (await hub.call("web", "clock", {})).output == FIXED_CLOCK
        assert hub.states()[0].describe() == f"{len(TEST_TOOLS)} tools"


async def test_is_error_images_and_big_output() -> None:
    async with open_hub(stdio("local")) as hub:
        failed = await hub.call("local", "fail", {})
        assert failed.error == "the tool reported an error"
        assert "this tool always fails" in failed.output

        image = await hub.call("local", "image", {})
        assert image.error is None
        assert image.output == "[image/png image, 67 bytes]"

        outcome = await hub.call("local", "big", {"size": 250_000})
        assert outcome.error is None and outcome.truncated
        body, note = outcome.output.rsplit("\n", 1)
        assert body == "x" * 100_000
        assert note == (
            "[truncated: the tool returned 250000 characters, only the first 100000 are shown]"
        )
        exact = await hub.call("local", "big", {"size": 100_000})
        assert not exact.truncated and exact.output == "x" * 100_000

        unknown_server = await hub.call("nowhere", "echo", {})
        assert unknown_server.error == "unknown MCP server: nowhere"
        unknown_tool = await hub.call("local", "teleport", {})
        assert unknown_tool.error == "the MCP server local has no tool named teleport"
        assert (await hub.call("local", "echo", {"text": "still"})).output == "still"


# -- time limits and cancellation --------------------------------------------------------------


async def test_time_limits_and_cancellation_leave_the_hub_usable() -> None:
    async with open_hub(stdio("local"), call_timeout=0.4) as hub:
        pid = await server_pid(hub, "local")
        outcome = await hub.call("local", "slow", {"seconds": 3})
        assert outcome.error == "timed out after 0.4 s"
        assert 400 <= outcome.duration_ms < 2500
        assert (await hub.call("local", "echo", {"text": "after"})).output == "after"
        assert hub.states()[0].status == "ready"
        longer = await hub.call("local", "slow", {"seconds": 0.01}, timeout=10)
        assert longer.output == "slept 0.01" and longer.error is None

        # The caller's cancellation (Esc) reaches the hub as CancelledError; asyncio.timeout
        # turns it into TimeoutError only if the hub let it propagate.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await hub.call("local", "slow", {"seconds": 3})
        task = asyncio.create_task(hub.call("local", "slow", {"seconds": 3}, timeout=30))
        # A call made after it comes back while the slow one is still in flight.
        assert (await hub.call("local", "echo", {"text": "meanwhile"})).output == "meanwhile"
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await hub.call("local", "echo", {"text": "usable"})).output == "usable"
        assert await server_pid(hub, "local") == pid  # the same process, not a restart


# -- crashes and failures ----------------------------------------------------------------------


async def test_a_crash_restarts_the_server_once_and_retries_the_call(tmp_path: Path) -> None:
    changes: list[ServerState] = []
    async with open_hub(stdio("local"), on_change=changes.append) as hub:
        first = await server_pid(hub, "local")
        marker = tmp_path / "crashed"
        outcome = await hub.call("local", "crash_once", {"marker_path": str(marker)})
        assert outcome.error is None, outcome
        assert outcome.output == "survived"
        assert marker.exists()
        second = await server_pid(hub, "local")
        assert second != first and not pid_alive(first)
        assert hub.states()[0].status == "ready"
        statuses = [state.status for state in changes]
        assert statuses == ["starting", "ready", "failed", "starting", "ready"]
        assert changes[2].error == "the server stopped: crashing once"


async def test_a_server_that_died_while_idle_is_restarted_by_the_next_call() -> None:
    failed = asyncio.Event()

    def on_change(state: ServerState) -> None:
        if state.status == "failed":
            failed.set()

    async with open_hub(stdio("local"), on_change=on_change) as hub:
        pid = await server_pid(hub, "local")
        os.kill(pid, 9)
        await asyncio.wait_for(failed.wait(), 10)
        assert hub.states()[0].describe().startswith("failed: the server stopped")
        assert (await hub.call("local", "echo", {"text": "back"})).output == "back"
        assert await server_pid(hub, "local") != pid
        assert hub.states()[0].status == "ready"


async def test_a_server_that_crashes_every_time_ends_failed() -> None:
    async with open_hub(stdio("local")) as hub:
        pid = await server_pid(hub, "local")
        outcome = await hub.call("local", "crash", {})
        assert outcome.error == "the server stopped: crashing on purpose (again, after a restart)"
        state = hub.states()[0]
        assert state.status == "failed"
        assert state.describe() == "failed: the server stopped: crashing on purpose"
        assert not pid_alive(pid)
        # It stays failed: no endless restarts.
        again = await hub.call("local", "echo", {"text": "x"})
        assert again.error is not None and "not available" in again.error
        assert again.duration_ms < 1000
        assert await hub.tools() == []


async def test_a_server_printing_garbage_first_still_works() -> None:
    async with open_hub(stdio("chatty", "--garbage-first")) as hub:
        assert len(await hub.tools()) == len(TEST_TOOLS)
        assert (await hub.call("chatty", "clock", {})).output == FIXED_CLOCK


async def test_a_server_printing_only_garbage_fails_within_the_start_timeout() -> None:
    loop = asyncio.get_running_loop()
    async with open_hub(stdio("junk", "--only-garbage"), start_timeout=1.5) as hub:
        started = loop.time()
        assert await hub.tools() == []
        assert loop.time() - started < 5.0
        state = hub.states()[0]
        assert state.status == "failed"
        assert state.error is not None
        assert state.error.startswith("no MCP handshake within 1.5 s; it printed")
        assert "not JSON-RPC" in state.error


async def test_a_server_that_exits_at_once_fails_with_its_last_stderr_line() -> None:
    script = "import sys; print('starting up', file=sys.stderr); sys.exit('bad config: \x1b[31m')"
    broken = McpServerSettings(name="broken", command=sys.executable, args=("-c", script))
    async with open_hub(broken, start_timeout=10) as hub:
        assert await hub.tools() == []
        state = hub.states()[0]
        assert state.status == "failed"
        assert state.error == "the server exited: bad config: ␛[31m"  # made inert


# -- settings, states, stopping ----------------------------------------------------------------


async def test_states_disabled_missing_and_not_needed_servers() -> None:
    assert ServerState("x", "off").describe() == "disabled"
    assert ServerState("x", "stopped").describe() == "not started"
    assert ServerState("x", "starting").describe() == "starting…"
    assert ServerState("x", "ready", tools=3).describe() == "3 tools"
    assert ServerState("x", "ready", tools=1).describe() == "1 tool"
    assert ServerState("x", "failed", error="why").describe() == "failed: why"

    missing = McpServerSettings(name="ghost", command="no-such-mcp-server-command")
    servers = [missing, stdio("off", enabled=False), stdio("on"), stdio("idle")]
    changes: list[ServerState] = []
    async with open_hub(*servers, on_change=changes.append) as hub:
        assert [state.describe() for state in hub.states()] == [
            "not started",
            "disabled",
            "not started",
            "not started",
        ]
        tools = await hub.tools(["ghost", "off", "on"])
        assert {tool.server for tool in tools} == {"on"}
        assert [state.describe() for state in hub.states()] == [
            "failed: command not found: no-such-mcp-server-command",
            "disabled",
            f"{len(TEST_TOOLS)} tools",
            "not started",  # not asked for: not started
        ]
        assert hub.states()[0] == ServerState(
            "ghost", "failed", error="command not found: no-such-mcp-server-command"
        )
        assert sorted((state.name, state.describe()) for state in changes) == [
            ("ghost", "failed: command not found: no-such-mcp-server-command"),
            ("ghost", "starting…"),
            ("on", f"{len(TEST_TOOLS)} tools"),
            ("on", "starting…"),
        ]
        ghost = await hub.call("ghost", "echo", {})
        assert ghost.error == (
            "the MCP server ghost is not available: command not found: no-such-mcp-server-command"
        )
        off = await hub.call("off", "echo", {"text": "x"})
        assert off.error == "the MCP server off is disabled"
        assert await hub.tools(["off"]) == []
        assert hub.states()[1].status == "off"


async def test_close_leaves_no_child_process_even_one_busy_in_a_tool() -> None:
    hub = McpHub([stdio("a"), stdio("b")])
    await hub.tools()
    pids = [await server_pid(hub, "a"), await server_pid(hub, "b")]
    assert all(pid_alive(pid) for pid in pids)
    busy = await hub.call("b", "slow", {"seconds": 30}, timeout=0.2)
    assert busy.error == "timed out after 0.2 s"
    await hub.close()
    assert not any(pid_alive(pid) for pid in pids)
    assert [state.status for state in hub.states()] == ["stopped", "stopped"]


async def test_configure_stops_removed_and_changed_servers() -> None:
    async with open_hub(stdio("keep"), stdio("drop"), stdio("change")) as hub:
        await hub.tools()
        keep, drop, change = [await server_pid(hub, name) for name in ("keep", "drop", "change")]
        hub.configure([stdio("keep"), stdio("change", env={"X": "1"}), stdio("new")])
        assert [(s.name, s.status) for s in hub.states()] == [
            ("keep", "ready"),
            ("change", "stopped"),
            ("new", "stopped"),
        ]
        await hub.close()  # waits for the background stops too
        assert not pid_alive(drop) and not pid_alive(change) and not pid_alive(keep)


async def test_env_reaches_the_server_on_top_of_a_safe_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    script = (
        "import os, sys; print(os.environ.get('MCP_TEST_VALUE'), 'PATH' in os.environ,"
        " 'LEAKY_PARENT_VAR' in os.environ, file=sys.stderr); sys.exit(1)"
    )
    monkeypatch.setenv("LEAKY_PARENT_VAR", "1")
    settings = McpServerSettings(
        name="env", command=sys.executable, args=("-c", script), env={"MCP_TEST_VALUE": "s3cr3t"}
    )
    async with open_hub(settings) as hub:
        await hub.tools()
        # Env values are secrets: masked even when the server prints one.
        assert hub.states()[0].error == "the server exited: *** True False"


# -- HTTP specifics ----------------------------------------------------------------------------


async def test_a_wrong_http_header_fails_without_showing_it(
    http_server: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with open_hub(http(http_server.url, token="wrong-secret-value")) as hub:
        assert await hub.tools() == []
        state = hub.states()[0]
        assert state.status == "failed"
        assert state.error == "the server answered HTTP 401 Unauthorized"
        outcome = await hub.call("web", "echo", {"text": "x"})
        assert outcome.error is not None and "401" in outcome.error
    for text in (state.error, outcome.error, caplog.text):
        assert "wrong-secret-value" not in text


async def test_an_http_server_that_is_not_there_fails() -> None:
    server = serve_http()
    url = server.url
    server.stop()
    async with open_hub(McpServerSettings(name="gone", url=url), start_timeout=5) as hub:
        assert await hub.tools() == []
        state = hub.states()[0]
        assert state.status == "failed"
        assert state.error is not None and state.error.startswith("cannot connect to 127.0.0.1:")


# -- the example clock server and import cost --------------------------------------------------


async def test_the_example_clock_server_tells_the_time() -> None:
    clock = McpServerSettings(
        name="clock", command=sys.executable, args=("-m", "tui.mcp_clock"), cwd=str(REPO_ROOT)
    )
    async with open_hub(clock) as hub:
        tools = await hub.tools()
        assert [tool.name for tool in tools] == ["current_time"]
        assert "timezone" in tools[0].parameters["properties"]
        utc = await hub.call("clock", "current_time", {})
        assert utc.error is None and utc.output.endswith("+00:00 (UTC)")
        paris = await hub.call("clock", "current_time", {"timezone": "Europe/Paris"})
        assert paris.error is None and paris.output.endswith("(Europe/Paris)")
        bad = await hub.call("clock", "current_time", {"timezone": "Mars/Olympus"})
        assert bad.error == "the tool reported an error"
        assert "unknown time zone: 'Mars/Olympus'" in bad.output


def test_importing_the_client_is_cheap_and_headless() -> None:
    code = (
        "import sys, tui.services.mcp_client; "
        "print(sorted(m for m in ('mcp', 'textual', 'httpx', 'anyio') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    ).stdout.strip()
    assert out == "[]"


async def test_new_always_allowed_tools_keep_the_running_server() -> None:
    from dataclasses import replace

    server = stdio("test")
    async with open_hub(server) as hub:
        first = await server_pid(hub, "test")
        hub.configure([replace(server, always_allow=("echo",))])  # a settings save
        assert await server_pid(hub, "test") == first  # the same process: not restarted
        hub.configure([replace(server, args=(*server.args, "--garbage-first"))])
        assert await server_pid(hub, "test") != first  # how it starts changed: restarted
