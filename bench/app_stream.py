"""A 10,000-token Markdown answer streamed into the real conversation screen of the real app.

Run from the repository root::

    python bench/app_stream.py [--rates flat,500,100] [--tokens 10000] [--runs 3]
                               [--paced-runs 1] [--size 120x40]

Each run is a fresh process running ``TuiApp`` exactly as ``tui-chat`` builds it (the services
factory is ``open_services`` on a fresh temporary database with an empty settings file and no
keys, so the default provider is the offline demo model) under ``App.run_test``. The script types
``/bench N`` into the prompt and presses Enter; the demo model then streams about N tokens of
mixed Markdown (headings, paragraphs, lists, fenced code) through the real HTTP client, the real
adapter, the real engine (which stores the reply as it streams) and the real screen. The pace is
``open_services(demo_tokens_per_second=...)``, the same knob as ``TUI_CHAT_DEMO_SPEED``: 0 is
flat out.

What is measured, all with ``time.perf_counter`` in the app's own event loop:

- **last token**: the moment the screen hands the last text delta to the message view
  (``MessageView.append_text``, wrapped on the streaming view's instance);
- **final frame**: the first frame the app presents (``App._display``, where a terminal app
  writes the frame out) after the view has been told the text is over (the engine's
  ``ReplyTextEnded``; the view shows the rest at once) in which the view holds the whole answer
  and its last block (the closing code fence) lies entirely inside the log's visible region;
- **turn stored**: the screen's ``streaming`` flag is cleared: the engine has written the final
  record (status, usage, timing) and the header shows it;
- **confirmed**: the clean parse of the whole answer that follows the final frame has been
  applied; the number of blocks it had to rebuild is printed (0: the final frame was already
  exactly a one-shot render);
- **stalls**: a ticker task in the app's loop sleeps 2 ms at a time and records how late it
  wakes; the 99th percentile and the maximum are taken from the first to the last token
  (streaming), and the maximum separately from the last token to the end of all the above.

Flat out, "whole answer on screen" is from pressing Enter to the final frame (the first token
comes some 30-100 ms after Enter: the user message is stored and the request sent first).
Targets: at 500 tokens/s a p99 stall under 50 ms and the final frame within 100 ms of the last
token; flat out, the whole answer on screen within 2 s. The baseline is
``bench/stream_render.py``, the same kind of answer streamed into the widgets alone.

Headless (``run_test``): Textual lays out and composites every frame as in a terminal; only the
conversion of each frame to escape sequences and the write are skipped. At 100 tokens/s the
10,000 tokens take 100 s, so a full run with the defaults takes about two minutes and a half;
``--rates flat,500`` skips that pace.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from textual.widgets._markdown import MarkdownBlock, MarkdownFence  # noqa: E402

from tui.app import TuiApp  # noqa: E402
from tui.providers.demo.text import bench_text  # noqa: E402
from tui.screens.conversation import ConversationScreen  # noqa: E402
from tui.services.container import Services, open_services  # noqa: E402
from tui.widgets.chat_log import ChatLog  # noqa: E402
from tui.widgets.message_view import MessageView  # noqa: E402
from tui.widgets.streaming_markdown import StreamingMarkdown  # noqa: E402

TICK = 0.002
TARGET_STALL_P99_MS = 50.0
TARGET_FINAL_MS = 100.0
TARGET_WHOLE_S = 2.0
FINAL_TIMEOUT = 30.0


class Ticker:
    """Wakes every ``period`` seconds; records (when, how late) for every wake-up."""

    def __init__(self, period: float = TICK) -> None:
        self.period = period
        self.ticks: list[tuple[float, float]] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.period)
            now = time.perf_counter()
            self.ticks.append((now, now - before - self.period))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def lateness(self, start: float, end: float) -> list[float]:
        """Lateness in ms of the wake-ups due within ``[start, end]`` (a stall that straddles
        ``end`` counts: its wake-up is due before ``end`` though it comes after)."""
        return sorted(late * 1000 for when, late in self.ticks if start <= when - late <= end)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(len(values) * fraction))]


class Probe:
    """Notes when the streaming view receives its first and last text deltas."""

    def __init__(self) -> None:
        self.view: MessageView | None = None
        self.first_token: float | None = None
        self.last_token: float | None = None
        self.text_done: asyncio.Future[float] | None = None
        self.deltas = 0

    def attach(self, log: ChatLog) -> None:
        add_messages = log.add_messages

        async def add_and_watch(
            items: Sequence[tuple[Any, tuple[int, int], bool]],
        ) -> list[MessageView]:
            views = await add_messages(items)
            for view, (_message, _sibling, streaming) in zip(views, items, strict=True):
                if streaming:
                    self.watch(view)
            return views

        log.add_messages = add_and_watch  # type: ignore[method-assign]

    def watch(self, view: MessageView) -> None:
        self.view = view
        append_text = view.append_text

        def append_and_note(text: str) -> Any:
            now = time.perf_counter()
            if self.first_token is None:
                self.first_token = now
            self.last_token = now
            self.deltas += 1
            return append_text(text)  # the frame that shows it, which the screen may await

        view.append_text = append_and_note  # type: ignore[method-assign]
        finish = view.finish
        self.text_done = asyncio.get_running_loop().create_future()

        async def finish_and_note(message: Any = None) -> None:
            await finish(message)
            if self.text_done is not None and not self.text_done.done():
                self.text_done.set_result(time.perf_counter())

        view.finish = finish_and_note  # type: ignore[method-assign]


def answer_end_visible(log: ChatLog, view: MessageView, answer: str) -> bool:
    """The view holds the whole answer and its last block is wholly inside the visible log."""
    if view.text != answer or not view.is_attached:
        return False
    leaves = [block for block in view.query(MarkdownBlock) if not block.query(MarkdownBlock)]
    if not leaves:
        return False
    last = leaves[-1]
    last_code_line = answer.rstrip("`\n").splitlines()[-1].strip()
    if not isinstance(last, MarkdownFence) or last_code_line not in last.code:
        return False
    return log.scrollable_content_region.contains_region(last.region)


async def run_one(rate: float, tokens: int, size: tuple[int, int]) -> dict[str, Any]:
    """One turn in a fresh app; the figures as a dict (times in ms)."""
    answer = bench_text(tokens)
    with tempfile.TemporaryDirectory(prefix="tui-app-stream-") as tmp:
        folder = Path(tmp)

        async def factory() -> Services:
            return await open_services(
                config=str(folder / "config.toml"),
                db=str(folder / "history.sqlite3"),
                env={},
                demo_tokens_per_second=rate,
            )

        app = TuiApp(factory, tune_gc=True)  # as tui-chat runs it
        async with app.run_test(size=size) as pilot:
            await app.handle.get()
            await app.workers.wait_for_complete()
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, ConversationScreen)
            log = screen.log_widget
            probe = Probe()
            probe.attach(log)
            await pilot.press(*f"/bench {tokens}")
            await pilot.pause()

            loop = asyncio.get_running_loop()
            finished: asyncio.Future[float] = loop.create_future()
            final: asyncio.Future[float] = loop.create_future()

            def streaming_changed(streaming: bool) -> None:
                if not streaming and not finished.done():
                    finished.set_result(time.perf_counter())

            screen.watch(screen, "streaming", streaming_changed, init=False)

            display = app._display

            def display_and_check(screen: Any, renderable: Any) -> None:
                """Every frame the app presents: is it the final one?"""
                display(screen, renderable)
                view, done = probe.view, probe.text_done
                if renderable is None or app._batch_count or final.done() or view is None:
                    return
                if done is not None and done.done() and answer_end_visible(log, view, answer):
                    final.set_result(time.perf_counter())

            app._display = display_and_check  # type: ignore[method-assign]

            ticker = Ticker()
            ticker.start()
            await asyncio.sleep(0.05)
            pressed = time.perf_counter()
            await pilot.press("enter")
            limit = FINAL_TIMEOUT + tokens / max(rate, 1)
            while probe.text_done is None:
                await asyncio.sleep(0.01)
            await asyncio.wait_for(asyncio.shield(probe.text_done), limit)
            app.refresh()  # an answer that needed no more drawing still gets a frame to check
            final_frame = await asyncio.wait_for(final, FINAL_TIMEOUT)
            assert probe.view is not None
            body = probe.view.body
            assert isinstance(body, StreamingMarkdown)
            await asyncio.wait_for(body.confirmed(), FINAL_TIMEOUT)
            confirmed = time.perf_counter()
            stored = await asyncio.wait_for(finished, FINAL_TIMEOUT)
            settled = max(final_frame, confirmed, stored)
            ticker.stop()
            first, last = probe.first_token, probe.last_token
            assert first is not None and last is not None
            streaming = ticker.lateness(first, last)
            ending = ticker.lateness(last, settled)
            whole = ticker.lateness(pressed, settled)
            return {
                "rate": rate,
                "tokens": tokens,
                "deltas": probe.deltas,
                "enter_to_first_token_ms": (first - pressed) * 1000,
                "first_to_last_token_ms": (last - first) * 1000,
                "last_token_to_final_frame_ms": (final_frame - last) * 1000,
                "last_token_to_stored_ms": (stored - last) * 1000,
                "last_token_to_confirmed_ms": (confirmed - last) * 1000,
                "confirm_rebuilds": body.confirm_rebuilds,
                "enter_to_final_frame_ms": (final_frame - pressed) * 1000,
                "stall_p99_ms": percentile(streaming, 0.99),
                "stall_max_ms": max(streaming, default=0.0),
                "ending_stall_max_ms": max(ending, default=0.0),
                "whole_stall_max_ms": max(whole, default=0.0),
                "ticks": len(streaming),
                "views_mounted": len(log.views),
            }


def _spawn(rate_text: str, tokens: int, size: str) -> dict[str, Any]:
    command = [sys.executable, __file__, "--one", rate_text, "--tokens", str(tokens)]
    result = subprocess.run(
        [*command, "--size", size], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"the run at {rate_text} failed:\n{result.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def _stats(values: list[float], unit: str = "ms", scale: float = 1.0) -> str:
    scaled = [value * scale for value in values]
    if len(scaled) == 1:
        return f"{scaled[0]:7.{2 if unit == 's' else 0}f} {unit}"
    digits = 2 if unit == "s" else 0
    return (
        f"{statistics.median(scaled):7.{digits}f} {unit} "
        f"(min {min(scaled):.{digits}f}, max {max(scaled):.{digits}f})"
    )


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(rate_text: str, runs: list[dict[str, Any]]) -> None:
    flat = rate_text == "flat"
    label = "flat out" if flat else f"{rate_text} tokens/s"
    print(f"\n{label}: {len(runs)} run(s), {runs[0]['deltas']} deltas each")

    def col(key: str) -> list[float]:
        return [float(run[key]) for run in runs]

    def row(name: str, figures: str, target: str = "") -> None:
        print(f"  {name:<38} {figures}{'   ' + target if target else ''}")

    final = col("last_token_to_final_frame_ms")
    p99 = col("stall_p99_ms")
    paced_target = rate_text == "500"
    row("Enter -> first token", _stats(col("enter_to_first_token_ms")))
    row("first -> last token", _stats(col("first_to_last_token_ms"), "s", 1e-3))
    ok = statistics.median(final) < TARGET_FINAL_MS
    target = f"target < {TARGET_FINAL_MS:g} ms: {_verdict(ok)}" if paced_target else ""
    row("last token -> final frame", _stats(final), target)
    row("last token -> turn stored, header final", _stats(col("last_token_to_stored_ms")))
    rebuilt = sorted({int(run["confirm_rebuilds"]) for run in runs})
    row(
        "last token -> clean parse confirmed",
        _stats(col("last_token_to_confirmed_ms")),
        f"blocks it rebuilt: {', '.join(map(str, rebuilt))}",
    )
    ok = statistics.median(p99) < TARGET_STALL_P99_MS
    target = f"target < {TARGET_STALL_P99_MS:g} ms: {_verdict(ok)}" if paced_target else ""
    row("stall while streaming, p99", _stats(p99), target)
    row("stall while streaming, max", _stats(col("stall_max_ms")))
    row("stall, last token -> all settled, max", _stats(col("ending_stall_max_ms")))
    if flat:
        whole = col("enter_to_final_frame_ms")
        ok = statistics.median(whole) / 1000 < TARGET_WHOLE_S
        row(
            "whole answer on screen (Enter -> final)",
            _stats(whole, "s", 1e-3),
            f"target < {TARGET_WHOLE_S:g} s: {_verdict(ok)}",
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="flat,500,100", help="comma-separated: flat or N")
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3, help="runs flat out (default 3)")
    parser.add_argument("--paced-runs", type=int, default=1, help="runs at each pace (1)")
    parser.add_argument("--size", default="120x40", help="terminal size, COLUMNSxROWS")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    columns, rows = (int(part) for part in args.size.lower().split("x"))
    if args.one:
        rate = 0.0 if args.one == "flat" else float(args.one)
        figures = asyncio.run(run_one(rate, args.tokens, (columns, rows)))
        print(json.dumps(figures))
        return

    answer = bench_text(args.tokens)
    print(
        f"/bench {args.tokens} ({len(answer):,} characters) into the conversation screen of "
        f"TuiApp, headless {columns}x{rows}, fresh process and database per run; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    for rate_text in args.rates.split(","):
        count = args.runs if rate_text == "flat" else args.paced_runs
        runs = [_spawn(rate_text, args.tokens, args.size) for _ in range(count)]
        report(rate_text, runs)
    print(
        f"\ntargets: at 500 tokens/s p99 stall < {TARGET_STALL_P99_MS:g} ms and final frame "
        f"< {TARGET_FINAL_MS:g} ms after the last token; flat out, the whole answer on screen "
        f"< {TARGET_WHOLE_S:g} s (medians)\nbaseline: bench/stream_render.py (the widgets alone)"
    )


if __name__ == "__main__":
    main()
