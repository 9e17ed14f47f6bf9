"""``GET /models`` bodies from any OpenAI-compatible server, read defensively.

Only ``id`` is relied on. Tolerated: LM Studio (no ``created``), OpenAI's long mixed list, Ollama,
GMI Cloud's documented example (``"id": ""`` with the name under ``object``, trailing commas and
``//`` comments), a bare list, and ``{"models": [...]}``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tui.domain import ModelInfo
from tui.providers.errors import MalformedResponseError
from tui.providers.payloads import excerpt

_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def parse_models(body: bytes, provider: str) -> list[ModelInfo]:
    """The models a ``/models`` body lists, in its order, without duplicates."""
    payload = _lenient_json(body)
    entries: Any
    if isinstance(payload, dict):
        entries = payload.get("data")
        if not isinstance(entries, list):
            entries = payload.get("models")
    else:
        entries = payload
    if not isinstance(entries, list):
        raise MalformedResponseError(
            "The provider's model list has no list of models in it.",
            provider=provider,
            detail=excerpt(body),
        )
    seen: set[str] = set()
    models: list[ModelInfo] = []
    for entry in entries:
        model_id = _model_id(entry)
        if model_id and model_id not in seen:
            seen.add(model_id)
            models.append(ModelInfo(id=model_id, provider=provider, builtin=False))
    return models


def _model_id(entry: object) -> str | None:
    if isinstance(entry, str):
        return entry.strip() or None
    if not isinstance(entry, dict):
        return None
    for key in ("id", "model", "name"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    # GMI's documented example puts the model name under "object" and leaves "id" empty.
    kind = entry.get("object")
    if isinstance(kind, str) and kind.strip() and kind.strip() != "model":
        return kind.strip()
    return None


def _lenient_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        first_error = exc
    try:
        text = body.decode("utf-8")
        text = "\n".join(_without_comment(line) for line in text.splitlines())
        text = _TRAILING_COMMA.sub(r"\1", text)
        return json.loads(text)
    except ValueError:
        raise MalformedResponseError(
            "The provider's model list is not valid JSON.", detail=excerpt(body, first_error)
        ) from None


def _without_comment(line: str) -> str:
    """The line up to a ``//`` that is not inside a JSON string."""
    in_string = escaped = False
    for index, char in enumerate(line):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "/" and line[index + 1 : index + 2] == "/":
            return line[:index]
    return line
