"""Small pieces both protocol adapters share: JSON reading, usage, attachments."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tui.domain import Attachment, Citation, Usage
from tui.providers.errors import (
    BadRequestError,
    MalformedResponseError,
    ProviderError,
    error_from_payload,
    error_from_response,
)

_EXCERPT = 80


def load_json(data: str | bytes, what: str = "an event") -> Any:
    """``json.loads`` that reports bad JSON or bad UTF-8 as ``MalformedResponseError``."""
    try:
        return json.loads(data)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both
        raise MalformedResponseError(
            f"The provider sent {what} that is not valid JSON.", detail=excerpt(data, exc)
        ) from None


def load_object(data: str | bytes, what: str = "an event") -> dict[str, Any]:
    """Like ``load_json`` but the value must be a JSON object."""
    value = load_json(data, what)
    if type(value) is not dict:
        raise MalformedResponseError(
            f"The provider sent {what} that is not a JSON object.", detail=excerpt(data)
        )
    return value


def excerpt(data: str | bytes, exc: Exception | None = None) -> str:
    """The start of a bad payload, for the error's detail."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    clipped = text[:_EXCERPT] + ("…" if len(text) > _EXCERPT else "")
    return f"{clipped!r} ({exc})" if exc is not None else repr(clipped)


def as_int(value: object) -> int | None:
    """An integer count, or None for anything else (null, strings, booleans)."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None


def _detail(usage: dict[str, Any], key: str, field: str) -> int | None:
    details = usage.get(key)
    return as_int(details.get(field)) if isinstance(details, dict) else None


def chat_usage(usage: object) -> Usage | None:
    """Chat Completions ``usage`` (``prompt_tokens``...), tolerating Responses-style names."""
    if not isinstance(usage, dict):
        return None
    input_tokens = as_int(usage.get("prompt_tokens"))
    output_tokens = as_int(usage.get("completion_tokens"))
    if input_tokens is None and output_tokens is None:
        return responses_usage(usage)
    cached = _detail(usage, "prompt_tokens_details", "cached_tokens")
    if cached is None:
        cached = as_int(usage.get("prompt_cache_hit_tokens"))  # DeepSeek
    return Usage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        reasoning_tokens=_detail(usage, "completion_tokens_details", "reasoning_tokens"),
        cached_tokens=cached,
    )


def responses_usage(usage: object) -> Usage | None:
    """Responses ``usage`` (``input_tokens``, ``output_tokens`` and their details)."""
    if not isinstance(usage, dict):
        return None
    result = Usage(
        input_tokens=as_int(usage.get("input_tokens")),
        output_tokens=as_int(usage.get("output_tokens")),
        reasoning_tokens=_detail(usage, "output_tokens_details", "reasoning_tokens"),
        cached_tokens=_detail(usage, "input_tokens_details", "cached_tokens"),
    )
    return None if result == Usage() else result


def data_url(attachment: Attachment) -> str:
    """The attachment's URL, or its bytes as a ``data:`` URL."""
    if attachment.data is not None:
        encoded = base64.b64encode(attachment.data).decode("ascii")
        return f"data:{attachment.mime_type};base64,{encoded}"
    if attachment.url:
        return attachment.url
    raise BadRequestError(f"The attachment {attachment.name!r} has neither content nor a URL.")


def citation_from(annotation: object) -> Citation | None:
    """A ``url_citation`` annotation (flat, or nested as in Chat Completions) as a Citation."""
    if not isinstance(annotation, dict) or annotation.get("type") != "url_citation":
        return None
    inner = annotation.get("url_citation")
    fields = inner if isinstance(inner, dict) else annotation
    url = text_of(fields.get("url"))
    if not url:
        return None
    title = text_of(fields.get("title")) or None
    start, end = fields.get("start_index"), fields.get("end_index")
    return Citation(
        url,
        title,
        start if type(start) is int else None,
        end if type(end) is int else None,
    )


def text_of(value: object) -> str:
    """A string field's value, or "" for null and anything that is not text."""
    return value if type(value) is str else ""


@dataclass(frozen=True, slots=True)
class ErrorContext:
    """What error mapping needs to know about the request, so messages can be specific."""

    provider: str | None = None
    api: str | None = None
    key_env: str | None = None
    model: str | None = None
    secrets: tuple[str, ...] = ()

    def __repr__(self) -> str:  # the key is in ``secrets``: never print it
        return f"ErrorContext({self.provider!r}, {self.api!r}, {self.model!r})"

    def from_payload(
        self,
        payload: Mapping[str, Any],
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ProviderError:
        """``error_from_payload`` with this request's context."""
        return error_from_payload(
            payload,
            status=status,
            headers=headers,
            provider=self.provider,
            api=self.api,
            key_env=self.key_env,
            model=self.model,
            secrets=self.secrets,
        )

    def from_response(
        self, status: int, headers: Mapping[str, str] | None, body: bytes
    ) -> ProviderError:
        """``error_from_response`` with this request's context."""
        return error_from_response(
            status,
            headers,
            body,
            provider=self.provider,
            api=self.api,
            key_env=self.key_env,
            model=self.model,
            secrets=self.secrets,
        )
