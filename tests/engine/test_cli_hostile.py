"""Hostile text from a model on the command line: it is stored as received and printed inert.

A reply, a reasoning summary or an error message can carry escape sequences that would set the
window title, write the clipboard, clear the screen, switch to the alternate screen or make the
terminal type an answer into the input; none of them may reach the terminal as is.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.engine.test_cli import ROOT, ask_loopback, db_path, rows, run
from tests.support.fixtures import TEST_KEY
from tests.support.script import fault, http_error, reply
from tests.support.server import LoopbackServer

HOSTILE = (
    "title\x1b]0;pwned\x07 clip\x1b]52;c;aGk=\x07 clear\x1b[2J alt\x1b[?1049h "
    "ask\x1b[6n csi\x9b31m bidi\u202eevil"
)
"""Window title, clipboard, clear screen, alternate screen, cursor report, C1 CSI, bidi."""
FORBIDDEN = (b"\x1b", b"\xc2\x9b", "\u202e".encode(), b"\x07")
"""The bytes none of it may reach the terminal as: ESC, CSI (U+009B), RLO, BEL."""
PLACEHOLDERS = ("␛]0;pwned␇", "␛]52;c;aGk=␇", "␛[2J", "␛[?1049h", "␛[6n", "\\x9b31m", "<U+202E>")


def assert_inert(output: bytes | str) -> None:
    data = output.encode() if isinstance(output, str) else output
    for forbidden in FORBIDDEN:
        assert forbidden not in data, (forbidden, data)


def assert_visible(output: bytes | str) -> None:
    text = output.decode() if isinstance(output, bytes) else output
    for placeholder in PLACEHOLDERS:
        assert placeholder in text, (placeholder, text)


def run_on_pty(*args: str, timeout: float = 60, **env: str) -> tuple[int, bytes, str]:
    """Run the CLI with its stdout on a pseudo-terminal; return the exit code, every byte the
    terminal received, and stderr."""
    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "tui", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env={"TUI_CHAT_DEMO_SPEED": "0", **os.environ, **env},
    )
    os.close(slave)
    received = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            assert time.monotonic() < deadline, "the command did not finish"
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal has closed it
                break
            if not data:
                break
            received += data
        _, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        process.kill()
    return process.returncode, bytes(received), err.decode()


def test_a_hostile_reply_is_stored_raw_and_printed_inert_to_a_pipe() -> None:
    with LoopbackServer(api_key=TEST_KEY) as server:
        server.enqueue(reply(HOSTILE, reasoning="thinking " + HOSTILE))
        result = run(*ask_loopback(server, "--show-reasoning", "hi"), TUI_CHAT_API_KEY=TEST_KEY)
    assert result.returncode == 0, result.stderr
    assert_inert(result.stdout)
    assert_inert(result.stderr)
    assert_visible(result.stdout)
    assert_visible(result.stderr)  # the reasoning, on stderr
    assert "thinking title␛]0;pwned␇" in result.stderr
    stored = rows(db_path(), "SELECT content, reasoning FROM messages WHERE role = 'assistant'")
    assert stored == [(HOSTILE, "thinking " + HOSTILE)]  # the store keeps what was received


def test_a_hostile_reply_is_printed_inert_on_a_terminal() -> None:
    with LoopbackServer(api_key=TEST_KEY) as server:
        server.enqueue(reply(HOSTILE))
        code, received, err = run_on_pty(*ask_loopback(server, "hi"), TUI_CHAT_API_KEY=TEST_KEY)
    assert code == 0, err
    assert b"\r\n" in received  # it went through a terminal (which turns \n into \r\n)
    assert_inert(received)
    assert_visible(received)
    assert rows(db_path(), "SELECT content FROM messages WHERE role = 'assistant'") == [(HOSTILE,)]


def test_a_streamed_reply_is_made_inert_piece_by_piece_on_a_terminal() -> None:
    with LoopbackServer(api_key=TEST_KEY) as server:
        server.enqueue(reply(HOSTILE * 40))  # many chunks, sequences cut across them
        code, received, err = run_on_pty(*ask_loopback(server, "hi"), TUI_CHAT_API_KEY=TEST_KEY)
    assert code == 0, err
    assert_inert(received)
    assert received.decode().count("␛]52;c;aGk=␇") == 40


def test_raw_prints_the_reply_as_stored() -> None:
    with LoopbackServer(api_key=TEST_KEY) as server:
        server.enqueue(reply(HOSTILE))
        result = run(*ask_loopback(server, "--raw", "hi"), TUI_CHAT_API_KEY=TEST_KEY)
    assert result.returncode == 0, result.stderr
    assert result.stdout == HOSTILE + "\n"
    shown = run("show", "1", "--raw")
    assert HOSTILE in shown.stdout
    exported = run("export", "1", "--raw")
    assert HOSTILE in exported.stdout


def test_a_hostile_error_message_is_quoted_inert() -> None:
    with LoopbackServer(api_key=TEST_KEY) as server:
        server.enqueue(http_error(400, "bad request " + HOSTILE))
        result = run(*ask_loopback(server, "hi"), TUI_CHAT_API_KEY=TEST_KEY)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tui-chat: error: ")
    assert_inert(result.stderr)
    assert_visible(result.stderr)


def test_show_export_list_and_search_print_stored_hostile_text_inert(tmp_path: Path) -> None:
    with LoopbackServer(api_key=TEST_KEY) as server:
        server.enqueue(reply(HOSTILE, reasoning=HOSTILE))
        prompt = "bidi\u202eevil \x1b]0;pwned\x07 csi\x9b31m"
        asked = run(*ask_loopback(server, prompt), TUI_CHAT_API_KEY=TEST_KEY)
    assert asked.returncode == 0, asked.stderr
    (title,) = rows(db_path(), "SELECT title FROM conversations")[0]
    assert "\x1b" in str(title) and "\u202e" in str(title)  # the title keeps them too

    command: tuple[str, ...]
    for command in (
        ("show", "1"),
        ("show", "1", "--tree"),
        ("export", "1"),
        ("export", "--all"),
        ("list",),
        ("search", "pwned"),
    ):
        result = run(*command)
        assert result.returncode == 0, (command, result.stderr)
        assert_inert(result.stdout)
        assert "␛" in result.stdout and "<U+202E>" in result.stdout, command
    assert_visible(run("show", "1").stdout)
    assert_visible(run("export", "1").stdout)

    # JSON to stdout: the same document to a parser, but nothing a terminal would obey.
    for command in (("export", "1", "--format", "json"), ("list", "--json")):
        result = run(*command)
        assert result.returncode == 0, result.stderr
        assert_inert(result.stdout)
        assert "\\u001b" in result.stdout and "\\u202e" in result.stdout
    document = json.loads(run("export", "1", "--format", "json").stdout)
    assert document["messages"][-1]["content"] == HOSTILE
    assert json.loads(run("list", "--json").stdout)[0]["title"] == title

    # A file gets the text as stored: it is not a terminal.
    target = tmp_path / "thread.md"
    assert run("export", "1", "-o", str(target)).returncode == 0
    assert HOSTILE in target.read_text(encoding="utf-8")


def test_reasoning_ends_its_line_before_an_error() -> None:
    with LoopbackServer(api_key=TEST_KEY) as server:
        server.enqueue(fault("error_event", after=2, reasoning="weighing the options"))
        result = run(*ask_loopback(server, "--show-reasoning", "hi"), TUI_CHAT_API_KEY=TEST_KEY)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("tui-chat: error: "), result.stderr
    assert len(lines) >= 2 and "weighing" in result.stderr.split("tui-chat: error:")[0]
