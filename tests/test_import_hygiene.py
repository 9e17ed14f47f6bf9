"""The layers below the UI never import Textual, so the engine runs headless."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEADLESS_MODULES = [
    "tui",
    "tui.domain",
    "tui.config.settings",
    "tui.providers.errors",
    "tui.services.chat",
    "tui.services.container",
    "tui.services.export",
    "tui.services.settings_edit",
    "tui.console",
]


@pytest.mark.parametrize("module", HEADLESS_MODULES)
def test_module_does_not_import_textual(module: str) -> None:
    code = f"import sys, {module}; print('textual' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False", f"{module} pulled in textual"
