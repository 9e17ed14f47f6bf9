"""``tui-chat doctor`` against the loopback server: what it reports, stores and changes."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.engine.conftest import write_config
from tests.engine.test_cli import run
from tests.support.fixtures import TEST_KEY
from tests.support.server import LoopbackServer
from tui.domain import ApiKind, ApiMode
from tui.services.container import open_services
from tui.services.doctor import Check, pick_probe_model, remember, run_doctor

CHAT_ONLY = frozenset({ApiKind.CHAT})


def table(stdout: str) -> dict[str, tuple[str, str]]:
    """The printed rows by check name: (result, detail)."""
    rows: dict[str, tuple[str, str]] = {}
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("check "))
    result_at = lines[header].index("result")
    detail_at = lines[header].index("detail")
    for line in lines[header + 1 :]:
        rows[line[:result_at].strip()] = (
            line[result_at:detail_at].strip(),
            line[detail_at:].strip(),
        )
    return rows


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


async def test_doctor_on_a_server_without_responses(tmp_path: Path) -> None:
    server = LoopbackServer(api_key=TEST_KEY, responses=False, token_limit_param="max_tokens")
    with server:
        await doctor_without_responses(tmp_path, server)


async def doctor_without_responses(tmp_path: Path, server: LoopbackServer) -> None:
    result = run("doctor", "--base-url", server.base_url, "--api-key", TEST_KEY)
    paths = [r.path for r in server.requests]
    assert result.returncode == 0, result.stderr
    assert TEST_KEY not in result.stdout + result.stderr
    rows = table(result.stdout)
    assert rows["GET /models"] == ("ok", "3 models (3 for chat)")
    assert rows["chat stream"][0] == "ok"
    assert rows["usage in stream"][0] == "yes"
    assert rows["/responses"] == ("missing", "404 on /responses")
    assert rows["previous_response_id"][0] == "skipped"
    assert rows["reasoning"][0] == "not seen"
    assert rows["token limit: max_completion_tokens"][0] == "ignored"
    assert rows["token limit: max_tokens"][0] == "honoured"
    assert rows["token-limit parameter"][0] == "max_tokens"
    assert "loopback-chat" in result.stdout.splitlines()[0]  # a model the server listed
    assert paths[0] == "/models" and "/responses" in paths

    # The next start (same database, same --base-url) knows what the probe found.
    services = await open_services(
        db=str(tmp_path / "history.sqlite3"), env={}, base_url=server.base_url, api_key=TEST_KEY
    )
    try:
        facts = (await services.store.repository.provider_facts())["custom"]
        assert facts["responses"] is False
        assert facts["max_tokens_param"] == "max_tokens"
        assert facts["stream_usage"] is True
        assert facts["base_url"] == server.base_url and facts["probed_at"]
        assert "stateful_responses" not in facts
        assert TEST_KEY not in repr(facts)
        # The facts reach the catalog: its models are Chat-only now, and turns go there.
        model = services.registry.catalog.model_info("custom", "loopback-chat")
        assert model.endpoints == CHAT_ONLY
        listed = await services.refresh_models("custom")  # what the model picker shows
        assert [m.id for m in listed] == ["loopback-chat", "loopback-pro", "loopback-reasoner"]
        assert all(m.endpoints == CHAT_ONLY for m in listed)
        route = services.registry.route("custom", "loopback-chat", ApiMode.AUTO)
        assert route.api is ApiKind.CHAT
    finally:
        await services.close()


async def test_doctor_on_a_server_with_everything(tmp_path: Path) -> None:
    with LoopbackServer(
        api_key=TEST_KEY, token_limit_param="max_completion_tokens", reasoning="Thinking it over."
    ) as server:
        config = write_config(tmp_path / "config.toml", server.base_url)
        services = await open_services(
            config=str(config),
            db=str(tmp_path / "history.sqlite3"),
            env={"LOOP_KEY": TEST_KEY},
            improve_titles=False,
        )
        try:
            report = await run_doctor(services.registry, "loop", model="loopback-reasoner")
            await remember(services.registry, report, services.store.repository)
            facts = (await services.store.repository.provider_facts())["loop"]
            config_now = services.registry.config("loop")
            models = services.registry.models("loop")
        finally:
            await services.close()
        chained = [r.json for r in server.requests if r.path == "/responses"]
    checks = by_name(report.checks)
    assert report.model == "loopback-reasoner"
    assert checks["/responses"].result == "ok"
    assert checks["previous_response_id"].result == "yes"
    assert chained[1]["previous_response_id"]  # the second request chained from the first
    assert checks["reasoning"].result == "seen"
    assert "Chat" in checks["reasoning"].detail and "Responses" in checks["reasoning"].detail
    assert checks["token limit: max_completion_tokens"].result == "honoured"
    assert checks["token limit: max_tokens"].result == "ignored"
    assert facts["responses"] is True and facts["stateful_responses"] is True
    assert facts["max_tokens_param"] == "max_completion_tokens"
    # An unknown port starts with max_tokens; the probe found the server honours the new name.
    assert config_now.max_tokens_param == "max_completion_tokens"
    assert all(ApiKind.RESPONSES in m.endpoints for m in models)


async def test_doctor_finds_a_stateless_responses_api(tmp_path: Path) -> None:
    with LoopbackServer(api_key=TEST_KEY, stored_responses=False) as server:
        config = write_config(tmp_path / "config.toml", server.base_url)
        services = await open_services(
            config=str(config),
            db=str(tmp_path / "history.sqlite3"),
            env={"LOOP_KEY": TEST_KEY},
            improve_titles=False,
        )
        try:
            report = await run_doctor(services.registry, "loop")
            await remember(services.registry, report, services.store.repository)
            stateful = services.registry.config("loop").stateful_responses
        finally:
            await services.close()
    checks = by_name(report.checks)
    assert checks["previous_response_id"].result == "no"
    assert report.facts["stateful_responses"] is False and not stateful
    # A server that ignores both names leaves the parameter as it was.
    assert checks["token-limit parameter"].result == "unknown"
    assert "max_tokens_param" not in report.facts


def test_doctor_on_a_closed_port_is_one_line_and_fails() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run("doctor", "--base-url", f"http://127.0.0.1:{port}/v1", "--api-key", TEST_KEY)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tui-chat: error: cannot reach http://127.0.0.1:")
    assert result.stdout == ""
    assert TEST_KEY not in result.stderr


def test_the_probe_prefers_a_small_chat_model() -> None:
    from tui.domain import ModelInfo

    listed = [
        ModelInfo(id=model_id, provider="p", builtin=False)
        for model_id in ("text-embedding-3-small", "qwen3-32b", "qwen3-4b-mini", "llama-3-70b")
    ]
    assert pick_probe_model(listed) == "qwen3-4b-mini"
    assert pick_probe_model(listed[:2]) == "qwen3-32b"
    assert pick_probe_model([]) is None
