"""The shared client's settings, the layering rules, and the standalone loopback server."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import httpx

from tests.support.fixtures import ask, collect, config_for, provider_for
from tests.support.server import LoopbackServer
from tui import __version__
from tui.domain import ApiKind
from tui.providers.base import Provider
from tui.providers.http import READ_TIMEOUT, make_client
from tui.providers.openai_compat import OpenAICompatibleProvider

ROOT = Path(__file__).resolve().parents[2]


async def test_client_timeouts_and_protocol(loopback: LoopbackServer) -> None:
    async with make_client() as client:
        assert client.timeout.connect == 10.0
        assert client.timeout.read == READ_TIMEOUT >= 300
        response = await client.get(loopback.base_url + "/models")
        assert response.http_version == "HTTP/1.1"
    assert loopback.requests[0].header("user-agent") == f"tui-chat/{__version__}"


async def test_mounted_transports_serve_their_host() -> None:
    seen: list[str] = []

    def demo(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        chunk = {"id": "d", "choices": [{"delta": {"content": "offline"}, "finish_reason": "stop"}]}
        body = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode()
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    mounts: dict[str, httpx.AsyncBaseTransport] = {"all://demo.local": httpx.MockTransport(demo)}
    async with make_client(mounts=mounts) as client:
        config = config_for("http://demo.local/v1", requires_key=False)
        outcome = await collect(OpenAICompatibleProvider(config, client), ask(), ApiKind.CHAT)
    assert outcome.text == "offline"
    assert seen == ["http://demo.local/v1/chat/completions"]


def test_providers_import_neither_textual_nor_the_store() -> None:
    code = (
        "import sys, tui.providers.openai_compat, tui.providers.http;"
        "print(sorted(m for m in sys.modules if m == 'textual' or m.startswith('tui.store')"
        " or m in ('httpx_sse', 'sqlalchemy')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    assert out == "[]"


def test_errors_module_stays_light() -> None:
    code = "import sys, tui.providers.errors; print('httpx' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    assert out == "False"


def test_standalone_server_answers_and_stops() -> None:
    command = [sys.executable, "-m", "tests.support.server", "--port", "0", "--models", "m1,m2"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert line.startswith("serving http://127.0.0.1:")
            base_url = line.removeprefix("serving ")
            with urllib.request.urlopen(base_url + "/models", timeout=5) as response:
                listed = json.load(response)
            assert [entry["id"] for entry in listed["data"]] == ["m1", "m2"]
        finally:
            process.terminate()
            process.wait(10)


async def test_the_provider_fits_the_provider_protocol(loopback: LoopbackServer) -> None:
    async with make_client() as client:
        provider: Provider = provider_for(loopback, client)  # checked by mypy
        outcome = await collect(provider, ask(), ApiKind.RESPONSES)
    assert outcome.text == "[turn 1] Hello"
