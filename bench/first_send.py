"""First send: time from pressing Enter in the app to the request reaching the server.

The real app (``python -m tui``, as ``tui-chat`` starts it) runs in a pseudo-terminal (120x40,
``TERM=xterm-256color``) with a fresh temporary database and a settings file whose default
provider is the loopback OpenAI-compatible server of ``tests/support/server.py``, started by this
script in a thread of its own process. The server is subclassed only to note, with
``time.perf_counter()``, the moment each request has been read whole (request line, headers and
body); the script notes the moment it writes Enter (``\\r``) to the terminal with the same clock.

One run, in a fresh process each time:

1. start the app and wait until it is ready to send: its first full frame is drawn and the
   status bar shows the loopback route (the services are open and the screen has loaded);
2. wait 0.5 s (a person reads the screen), type a prompt key by key, wait until it is shown;
3. press Enter: **first send** = from writing ``\\r`` to the server having the request; the
   first send of the session, so nothing the app builds or imports lazily has been paid yet;
4. wait for the echoed reply on screen, type a second prompt the same way and press Enter:
   **second send**, the same figure once everything is warm.

The script prints the median, min and max over ``--runs`` runs (after a warm-up run that fills
the ``.pyc`` and file caches) against the target (< 50 ms). Then, from one extra run under
``PYTHONPROFILEIMPORTTIME=1``, it lists the modules the app imported between Enter and the
request (the first send should import nothing heavy).

Run from the repository root::

    python bench/first_send.py [--runs 7] [--size 120x40]
"""

from __future__ import annotations

import argparse
import os
import re
import select
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.startup import (  # noqa: E402
    _stop,
    drawn_cells,
    isolated_env,
    screen_text,
    spawn_in_pty,
)
from tests.support.script import Behaviour  # noqa: E402
from tests.support.server import LoopbackServer  # noqa: E402

TARGET_MS = 50.0
MODEL = "loopback-chat"
LABEL = "Loopback"
READY_TEXT = f"{LABEL} · {MODEL}"
SEND_PATHS = ("/chat/completions", "/responses")
TYPE_INTERVAL = 0.02
"""Seconds between typed keys: a fast typist."""
SETTLE = 0.5
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)([\w.]+)")


class TimedServer(LoopbackServer):
    """The loopback server, noting when each request has been read whole."""

    def __init__(self) -> None:
        super().__init__(models=(MODEL,))
        self.received: list[tuple[float, str, bytes]] = []

    def _behaviour_for(self, headers: dict[str, str]) -> Behaviour:
        # Called by ``_one_request`` right after the request (body included) is recorded.
        now = time.perf_counter()
        record = self.requests[-1]
        self.received.append((now, record.path, record.body))
        return super()._behaviour_for(headers)

    def send_after(self, moment: float, marker: str) -> float | None:
        """When the first chat request after ``moment`` carrying ``marker`` arrived."""
        for when, path, body in list(self.received):
            if when >= moment and path in SEND_PATHS and marker.encode() in body:
                return when
        return None


def write_settings(folder: Path, base_url: str) -> None:
    (folder / "config.toml").write_text(
        "[defaults]\n"
        'provider = "loopback"\n'
        f'model = "{MODEL}"\n'
        "\n"
        "[providers.loopback]\n"
        f'label = "{LABEL}"\n'
        f'base_url = "{base_url}"\n'
        f'models = ["{MODEL}"]\n',
        encoding="utf-8",
    )


@dataclass
class Session:
    """The app in a pty: keys in, screen text out."""

    process: subprocess.Popen[bytes]
    master: int
    columns: int
    rows: int
    output: bytearray = field(default_factory=bytearray)

    @classmethod
    def start(cls, env: dict[str, str], size: tuple[int, int]) -> Session:
        columns, rows = size
        process, master = spawn_in_pty([sys.executable, "-m", "tui"], env, size)
        return cls(process, master, columns, rows)

    def pump(self, timeout: float) -> None:
        """Read what the app drew within ``timeout`` seconds (keeps the pty drained)."""
        if select.select([self.master], [], [], timeout)[0]:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                chunk = b""
            if not chunk and self.process.poll() is not None:
                raise RuntimeError(f"the app exited with code {self.process.returncode}")
            self.output += chunk

    def text(self) -> str:
        return screen_text(bytes(self.output))

    def wait_for(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if done():
                return
            self.pump(0.01)
        excerpt = " ".join(self.text().split())[-400:]
        raise RuntimeError(f"timed out waiting for {what}; the screen ends: {excerpt}")

    def idle(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            self.pump(min(0.01, max(0.0, end - time.perf_counter())))

    def type(self, text: str) -> None:
        for char in text:
            os.write(self.master, char.encode())
            self.idle(TYPE_INTERVAL)

    def stop(self) -> None:
        _stop(self.process, self.master)
        os.close(self.master)


@dataclass
class Result:
    first_ms: float
    second_ms: float
    ready_s: float
    output: bytes
    enter_offset: int
    received_offset: int


def send(session: Session, server: TimedServer, prompt: str, timeout: float) -> tuple[float, int]:
    """Type ``prompt``, press Enter; return ms until the server had it, and the output offset
    at Enter."""
    session.type(prompt)
    session.wait_for(lambda: prompt in session.text(), timeout, "the typed prompt")
    session.idle(0.2)
    offset = len(session.output)
    pressed = time.perf_counter()
    os.write(session.master, b"\r")
    arrived: list[float] = []

    def reached() -> bool:
        when = server.send_after(pressed, prompt)
        if when is not None:
            arrived.append(when)
        return when is not None

    session.wait_for(reached, timeout, "the request at the server")
    return (arrived[0] - pressed) * 1000, offset


def run_once(
    size: tuple[int, int], timeout: float, extra_env: dict[str, str] | None = None
) -> Result:
    server = TimedServer()
    server.start()
    try:
        return _run_with(server, size, timeout, extra_env)
    finally:
        server.stop()


def _run_with(
    server: TimedServer, size: tuple[int, int], timeout: float, extra_env: dict[str, str] | None
) -> Result:
    with tempfile.TemporaryDirectory(prefix="tui-first-send-") as tmp:
        folder = Path(tmp)
        write_settings(folder, server.base_url)
        env = isolated_env(folder, extra_env)
        started = time.perf_counter()
        session = Session.start(env, size)
        try:
            cells = session.columns * session.rows

            def ready() -> bool:
                text = session.text()
                return drawn_cells(text) >= cells and READY_TEXT in text

            session.wait_for(ready, timeout, "the app to be ready")
            ready_s = time.perf_counter() - started
            session.idle(SETTLE)
            tag = os.urandom(3).hex()
            first_ms, enter_offset = send(session, server, f"hello {tag} one", timeout)
            received_offset = len(session.output)
            session.wait_for(lambda: "[turn 1]" in session.text(), timeout, "the first reply")
            session.idle(SETTLE)
            second_ms, _ = send(session, server, f"again {tag} two", timeout)
            session.wait_for(lambda: "[turn 2]" in session.text(), timeout, "the second reply")
        finally:
            session.stop()
        return Result(
            first_ms, second_ms, ready_s, bytes(session.output), enter_offset, received_offset
        )


def imports_between(output: bytes) -> dict[str, tuple[int, float]]:
    """Modules imported directly (not by another import) in ``-X importtime`` lines of
    ``output``: how many times each was looked for (a missing optional module is looked for
    again every time) and the cumulative ms."""
    found: dict[str, tuple[int, float]] = {}
    for match in _IMPORT_LINE.finditer(output.decode("utf-8", "replace")):
        if len(match.group(3)) == 1:
            count, total = found.get(match.group(4), (0, 0.0))
            found[match.group(4)] = (count + 1, total + int(match.group(2)) / 1000)
    return found


def _row(label: str, values: list[float]) -> str:
    median = statistics.median(values)
    verdict = "met" if median < TARGET_MS else "MISSED"
    return (
        f"  {label:<13} median {median:6.1f} ms   min {min(values):6.1f}   max {max(values):6.1f}"
        f"   (target < {TARGET_MS:g} ms: {verdict})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs (default 7)")
    parser.add_argument("--size", default="120x40", help="terminal COLUMNSxROWS")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per wait")
    parser.add_argument("--no-imports", action="store_true", help="skip the import report")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    columns, rows = (int(part) for part in args.size.lower().split("x"))
    size = (columns, rows)

    print(
        f"Enter -> request at the loopback server: python -m tui in a {columns}x{rows} pty, "
        f"fresh database each run, {args.runs} runs after a warm-up; load average "
        f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )
    run_once(size, args.timeout)  # warm-up: .pyc files and the file cache
    results = [run_once(size, args.timeout) for _ in range(args.runs)]
    print(_row("first send", [r.first_ms for r in results]))
    print(_row("second send", [r.second_ms for r in results]))
    print("  per run (first / second, ms): " + ", ".join(
        f"{r.first_ms:.0f}/{r.second_ms:.0f}" for r in results
    ))  # fmt: skip
    ready = [r.ready_s for r in results]
    print(
        f"  (app ready to send after launch: median {statistics.median(ready):.2f} s, "
        f"min {min(ready):.2f}, max {max(ready):.2f})"
    )
    print("  baseline: none (no earlier figure); the target is absolute")

    if not args.no_imports:
        traced = run_once(size, args.timeout * 2, {"PYTHONPROFILEIMPORTTIME": "1"})
        window = traced.output[traced.enter_offset : traced.received_offset]
        imported = imports_between(window)
        print(
            f"\nmodules imported between Enter and the request on the first send "
            f"(one run under -X importtime, which slows imports; that send: "
            f"{traced.first_ms:.0f} ms):"
        )
        if not imported:
            print("  none")
        for name, (count, ms) in sorted(imported.items(), key=lambda item: -item[1][1]):
            times = f" ({count} tries: not installed)" if count > 1 else ""
            print(f"  {name:<28} {ms:7.1f} ms{times}")
        total = sum(ms for _, ms in imported.values())
        print(f"  {'total':<28} {total:7.1f} ms")
    missed = statistics.median(r.first_ms for r in results) >= TARGET_MS
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
