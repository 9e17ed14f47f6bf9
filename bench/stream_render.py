"""Stream a 10,000-token Markdown answer into a ChatLog and measure what a user would feel.

Run from the repository root:

    python bench/stream_render.py [--rates flat,500,100] [--tokens 10000] [--size 100x40]

For each pace (flat out: all deltas back to back without yielding to the event loop, as a burst
read from one network chunk arrives; or N tokens per second) it streams
the same answer (paragraphs, lists, fenced code; see ``answer.py``) into:

- ``textual``: Textual's ``Markdown`` fed through ``MarkdownStream`` (the baseline);
- ``tui``: our ``MessageView`` / ``StreamingMarkdown`` in a ``ChatLog``;
- ``tui+gc``: the same with the garbage-collection settings we recommend for the app
  (``apply_gc_policy``: objects made at start frozen, full collections ten times rarer).

and prints the time from the last token to the final frame, the event loop's stalls while
streaming (99th percentile and maximum lateness of a 2 ms ticker), and for flat out the time
until the whole answer is on screen. Targets: at 500 tokens/s a p99 stall under 50 ms and the
final frame within 100 ms of the last token; flat out, the whole answer on screen within 2 s.

Headless (``App.run_test``): Textual lays out and composites every frame exactly as in a
terminal, only the final write of escape sequences is skipped, the same for both renderers.
Each run is a fresh process, so one run's garbage does not land in the next one's collections.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App, ComposeResult  # noqa: E402
from textual.containers import VerticalScroll  # noqa: E402
from textual.widgets import Markdown  # noqa: E402
from textual.widgets.markdown import MarkdownBlock  # noqa: E402

from bench.answer import make_answer, token_source  # noqa: E402
from bench.gc_policy import apply_gc_policy  # noqa: E402
from bench.stall import StallMeter  # noqa: E402
from tui.domain import Message, MessageStatus, Role  # noqa: E402
from tui.widgets.chat_log import ChatLog  # noqa: E402

RENDERERS = ("textual", "tui", "tui+gc")


class BaselineHost(App[None]):
    def compose(self) -> ComposeResult:
        with VerticalScroll(id="log"):
            yield Markdown(id="answer")


class TuiHost(App[None]):
    def compose(self) -> ComposeResult:
        yield ChatLog(id="log")


def _message(message_id: int, role: Role, content: str) -> Message:
    return Message(
        id=message_id,
        conversation_id=1,
        parent_id=None,
        role=role,
        content=content,
        status=MessageStatus.STREAMING if role is Role.ASSISTANT else MessageStatus.COMPLETE,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        model="demo-model" if role is Role.ASSISTANT else None,
    )


async def _frame(app: App[None]) -> None:
    done = asyncio.Event()
    app.call_after_refresh(done.set)
    await done.wait()


def _last_line_visible(app: App[None], container: VerticalScroll, last_line: str) -> bool:
    blocks = [block for block in container.query(MarkdownBlock) if not block.query(MarkdownBlock)]
    if not blocks:
        return False
    last = blocks[-1]
    return last_line in last._content.plain and container.scrollable_content_region.contains_region(
        last.region
    )


async def run_one(
    renderer: str, rate: float | None, tokens: int, size: tuple[int, int]
) -> dict[str, float | bool]:
    """Stream the answer once; return the figures."""
    answer = make_answer(tokens)
    # The last sentence as shown: Markdown's emphasis and code marks do not appear on screen.
    last_line = answer.strip().splitlines()[-1].split(". ")[-1].strip(".")
    last_line = last_line.replace("`", "").replace("**", "")
    app: App[None] = BaselineHost() if renderer == "textual" else TuiHost()
    meter = StallMeter()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        log = app.query_one("#log", VerticalScroll)
        if renderer == "textual":
            markdown = app.query_one("#answer", Markdown)
            log.anchor()
            stream = Markdown.get_stream(markdown)
        else:
            assert isinstance(log, ChatLog)
            await log.set_messages([_message(1, Role.USER, "Tell me about streaming.")])
            view = await log.add_message(_message(2, Role.ASSISTANT, ""), streaming=True)
            await pilot.pause()
        if renderer == "tui+gc":
            apply_gc_policy()
        full_collections = gc.get_stats()[2]["collections"]
        meter.start()
        started = time.perf_counter()
        async for token in token_source(answer, rate):
            if renderer == "textual":
                await stream.write(token)
            else:
                view.append_text(token)
        last_token = time.perf_counter()
        if renderer == "textual":
            await stream.stop()
        else:
            assert isinstance(log, ChatLog)
            await log.finish_streaming(_message(2, Role.ASSISTANT, ""))
        await _frame(app)
        final_frame = time.perf_counter()
        meter.stop()
        text = markdown.source if renderer == "textual" else view.text
        return {
            "last_token_to_final_frame_ms": (final_frame - last_token) * 1000,
            "first_token_to_final_frame_ms": (final_frame - started) * 1000,
            "stall_p99_ms": meter.percentile_ms(0.99),
            "stall_max_ms": meter.max_ms(),
            "text_complete": text == answer,
            "last_line_visible": _last_line_visible(app, log, last_line),
            "full_collections": gc.get_stats()[2]["collections"] - full_collections,
        }


def _pace_label(rate: float | None) -> str:
    return "flat out" if rate is None else f"{rate:g} tokens/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="flat,500,100", help="comma-separated: flat or N")
    parser.add_argument("--tokens", type=int, default=10_000)
    parser.add_argument("--size", default="100x40", help="terminal size, COLUMNSxROWS")
    parser.add_argument("--renderers", default=",".join(RENDERERS))
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    columns, rows = (int(part) for part in args.size.split("x"))
    if args.one:
        renderer, rate_text = args.one.split(":")
        rate = None if rate_text == "flat" else float(rate_text)
        figures = asyncio.run(run_one(renderer, rate, args.tokens, (columns, rows)))
        print(json.dumps(figures))
        return

    print(
        f"{args.tokens} tokens ({len(make_answer(args.tokens)):,} characters), "
        f"terminal {columns}x{rows}, headless"
    )
    for rate_text in args.rates.split(","):
        rate = None if rate_text == "flat" else float(rate_text)
        print(f"\n{_pace_label(rate)}:")
        for renderer in args.renderers.split(","):
            output = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--one",
                    f"{renderer}:{rate_text}",
                    "--tokens",
                    str(args.tokens),
                    "--size",
                    args.size,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            figures = json.loads(output.strip().splitlines()[-1])
            final = figures["last_token_to_final_frame_ms"]
            line = (
                f"  {renderer:8} last token -> final frame {final:7.0f} ms | stalls p99 "
                f"{figures['stall_p99_ms']:5.0f} ms, max {figures['stall_max_ms']:5.0f} ms"
            )
            if rate is None:
                whole = figures["first_token_to_final_frame_ms"] / 1000
                line += f" | whole answer on screen after {whole:5.2f} s"
            line += f" | {figures['full_collections']:.0f} full collections"
            if not (figures["text_complete"] and figures["last_line_visible"]):
                line += " | INCOMPLETE: last line not on screen"
            print(line)
    print(
        "\ntargets: at 500 tokens/s p99 stall < 50 ms and final frame < 100 ms after the last "
        "token; flat out, whole answer on screen < 2 s"
    )


if __name__ == "__main__":
    main()
