"""An engine wired exactly as the app wires it, pointed at the loopback server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fixtures import TEST_KEY
from tests.support.server import LoopbackServer
from tui.domain import Role
from tui.services.container import Services, open_services
from tui.services.turns import ReplyFinished, TurnEvent, TurnOptions, UserMessageSaved


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer(api_key=TEST_KEY) as server:
        yield server


def write_config(
    path: Path, base_url: str, *, model: str = "loopback-chat", extra: str = ""
) -> Path:
    path.write_text(
        f'[defaults]\nprovider = "loop"\nmodel = "{model}"\n\n'
        f'[providers.loop]\nbase_url = "{base_url}"\napi_key_env = "LOOP_KEY"\n{extra}'
    )
    return path


@pytest.fixture
async def services(
    tmp_path: Path, loopback: LoopbackServer, database_url: str
) -> AsyncIterator[Services]:
    """The engine on each database engine: an SQLite file (``--db``), and a PostgreSQL
    database given as ``TUI_CHAT_DATABASE_URL``, as a user would."""
    config = write_config(tmp_path / "config.toml", loopback.base_url)
    env = {"LOOP_KEY": TEST_KEY}
    db: str | None = str(tmp_path / "history.sqlite3")
    if not database_url.startswith("sqlite"):
        env["TUI_CHAT_DATABASE_URL"] = database_url
        db = None
    opened = await open_services(config=str(config), db=db, env=env, improve_titles=False)
    yield opened
    await opened.close()


class Turn:
    """Everything one turn reported."""

    def __init__(self, events: list[TurnEvent]) -> None:
        self.events = events

    @property
    def user(self) -> Any:
        return next(e.message for e in self.events if isinstance(e, UserMessageSaved))

    @property
    def finished(self) -> ReplyFinished:
        return next(e for e in self.events if isinstance(e, ReplyFinished))

    @property
    def reply(self) -> Any:
        return self.finished.message


async def collect(stream: AsyncIterator[TurnEvent]) -> Turn:
    return Turn([event async for event in stream])


async def send(services: Services, conversation_id: int | None, text: str, **options: Any) -> Turn:
    return await collect(services.chat.send(conversation_id, text, options=TurnOptions(**options)))


def user_texts(body: dict[str, Any]) -> list[str]:
    """The user turns a recorded request carried, in order (either API)."""
    items = body.get("input", body.get("messages", []))
    if isinstance(items, str):
        return [items]
    texts = []
    for item in items:
        if item.get("role") != Role.USER.value:
            continue
        content = item["content"]
        if isinstance(content, str):
            texts.append(content)
        else:
            texts.append("".join(part.get("text", "") for part in content))
    return texts
