"""Real provider traffic recorded by other projects, read from ``<repo>/../shared/wire/fixtures``.

The recordings stay where they are (they belong to their sources); tests read them in place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "wire" / "fixtures"


@dataclass(frozen=True)
class Recording:
    """One recorded exchange, ready to replay."""

    name: str
    endpoint: str
    request: dict[str, Any]
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def is_stream(self) -> bool:
        return any(
            name == "content-type" and "event-stream" in value for name, value in self.headers
        )

    @property
    def asked_to_stream(self) -> bool:
        body = self.request.get("body")
        return bool(body.get("stream")) if isinstance(body, dict) else False

    def response(self) -> httpx.Response:
        """The recorded response for ``httpx.MockTransport``."""
        return httpx.Response(self.status, headers=list(self.headers), content=self.body)


def available() -> bool:
    """Whether the recordings folder is beside the checkout."""
    return FIXTURES.is_dir() and any(FIXTURES.glob("*.json"))


@cache
def load(name: str) -> Recording:
    """The recording whose file name starts with ``name`` (e.g. ``"01_"``)."""
    matches = sorted(FIXTURES.glob(f"{name}*.json"))
    if len(matches) != 1:
        raise LookupError(f"expected one recording named {name}*, found {len(matches)}")
    data = json.loads(matches[0].read_text(encoding="utf-8"))
    headers: list[tuple[str, str]] = []
    for key, value in data["headers"].items():
        for item in value if isinstance(value, list) else [value]:
            headers.append((key, str(item)))
    return Recording(
        name=matches[0].stem,
        endpoint=data["endpoint"],
        request=data.get("request") or {},
        status=int(data["status"]),
        headers=tuple(headers),
        body=data["body_text"].encode("utf-8"),
    )


def names() -> list[str]:
    """Every recording's file stem, sorted."""
    return sorted(path.stem for path in FIXTURES.glob("*.json"))


def sse_payloads(recording: Recording) -> list[dict[str, Any]]:
    """The JSON of every ``data:`` line, read naively as an independent check."""
    payloads = []
    for line in recording.body.decode("utf-8").splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            payloads.append(json.loads(line[len("data: ") :]))
    return payloads
