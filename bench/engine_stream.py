"""Engine overhead: a 10,000-token reply from the demo model, flat out, with persistence on.

Compares, in alternating rounds:

* adapter -- the wire alone: the demo provider's stream parsed into events, nothing stored;
* engine  -- ``ChatService.send``: the same stream with the user message committed first, the
  reply row created at the first event, text flushed every 250 ms and the row finished.

Prints the median time of each, the ratio engine/adapter (target: within 1.3x), and how many
statements wrote to the database during one turn (bounded by the flush interval, not by the
token count). The engine is opened once, as the app keeps it for a session; each measured turn
starts a new conversation. The session's first turn (SQL statements not yet compiled) is
printed on its own.

Run from the repository root:  python bench/engine_stream.py [--tokens 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event  # noqa: E402

from tui.domain import ApiKind, ApiMode, ChatRequest, Failed, InputMessage, Role, TextDelta  # noqa: E402
from tui.providers.catalog import ModelCatalog  # noqa: E402
from tui.providers.demo import demo_mounts  # noqa: E402
from tui.providers.http import make_client  # noqa: E402
from tui.providers.openai_compat import OpenAICompatibleProvider  # noqa: E402
from tui.services.container import Services, open_services  # noqa: E402
from tui.services.turns import ReplyFinished, TurnOptions  # noqa: E402

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


async def adapter_round(prompt: str, api: ApiKind) -> tuple[float, int]:
    async with make_client(mounts=demo_mounts(tokens_per_second=0)) as client:
        config = ModelCatalog().provider("demo")
        provider = OpenAICompatibleProvider(config, client)
        request = ChatRequest(model="demo", messages=(InputMessage(Role.USER, prompt),))
        started = time.perf_counter()
        chars = 0
        async for item in provider.stream(request, api):
            if isinstance(item, TextDelta):
                chars += len(item.text)
            elif isinstance(item, Failed):
                raise SystemExit(f"adapter failed: {item.error}")
        return time.perf_counter() - started, chars


class Engine:
    """One set of services, as the app keeps them for a whole session, on a fresh database."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.writes = 0
        self.services: Services | None = None

    async def open(self) -> None:
        self.services = await open_services(
            config=str(self.folder / "none.toml"),
            db=str(self.folder / f"bench-{time.monotonic_ns()}.sqlite3"),
            env={},
            demo_tokens_per_second=0,
            improve_titles=False,
        )

        def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith(WRITES):
                self.writes += 1

        event.listen(self.services.store.engine.sync_engine, "before_cursor_execute", count)

    async def turn(self, prompt: str, api: ApiKind) -> tuple[float, int, int]:
        """One turn in a new conversation: seconds, characters received, database writes."""
        assert self.services is not None
        mode = ApiMode.RESPONSES if api is ApiKind.RESPONSES else ApiMode.CHAT
        options = TurnOptions(provider="demo", model="demo", api_mode=mode)
        self.writes = 0
        started = time.perf_counter()
        chars = 0
        async for item in self.services.chat.send(None, prompt, options=options):
            if isinstance(item, TextDelta):
                chars += len(item.text)
            elif isinstance(item, ReplyFinished) and item.error is not None:
                raise SystemExit(f"engine failed: {item.error}")
        return time.perf_counter() - started, chars, self.writes

    async def close(self) -> None:
        if self.services is not None:
            await self.services.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    prompt = f"/bench {args.tokens}"
    print(f"reply: demo model, prompt {prompt!r}, flat out; {args.rounds} rounds after a warm-up")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for api in (ApiKind.CHAT, ApiKind.RESPONSES):
            engine = Engine(folder)
            await engine.open()
            await adapter_round(prompt, api)
            cold, _, _ = await engine.turn(prompt, api)  # the session's first turn
            adapter_times, engine_times, ratios, writes = [], [], [], []
            for _ in range(args.rounds):
                adapter_time, adapter_chars = await adapter_round(prompt, api)
                engine_time, engine_chars, wrote = await engine.turn(prompt, api)
                if adapter_chars != engine_chars:
                    raise SystemExit(f"text differs: {adapter_chars} vs {engine_chars} characters")
                adapter_times.append(adapter_time)
                engine_times.append(engine_time)
                ratios.append(engine_time / adapter_time)
                writes.append(wrote)
            await engine.close()
            print(
                f"{api.value:<9} adapter {statistics.median(adapter_times) * 1000:7.1f} ms   "
                f"engine {statistics.median(engine_times) * 1000:7.1f} ms   "
                f"engine/adapter {statistics.median(ratios):.2f}x "
                f"(min {min(ratios):.2f}, max {max(ratios):.2f}; target <= 1.30)   "
                f"database writes per turn {statistics.median(writes):.0f} "
                f"({adapter_chars} characters); first turn of a session {cold * 1000:.1f} ms"
            )


if __name__ == "__main__":
    asyncio.run(main())
