"""Wire throughput: events per second through each protocol adapter, against a bare read.

The loopback server runs in its own process and sends N small text events as fast as it can
(one HTTP chunk per event, as real servers do). For each API the script times:

* baseline    -- httpx ``Response.aiter_lines()`` over the same bytes, counting ``data:`` lines;
* httpx-sse   -- ``httpx_sse.EventSource.aiter_sse()`` framing alone (no JSON);
* own framer  -- ``tui.providers.sse.SSEFramer`` framing alone (no JSON);
* adapter     -- ``OpenAICompatibleProvider.stream()``: framing, JSON, typed events, retries.

Targets: the adapter at least 20,000 events/s and no more than 2x the baseline's time.

Run from the repository root: ``python bench/wire_throughput.py [--events 20000] [--runs 5]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import httpx_sse  # noqa: E402

from tui.domain import (  # noqa: E402
    ApiKind,
    ChatRequest,
    InputMessage,
    ProviderConfig,
    Role,
    TextDelta,
)
from tui.providers.http import make_client  # noqa: E402
from tui.providers.openai_compat import OpenAICompatibleProvider  # noqa: E402
from tui.providers.sse import SSEFramer  # noqa: E402

PATHS = {"chat": "/chat/completions", "responses": "/responses"}


def start_server() -> tuple[subprocess.Popen[str], str]:
    """The loopback server in a child process, and its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.server", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("serving "):
        process.kill()
        raise SystemExit(f"the loopback server did not start: {line!r}")
    return process, line.removeprefix("serving ")


def body_for(api: str, stream: bool = True) -> bytes:
    message = {"role": "user", "content": "go"}
    if api == "chat":
        body = {"model": "bench", "messages": [message], "stream": stream}
        body["stream_options"] = {"include_usage": True}
    else:
        body = {"model": "bench", "input": [message], "stream": stream}
    return json.dumps(body).encode()


async def baseline(client: httpx.AsyncClient, url: str, headers: dict[str, str], api: str) -> int:
    count = 0
    async with client.stream("POST", url, content=body_for(api), headers=headers) as response:
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                count += 1
    return count


async def with_httpx_sse(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], api: str
) -> int:
    count = 0
    async with client.stream("POST", url, content=body_for(api), headers=headers) as response:
        async for _event in httpx_sse.EventSource(response).aiter_sse():
            count += 1
    return count


async def with_own_framer(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], api: str
) -> int:
    count = 0
    framer = SSEFramer()
    async with client.stream("POST", url, content=body_for(api), headers=headers) as response:
        async for chunk in response.aiter_bytes():
            count += len(framer.feed(chunk))
    return count + len(framer.flush())


def adapter_run(provider: OpenAICompatibleProvider, api: str) -> Callable[[], Awaitable[int]]:
    request = ChatRequest(model="bench", messages=(InputMessage(Role.USER, "go"),))

    async def run() -> int:
        count = 0
        async for event in provider.stream(request, ApiKind(api)):
            if type(event) is TextDelta:
                count += 1
        return count

    return run


async def timed(run: Callable[[], Awaitable[int]], expected: int) -> float:
    """Seconds for one stream; fails loudly if events went missing."""
    start = time.perf_counter()
    count = await run()
    elapsed = time.perf_counter() - start
    if count < expected:
        raise SystemExit(f"expected at least {expected} events, got {count}")
    return elapsed


async def compare(
    paths: dict[str, Callable[[], Awaitable[int]]], runs: int, expected: int
) -> dict[str, tuple[float, float]]:
    """Per path: median events/s and median time relative to the baseline of the same round.

    The paths take turns within each round, so load from other processes on this small
    machine hits them alike.
    """
    for run in paths.values():
        await run()  # warm-up: connection, imports, caches
    times: dict[str, list[float]] = {name: [] for name in paths}
    ratios: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(runs):
        round_times = {name: await timed(run, expected) for name, run in paths.items()}
        for name, elapsed in round_times.items():
            times[name].append(elapsed)
            ratios[name].append(elapsed / round_times["baseline"])
    return {
        name: (expected / statistics.median(times[name]), statistics.median(ratios[name]))
        for name in paths
    }


async def main(events: int, runs: int) -> int:
    process, base_url = start_server()
    failures = 0
    try:
        async with make_client() as client:
            print(f"{events} text events per stream; median of {runs} interleaved rounds;")
            print("loopback server in a child process, one HTTP chunk per event")
            print(f"{'api':<10} {'path':<11} {'events/s':>12} {'time vs baseline':>17}")
            for api in ("chat", "responses"):
                script = json.dumps({"flood": events})
                headers = {"content-type": "application/json", "x-loopback-script": script}
                url = base_url + PATHS[api]
                config = ProviderConfig(
                    name="bench",
                    label="bench",
                    base_url=base_url,
                    requires_key=False,
                    headers=(("x-loopback-script", script),),
                )
                provider = OpenAICompatibleProvider(config, client)
                paths: dict[str, Callable[[], Awaitable[int]]] = {
                    "baseline": partial(baseline, client, url, headers, api),
                    "httpx-sse": partial(with_httpx_sse, client, url, headers, api),
                    "own framer": partial(with_own_framer, client, url, headers, api),
                    "adapter": adapter_run(provider, api),
                }
                results = await compare(paths, runs, events)
                for name, (rate, ratio) in results.items():
                    print(f"{api:<10} {name:<11} {rate:>12,.0f} {ratio:>16.2f}x")
                rate, ratio = results["adapter"]
                verdict = "ok" if rate >= 20_000 and ratio <= 2.0 else "MISSED"
                failures += verdict != "ok"
                print(
                    f"{api:<10} target: adapter >= 20,000 events/s and <= 2.00x baseline: {verdict}"
                )
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    arguments = parser.parse_args()
    raise SystemExit(asyncio.run(main(arguments.events, arguments.runs)))
