"""The startup benchmark's harness: first-frame detection in a pty, memory, failures."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("startup_bench", ROOT / "bench" / "startup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = load_bench()


def test_escapes_are_stripped_and_wide_characters_count_twice() -> None:
    output = b"noise\x1b[?1049h\x1b[1;1H\x1b[38;5;253mab\x1b[0m\x1b]22;default\x07\xe4\xbd\xa0\r\n"
    text = bench.screen_text(output)
    assert text == "ab你\r\n"
    assert bench.drawn_cells(text) == 4


def test_nothing_counts_before_the_alternate_screen() -> None:
    assert bench.screen_text(b"hello world") == ""


def test_the_baseline_first_frame_is_detected_with_its_memory(tmp_path: Path) -> None:
    env = bench.isolated_env(tmp_path)
    run = bench.launch(bench.BASELINE, env, (80, 24), sentinel=bench.BASELINE_SENTINEL)
    assert run.failure == ""
    assert run.seconds is not None and 0 < run.seconds < 15
    assert run.hwm_mb is not None and run.hwm_mb > 5
    text = bench.screen_text(run.output)
    assert bench.BASELINE_SENTINEL in text
    assert bench.drawn_cells(text) >= 80 * 24


def test_a_command_that_exits_without_drawing_is_reported(tmp_path: Path) -> None:
    env = bench.isolated_env(tmp_path)
    run = bench.launch([sys.executable, "-c", "print('just text')"], env, (80, 24))
    assert run.seconds is None
    assert run.failure == "exited with code 0 before a full frame"
    assert b"just text" in run.output


def test_a_partial_screen_is_not_a_frame(tmp_path: Path) -> None:
    # Switches to the alternate screen and draws one line, then waits: never a full frame.
    code = (
        "import sys, time; sys.stdout.write('\\x1b[?1049h' + 'x' * 100); "
        "sys.stdout.flush(); time.sleep(30)"
    )
    env = bench.isolated_env(tmp_path)
    run = bench.launch([sys.executable, "-c", code], env, (80, 24), timeout=1.0)
    assert run.seconds is None
    assert run.failure == "no first frame within 1 s"


def test_the_environment_is_isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-pass")
    monkeypatch.setenv("TEXTUAL", "devtools")
    env = bench.isolated_env(tmp_path)
    assert "OPENAI_API_KEY" not in env and "TEXTUAL" not in env
    assert env["TUI_CHAT_CONFIG"].startswith(str(tmp_path))
    assert env["TUI_CHAT_DB"].startswith(str(tmp_path))
    assert env["TERM"] == "xterm-256color"


def test_heavy_imports_are_read_from_importtime_lines() -> None:
    lines = (
        "import time: self [us] | cumulative | imported package\r\n"
        "import time:       120 |      20300 | httpx\r\n"
        "import time:        10 |        500 |   httpx._api\r\n"
        "\x1b[1;1Himport time:       235 |     206563 |   sqlalchemy.ext.asyncio\n"
    )
    assert bench.heavy_imports(lines) == {"httpx": 20.3, "sqlalchemy.ext.asyncio": 206.563}
