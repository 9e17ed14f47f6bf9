"""The command line as a person runs it: a real process, a real database, the demo or loopback."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support.fixtures import TEST_KEY
from tests.support.script import http_error, reply
from tests.support.server import LoopbackServer

ROOT = Path(__file__).resolve().parents[2]


def run(
    *args: str, stdin: str | None = None, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={"TUI_CHAT_DEMO_SPEED": "0", **os.environ, **env},
    )


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def db_path() -> Path:
    return Path(os.environ["TUI_CHAT_DB"])


def ask_loopback(server: LoopbackServer, *args: str) -> list[str]:
    """``ask`` against the loopback server's ``loopback-chat`` on Chat Completions."""
    return ["ask", "--base-url", server.base_url, "-m", "loopback-chat", "--api", "chat", *args]


def test_ask_on_the_demo_works_with_no_key_and_no_network() -> None:
    result = run("ask", "-p", "demo", "hello")
    assert result.returncode == 0, result.stderr
    assert "hello" in result.stdout and "```" in result.stdout
    assert result.stderr == ""
    stored = rows(db_path(), "SELECT role, status, content FROM messages ORDER BY id")
    assert [(role, status) for role, status, _ in stored] == [
        ("user", "complete"),
        ("assistant", "complete"),
    ]
    assert isinstance(stored[1][2], str)
    assert stored[1][2].strip() == result.stdout.strip()


def test_continue_and_conversation_id_keep_the_thread() -> None:
    assert run("ask", "-p", "demo", "first question").returncode == 0
    second = run("ask", "-c", "second question")
    assert second.returncode == 0, second.stderr
    assert "first question" in second.stdout  # the demo quotes how the thread began
    listed = json.loads(run("list", "--json").stdout)
    assert len(listed) == 1 and listed[0]["messages"] == 4
    third = run("ask", "--conversation", str(listed[0]["id"]), "third")
    assert third.returncode == 0
    assert json.loads(run("list", "--json").stdout)[0]["messages"] == 6


def test_the_prompt_can_come_from_stdin() -> None:
    result = run("ask", "-p", "demo", stdin="a piped question\n")
    assert result.returncode == 0, result.stderr
    assert "a piped question" in result.stdout
    dash = run("ask", "-p", "demo", "-", stdin="dash question")
    assert "dash question" in dash.stdout


def test_an_empty_prompt_is_a_usage_error() -> None:
    result = run("ask", "-p", "demo", stdin="   \n")
    assert result.returncode == 2
    assert result.stderr.strip() == "tui-chat: error: the prompt is empty"


def test_an_adhoc_base_url_with_a_key_reaches_the_server() -> None:
    with LoopbackServer(api_key=TEST_KEY) as server:
        server.enqueue(reply("from loopback"))
        result = run(
            "ask",
            "--base-url",
            server.base_url,
            "--api-key",
            TEST_KEY,
            "-m",
            "loopback-chat",
            "--api",
            "chat",
            "-s",
            "be terse",
            "--max-output-tokens",
            "50",
            "--temperature",
            "0.2",
            "hi",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == "from loopback\n"
        sent = server.requests[-1]
        assert sent.header("authorization") == f"Bearer {TEST_KEY}"
        assert sent.json["messages"][0] == {"role": "system", "content": "be terse"}
        # An unknown server gets the old name: llama.cpp, vLLM and others ignore the new one.
        assert sent.json["max_tokens"] == 50 and "max_completion_tokens" not in sent.json
        assert sent.json["temperature"] == 0.2


def test_a_rejected_key_is_one_line_without_the_key() -> None:
    with LoopbackServer(api_key=TEST_KEY) as server:
        wrong = "sk-wrong-key-0123456789abcdef"
        result = run(
            "ask",
            "--base-url",
            server.base_url,
            "-m",
            "loopback-chat",
            "hi",
            TUI_CHAT_API_KEY=wrong,
        )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tui-chat: error: ")
    assert "API key" in lines[0] and "TUI_CHAT_API_KEY" in lines[0]
    assert "0123456789" not in result.stderr + result.stdout
    stored = rows(db_path(), "SELECT content FROM messages WHERE role = 'user'")
    assert stored == [("hi",)]  # the question is kept


def test_an_unknown_provider_is_bad_usage_and_stores_nothing() -> None:
    result = run("ask", "-p", "nosuch", "hi")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tui-chat: error: ")
    assert "Unknown provider 'nosuch'" in result.stderr and "demo" in result.stderr
    assert not db_path().exists() or rows(db_path(), "SELECT count(*) FROM conversations") == [(0,)]
    for command in (("models", "-p", "nosuch"), ("doctor", "-p", "nosuch")):
        other = run(*command)
        assert other.returncode == 2, (command, other.stderr)
        assert "Unknown provider 'nosuch'" in other.stderr and "Traceback" not in other.stderr


def test_a_model_the_server_does_not_know_is_bad_usage() -> None:
    with LoopbackServer(api_key=TEST_KEY) as server:
        server.enqueue(http_error(404, "The model `nosuch` does not exist", code="model_not_found"))
        result = run(
            "ask",
            "--base-url",
            server.base_url,
            "-m",
            "nosuch",
            "--api",
            "chat",
            "hi",
            TUI_CHAT_API_KEY=TEST_KEY,
        )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "'nosuch'" in lines[0] and "tui-chat models" in lines[0]


def test_ctrl_c_stores_the_partial_reply_as_cancelled() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tui", "ask", "-p", "demo", "/bench 4000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert process.stdout is not None
    received = process.stdout.read(200)  # the reply is streaming
    assert received
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 130, err
    ((status, content),) = rows(
        db_path(), "SELECT status, content FROM messages WHERE role = 'assistant'"
    )
    assert status == "cancelled"
    assert isinstance(content, str)
    assert content.encode().startswith(received)
    assert len(content) > len(received) - 10


def test_list_show_search_export_and_import_round_trip(tmp_path: Path) -> None:
    assert run("ask", "-p", "demo", "Tell me about zebras").returncode == 0
    assert run("ask", "-c", "and okapis?").returncode == 0
    (conversation,) = json.loads(run("list", "--json").stdout)
    cid = str(conversation["id"])
    assert conversation["title"] == "Tell me about zebras"

    shown = run("show", cid)
    assert shown.returncode == 0 and "## You" in shown.stdout and "and okapis?" in shown.stdout
    found = run("search", "okapis")
    assert found.returncode == 0 and cid in found.stdout and "okapis" in found.stdout.lower()

    markdown = run("export", cid, "--format", "md")
    assert markdown.stdout.startswith("# Tell me about zebras")
    target = tmp_path / "thread.json"
    exported = run("export", cid, "--format", "json", "-o", str(target))
    assert exported.returncode == 0
    data = json.loads(target.read_text())
    assert data["format"] == "tui-chat" and len(data["messages"]) == 4

    imported = run("import", str(target))
    assert imported.returncode == 0, imported.stderr
    listed = json.loads(run("list", "--json").stdout)
    assert len(listed) == 2
    new_id = next(c["id"] for c in listed if str(c["id"]) != cid)
    assert run("show", str(new_id)).stdout.split("\n", 3)[3] == shown.stdout.split("\n", 3)[3]


def test_import_of_a_foreign_file_is_refused_cleanly(tmp_path: Path) -> None:
    bogus = tmp_path / "x.json"
    bogus.write_text('{"hello": 1}')
    result = run("import", str(bogus))
    assert result.returncode == 1
    assert "not a tui-chat export" in result.stderr
    missing = run("show", "999")
    assert missing.returncode == 1 and "no conversation 999" in missing.stderr


def test_models_lists_the_catalog() -> None:
    result = run("models", "-p", "demo", "--json")
    assert result.returncode == 0
    models = {m["id"]: m for m in json.loads(result.stdout)}
    assert models["demo-pro"]["endpoints"] == ["responses"]
    gmi = json.loads(run("models", "-p", "gmi", "--json").stdout)
    assert "openai/gpt-5.2" in {m["id"] for m in gmi}


def test_a_corrupt_database_is_reported_with_its_path_and_left_alone() -> None:
    path = db_path()
    path.write_bytes(b"this is not a database at all" * 100)
    before = path.read_bytes()
    result = run("list")
    assert result.returncode == 1
    assert str(path) in result.stderr
    assert path.read_bytes() == before


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("ask", "list", "show", "search", "export", "import", "models"):
        assert command in result.stdout


def test_attachments_and_no_stream_reach_the_request(tmp_path: Path) -> None:
    image = tmp_path / "dot.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    document = tmp_path / "notes.pdf"
    document.write_bytes(b"%PDF-1.4 tiny")
    with LoopbackServer(api_key=TEST_KEY) as server:
        server.enqueue(reply("seen both"))
        result = run(
            "ask",
            "--base-url",
            server.base_url,
            "-m",
            "loopback-chat",
            "--api",
            "responses",
            "--attach",
            str(image),
            "--attach",
            str(document),
            "--no-stream",
            "what are these?",
            TUI_CHAT_API_KEY=TEST_KEY,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout == "seen both\n"
        body = server.requests[-1].json
    assert body["stream"] is False
    parts = body["input"][0]["content"]
    kinds = [part["type"] for part in parts]
    assert kinds == ["input_text", "input_image", "input_file"]
    assert parts[1]["image_url"].startswith("data:image/png;base64,")
    assert parts[2]["file_data"].startswith("data:application/pdf;base64,")
    stored = rows(db_path(), "SELECT kind, name, size FROM attachments ORDER BY id")
    assert stored == [("image", "dot.png", 40), ("file", "notes.pdf", 13)]


def test_a_missing_attachment_is_refused_before_anything_is_stored(tmp_path: Path) -> None:
    result = run("ask", "-p", "demo", "--attach", str(tmp_path / "nope.png"), "look")
    assert result.returncode == 2
    assert "cannot attach" in result.stderr and "no such file" in result.stderr
    assert not db_path().exists() or rows(db_path(), "SELECT count(*) FROM messages") == [(0,)]


def test_db_and_config_work_before_and_after_the_command(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.sqlite3"
    for position in ("before", "after"):
        target = tmp_path / f"{position}.sqlite3"

        def cli(
            command: str, *rest: str, target: Path = target, position: str = position
        ) -> list[str]:
            return (
                ["--db", str(target), command, *rest]
                if position == "before"
                else [command, *rest, "--db", str(target)]
            )

        asked = run(*cli("ask", "-p", "demo", f"asked {position}"))
        assert asked.returncode == 0, asked.stderr
        assert rows(target, "SELECT title FROM conversations") == [(f"asked {position}",)]
        listed = run(*cli("list", "--json"), TUI_CHAT_DB=str(elsewhere))
        assert [c["title"] for c in json.loads(listed.stdout)] == [f"asked {position}"]
    assert not db_path().exists()  # the default database was never touched
    assert not elsewhere.exists()

    with LoopbackServer(api_key=TEST_KEY) as server:
        config = tmp_path / "custom.toml"
        config.write_text(
            f'[providers.mybox]\nbase_url = "{server.base_url}"\napi_key_env = "MYBOX_KEY"\n'
            'models = ["box-model"]\nsupports_responses = false\n',
            encoding="utf-8",
        )
        for args in (
            ["--config", str(config), "ask", "-p", "mybox", "hi"],
            ["ask", "-p", "mybox", "hi", "--config", str(config)],
        ):
            server.enqueue(reply("from mybox"))
            result = run(*args, MYBOX_KEY=TEST_KEY)
            assert result.returncode == 0, result.stderr
            assert result.stdout == "from mybox\n"
        for args in (
            ["--config", str(config), "models", "-p", "mybox", "--json"],
            ["models", "-p", "mybox", "--json", "--config", str(config)],
        ):
            models = run(*args)
            assert models.returncode == 0, models.stderr
            assert [m["id"] for m in json.loads(models.stdout)] == ["box-model"]


def wait_for_exit(process: subprocess.Popen[bytes], timeout: float = 30) -> str:
    try:
        _, err = process.communicate(timeout=timeout)
    finally:
        process.kill()
    return err.decode()


def close_early(*args: str) -> tuple[int, str]:
    """Run the CLI into a pipe whose reader takes one line and goes away (``| head -1``)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
        env={"TUI_CHAT_DEMO_SPEED": "0", **os.environ},
    )
    assert process.stdout is not None
    assert process.stdout.readline()
    process.stdout.close()
    err = wait_for_exit(process)
    return process.returncode, err


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    code, err = close_early("ask", "-p", "demo", "/bench 4000")
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
    assert err == "" and code == 141
    # The reply is stored as it ended, not left "streaming".
    assert rows(db_path(), "SELECT status FROM messages WHERE role = 'assistant'") == [
        ("cancelled",)
    ]

    # Enough conversations that the list does not fit in the pipe.
    assert run("ask", "-p", "demo", "one question").returncode == 0
    backup = tmp_path / "one.json"
    assert run("export", "--all", "--format", "json", "-o", str(backup)).returncode == 0
    document = json.loads(backup.read_text(encoding="utf-8"))
    document["conversations"] = document["conversations"][-1:] * 1500
    backup.write_text(json.dumps(document), encoding="utf-8")
    assert run("import", str(backup)).returncode == 0
    code, err = close_early("list", "--limit", "2000")
    assert err == "" and code == 141
    # One big write: the pipe may take part of it and the rest be dropped unreported.
    code, err = close_early("export", "--all")
    assert err == "" and code in (0, 141)


def test_a_failed_first_turn_keeps_the_question_and_is_listed_as_failed() -> None:
    with LoopbackServer(api_key=TEST_KEY) as server:
        server.enqueue(http_error(400, "The request was refused."))
        result = run(
            *ask_loopback(server),
            "my first question",
            TUI_CHAT_API_KEY=TEST_KEY,
        )
    assert result.returncode == 1
    assert "The request was refused." in result.stderr
    assert "kept in conversation 1" in result.stderr
    assert rows(db_path(), "SELECT role, status, content FROM messages ORDER BY id") == [
        ("user", "complete", "my first question"),
        ("assistant", "failed", ""),
    ]
    listed = run("list")
    assert listed.returncode == 0
    (line,) = listed.stdout.splitlines()
    assert "my first question" in line and "[last reply failed]" in line
    (entry,) = json.loads(run("list", "--json").stdout)
    assert entry["failed"] is True and entry["title"] == "my first question"
    # Once answered, it is no longer marked.
    assert run("ask", "-p", "demo", "-c", "again").returncode == 0
    assert "failed" not in run("list").stdout
    assert json.loads(run("list", "--json").stdout)[0]["failed"] is False


def test_a_key_withheld_from_another_host_is_named() -> None:
    openai_key = "sk-openai-real-0123456789abcdef"
    with LoopbackServer(api_key=TEST_KEY) as server:
        result = run(
            *ask_loopback(server),
            "hi",
            OPENAI_API_KEY=openai_key,
        )
        sent = [request.header("authorization") for request in server.requests]
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "OPENAI_API_KEY is set but is only sent to api.openai.com" in line
    assert "TUI_CHAT_API_KEY" in line and "--api-key" in line
    assert openai_key not in result.stderr and all(openai_key not in str(h) for h in sent)


def test_a_preset_pointed_elsewhere_says_its_key_is_withheld(tmp_path: Path) -> None:
    config = tmp_path / "moved.toml"
    config.write_text('[providers.openai]\nbase_url = "http://127.0.0.1:9/v1"\n')
    result = run(
        "--config",
        str(config),
        "ask",
        "-p",
        "openai",
        "-m",
        "gpt-5",
        "hi",
        OPENAI_API_KEY="sk-openai-real-0123456789abcdef",
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "OPENAI_API_KEY is set but is only sent to api.openai.com, not to 127.0.0.1" in line
    assert "Set the key in Settings" not in line


def test_reasoning_effort_help_lists_the_levels() -> None:
    result = run("ask", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "none, minimal, low, medium, high or xhigh" in text


def test_a_missing_key_fails_before_the_question_is_stored() -> None:
    result = run("ask", "-p", "openai", "-m", "gpt-5", "hi")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "No API key is set for OpenAI" in line and "OPENAI_API_KEY" in line
    assert not db_path().exists() or rows(db_path(), "SELECT count(*) FROM conversations") == [(0,)]


def test_export_never_writes_over_an_existing_file(tmp_path: Path) -> None:
    assert run("ask", "-p", "demo", "hello").returncode == 0
    notes = tmp_path / "notes.md"
    notes.write_text("MY PRECIOUS NOTES\n")
    result = run("export", "1", "--format", "md", "-o", str(notes))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"tui-chat: error: {notes} exists already; nothing was written: choose another name"
    )
    assert notes.read_text() == "MY PRECIOUS NOTES\n"
    fresh = tmp_path / "fresh.md"
    assert run("export", "1", "--format", "md", "-o", str(fresh)).returncode == 0
    assert "hello" in fresh.read_text()


def test_a_prompt_that_is_not_utf8_is_bad_usage_not_a_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tui", "ask", "-p", "demo"],
        input=b"hi \xff there",
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        env={"TUI_CHAT_DEMO_SPEED": "0", **os.environ},
    )
    assert result.returncode == 2
    assert result.stderr.decode().strip() == (
        "tui-chat: error: the prompt is not UTF-8 text (byte 3); convert it first, "
        "e.g. with iconv -t UTF-8"
    )
    assert not db_path().exists()  # refused before anything was opened or stored
