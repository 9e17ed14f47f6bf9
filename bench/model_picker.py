"""The model picker with 500 models: opening it, and a filter keystroke, to the frame drawn.

Run from the repository root::

    python bench/model_picker.py [--models 500] [--runs 20] [--size 120x40]

A custom provider's live model list (``--models`` ids, named like a large gateway's catalogue)
is put in the store's model cache, as a refresh would leave it, beside the built-in catalog.
The app runs headless (``App.run_test``) on that store; keys are posted the way its driver
posts a terminal's keys and each time ends at the frame the app hands to the terminal
(``bench/frames.py``).

- *Open*: Ctrl+T on the conversation screen, to the first frame showing the picker with its
  rows; Esc closes it between runs. Target: under 50 ms (median and max are printed).
- *Filter keystroke*: queries typed one key at a time and erased again; each key is timed to the
  first frame whose rows are built for the new text. Target: every keystroke under 16 ms (p95
  and max are printed). The process's CPU time per keystroke is printed too: the wall time
  includes waiting for Textual's next frame tick (60 a second), which no work can shorten.
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

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.app_conversations import post_key, until_frame  # noqa: E402
from bench.frames import DrawnFrames  # noqa: E402

VENDORS = ("openai", "anthropic", "google", "meta-llama", "mistralai", "qwen", "deepseek", "x-ai")
FAMILIES = ("chat", "instruct", "coder", "vision", "reasoner", "turbo", "mini", "pro", "flash")
QUERIES = ("gpt", "llama 70", "qwen coder", "mistral", "ds r1", "zzz")
OPEN_TARGET_MS = 50.0
KEY_TARGET_MS = 16.0
FRAME_MS = 1000 / 60
"""Textual draws at most 60 frames a second: a change waits for the next tick of that clock."""


def model_ids(count: int) -> list[str]:
    ids: list[str] = []
    number = 0
    while len(ids) < count:
        vendor = VENDORS[number % len(VENDORS)]
        family = FAMILIES[(number // len(VENDORS)) % len(FAMILIES)]
        size = (7, 8, 13, 34, 70, 405)[number % 6]
        ids.append(
            f"{vendor}/{vendor.split('-')[0]}-{number // 40 + 1}.{number % 10}-{size}b-{family}"
        )
        number += 1
    return ids


async def prepare(folder: Path, count: int) -> tuple[Path, Path]:
    from tui.domain import ModelInfo
    from tui.store.db import open_store

    database = folder / "history.sqlite3"
    config = folder / "config.toml"
    config.write_text('[providers.gateway]\nbase_url = "http://127.0.0.1:9/v1"\n')
    store = await open_store(path=database)
    try:
        models = [ModelInfo(id=i, provider="gateway", builtin=False) for i in model_ids(count)]
        await store.repository.cache_models("gateway", models)
    finally:
        await store.close()
    return database, config


async def measure(database: Path, config: Path, size: tuple[int, int], runs: int) -> dict[str, Any]:
    from textual.widgets import Input

    from tui.app import TuiApp
    from tui.screens.conversation import ConversationScreen
    from tui.screens.model_picker import ModelPicker
    from tui.services.container import Services, open_services

    async def factory() -> Services:
        return await open_services(config=str(config), db=str(database), env={})

    app = TuiApp(factory, new_chat=True, tune_gc=True)  # as tui-chat runs it
    state: dict[str, Any] = {"probe": lambda: False}
    opens: list[float] = []
    keys: list[float] = []
    work: list[float] = []
    rows = 0
    async with app.run_test(size=size) as pilot:
        frames = DrawnFrames(app, probe=lambda: bool(state["probe"]()))
        while app.handle.current is None:
            await pilot.pause()
        await app.workers.wait_for_complete()

        def picker() -> ModelPicker | None:
            screen = app.screen
            return screen if isinstance(screen, ModelPicker) else None

        def open_drawn() -> bool:
            screen = picker()
            return screen is not None and screen.shown_query == ""

        for run in range(runs + 1):  # the first open is a warm-up, reported apart
            state["probe"] = open_drawn
            started = time.perf_counter()
            post_key(app, "ctrl+t")
            drawn = await until_frame(frames, app)
            if run:
                opens.append((drawn - started) * 1000)
            else:
                first = (drawn - started) * 1000
            screen = picker()
            assert screen is not None
            rows = len(screen.listing)
            if run == runs:
                break
            post_key(app, "escape")
            while not isinstance(app.screen, ConversationScreen):
                await pilot.pause()
        screen = picker()
        assert screen is not None
        field = screen.query_one(Input)
        for query in QUERIES:
            typed = ""
            for key in [*query, *["backspace"] * len(query)]:
                typed = typed[:-1] if key == "backspace" else typed + key
                wanted = typed

                def filtered(wanted: str = wanted) -> bool:
                    return field.value == wanted and screen.shown_query == wanted

                state["probe"] = filtered
                started, cpu = time.perf_counter(), time.process_time()
                post_key(app, "space" if key == " " else key)
                keys.append((await until_frame(frames, app) - started) * 1000)
                work.append((time.process_time() - cpu) * 1000)
    return {"first": first, "opens": opens, "keys": keys, "work": work, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--size", default="120x40")
    args = parser.parse_args(argv)
    width, height = (int(part) for part in args.size.split("x"))
    with tempfile.TemporaryDirectory() as folder:
        database, config = asyncio.run(prepare(Path(folder), args.models))
        result = asyncio.run(measure(database, config, (width, height), args.runs))
    opens, keys, work = result["opens"], sorted(result["keys"]), sorted(result["work"])
    p95 = keys[int(0.95 * (len(keys) - 1))]
    work_p95 = work[int(0.95 * (len(work) - 1))]
    print(f"model picker: {result['rows']} models listed (--models {args.models}), {args.size}")
    print(
        f"open: median {statistics.median(opens):.1f} ms, max {max(opens):.1f} ms over "
        f"{len(opens)} opens (first, cold: {result['first']:.1f} ms); target < {OPEN_TARGET_MS:g} "
        f"ms: {'met' if max(opens) < OPEN_TARGET_MS else 'MISSED'}"
    )
    print(
        f"filter keystroke: median {statistics.median(keys):.1f} ms, p95 {p95:.1f} ms, max "
        f"{max(keys):.1f} ms over {len(keys)} keys; target < {KEY_TARGET_MS:g} ms: "
        f"{'met' if max(keys) < KEY_TARGET_MS else 'MISSED'}"
    )
    print(
        f"  of which CPU work: median {statistics.median(work):.1f} ms, p95 {work_p95:.1f} ms, "
        f"max {max(work):.1f} ms (the rest is waiting for the next {FRAME_MS:.1f} ms frame tick)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
