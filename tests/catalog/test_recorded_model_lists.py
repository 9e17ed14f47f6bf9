"""Merging and filtering real ``GET /v1/models`` bodies recorded from OpenAI and LM Studio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tui.domain import ApiKind, ModelInfo
from tui.providers.catalog import ModelCatalog

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "wire" / "fixtures"

if not FIXTURES.is_dir():
    pytest.skip(
        f"recorded wire fixtures not found at {FIXTURES} (they sit beside the checkout in CI)",
        allow_module_level=True,
    )


def recorded_ids(name: str) -> list[str]:
    recording = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    body = json.loads(recording["body_text"])
    return [entry["id"] for entry in body["data"]]


def as_live(provider: str, ids: list[str]) -> list[ModelInfo]:
    return [ModelInfo(id=model_id, provider=provider, builtin=False) for model_id in ids]


def test_openai_list_keeps_only_chat_models() -> None:
    ids = recorded_ids("33_openai_models_list.json")
    assert len(ids) == 586
    merged = ModelCatalog().set_live_models("openai", as_live("openai", ids))
    live_only = [model.id for model in merged if not model.builtin]
    assert live_only == [
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-0301",
        "gpt-3.5-turbo-0613",
        "gpt-3.5-turbo-1106",
        "gpt-3.5-turbo-16k",
        "gpt-3.5-turbo-16k-0613",
        "gpt-4",
        "gpt-4-0314",
        "gpt-4-0613",
        "gpt-4-1106-preview",
        "gpt-4-vision-preview",
    ]
    # The built-in GPT-5.2 family stays listed first even though this old account lacks it.
    assert [model.id for model in merged[:3]] == ["gpt-5.2", "gpt-5.2-chat-latest", "gpt-5.2-pro"]
    vision = next(model for model in merged if model.id == "gpt-4-vision-preview")
    assert vision.image_input and vision.reasoning_efforts == ()
    assert all(model.endpoints == {ApiKind.CHAT, ApiKind.RESPONSES} for model in merged[3:])


def test_lm_studio_list_drops_embedding_models() -> None:
    ids = recorded_ids("31_lmstudio_models_list.json")
    merged = ModelCatalog().set_live_models("lmstudio", as_live("lmstudio", ids))
    kept = {model.id for model in merged}
    dropped = set(ids) - kept
    assert dropped == {
        "text-embedding-nomic-embed-text-v1.5",
        "sfr-embedding-mistral",
        "text-embedding-granite-embedding-278m-multilingual",
    }
    assert len(kept) == len(ids) - 3
    assert all(not model.web_search and not model.file_input for model in merged)
