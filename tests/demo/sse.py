"""Reading the demo's streams with httpx + httpx_sse, as an adapter would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import aconnect_sse


@dataclass
class Event:
    name: str
    data: str

    @property
    def json(self) -> dict[str, Any]:
        value = json.loads(self.data)
        assert isinstance(value, dict)
        return value


async def stream(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> list[Event]:
    """POST ``body`` and return every server-sent event; fails unless it is a 200 SSE stream."""
    async with aconnect_sse(client, "POST", path, json=body) as source:
        assert source.response.status_code == 200, await source.response.aread()
        assert source.response.headers["content-type"] == "text/event-stream; charset=utf-8"
        return [Event(event.event, event.data) async for event in source.aiter_sse()]


async def raw_stream(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> str:
    """The body exactly as sent, for framing checks."""
    async with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200
        return (await response.aread()).decode("utf-8")


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of an OpenAI-shaped error body."""
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error, dict)
    return error
