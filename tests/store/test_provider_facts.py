"""Provider facts (what a server was found to support) and model usage (the picker's order)."""

from __future__ import annotations

from tui.domain import ModelInfo
from tui.store.db import open_store
from tui.store.repository import ConversationRepository


async def test_facts_merge_and_survive_a_restart(
    repo: ConversationRepository, database_url: str
) -> None:
    assert await repo.provider_facts() == {}
    await repo.save_provider_facts("local", {"responses": False})
    await repo.save_provider_facts("local", {"max_tokens_param": "max_tokens"})
    await repo.save_provider_facts("other", {"responses": True})
    reopened = await open_store(database_url)
    try:
        facts = await reopened.repository.provider_facts()
    finally:
        await reopened.close()
    assert facts == {
        "local": {"responses": False, "max_tokens_param": "max_tokens"},
        "other": {"responses": True},
    }


async def test_recent_models_most_recent_first(repo: ConversationRepository) -> None:
    assert await repo.recent_models() == []
    await repo.note_model_used("demo", "demo")
    await repo.note_model_used("openai", "gpt-5.2")
    await repo.note_model_used("demo", "demo-pro")
    await repo.note_model_used("openai", "gpt-5.2")  # used again: moves to the front
    assert await repo.recent_models() == [
        ("openai", "gpt-5.2"),
        ("demo", "demo-pro"),
        ("demo", "demo"),
    ]
    assert await repo.recent_models(limit=1) == [("openai", "gpt-5.2")]


async def test_all_cached_models(repo: ConversationRepository) -> None:
    await repo.cache_models("a", [ModelInfo(id="m1", provider="a")])
    await repo.cache_models("b", [ModelInfo(id="m2", provider="b", builtin=False)])
    cached = await repo.all_cached_models()
    assert [model.id for model in cached["a"]] == ["m1"]
    assert [model.id for model in cached["b"]] == ["m2"]
