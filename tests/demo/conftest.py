"""A client wired to the demo transport, as the app wires it (``mounts=demo_mounts(...)``)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tui.providers.demo import DemoTransport, demo_mounts
from tui.providers.presets import DEMO_BASE_URL


@pytest.fixture
def transport() -> DemoTransport:
    """Flat out, so tests take milliseconds."""
    return DemoTransport(tokens_per_second=None)


@pytest.fixture
async def client(transport: DemoTransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(mounts=demo_mounts(transport), base_url=DEMO_BASE_URL) as demo:
        yield demo
