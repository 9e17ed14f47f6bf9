"""Startup: time from launching a command to its first frame in a real terminal, and its memory.

Each command runs in a pseudo-terminal (``os.openpty``, 120x40 unless ``--size``,
``TERM=xterm-256color``), as a person's terminal would run it, and the script reads what it
draws. **First frame** is the moment the output after the switch to the alternate screen
(``ESC[?1049h``, which Textual sends as its driver starts) holds a whole screen of drawn cells:
escape sequences are stripped, and the printable characters left (wide ones counting two) must
cover ``columns x rows``. Textual's first paint writes every cell of every line, blank ones as
spaces, so this is the first full-screen paint, not the driver's set-up or a partial update.
``--sentinel TEXT`` also requires TEXT to be on screen (for an app whose first paint is a
placeholder). At that moment ``VmRSS``/``VmHWM`` are read from ``/proc/<pid>/status`` and the
process is stopped (SIGTERM, then SIGKILL after 2 s).

The baseline is ``bench/minimal_app.py`` (one label). After a warm-up run of each, baseline and
target alternate for ``--runs`` rounds; the script prints median, min and max of each, the
ratio of the medians (target: at most 1.5x) and the resident memory (target: under 80 MB).

Then it lists the import cost of the heavy modules that must stay off the startup path, each
timed alone with ``python -X importtime`` (median of 3), and, from one extra run of the target
under ``PYTHONPROFILEIMPORTTIME=1``, which of them the target imported before its first frame.

The default target is ``python -m tui`` from the repository root, with ``TUI_CHAT_CONFIG``,
``TUI_CHAT_DB`` and the XDG folders in a temporary folder and the provider key variables
removed, so nothing of the user's is read or written and nothing goes online.

Run from the repository root::

    python bench/startup.py [--runs 7] [--size 120x40] [--check] [-- COMMAND ...]
"""

from __future__ import annotations

import argparse
import os
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = [sys.executable, str(ROOT / "bench" / "minimal_app.py")]
BASELINE_SENTINEL = "minimal textual app ready"
HEAVY_MODULES = (
    "sqlalchemy",
    "sqlalchemy.ext.asyncio",
    "aiosqlite",
    "alembic",
    "httpx",
    "markdown_it",
    "pygments.lexers",  # ``pygments`` alone is tiny; lexers are what rich.syntax pulls in
)
APP_MODULE = "tui.app"
ALT_SCREEN = b"\x1b[?1049h"
RATIO_TARGET = 1.5
MEMORY_TARGET_MB = 80.0
SCRUBBED_ENV = (
    "OPENAI_API_KEY",
    "AIMLAPI_API_KEY",
    "GMI_API_KEY",
    "TUI_CHAT_API_KEY",
    "TUI_CHAT_PROVIDER",
    "TUI_CHAT_MODEL",
    "TUI_CHAT_THEME",
    "TUI_CHAT_DATABASE_URL",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONDONTWRITEBYTECODE",  # an installed app has its .pyc files: the warm-up writes them
    "COLUMNS",
    "LINES",
)
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: cursor moves, colours, modes
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC: titles, colour queries
    r"|\x1bP[^\x1b]*\x1b\\"  # DCS
    r"|\x1b[ -/]*[0-~]"  # two-character escapes
)
_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)([\w.]+)")


@dataclass
class Run:
    """One launch: seconds to the first frame (None if it never came) and memory then."""

    seconds: float | None
    rss_mb: float | None = None
    hwm_mb: float | None = None
    failure: str = ""
    output: bytes = b""
    first_frame: float | None = None
    """With keys pressed after the first frame: seconds from launch to that frame."""


def drawn_cells(text: str) -> int:
    """Terminal cells the printable characters of ``text`` cover (escapes already removed)."""
    cells = 0
    for char in text:
        if char.isprintable():
            cells += 2 if unicodedata.east_asian_width(char) in "WF" else 1
    return cells


def screen_text(output: bytes) -> str:
    """What was drawn after the switch to the alternate screen, escapes removed."""
    start = output.find(ALT_SCREEN)
    if start < 0:
        return ""
    return _ESCAPES.sub("", output[start:].decode("utf-8", "replace"))


def read_memory(pid: int) -> tuple[float | None, float | None]:
    """``VmRSS`` and ``VmHWM`` of ``pid`` in MB (None where /proc cannot tell)."""
    values: dict[str, float] = {}
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None, None
    for line in status.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS"), values.get("VmHWM")


def _stop(process: subprocess.Popen[bytes], master: int) -> None:
    """SIGTERM, then SIGKILL; keep draining the terminal so the app can write its goodbye."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 2
    while process.poll() is None and time.monotonic() < deadline:
        if select.select([master], [], [], 0.05)[0]:
            try:
                os.read(master, 65536)
            except OSError:
                break
    if process.poll() is None:
        process.kill()
    process.wait()


def spawn_in_pty(
    command: list[str], env: dict[str, str], size: tuple[int, int]
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``command`` on a new pseudo-terminal of ``size`` (columns, rows); returns the
    process and the terminal's master end, which the caller reads and closes."""
    import fcntl
    import termios

    columns, rows = size
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(
        command,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    return process, master


def launch(
    command: list[str],
    env: dict[str, str],
    size: tuple[int, int],
    *,
    sentinel: str | None = None,
    timeout: float = 15.0,
    linger: float = 0.0,
    press: bytes = b"",
    then: str | None = None,
) -> Run:
    """Start ``command`` in a fresh pty and time it to its first full frame.

    With ``press``: once that frame is drawn, write ``press`` (keys) to the terminal and time
    from the keys to the first frame showing ``then`` instead (``first_frame`` keeps the time
    of the first)."""
    started = time.perf_counter()
    columns, rows = size
    process, master = spawn_in_pty(command, env, size)
    output = bytearray()
    run = Run(None, failure=f"no first frame within {timeout:g} s")
    try:
        while time.perf_counter() - started < timeout:
            if not select.select([master], [], [], 0.05)[0]:
                if process.poll() is not None:
                    run.failure = f"exited with code {process.returncode} before a full frame"
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                chunk = b""
            if not chunk:
                run.failure = f"exited with code {process.wait()} before a full frame"
                break
            now = time.perf_counter()
            output += chunk
            text = screen_text(bytes(output))
            if press and run.first_frame is None:
                if drawn_cells(text) >= columns * rows and (not sentinel or sentinel in text):
                    run.first_frame = now - started
                    os.write(master, press)
                    started = time.perf_counter()
                continue
            if press and (then not in text if then else False):
                continue
            if drawn_cells(text) >= columns * rows and (press or not sentinel or sentinel in text):
                run.seconds = now - started
                run.rss_mb, run.hwm_mb = read_memory(process.pid)
                run.failure = ""
                break
        end = time.perf_counter() + linger
        while run.seconds is not None and time.perf_counter() < end:
            if select.select([master], [], [], 0.05)[0]:
                output += os.read(master, 65536)
    finally:
        _stop(process, master)
        os.close(master)
    run.output = bytes(output)
    return run


def isolated_env(folder: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The caller's environment minus keys and Textual switches, with the app's files in
    ``folder``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SCRUBBED_ENV and not key.startswith("TEXTUAL")
    }
    env.update(
        TERM="xterm-256color",
        TUI_CHAT_CONFIG=str(folder / "config.toml"),
        TUI_CHAT_DB=str(folder / "history.sqlite3"),
        XDG_CONFIG_HOME=str(folder / "config"),
        XDG_DATA_HOME=str(folder / "data"),
        XDG_CACHE_HOME=str(folder / "cache"),
    )
    env.update(extra or {})
    return env


def module_import_ms(module: str, runs: int = 3) -> float | None:
    """Cumulative import time of ``module`` alone in a fresh interpreter (median, ms)."""
    times = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        if result.returncode != 0:
            return None
        for match in _IMPORT_LINE.finditer(result.stderr):
            if match.group(4) == module:
                times.append(int(match.group(2)) / 1000)
    return statistics.median(times) if times else None


def heavy_imports(importtime_output: str) -> dict[str, float]:
    """The heavy modules named in ``-X importtime`` output, with their cumulative ms."""
    found: dict[str, float] = {}
    for match in _IMPORT_LINE.finditer(importtime_output):
        name = match.group(4)
        if name in HEAVY_MODULES:
            found[name] = max(found.get(name, 0.0), int(match.group(2)) / 1000)
    return found


def app_module_report(module: str = APP_MODULE) -> str:
    """``import tui.app`` in a fresh interpreter: its cost and the heavy modules it pulls in."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if result.returncode != 0:
        return f"import {module}: fails ({result.stderr.strip().splitlines()[-1]})"
    total = next(
        (
            int(match.group(2)) / 1000
            for match in _IMPORT_LINE.finditer(result.stderr)
            if match.group(4) == module
        ),
        0.0,
    )
    pulled = heavy_imports(result.stderr)
    listed = ", ".join(f"{name} {ms:.1f} ms" for name, ms in pulled.items()) or "none"
    return f"import {module}: {total:.1f} ms; heavy modules it imports: {listed}"


def _summary(label: str, runs: list[Run], width: int) -> tuple[float | None, float | None]:
    times = [run.seconds for run in runs if run.seconds is not None]
    failures = [run.failure for run in runs if run.seconds is None]
    if not times:
        print(f"  {label:<{width}} failed: {failures[0] if failures else 'no runs'}")
        tail = screen_text(runs[-1].output) or runs[-1].output.decode("utf-8", "replace")
        excerpt = " ".join(tail.split())[:300]
        if excerpt:
            print(f"  {'':<{width}} its output began: {excerpt}")
        return None, None
    memory = [run.hwm_mb for run in runs if run.hwm_mb is not None]
    rss = [run.rss_mb for run in runs if run.rss_mb is not None]
    hwm = statistics.median(memory) if memory else None
    median = statistics.median(times)
    print(
        f"  {label:<{width}} {median:7.3f} s {min(times):7.3f} {max(times):7.3f}"
        f"   {statistics.median(rss) if rss else float('nan'):6.1f} MB"
        f" {hwm if hwm is not None else float('nan'):6.1f} MB"
        + (f"   ({len(failures)} failed: {failures[0]})" if failures else "")
    )
    return median, hwm


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs of each (default 7)")
    parser.add_argument("--size", default="120x40", help="terminal COLUMNSxROWS")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds to wait per run")
    parser.add_argument("--sentinel", help="text the target's first frame must show")
    parser.add_argument("--no-imports", action="store_true", help="skip the import report")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("command", nargs="*", help="the command to time (default: python -m tui)")
    args = parser.parse_args(argv)
    columns, rows = (int(part) for part in args.size.lower().split("x"))
    target = args.command or [sys.executable, "-m", "tui"]
    label = " ".join(Path(target[0]).name if i == 0 else part for i, part in enumerate(target))

    with tempfile.TemporaryDirectory(prefix="tui-chat-startup-") as tmp:
        env = isolated_env(Path(tmp))
        print(
            f"startup to first full frame: {columns}x{rows} pty, TERM=xterm-256color, "
            f"{args.runs} runs each after a warm-up"
        )
        baseline_runs: list[Run] = []
        target_runs: list[Run] = []
        for round_index in range(args.runs + 1):
            baseline = launch(
                BASELINE, env, (columns, rows), sentinel=BASELINE_SENTINEL, timeout=args.timeout
            )
            measured = launch(
                target, env, (columns, rows), sentinel=args.sentinel, timeout=args.timeout
            )
            if round_index:  # the first round warms the file cache and the .pyc files
                baseline_runs.append(baseline)
                target_runs.append(measured)
        names = ("baseline (bench/minimal_app.py)", f"target ({label})")
        width = max(len(name) for name in names)
        print(f"  {'':<{width}} {'median':>9} {'min':>7} {'max':>7}   {'VmRSS':>9} {'VmHWM':>9}")
        base_median, _ = _summary(names[0], baseline_runs, width)
        target_median, target_hwm = _summary(names[1], target_runs, width)
        missed = target_median is None
        if base_median and target_median:
            ratio = target_median / base_median
            verdict = "ok" if ratio <= RATIO_TARGET else "OVER"
            missed |= ratio > RATIO_TARGET
            print(f"  ratio of medians: {ratio:.2f}x (target <= {RATIO_TARGET}x): {verdict}")
        if target_hwm is not None:
            verdict = "ok" if target_hwm < MEMORY_TARGET_MB else "OVER"
            missed |= target_hwm >= MEMORY_TARGET_MB
            print(
                f"  peak resident memory at first frame: {target_hwm:.1f} MB "
                f"(target < {MEMORY_TARGET_MB:g} MB): {verdict}"
            )

        if not args.no_imports:
            print("\nheavy modules: import cost alone (python -X importtime, median of 3)")
            traced = launch(
                target,
                isolated_env(Path(tmp), {"PYTHONPROFILEIMPORTTIME": "1"}),
                (columns, rows),
                sentinel=args.sentinel,
                timeout=args.timeout * 2,
            )
            on_path = heavy_imports(traced.output.decode("utf-8", "replace"))
            for module in HEAVY_MODULES:
                alone = module_import_ms(module)
                cost = "not installed" if alone is None else f"{alone:7.1f} ms"
                if traced.seconds is None:
                    where = "(target drew no frame: startup path unknown)"
                elif module in on_path:
                    where = f"ON the startup path ({on_path[module]:.1f} ms there): defer it"
                else:
                    where = "off the startup path"
                print(f"  {module:<22} {cost:>14}   {where}")
            print("  " + app_module_report())
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
