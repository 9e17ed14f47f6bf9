"""The real app, built as ``tui-chat`` builds it, on the demo model or the loopback server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App

from tests.support.fixtures import TEST_KEY
from tests.support.server import LoopbackServer
from tui.app import TuiApp
from tui.services.container import Services, open_services

AppFactory = Callable[..., TuiApp]


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(api_key=TEST_KEY) as running:
        yield running


@pytest.fixture
def app_factory(tmp_path: Path) -> AppFactory:
    """``app_factory(config="...", speed=0)`` builds a TuiApp on a temporary database."""

    def build(
        *,
        config: str = "",
        speed: float = 0,
        env: dict[str, str] | None = None,
        new_chat: bool = False,
        home: bool = False,
        db: Path | None = None,
    ) -> TuiApp:
        config_path = tmp_path / "config.toml"
        config_path.write_text(config)
        database = db or tmp_path / "history.sqlite3"

        async def factory() -> Services:
            return await open_services(
                config=str(config_path),
                db=str(database),
                env=env or {},
                demo_tokens_per_second=speed,
                improve_titles=False,
            )

        return TuiApp(factory, new_chat=new_chat, home=home)

    return build


def loopback_config(
    server: LoopbackServer, *, model: str = "loopback-chat", api: str = "chat"
) -> str:
    return (
        f'[defaults]\nprovider = "loop"\nmodel = "{model}"\napi_mode = "{api}"\n\n'
        f'[providers.loop]\nbase_url = "{server.base_url}"\napi_key_env = "LOOP_KEY"\n'
    )


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    """Wait until ``predicate()`` is true, letting the app run; fail loudly on timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def shown(app: App[Any], selector: str) -> bool:
    """True once a widget matching ``selector`` is on the active screen and laid out."""
    found = app.screen.query(selector)
    return bool(found) and found.first().region.width > 0
