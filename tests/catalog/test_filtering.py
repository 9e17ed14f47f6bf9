"""Which ids are chat models, how ids are canonicalised, and what is guessed for unknown ids."""

from __future__ import annotations

import pytest

from tui.domain import ApiKind, ProviderConfig
from tui.providers.capabilities import canonical_key, infer_model, is_chat_model

OPENAI = ProviderConfig(name="openai", label="OpenAI", base_url="https://api.openai.com/v1")
ROUTER = ProviderConfig(name="router", label="Router", base_url="https://router.example/v1")
NO_RESPONSES = ProviderConfig(
    name="old", label="Old", base_url="http://localhost:9/v1", supports_responses=False
)


@pytest.mark.parametrize(
    "model_id",
    [
        "text-embedding-3-small",
        "nomic-embed-text:latest",
        "mxbai-embed-large",
        "BAAI/bge-reranker-v2-m3",
        "bge-m3",
        "whisper-1",
        "gpt-4o-transcribe",
        "tts-1",
        "gpt-4o-mini-tts",
        "dall-e-3",
        "gpt-image-1",
        "sora-2",
        "omni-moderation-latest",
        "text-moderation-stable",
        "ft:gpt-4o-mini-2024-07-18:acme::9xYz",
        "curie:ft-personal-2023-01-01",
        "davinci-002",
        "text-davinci-003",
        "code-davinci-edit-001",
        "gpt-3.5-turbo-instruct",
        "gpt-4o-realtime-preview",
        "gpt-4o-audio-preview",
        "computer-use-preview",
    ],
)
def test_non_chat_ids_are_filtered(model_id: str) -> None:
    assert not is_chat_model(model_id)


@pytest.mark.parametrize(
    "model_id",
    [
        "gpt-5.2",
        "gpt-5.2-pro",
        "o3-mini",
        "openai/gpt-5-2-chat-latest",
        "mistral-small-3.1-24b-instruct-2503",
        "phi-4-mini-instruct",
        "llama3.2:3b",
        "deepseek/deepseek-r1-0528-qwen3-8b",
        "gpt-4o-search-preview",
        "Qwen/Qwen2.5-Coder-32B-Instruct",
    ],
)
def test_chat_ids_are_kept(model_id: str) -> None:
    assert is_chat_model(model_id)


@pytest.mark.parametrize(
    ("model_id", "key"),
    [
        ("openai/gpt-5-2", "gpt-5.2"),
        ("openai/gpt-5.2", "gpt-5.2"),
        ("gpt-5.2", "gpt-5.2"),
        ("openai/gpt-5-2-chat-latest", "gpt-5.2-chat"),
        ("gpt-5.2-pro-2025-12-11", "gpt-5.2-pro"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4-0613", "gpt-4"),
        ("openai/gpt-5-pro", "gpt-5-pro"),
    ],
)
def test_canonical_key(model_id: str, key: str) -> None:
    assert canonical_key(model_id) == key


@pytest.mark.parametrize(
    ("model_id", "endpoints"),
    [
        ("gpt-5.4-pro", {ApiKind.RESPONSES}),
        ("o1-pro-2025-03-19", {ApiKind.RESPONSES}),
        ("gpt-5.1-codex-max", {ApiKind.RESPONSES}),
        ("o4-mini-deep-research", {ApiKind.RESPONSES}),
        ("openai/gpt-5-2-pro", {ApiKind.RESPONSES}),
        ("gpt-5.1", {ApiKind.CHAT, ApiKind.RESPONSES}),
        ("gpt-4o-preview", {ApiKind.CHAT, ApiKind.RESPONSES}),
        # Only OpenAI ids follow OpenAI's -pro rule.
        ("acme/reasoner-pro", {ApiKind.CHAT, ApiKind.RESPONSES}),
    ],
)
def test_inferred_endpoints(model_id: str, endpoints: set[ApiKind]) -> None:
    assert infer_model(ROUTER, model_id).endpoints == endpoints


def test_a_provider_without_responses_gets_chat_only_guesses() -> None:
    assert infer_model(NO_RESPONSES, "gpt-5.4-pro").endpoints == {ApiKind.CHAT}
    assert infer_model(NO_RESPONSES, "llama3").endpoints == {ApiKind.CHAT}


@pytest.mark.parametrize(
    ("model_id", "efforts"),
    [
        ("gpt-5.2", ("none", "low", "medium", "high", "xhigh")),
        ("gpt-5.1-2025-11-13", ("none", "low", "medium", "high")),
        ("gpt-5-mini", ("minimal", "low", "medium", "high")),
        ("gpt-5-pro", ("high",)),
        ("gpt-5.4-pro", ("medium", "high", "xhigh")),
        ("o3", ("low", "medium", "high")),
        ("gpt-5.2-chat-latest", ()),
        ("gpt-4.1", ()),
        ("qwen3-32b", ()),
    ],
)
def test_inferred_reasoning_efforts(model_id: str, efforts: tuple[str, ...]) -> None:
    assert infer_model(OPENAI, model_id).reasoning_efforts == efforts


def test_web_search_is_only_claimed_on_openai_itself() -> None:
    assert infer_model(OPENAI, "gpt-4.1").web_search
    assert not infer_model(ROUTER, "gpt-4.1").web_search
    assert not infer_model(OPENAI, "gpt-3.5-turbo").web_search
    assert not infer_model(OPENAI, "gpt-3.5-turbo").image_input
