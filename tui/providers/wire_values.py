"""Values read off the wire with care: ``retry-after`` and error text with secrets masked.

Kept apart from ``errors`` so that module stays small; ``errors`` re-exports what callers use.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

MAX_RETRY_AFTER = 120.0
"""Longest ``retry-after`` worth waiting for inside one request; longer waits are reported."""

_DETAIL_LIMIT = 500
_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_-]{4})[A-Za-z0-9_-]{8,}")
_BEARER_PATTERN = re.compile(r"(?i)\bbearer\s+[^\s\"',]+")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with the given secrets, bearer tokens and ``sk-`` keys masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _BEARER_PATTERN.sub("Bearer ***", text)
    return _KEY_PATTERN.sub(r"\1***", text)


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    if not headers:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime  # only for the rare HTTP-date form

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def text_value(value: object) -> str | None:
    """A JSON scalar as text (integer codes included), or None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float):
        return str(value)
    return None


def clip_detail(text: str | None, secrets: Iterable[str | None]) -> str | None:
    """A provider's error text for ``ProviderError.detail``: masked, one line, bounded."""
    if not text:
        return None
    text = " ".join(redact(text, secrets).split())
    if len(text) > _DETAIL_LIMIT:
        text = text[: _DETAIL_LIMIT - 1] + "…"
    return text or None
