"""MCP servers in the settings: ``[mcp_servers.NAME]`` parsed and checked, and ``tui-chat mcp
import`` / ``mcp list`` run as a person runs them, on real files."""

from __future__ import annotations

import json
from pathlib import Path

from tests.engine.test_cli import run
from tui.config.settings import McpServerSettings, parse_settings

SERVERS = {
    "mcpServers": {
        "files": {
            "command": "uvx",
            "args": ["mcp-server-filesystem", "/home/me/notes"],
            "env": {"NOTES_TOKEN": "s3cret-token"},
        },
        "search": {
            "type": "http",
            "url": "http://127.0.0.1:8931/mcp",
            "headers": {"Authorization": "Bearer header-secret"},
        },
        "quiet": {"command": "my-server", "disabled": True},
        "legacy": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
        "bad name!": {"command": "x"},
    }
}
USER_FILE = '# my settings\n[defaults]\nprovider = "demo"  # offline\n\n[ui]\nfoo = 1\n'


def test_servers_are_parsed_and_bad_ones_reported() -> None:
    problems: list[str] = []
    settings = parse_settings(
        {
            "mcp_servers": {
                "files": {"command": "uvx", "args": ["a", "b"], "env": {"K": "v"}},
                "web": {"url": "https://example.com/mcp", "enabled": False},
                "both": {"command": "x", "url": "http://x"},
                "neither": {"args": []},
                "ftp": {"url": "ftp://x"},
                "argsbad": {"command": "x", "args": "not a list"},
            }
        },
        problems,
    )
    assert settings.mcp_servers == {
        "files": McpServerSettings(name="files", command="uvx", args=("a", "b"), env={"K": "v"}),
        "web": McpServerSettings(name="web", url="https://example.com/mcp", enabled=False),
    }
    assert settings.mcp_servers["files"].transport == "stdio"
    assert settings.mcp_servers["web"].transport == "http"
    assert len(problems) == 4
    assert any("[mcp_servers.both] needs either command" in p for p in problems)
    assert any("mcp_servers.ftp.url must start with http" in p for p in problems)


def test_import_adds_the_servers_and_keeps_the_users_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(USER_FILE)
    source = tmp_path / "claude_desktop_config.json"
    source.write_text(json.dumps(SERVERS))
    result = run("--config", str(config), "mcp", "import", str(source))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Added files  stdio: uvx mcp-server-filesystem /home/me/notes (env: NOTES_TOKEN)",
        "Added search  HTTP: http://127.0.0.1:8931/mcp (headers: Authorization)",
        "Added quiet  stdio: my-server  [disabled]",
    ]
    assert "legacy: the SSE transport is not supported" in result.stderr
    assert "bad name!" in result.stderr
    assert "s3cret-token" not in result.stdout + result.stderr
    assert "header-secret" not in result.stdout + result.stderr
    text = config.read_text()
    assert text.startswith(USER_FILE)  # comments, order and unknown keys kept
    assert 'NOTES_TOKEN = "s3cret-token"' in text and "enabled = false" in text

    listed = run("--config", str(config), "mcp", "list")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["files", "search", "quiet"]
    assert "header-secret" not in listed.stdout and "s3cret-token" not in listed.stdout

    again = run("--config", str(config), "mcp", "import", str(source))
    assert again.returncode == 0
    assert "files: already configured; kept as it is" in again.stderr
    assert config.read_text() == text  # nothing written twice


def test_a_bad_file_is_one_line_and_a_broken_settings_file_is_left_alone(
    tmp_path: Path,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(USER_FILE)
    broken_json = tmp_path / "servers.json"
    broken_json.write_text('{"mcpServers": {"a": ')
    result = run("--config", str(config), "mcp", "import", str(broken_json))
    assert result.returncode == 1
    assert result.stderr.strip().startswith(f"tui-chat: error: {broken_json} is not JSON (line 1")
    assert "Traceback" not in result.stderr

    broken_json.write_text(json.dumps(SERVERS))
    config.write_text('[defaults]\nprovider = "demo\n')  # not TOML
    before = config.read_bytes()
    result = run("--config", str(config), "mcp", "import", str(broken_json))
    assert result.returncode == 1
    assert "nothing was added" in result.stderr.splitlines()[-1]
    assert config.read_bytes() == before
