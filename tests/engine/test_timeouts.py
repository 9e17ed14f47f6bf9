"""A reply that never starts, or starts and then goes silent, fails after the provider's limits
(``first_token_timeout``, ``idle_timeout``) with a line saying which, and keeps what arrived."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import send, write_config
from tests.engine.test_cli import ask_loopback, db_path, rows, run
from tests.support.fixtures import TEST_KEY
from tests.support.script import fault, reply
from tests.support.server import LoopbackServer, silent
from tui.config.settings import load_settings, parse_settings, settings_to_toml
from tui.domain import ApiMode, MessageStatus, Role
from tui.providers.errors import FirstTokenTimeoutError, IdleTimeoutError
from tui.services.container import Services, open_services

LIMIT = 0.5
"""The limit under test, in seconds: small, so that a test waits half a second, not minutes."""
WORDS = "one two three four five six"
THREE_WORDS_IN = {"chat": 4, "responses": 7}
"""Events before the fourth word: Chat sends a role chunk first, Responses four lifecycle
events (created, in progress, the message item, its content part)."""


async def opened(tmp_path: Path, server: LoopbackServer, extra: str) -> Services:
    config = write_config(tmp_path / "config.toml", server.base_url, extra=extra)
    return await open_services(
        config=str(config),
        db=str(tmp_path / "history.sqlite3"),
        env={"LOOP_KEY": TEST_KEY},
        improve_titles=False,
    )


@pytest.fixture
async def limited(tmp_path: Path, loopback: LoopbackServer) -> AsyncIterator[Services]:
    """The engine with both limits at ``LIMIT`` in the provider's settings."""
    services = await opened(
        tmp_path, loopback, f"first_token_timeout = {LIMIT}\nidle_timeout = {LIMIT}\n"
    )
    yield services
    await services.close()


async def stored(services: Services) -> list[Any]:
    conversation = await services.store.repository.latest_conversation()
    assert conversation is not None
    return await services.store.repository.active_path(conversation.id)


# ------------------------------------------------------------------ settings


def test_the_two_limits_are_read_from_the_provider_table() -> None:
    problems: list[str] = []
    settings = parse_settings(
        {"providers": {"loop": {"first_token_timeout": 900, "idle_timeout": 12.5}}}, problems
    )
    assert problems == []
    section = settings.providers["loop"]
    assert (section.first_token_timeout, section.idle_timeout) == (900.0, 12.5)
    # Written back as they were given.
    saved = settings_to_toml(settings)["providers"]["loop"]
    assert (saved["first_token_timeout"], saved["idle_timeout"]) == (900, 12.5)


@pytest.mark.parametrize("bad", ["ten", 0, -5, True, [60], float("nan")])
def test_a_bad_limit_is_a_warning_and_the_default_is_kept(bad: object) -> None:
    problems: list[str] = []
    settings = parse_settings(
        {"providers": {"loop": {"base_url": "http://x/v1", "idle_timeout": bad}}}, problems
    )
    assert len(problems) == 1
    assert problems[0].startswith("providers.loop.idle_timeout must be a positive number")
    assert settings.providers["loop"].idle_timeout is None
    assert settings.providers["loop"].base_url == "http://x/v1"  # the rest of the table holds


def test_a_bad_limit_in_the_file_does_not_stop_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[providers.openai]\nfirst_token_timeout = "soon"\nidle_timeout = 30\n')
    settings, problems = load_settings(path, env={})
    assert len(problems) == 1 and "first_token_timeout" in problems[0] and str(path) in problems[0]
    assert settings.providers["openai"].idle_timeout == 30.0


async def test_the_limits_reach_the_provider_and_default_to_10_minutes_and_1_minute(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    services = await opened(tmp_path, loopback, "first_token_timeout = 1200\n")
    try:
        loop = services.registry.config("loop")
        assert (loop.first_token_timeout, loop.idle_timeout) == (1200.0, 60.0)
        openai = services.registry.config("openai")
        assert (openai.first_token_timeout, openai.idle_timeout) == (600.0, 60.0)
    finally:
        await services.close()


# ------------------------------------------------------------------ the first token


@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_a_server_that_sends_nothing_fails_after_the_first_token_limit(
    api: str, limited: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(silent(30))
    began = time.monotonic()
    turn = await send(limited, None, "are you there?", api_mode=ApiMode(api))
    waited = time.monotonic() - began
    assert LIMIT <= waited < LIMIT + 4
    error = turn.finished.error
    assert isinstance(error, FirstTokenTimeoutError)
    assert str(error) == (
        "No reply from loop within 0.5 s; it may still be thinking. Raise first_token_timeout "
        "in [providers.loop] (--first-token-timeout on the command line), then retry (Ctrl+R)."
    )
    assert len(loopback.requests) == 1, "a reply that may still be thinking is not resent"
    path = await stored(limited)
    assert [(m.role, m.status) for m in path] == [
        (Role.USER, MessageStatus.COMPLETE),
        (Role.ASSISTANT, MessageStatus.FAILED),
    ]
    assert path[0].content == "are you there?"
    assert path[1].error == str(error)


@pytest.mark.parametrize(("api", "lifecycle"), [("chat", 1), ("responses", 2)])
async def test_headers_and_lifecycle_events_are_not_a_first_token(
    api: str, lifecycle: int, limited: Services, loopback: LoopbackServer
) -> None:
    """A stream that opens (a role chunk; ``response.created``, ``in_progress``) and then
    thinks in silence is still waiting for its first token."""
    loopback.enqueue(fault("stall", after=lifecycle, stall_seconds=30))
    turn = await send(limited, None, "think hard", api_mode=ApiMode(api))
    assert isinstance(turn.finished.error, FirstTokenTimeoutError)
    assert turn.reply.content == ""


async def test_a_long_think_before_the_first_token_is_not_an_idle_stream(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    """Silence longer than ``idle_timeout`` before the first token is thinking, not a stall."""
    services = await opened(tmp_path, loopback, "first_token_timeout = 10\nidle_timeout = 0.3\n")
    try:
        loopback.enqueue(fault("stall", after=1, stall_seconds=0.9, text="worth the wait"))
        turn = await send(services, None, "think first", api_mode=ApiMode.CHAT)
        assert turn.finished.error is None
        assert turn.reply.content == "worth the wait"
        assert turn.reply.status is MessageStatus.COMPLETE
    finally:
        await services.close()


async def test_silence_between_reasoning_and_the_answer_is_thinking_not_idle(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    """A model that reasons, then thinks in silence before it answers (a ``-pro`` model does
    for minutes): the idle limit starts with the answer, not with the reasoning."""
    services = await opened(tmp_path, loopback, "first_token_timeout = 10\nidle_timeout = 0.3\n")
    try:
        loopback.enqueue(
            fault("stall", after=2, stall_seconds=0.9, reasoning="Weighing it", text="the answer")
        )
        turn = await send(services, None, "think hard", api_mode=ApiMode.CHAT)
        assert turn.finished.error is None
        assert turn.reply.reasoning == "Weighing it"
        assert turn.reply.content == "the answer"
    finally:
        await services.close()


async def test_the_turn_can_set_its_own_first_token_limit(
    services: Services, loopback: LoopbackServer
) -> None:
    """``ask --first-token-timeout`` wins over the settings (here the 10-minute default)."""
    loopback.enqueue(silent(30))
    began = time.monotonic()
    turn = await send(services, None, "hello", first_token_timeout=LIMIT)
    assert time.monotonic() - began < LIMIT + 4
    assert isinstance(turn.finished.error, FirstTokenTimeoutError)
    assert "within 0.5 s" in str(turn.finished.error)


# ------------------------------------------------------------------ silence once it flows


@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_a_stream_that_stops_fails_after_the_idle_limit_and_keeps_its_text(
    api: str, limited: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(fault("stall", after=THREE_WORDS_IN[api], stall_seconds=30, text=WORDS))
    began = time.monotonic()
    turn = await send(limited, None, "count", api_mode=ApiMode(api))
    assert time.monotonic() - began < LIMIT + 4
    error = turn.finished.error
    assert isinstance(error, IdleTimeoutError)
    assert str(error) == (
        "loop stopped sending for 0.5 s. Retry (Ctrl+R), or raise idle_timeout in "
        "[providers.loop] (--idle-timeout on the command line)."
    )
    (reply_row,) = [m for m in await stored(limited) if m.role is Role.ASSISTANT]
    assert reply_row.status is MessageStatus.FAILED
    assert reply_row.content == "one two three "
    assert reply_row.error == str(error)


async def test_the_turn_can_set_its_own_idle_limit(
    services: Services, loopback: LoopbackServer
) -> None:
    loopback.enqueue(fault("stall", after=3, stall_seconds=30, text=WORDS))
    turn = await send(services, None, "count", api_mode=ApiMode.CHAT, idle_timeout=LIMIT)
    assert isinstance(turn.finished.error, IdleTimeoutError)
    assert turn.reply.content == "one two "


async def test_slow_but_steady_text_is_not_idle(
    limited: Services, loopback: LoopbackServer
) -> None:
    """Each pause is shorter than the limit, though the whole reply takes longer than it."""
    loopback.enqueue(reply(WORDS, delay=0.15))
    turn = await send(limited, None, "slowly", api_mode=ApiMode.CHAT)
    assert turn.finished.error is None
    assert turn.reply.content == WORDS


# ------------------------------------------------------------------ the command line


def ask_with_limits(server: LoopbackServer, *flags: str) -> Any:
    return run(*ask_loopback(server, "--api-key", TEST_KEY, *flags, "are you there?"))


def test_ask_reports_a_reply_that_never_starts_after_first_token_timeout() -> None:
    with LoopbackServer(api_key=TEST_KEY) as server:
        server.enqueue(silent(30))
        began = time.monotonic()
        result = ask_with_limits(server, "--first-token-timeout", "0.5")
        took = time.monotonic() - began
    assert result.returncode == 1, result.stderr
    assert took < 20
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "tui-chat: error: No reply from 127.0.0.1 within 0.5 s; it may still be thinking. "
        "Raise first_token_timeout in the provider's settings (--first-token-timeout"
    )
    stored = rows(db_path(), "SELECT role, status, content FROM messages ORDER BY id")
    assert stored == [("user", "complete", "are you there?"), ("assistant", "failed", "")]


def test_ask_reports_a_stream_gone_silent_after_idle_timeout_and_keeps_the_text() -> None:
    with LoopbackServer(api_key=TEST_KEY) as server:
        server.enqueue(fault("stall", after=4, stall_seconds=30, text=WORDS))
        result = ask_with_limits(server, "--idle-timeout", "0.5")
    assert result.returncode == 1, result.stderr
    assert result.stdout == "one two three \n"  # printed as it came
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tui-chat: error: 127.0.0.1 stopped sending for 0.5 s. Retry")
    assert "--idle-timeout" in lines[0]
    stored = rows(db_path(), "SELECT status, content, error FROM messages WHERE role = 'assistant'")
    ((status, content, error),) = stored
    assert (status, content) == ("failed", "one two three ")
    assert isinstance(error, str)
    assert "stopped sending for 0.5 s" in error


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_bad_limit_on_the_command_line_is_a_usage_error(value: str) -> None:
    result = run("ask", "-p", "demo", "--idle-timeout", value, "hi")
    assert result.returncode == 2
    assert "--idle-timeout" in result.stderr and "number of seconds" in result.stderr
    assert not db_path().exists() or rows(db_path(), "SELECT count(*) FROM messages") == [(0,)]
