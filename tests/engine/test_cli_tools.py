"""``tui-chat ask`` with tools: a real process, a real MCP server over stdio, the loopback model
(or the demo) calling it; approvals by flag, on a terminal, or denied off one."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.engine.test_cli import ROOT, ask_loopback, run
from tests.support.fixtures import TEST_KEY
from tests.support.script import reply, tool_calls
from tests.support.server import LoopbackServer


def config_with_servers(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    python = json.dumps(sys.executable)
    path.write_text(
        f'[mcp_servers.test]\ncommand = {python}\nargs = ["-m", "tests.support.mcp_servers"]\n'
        f"cwd = {json.dumps(str(ROOT))}\n\n"
        f'[mcp_servers.clock]\ncommand = {python}\nargs = ["-m", "tui.mcp_clock"]\n'
    )
    return path


def tool_messages(server: LoopbackServer, index: int) -> list[str]:
    return [m["content"] for m in server.requests[index].json["messages"] if m["role"] == "tool"]


def ask_tools(
    config: Path, loopback: LoopbackServer, *args: str
) -> subprocess.CompletedProcess[str]:
    """``ask`` against the loopback model with the settings file ``config`` (its servers)."""
    return run("--config", str(config), *ask_loopback(loopback, *args), TUI_CHAT_API_KEY=TEST_KEY)


class Terminal:
    """``tui-chat ask`` on a pseudo-terminal (stdin and stderr), stdout piped."""

    def __init__(self, config: Path, loopback: LoopbackServer, *args: str) -> None:
        self.controller, terminal = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tui", "--config", str(config), *ask_loopback(loopback, *args)],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=terminal,
            cwd=ROOT,
            env={"TUI_CHAT_DEMO_SPEED": "0", **os.environ, "TUI_CHAT_API_KEY": TEST_KEY},
        )
        os.close(terminal)
        self.seen = b""

    def wait_for(self, text: bytes) -> None:
        """Read what the command wrote to the terminal until ``text`` is among it."""
        deadline = time.monotonic() + 60
        while text not in self.seen:
            assert time.monotonic() < deadline, self.seen
            ready, _, _ = select.select([self.controller], [], [], 1)
            if ready:
                try:
                    self.seen += os.read(self.controller, 4096)
                except OSError:  # the process closed the terminal: it has ended
                    break

    def answer(self, line: bytes) -> None:
        os.write(self.controller, line)

    def close(self) -> None:
        self.process.kill()
        os.close(self.controller)


def test_approve_tools_runs_each_call_and_prints_a_line_for_it(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    config = config_with_servers(tmp_path)
    loopback.enqueue(tool_calls(("echo", {"text": "from the cli"})), reply("The tool agreed."))
    result = ask_tools(config, loopback, "--approve-tools", "go")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "The tool agreed.\n"
    assert "tui-chat: tool echo (test): done in " in result.stderr
    assert tool_messages(loopback, 1) == ["from the cli"]


def test_off_a_terminal_each_call_is_denied_with_how_to_allow_it(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    config = config_with_servers(tmp_path)
    loopback.enqueue(tool_calls(("echo", {"text": "x"}), ("clock", {})), reply("Fine."))
    result = ask_tools(config, loopback, "go")  # stdin is not a terminal
    assert result.returncode == 0, result.stderr
    denials = [line for line in result.stderr.splitlines() if "denied" in line]
    assert len(denials) == 4  # two "denied:" hints and two result lines
    assert "pass --approve-tools to allow tool calls" in denials[0]
    assert all("declined" in text or "not allowed" in text for text in tool_messages(loopback, 1))


def test_no_tools_offers_none(tmp_path: Path, loopback: LoopbackServer) -> None:
    config = config_with_servers(tmp_path)
    result = ask_tools(config, loopback, "--no-tools", "plain")
    assert result.returncode == 0, result.stderr
    assert "tools" not in loopback.requests[0].json
    result = ask_tools(config, loopback, "with tools")
    assert "echo" in {t["function"]["name"] for t in loopback.requests[1].json["tools"]}


def test_on_a_terminal_the_user_answers_y_or_n_per_call(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    config = config_with_servers(tmp_path)
    loopback.enqueue(
        tool_calls(("echo", {"text": "yes please"}), ("add", {"a": 1, "b": 2})), reply("Done.")
    )
    terminal = Terminal(config, loopback, "go")
    try:
        terminal.wait_for(b"[1/2] with")
        assert b"run tool echo (test)" in terminal.seen and b"[y/N, a = always]" in terminal.seen
        terminal.answer(b"y\n")
        terminal.wait_for(b"[2/2] with")
        terminal.answer(b"n\n")
        stdout, _ = terminal.process.communicate(timeout=60)
    finally:
        terminal.close()
    process = terminal.process
    assert process.returncode == 0
    assert stdout.decode() == "Done.\n"
    outputs = tool_messages(loopback, 1)
    assert outputs[0] == "yes please" and "declined" in outputs[1]


def test_the_demo_model_calls_the_example_clock_server() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        config = config_with_servers(Path(folder))
        result = run(
            "--config", str(config), "ask", "-p", "demo", "--approve-tools", "what time is it?"
        )
    assert result.returncode == 0, result.stderr
    assert "tui-chat: tool current_time (clock): done" in result.stderr
    assert "current_time" in result.stdout and "UTC" in result.stdout


def test_mcp_add_then_tools_lists_what_each_server_offers(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('# my notes\n[ui]\ntheme = "dusk"\n')
    added = run(
        "--config", str(config), "mcp", "add", "clock", "--", sys.executable, "-m", "tui.mcp_clock"
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("Added clock  stdio: ")
    missing = run("--config", str(config), "mcp", "add", "gone", "no-such-mcp-command")
    assert missing.returncode == 0, missing.stderr
    clash = run("--config", str(config), "mcp", "add", "clock", "--url", "http://127.0.0.1:1/mcp")
    assert clash.returncode == 2 and "already an MCP server named 'clock'" in clash.stderr
    bad = run("--config", str(config), "mcp", "add", "bad name", "--url", "http://x/mcp")
    assert bad.returncode == 2 and "letters, digits" in bad.stderr
    text = config.read_text()
    assert text.startswith('# my notes\n[ui]\ntheme = "dusk"\n')  # the rest kept as it was
    assert "[mcp_servers.clock]" in text and "[mcp_servers.gone]" in text

    listed = run("--config", str(config), "mcp", "tools")
    assert listed.returncode == 1  # one server failed
    lines = listed.stdout.splitlines()
    assert lines[0] == "clock: 1 tool" and lines[1].startswith("  current_time  ")
    assert lines[2] == "gone: failed: command not found: no-such-mcp-command"
    assert listed.stderr == ""


def test_tool_calls_survive_export_all_and_import_into_a_new_history(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    config = config_with_servers(tmp_path)
    loopback.enqueue(tool_calls(("echo", {"text": "kept across"})), reply("Round trip."))
    result = ask_tools(config, loopback, "--approve-tools", "go")
    assert result.returncode == 0, result.stderr
    backup = tmp_path / "backup.json"
    exported = run("export", "--all", "--format", "json", "-o", str(backup))
    assert exported.returncode == 0, exported.stderr
    fresh = tmp_path / "fresh.sqlite3"
    imported = run("--db", str(fresh), "import", str(backup))
    assert imported.returncode == 0, imported.stderr
    shown = run("--db", str(fresh), "show", "1")
    assert "Tool: echo (test) · done" in shown.stdout and "kept across" in shown.stdout
    found = run("--db", str(fresh), "search", "across")
    assert found.returncode == 0 and "1" in found.stdout


def test_ctrl_c_at_the_tool_question_ends_the_command_at_once(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    import signal

    config = config_with_servers(tmp_path)
    loopback.enqueue(tool_calls(("echo", {"text": "never run"})))
    terminal = Terminal(config, loopback, "go")
    try:
        terminal.wait_for(b"[y/N, a = always]")
        terminal.process.send_signal(signal.SIGINT)
        terminal.process.communicate(timeout=15)  # before: it waited for a line that never came
    finally:
        terminal.close()
    process = terminal.process
    assert process.returncode == 130
    assert len(loopback.requests) == 1  # the call was never run nor answered
