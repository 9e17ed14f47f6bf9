"""The engine says when a turn's request is out, before any answer: the screen draws the turn
while the model thinks, never before the request has left."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.server import LoopbackServer, silent
from tests.ui.conftest import wait_for
from tui.domain import ApiMode
from tui.services.container import Services, open_services
from tui.services.turns import ReplyFinished, TurnOptions


@pytest.mark.parametrize("api", [ApiMode.CHAT, ApiMode.RESPONSES])
async def test_the_request_is_reported_sent_while_the_server_is_still_silent(
    services: Services, loopback: LoopbackServer, api: ApiMode
) -> None:
    loopback.enqueue(silent(30))
    sent = asyncio.Event()
    seen_by_server: list[int] = []

    async def request_sent() -> None:
        seen_by_server.append(len(loopback.requests))
        sent.set()

    events: list[object] = []

    async def turn() -> None:
        options = TurnOptions(api_mode=api, request_sent=request_sent)
        async for event in services.chat.send(None, "are you there?", options=options):
            events.append(event)

    task = asyncio.create_task(turn())
    try:
        await asyncio.wait_for(sent.wait(), 5)
        # Told once the body was written: the reply has not started (the server says
        # nothing), and the request is whole at the server.
        assert not any(isinstance(event, ReplyFinished) for event in events)
        await wait_for(lambda: len(loopback.requests) == 1, timeout=5)
        assert loopback.requests[0].json["stream"] is True
        assert seen_by_server in ([0], [1])  # the server may not have parsed it yet
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_offline_demo_model_reports_its_request_sent_too(tmp_path: Path) -> None:
    services = await open_services(
        config=str(tmp_path / "config.toml"),
        db=str(tmp_path / "history.sqlite3"),
        env={},
        improve_titles=False,
    )
    sent: list[bool] = []

    async def request_sent() -> None:
        sent.append(True)

    try:
        options = TurnOptions(request_sent=request_sent)
        kinds = [type(e).__name__ async for e in services.chat.send(None, "hi", options=options)]
        assert sent == [True]
        assert kinds[-1] == "ReplyFinished"
    finally:
        await services.close()
