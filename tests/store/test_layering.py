"""The store stays below the app: no Textual, providers or services, nothing done at import."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

STORE = Path(__file__).resolve().parents[2] / "tui" / "store"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_store_imports_only_the_domain_from_the_app() -> None:
    for path in STORE.rglob("*.py"):
        for name in imported_modules(path):
            top = name.split(".")
            assert top[0] != "textual", f"{path.name} imports {name}"
            if top[0] == "tui":
                assert name == "tui.domain" or name.startswith("tui.store"), (
                    f"{path.name} imports {name}"
                )


def test_importing_the_store_has_no_side_effects(tmp_path: Path) -> None:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    code = (
        "import sys, threading\n"
        "import tui.store.db, tui.store.repository, tui.store.search\n"
        "print(threading.active_count(), 'alembic' in sys.modules, 'textual' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=workdir,
        env={"PYTHONPATH": str(STORE.parents[1]), "PATH": ""},
        timeout=30,
    ).stdout.split()
    assert out == ["1", "False", "False"]
    assert list(workdir.iterdir()) == []
