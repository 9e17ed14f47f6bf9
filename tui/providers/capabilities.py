"""What a model id says about the model: its canonical name, whether it chats, what it supports.

Used for models the catalog does not list itself (a provider's live ``/models`` entries, ids the
user typed). The guesses are conservative: a capability is claimed only when the id belongs to a
family known to have it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from urllib.parse import urlsplit

from tui.domain import ApiKind, ModelInfo, ProviderConfig

_VERSION_HYPHEN = re.compile(r"(?<=\d)-(?=\d(?!\d))")
"""``gpt-5-2`` -> ``gpt-5.2``; a lone digit only, so dates such as ``2025-12-11`` stay intact."""
_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{4})$")
_LATEST_SUFFIX = re.compile(r"-latest$")

_NON_CHAT = re.compile(
    r"""
    embed | rerank | (?:^|[-/_:])bge- | whisper | transcribe | (?:^|[-/_])tts(?:[-_.]|$)
    | dall-e | gpt-image | (?:^|/)sora | moderation | realtime | -audio | computer-use
    | ^ft: | :ft- | ^(?:ada|babbage|curie|davinci)(?:[-:]|$)
    | ^(?:text|code)-(?:ada|babbage|curie|davinci|cushman|search|similarity)
    | ^gpt-3\.5-turbo-instruct
    """,
    re.VERBOSE,
)
"""Ids of models that do not chat: embeddings, speech, images, moderation, fine-tunes, and the
legacy completion-only models that an old account's OpenAI list still carries."""

_OPENAI_FAMILY = re.compile(r"^(?:gpt-|o\d|codex|chatgpt-)")
_PRO = re.compile(r"-pro(?:-|$)")
_RESPONSES_ONLY = re.compile(r"-pro(?:-|$)|codex|deep-research")
_OPENAI_VISION = re.compile(
    r"^(?:gpt-4o|gpt-4\.1|gpt-4-turbo|gpt-4-vision|gpt-5|o1(?!-mini)|o3(?!-mini)|o4)"
)
_OPENAI_WEB_SEARCH = re.compile(r"^(?:gpt-4o|gpt-4\.1|gpt-5|o3|o4-mini)")
_OTHER_VISION = re.compile(r"vision|[-_]vl\b|[-_]vl[-_]|llava|pixtral")
_GPT5_MINOR = re.compile(r"^gpt-5\.(\d+)")


def split_namespace(model_id: str) -> tuple[str, str]:
    """``openai/gpt-5-2`` -> ``("openai", "gpt-5-2")``; ``gpt-5.2`` -> ``("", "gpt-5.2")``."""
    namespace, _, name = model_id.strip().rpartition("/")
    return namespace.lower(), name


def canonical_key(model_id: str) -> str:
    """A spelling-independent name: ``openai/gpt-5-2-chat-latest`` -> ``gpt-5.2-chat``.

    Drops the namespace, turns hyphenated versions into dotted ones, and removes a snapshot date
    or ``-latest``, so the same model matches across providers.
    """
    _, name = split_namespace(model_id)
    key = _VERSION_HYPHEN.sub(".", name.lower())
    key = _DATE_SUFFIX.sub("", key)
    return _LATEST_SUFFIX.sub("", key)


def is_chat_model(model_id: str) -> bool:
    """False for ids that name embedding, speech, image, moderation or fine-tuned models."""
    return _NON_CHAT.search(model_id.strip().lower()) is None


def is_openai_family(model_id: str) -> bool:
    """An OpenAI model id, bare (``gpt-5.2``) or namespaced (``openai/gpt-5-2``)."""
    namespace, name = split_namespace(model_id)
    return namespace in ("", "openai") and _OPENAI_FAMILY.match(name.lower()) is not None


def _reasoning_efforts(key: str) -> tuple[str, ...]:
    """Effort levels OpenAI documents for the family, from its canonical key."""
    if "chat" in key or key.startswith(("gpt-3", "gpt-4")):
        return ()
    if key.startswith("o") and key[1:2].isdigit():
        return ("low", "medium", "high")
    minor = _GPT5_MINOR.match(key)
    if _PRO.search(key) and key.startswith("gpt-5"):
        return ("medium", "high", "xhigh") if minor and int(minor.group(1)) >= 2 else ("high",)
    if "codex" in key:
        return ("low", "medium", "high")
    if minor:
        levels = ("none", "low", "medium", "high")
        return (*levels, "xhigh") if int(minor.group(1)) >= 2 else levels
    if key.startswith("gpt-5"):
        return ("minimal", "low", "medium", "high")
    return ()


def infer_model(
    provider: ProviderConfig, model_id: str, known: Iterable[ModelInfo] = ()
) -> ModelInfo:
    """Capabilities for a model the catalog does not list, as ``builtin=False``.

    A dated or respelled id of a ``known`` model (``gpt-5.2-2025-12-11``) takes that model's
    capabilities. Otherwise both endpoints are assumed, except where the provider has no
    Responses API (Chat only) or the id is an OpenAI ``-pro``/codex/deep-research model
    (Responses only).
    """
    key = canonical_key(model_id)
    for model in known:
        if canonical_key(model.id) == key or model.family == key:
            endpoints = (
                model.endpoints if provider.supports_responses else frozenset({ApiKind.CHAT})
            )
            return replace(
                model,
                id=model_id,
                provider=provider.name,
                label=model_id,
                endpoints=endpoints,
                builtin=False,
            )
    openai_family = is_openai_family(model_id)
    if not provider.supports_responses:
        endpoints = frozenset({ApiKind.CHAT})
    elif openai_family and _RESPONSES_ONLY.search(key):
        endpoints = frozenset({ApiKind.RESPONSES})
    else:
        endpoints = frozenset({ApiKind.CHAT, ApiKind.RESPONSES})
    on_openai = urlsplit(provider.base_url).hostname == "api.openai.com"
    if openai_family:
        vision = _OPENAI_VISION.match(key) is not None
        web_search = (
            on_openai
            and ApiKind.RESPONSES in endpoints
            and _OPENAI_WEB_SEARCH.match(key) is not None
        )
        efforts = _reasoning_efforts(key)
    else:
        vision = _OTHER_VISION.search(key) is not None
        web_search = False
        efforts = ()
    return ModelInfo(
        id=model_id,
        provider=provider.name,
        label=model_id,
        family=key,
        endpoints=endpoints,
        reasoning_efforts=efforts,
        image_input=vision,
        file_input=vision and openai_family,
        web_search=web_search,
        verbosity=openai_family and key.startswith("gpt-5"),
        builtin=False,
    )
