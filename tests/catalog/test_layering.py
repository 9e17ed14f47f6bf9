"""The catalog and the demo stay headless and light: no Textual, no store, no httpx for the
catalog (it is imported at start-up)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("tui.providers.catalog", ("textual", "tui.store", "httpx", "sqlalchemy")),
        ("tui.providers.demo", ("textual", "tui.store", "sqlalchemy")),
    ],
)
def test_module_imports_stay_in_their_layer(module: str, forbidden: tuple[str, ...]) -> None:
    code = f"import sys, {module}; print(sorted(m for m in {forbidden!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]", f"{module} imported {out}"
