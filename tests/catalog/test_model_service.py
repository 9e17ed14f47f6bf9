"""The picker's model list: badges, the fuzzy filter, recently used first, live lists cached."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixtures import TEST_KEY
from tests.support.server import LoopbackServer
from tui.domain import ApiKind, ModelInfo
from tui.providers.presets import BUILTIN_MODELS
from tui.services.container import open_services
from tui.services.models import (
    ModelChoice,
    api_badge,
    badges,
    context_badge,
    filter_choices,
    fuzzy_score,
)


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    with LoopbackServer(api_key=TEST_KEY) as server:
        yield server


def choice(model_id: str, provider: str = "p", label: str = "P") -> ModelChoice:
    return ModelChoice(provider, label, ModelInfo(id=model_id, provider=provider), True)


def test_badges_name_what_a_model_takes() -> None:
    pro = next(m for m in BUILTIN_MODELS["aimlapi"] if m.id == "openai/gpt-5-2-pro")
    assert badges(pro) == [
        "Responses only",
        "reasoning medium–xhigh",
        "image",
        "file",
        "web",
        "400k",
    ]
    chat_only = ModelInfo(id="x", provider="p", endpoints=frozenset({ApiKind.CHAT}))
    assert api_badge(chat_only) == "Chat only" and badges(chat_only) == ["Chat only"]
    assert context_badge(1_000_000) == "1M" and context_badge(None) == ""


def test_fuzzy_filter_orders_by_match_quality() -> None:
    choices = [
        choice("openai/gpt-5.2-chat"),
        choice("openai/gpt-5.2"),
        choice("llama-3.1-70b"),
        choice("gpt-5.2-pro"),
    ]
    assert [c.model.id for c in filter_choices(choices, "gpt-5.2")][:2] == [
        "openai/gpt-5.2",
        "gpt-5.2-pro",
    ]
    assert [c.model.id for c in filter_choices(choices, "l370")] == ["llama-3.1-70b"]
    assert filter_choices(choices, "zzz") == []
    assert filter_choices(choices, "  ") == choices
    assert fuzzy_score("g52p", "gpt-5.2-pro p") is not None
    assert fuzzy_score("pro gpt", "gpt-5.2-pro p") is not None  # words in any order
    assert fuzzy_score("q", "gpt") is None


async def test_groups_recent_and_cached_live_lists(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[providers.loop]\nbase_url = "{loopback.base_url}"\napi_key_env = "LOOP_KEY"\n'
    )
    db = tmp_path / "history.sqlite3"
    services = await open_services(
        config=str(config), db=str(db), env={"LOOP_KEY": TEST_KEY}, improve_titles=False
    )
    try:
        models = services.models
        await models.load()
        groups = {group.provider: group for group in models.groups()}
        assert not groups["openai"].has_key and groups["loop"].has_key
        assert groups["loop"].choices == ()  # no list fetched yet
        refreshed = await models.refresh("loop")
        assert (refreshed.count, refreshed.added, refreshed.error) == (3, 3, None)
        assert "lists 3 chat models" in refreshed.describe()
        await models.note_used("demo", "demo-pro")
        await models.note_used("loop", "loopback-chat")
        recent = models.recent(models.groups())
        assert [(c.provider, c.model.id) for c in recent] == [
            ("loop", "loopback-chat"),
            ("demo", "demo-pro"),
        ]
        assert all(c.recent for c in recent)
    finally:
        await services.close()
    # Another start reads the live list from the cache, without asking the server.
    asked = len(loopback.requests)
    services = await open_services(
        config=str(config), db=str(db), env={"LOOP_KEY": TEST_KEY}, improve_titles=False
    )
    try:
        await services.models.load()
        groups = {group.provider: group for group in services.models.groups()}
        assert len(groups["loop"].choices) == 3
        assert len(loopback.requests) == asked
    finally:
        await services.close()


async def test_a_refresh_error_is_returned_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[providers.gone]\nbase_url = "http://127.0.0.1:9/v1"\n')
    services = await open_services(
        config=str(config), db=str(tmp_path / "h.sqlite3"), env={}, improve_titles=False
    )
    try:
        refreshed = await services.models.refresh("gone")
        assert refreshed.error is not None and "\n" not in refreshed.describe()
        assert refreshed.describe().startswith("gone: ")
    finally:
        await services.close()
