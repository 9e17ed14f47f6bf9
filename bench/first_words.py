"""First words: time from pressing Enter to the answer's first text on a real screen, and memory.

The real app (``python -m tui``, as ``tui-chat`` starts it) runs in a pseudo-terminal (120x40,
``TERM=xterm-256color``) with a fresh temporary database and a settings file whose default
provider is the loopback OpenAI-compatible server of ``tests/support/server.py``, started by this
script in a thread of its own process, on the Chat Completions or the Responses API
(``api_mode``). The script notes, with one ``time.perf_counter`` clock:

- the moment it writes Enter (``\\r``) to the terminal;
- the moment the server has read the request whole (**request**);
- the moment the answer's first word, a word found nowhere else, is in what the app wrote to the
  terminal (**first text**): the terminal draws it as it reads it (a burst too must be drawn
  from its start, a screenful first, the rest following);
- for a burst, the moment the answer's last word is written (**whole answer**): the view has
  followed the answer to its end.

Two kinds of answer, on each API:

- **paced**: the server sends the answer as SSE events at ``--rate`` tokens a second (200), one
  token an event, as a model streams; ``--latency MS`` puts a pause of MS between the response's
  first event and its first text, as a model thinks (0: a server that answers at once, where the
  screen's own work for the turn is all in the way);
- **burst**: ``--burst`` tokens (2,000) of mixed Markdown in one write with a Content-Length,
  as a fast server or a proxy that buffers delivers them; the first words should be drawn long
  before the whole answer is laid out, and the whole answer no later than before.

Each case is a fresh process per run: launch, wait for the first full frame and the loopback
route on the status line, idle 0.5 s, type a prompt key by key, press Enter. ``--turns`` sends
more turns in the same conversation (the second and later figures are the thread case). The
script prints median, min and max over ``--runs`` runs (after one warm-up run).

``--memory`` also measures resident memory (``VmRSS`` of the app's process and its children,
from ``/proc``) 1.5 s after the first frame, after a 10,000-token answer has been drawn whole,
after Ctrl+N (a new chat) has been drawn, and once the app has been idle long enough for its idle
garbage collection (``tui.gc_tuning``).

Run from the repository root::

    python bench/first_words.py [--runs 5] [--cases chat-paced,responses-paced,chat-burst,...]
                                [--rate 200] [--burst 2000] [--turns 1] [--memory]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.first_send import MODEL, READY_TEXT, SETTLE, Session  # noqa: E402
from bench.startup import drawn_cells, isolated_env  # noqa: E402
from tests.support import shapes  # noqa: E402
from tests.support.script import Behaviour  # noqa: E402
from tests.support.server import LoopbackServer  # noqa: E402
from tui.gc_tuning import IDLE_AFTER  # noqa: E402
from tui.providers.demo.text import bench_text  # noqa: E402

CASES = ("chat-paced", "responses-paced", "chat-burst", "responses-burst")
SSE = (("content-type", "text/event-stream; charset=utf-8"),)


@dataclass
class Answer:
    """What the server sends for the next chat request."""

    text: str
    rate: float = 0.0
    burst: bool = False
    latency: float = 0.0
    """Seconds between the response's start and its first text (a model thinking)."""


class WordServer(LoopbackServer):
    """The loopback server answering each chat request with the queued ``Answer``, noting
    when each request had been read whole."""

    def __init__(self) -> None:
        super().__init__(models=(MODEL,))
        self.answers: list[Answer] = []
        self.received: list[float] = []

    def _behaviour_for(self, headers: dict[str, str]) -> Behaviour:
        now = time.perf_counter()
        record = self.requests[-1]
        if record.path not in ("/chat/completions", "/responses") or not self.answers:
            return super()._behaviour_for(headers)
        self.received.append(now)
        answer = self.answers.pop(0)
        if not answer.burst:
            delay = 1 / answer.rate if answer.rate else 0.0
            if answer.latency:  # the stall after the first event, then the paced text
                return Behaviour(
                    text=answer.text,
                    delay=delay,
                    fault="stall",
                    fault_after=1,
                    stall_seconds=answer.latency,
                )
            return Behaviour(text=answer.text, delay=delay)
        plan = Behaviour(text=answer.text)
        body: Any = record.json
        number = self.next_id()
        if record.path == "/chat/completions":
            events = shapes.chat_events(
                plan, chat_id=f"chatcmpl-b{number}", model=MODEL, text=answer.text,
                include_usage=True,
            )  # fmt: skip
        else:
            response_id = f"resp_b{number:06d}"
            self.store(response_id, 1)
            events = shapes.responses_events(
                plan, response_id=response_id, model=MODEL, request=body, text=answer.text
            )
        return Behaviour(status=200, body=b"".join(events), headers=SSE)


def write_settings(folder: Path, base_url: str, api: str) -> None:
    (folder / "config.toml").write_text(
        "[defaults]\n"
        'provider = "loopback"\n'
        f'model = "{MODEL}"\n'
        f'api_mode = "{api}"\n'
        "\n"
        "[providers.loopback]\n"
        'label = "Loopback"\n'
        f'base_url = "{base_url}"\n'
        f'models = ["{MODEL}"]\n',
        encoding="utf-8",
    )


@dataclass
class Turn:
    request_ms: float
    first_ms: float | None
    """None: the first words were never drawn (a burst drawn whole, from its end)."""
    whole_ms: float | None
    pressed_at: float = 0.0
    """``time.perf_counter()`` at Enter (the same clock as the app's, on Linux)."""


@dataclass
class Run:
    turns: list[Turn] = field(default_factory=list)
    memory: dict[str, float] = field(default_factory=dict)


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, in MB."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def answer_text(tag: str, tokens: int, burst: bool) -> str:
    """An answer whose first and last words are ``First<tag>`` and ``Last<tag>``."""
    body = bench_text(tokens) if burst else " ".join(["word"] * tokens)
    return f"First{tag} {body}\n\nThe end, Last{tag}."


def one_turn(
    session: Session, server: WordServer, answer: Answer, tag: str, timeout: float
) -> Turn:
    prompt = f"question {tag}"
    session.type(prompt)
    session.wait_for(lambda: prompt in session.text(), timeout, "the typed prompt")
    session.idle(0.2)
    server.answers.append(answer)
    before = len(server.received)
    offset = len(session.output)
    first_word = f"First{tag}".encode()
    last_word = f"Last{tag}".encode()
    pressed = time.perf_counter()
    os.write(session.master, b"\r")
    seen: dict[str, float] = {}

    def look(until: str) -> bool:
        drawn, now = session.output[offset:], time.perf_counter()
        for name, word in (("first", first_word), ("last", last_word)):
            if name not in seen and word in drawn:
                seen[name] = now
        return until in seen

    # A burst ends at its last words; an app that draws it whole, following its end, never
    # shows the first ones (first text: none).
    until = "last" if answer.burst else "first"
    session.wait_for(lambda: look(until), timeout, f"the {until} words")
    first_ms = (seen["first"] - pressed) * 1000 if "first" in seen else None
    whole = (seen["last"] - pressed) * 1000 if answer.burst else None
    session.wait_for(lambda: len(server.received) > before, timeout, "the request")
    request_ms = (server.received[before] - pressed) * 1000
    # The turn is over once the status line shows the figures of the stored reply.
    session.wait_for(lambda: b"tok/s" in session.output[offset:], timeout, "the stored reply")
    session.idle(SETTLE)
    return Turn(request_ms, first_ms, whole, pressed)


def run_once(case: str, args: argparse.Namespace, memory: bool = False) -> Run:
    api, kind = case.split("-")
    burst = kind == "burst"
    server = WordServer()
    server.start()
    run = Run()
    try:
        with tempfile.TemporaryDirectory(prefix="tui-first-words-") as tmp:
            folder = Path(tmp)
            write_settings(folder, server.base_url, api)
            session = Session.start(isolated_env(folder), args.size)
            try:
                cells = session.columns * session.rows

                def ready() -> bool:
                    text = session.text()
                    return drawn_cells(text) >= cells and READY_TEXT in text

                session.wait_for(ready, args.timeout, "the app to be ready")
                if memory:
                    session.idle(1.5)
                    run.memory["after start"] = tree_rss_mb(session.process.pid)
                else:
                    session.idle(SETTLE)
                tokens = args.burst if burst else args.paced_tokens
                for _ in range(args.turns):
                    tag = os.urandom(3).hex()
                    answer = Answer(
                        answer_text(tag, tokens, burst), args.rate, burst, args.latency / 1000
                    )
                    run.turns.append(one_turn(session, server, answer, tag, args.timeout))
                if memory:
                    tag = os.urandom(3).hex()
                    big = Answer(answer_text(tag, 10_000, True), burst=True)
                    one_turn(session, server, big, tag, args.timeout * 3)
                    run.memory["after a 10,000-token reply"] = tree_rss_mb(session.process.pid)
                    offset = len(session.output)
                    os.write(session.master, b"\x0e")  # Ctrl+N
                    session.wait_for(
                        lambda: b"New chat" in session.output[offset:], args.timeout, "new chat"
                    )
                    session.idle(1.0)
                    run.memory["after a new chat"] = tree_rss_mb(session.process.pid)
                    session.idle(IDLE_AFTER + 1.5)
                    run.memory["after a new chat, idle"] = tree_rss_mb(session.process.pid)
            finally:
                session.stop()
    finally:
        server.stop()
    return run


def spread(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):7.1f}   min {min(values):7.1f}   max {max(values):7.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (default 5)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated cases")
    parser.add_argument("--rate", type=float, default=200.0, help="paced tokens a second")
    parser.add_argument("--paced-tokens", type=int, default=100, help="tokens of a paced answer")
    parser.add_argument("--burst", type=int, default=2000, help="tokens of a burst answer")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="paced: ms from the response to its first text"
    )
    parser.add_argument("--turns", type=int, default=1, help="turns per run, one thread")
    parser.add_argument("--size", default="120x40", help="terminal COLUMNSxROWS")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per wait")
    parser.add_argument("--memory", action="store_true", help="also measure resident memory")
    args = parser.parse_args(argv)
    columns, rows = (int(part) for part in args.size.lower().split("x"))
    args.size = (columns, rows)
    cases = [case for case in args.cases.split(",") if case]
    for case in cases:
        if case not in CASES:
            parser.error(f"unknown case {case!r}; choose from {', '.join(CASES)}")

    print(
        f"Enter -> answer text on screen: python -m tui in a {columns}x{rows} pty, loopback "
        f"server, {args.runs} runs per case after a warm-up, {args.turns} turn(s) a run; "
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    for case in cases:
        run_once(case, args)  # warm-up: .pyc files and the file cache
        runs = [run_once(case, args) for _ in range(args.runs)]
        print(f"\n{case} ({'one write of' if 'burst' in case else f'{args.rate:g} tok/s,'} "
              f"{args.burst if 'burst' in case else args.paced_tokens} tokens), ms:")  # fmt: skip
        for number in range(args.turns):
            turns = [run.turns[number] for run in runs]
            label = f"turn {number + 1}"
            print(f"  {label} request     {spread([t.request_ms for t in turns])}")
            pairs = [(t.first_ms, t.request_ms) for t in turns if t.first_ms is not None]
            if pairs:
                print(f"  {label} first text  {spread([first for first, _ in pairs])}")
                gaps = [first - request - args.latency for first, request in pairs]
                after = "the request" + (f" + {args.latency:g} ms" if args.latency else "")
                print(f"  {label}   (after {after} {spread(gaps)})")
            if len(pairs) < len(turns):
                print(
                    f"  {label} first text  never drawn in {len(turns) - len(pairs)} of "
                    f"{len(turns)} runs (the answer appeared whole, at its end)"
                )
            wholes = [t.whole_ms for t in turns if t.whole_ms is not None]
            if wholes:
                print(f"  {label} whole answer {spread(wholes)}")
    if args.memory:
        runs = [run_once(cases[0], args, memory=True) for _ in range(args.runs)]
        print("\nresident memory of the app's process tree, MB:")
        for key in runs[0].memory:
            print(f"  {key:<28} {spread([run.memory[key] for run in runs])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
