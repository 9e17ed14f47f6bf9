"""Importing ChatGPT's ``conversations.json`` at scale: ``tui-chat import`` end to end.

Generates a ChatGPT-style export (default 100,000 conversations, about 6 messages each, every 10th
with a regenerated answer, i.e. a branch) in a temporary folder, then times a real
``python -m tui --db X import FILE`` process on a fresh database. Target: under 60 s.

Usage::

    python bench/import_scale.py                        # full size
    python bench/import_scale.py --conversations 5000   # a quick run
    python bench/import_scale.py --dir bench/out        # keep the files
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 60.0
WORDS = (
    "plan trip budget python tokenizer recipe garden lisbon sintra model branch tree export "
    "import schedule meeting notes summary translate poem email draft review code test"
).split()


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _node(
    ident: str, parent: str | None, role: str | None, text: str, when: float, model: str | None
) -> dict[str, Any]:
    message = None
    if role is not None:
        message = {
            "id": ident,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": when,
            "update_time": None,
            "content": {"content_type": "text", "parts": [text]},
            "status": "finished_successfully",
            "metadata": {"model_slug": model} if model else {},
        }
    return {"id": ident, "message": message, "parent": parent, "children": []}


def conversation(number: int, rng: random.Random) -> dict[str, Any]:
    """One conversation: root, an empty system message, 3 turns; every 10th has a branch."""
    start = 1_600_000_000.0 + number * 600.0
    mapping: dict[str, dict[str, Any]] = {}

    def add(ident: str, parent: str | None, role: str | None, text: str, when: float) -> str:
        model = "gpt-4o" if role == "assistant" else None
        mapping[ident] = _node(ident, parent, role, text, when, model)
        if parent is not None:
            mapping[parent]["children"].append(ident)
        return ident

    last = add(f"{number}-root", None, None, "", start)
    last = add(f"{number}-sys", last, "system", "", start)
    for turn in range(3):
        question = add(f"{number}-u{turn}", last, "user", _text(rng, 12), start + turn * 60 + 1)
        if number % 10 == 0 and turn == 1:  # a regenerated answer: a sibling branch
            add(f"{number}-b{turn}", question, "assistant", _text(rng, 40), start + turn * 60 + 2)
        last = add(
            f"{number}-a{turn}", question, "assistant", _text(rng, 40), start + turn * 60 + 3
        )
    return {
        "title": _text(rng, 4),
        "create_time": start,
        "update_time": start + 200.0,
        "mapping": mapping,
        "current_node": last,
        "id": f"conv-{number}",
    }


def generate(path: Path, count: int) -> None:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as out:
        out.write("[")
        for number in range(count):
            if number:
                out.write(",\n")
            json.dump(conversation(number, rng), out, ensure_ascii=False)
        out.write("]\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, help="keep the files here (default: a temp folder)")
    args = parser.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="tui-import-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / "conversations.json"
    db = folder / "history.sqlite3"
    try:
        began = time.perf_counter()
        generate(file, args.conversations)
        size = file.stat().st_size / 1e6
        print(f"generated {args.conversations:,} conversations, {size:,.0f} MB", end="")
        print(f" in {time.perf_counter() - began:.1f} s")
        for stale in folder.glob("history.sqlite3*"):
            stale.unlink()
        env = {**os.environ, "TUI_CHAT_CONFIG": str(folder / "config.toml"), "TUI_CHAT_DB": str(db)}
        began = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "tui", "--db", str(db), "import", str(file)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - began
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return 1
        print(result.stderr.strip().splitlines()[-1])
        with sqlite3.connect(db) as connection:
            stored = connection.execute("SELECT count(*) FROM conversations").fetchone()[0]
            messages = connection.execute("SELECT count(*) FROM messages").fetchone()[0]
        rate = args.conversations / seconds
        verdict = "ok" if seconds < TARGET_S else "TOO SLOW"
        print(f"stored {stored:,} conversations, {messages:,} messages")
        print(
            f"import: {seconds:.1f} s, {rate:,.0f} conversations/s "
            f"(target < {TARGET_S:.0f} s: {verdict})"
        )
        return 0 if seconds < TARGET_S else 1
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
