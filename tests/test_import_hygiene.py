"""The layers below the UI never import Textual, so the engine runs headless."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
    "tui.subcommands",
]


@pytest.mark.parametrize("module", HEADLESS_MODULES)
def test_module_does_not_import_textual(module: str) -> None:
    code = f"import sys, {module}; print('textual' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "False", f"{module} pulled in textual"


REPO_ROOT = Path(__file__).resolve().parent.parent


def test_import_linter_contracts_hold() -> None:
    """The layer, headless and UI-through-services contracts in pyproject.toml all hold."""
    script = Path(sys.executable).with_name("lint-imports")
    if script.exists():
        command = [str(script)]
    else:  # importlinter.cli has no ``__main__`` guard, so `-m` would do nothing
        command = [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command())",
        ]
    result = subprocess.run(
        [*command, "--config", "pyproject.toml", "--no-cache"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        f"lint-imports exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    )


def test_the_http_client_comes_without_httpx_command_line_tool() -> None:
    """httpx's command-line client (click, Pygments) stays out of the app, and the client
    itself still works: a request over a mock transport."""
    code = (
        "import sys, asyncio, tui.providers.openai_compat, httpx\n"
        "async def go():\n"
        "    transport = httpx.MockTransport(lambda request: httpx.Response(200, text='ok'))\n"
        "    async with httpx.AsyncClient(transport=transport) as client:\n"
        "        return (await client.get('http://example.test/')).text\n"
        "print(asyncio.run(go()), sorted({'click', 'pygments'} & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "ok []"
