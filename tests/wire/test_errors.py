"""What servers say when things go wrong, mapped to typed errors a person can act on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from tests.support.fixtures import TEST_KEY
from tui.providers import errors
from tui.providers.errors import Action, error_from_payload, error_from_response, parse_retry_after
from tui.providers.http import error_from_transport


def openai_error(
    message: str, code: Any = None, kind: str = "invalid_request_error", param: str | None = None
) -> bytes:
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return json.dumps(body, indent=4).encode()


def test_401_names_the_settings_and_the_key_variable() -> None:
    error = error_from_response(
        401,
        {},
        openai_error("Incorrect API key provided: sk-te*****cdef.", "invalid_api_key"),
        key_env="GMI_API_KEY",
    )
    assert isinstance(error, errors.AuthenticationError)
    assert error.action is Action.OPEN_SETTINGS
    assert "Settings" in error.hint and "GMI_API_KEY" in error.hint
    assert error.detail == "Incorrect API key provided: sk-te*****cdef."


def test_the_api_key_never_reaches_the_message_or_detail() -> None:
    body = openai_error(f"Key {TEST_KEY} is invalid (Authorization: Bearer {TEST_KEY})")
    error = error_from_response(401, {}, body, secrets=(TEST_KEY,))
    for text in (str(error), error.message, error.detail or "", repr(error)):
        assert TEST_KEY not in text
        assert TEST_KEY[8:] not in text


def test_unknown_keys_and_bearer_tokens_are_masked_too() -> None:
    body = openai_error("Bad key sk-proj-abcdefghijklmnopqrstuv; header Bearer abc.def.ghi")
    error = error_from_response(400, {}, body)
    assert "abcdefghijklmnopqrstuv" not in (error.detail or "")
    assert "abc.def.ghi" not in (error.detail or "")


def test_403_is_permission_denied() -> None:
    error = error_from_response(
        403, {}, openai_error("Country, region, or territory not supported")
    )
    assert isinstance(error, errors.PermissionDeniedError)


def test_responses_only_model_on_chat() -> None:
    body = openai_error(
        "This model is only supported in v1/responses and not in v1/chat/completions.",
        param="model",
    )
    error = error_from_response(404, {}, body, api="chat")
    assert isinstance(error, errors.EndpointNotSupportedError)
    assert error.use == "responses" and error.action is Action.USE_RESPONSES


def test_404_on_responses_means_no_responses_api() -> None:
    error = error_from_response(404, {}, b"Not Found", api="responses")
    assert isinstance(error, errors.EndpointNotSupportedError)
    assert error.use == "chat" and error.action is Action.USE_CHAT


def test_other_404_is_a_wrong_base_url() -> None:
    error = error_from_response(404, {}, b"<html><title>404 Not Found</title></html>", api="chat")
    assert isinstance(error, errors.EndpointNotFoundError)
    assert "base URL" in error.hint
    assert error.detail == "404 Not Found"


@pytest.mark.parametrize(("status", "param"), [(400, "model"), (404, None)])
def test_model_not_found_on_either_api(status: int, param: str | None) -> None:
    body = openai_error("The model `nope` does not exist", "model_not_found", param=param)
    error = error_from_response(status, {}, body, model="nope")
    assert isinstance(error, errors.ModelNotFoundError)
    assert "'nope'" in error.message
    assert error.action is Action.PICK_MODEL


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "0.25"}, 0.25),
        ({}, None),
    ],
)
def test_429_reports_when_to_retry(headers: dict[str, str], seconds: float | None) -> None:
    body = openai_error("Rate limit reached for requests", "rate_limit_exceeded", "requests")
    error = error_from_response(429, headers, body)
    assert isinstance(error, errors.RateLimitError)
    assert error.retry_after == seconds
    if seconds is not None:
        assert f"{max(1, round(seconds))} s" in error.hint


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": later}, now=now.timestamp()) == 30.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-5"}) == 0.0


def test_insufficient_quota_429_is_not_a_rate_limit() -> None:
    body = openai_error(
        "You exceeded your current quota, please check your plan.",
        "insufficient_quota",
        kind="insufficient_quota",
    )
    error = error_from_response(429, {}, body)
    assert isinstance(error, errors.QuotaExceededError)
    assert error.action is Action.OPEN_SETTINGS


@pytest.mark.parametrize(
    "body",
    [
        openai_error(
            "This model's maximum context length is 128000 tokens.",
            "context_length_exceeded",
            param="messages",
        ),
        b'{"object": "error", "message": "This model\'s maximum context length is 4096 tokens", '
        b'"type": "BadRequestError", "code": 400}',
    ],
    ids=["openai", "vllm"],
)
def test_context_too_long(body: bytes) -> None:
    error = error_from_response(400, {}, body)
    assert isinstance(error, errors.ContextTooLongError)
    assert error.action is Action.SHORTEN


@pytest.mark.parametrize(
    "payload",
    [
        {
            "error": {
                "message": "Previous response with id 'resp_x' not found.",
                "type": "invalid_request_error",
                "param": "previous_response_id",
                "code": "previous_response_not_found",
            }
        },
        {
            "error": {
                "message": "Invalid `previous_response_id`.",
                "type": "invalid_request_error",
                "code": "invalid_request_error",
            }
        },
    ],
    ids=["openai", "terse"],
)
def test_previous_response_not_found(payload: dict[str, Any]) -> None:
    error = error_from_payload(payload, status=400)
    assert isinstance(error, errors.PreviousResponseNotFoundError)


def test_server_errors_and_html_pages() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    error = error_from_response(502, {"x-request-id": "req_9"}, page)
    assert isinstance(error, errors.ServerError)
    assert (error.status, error.request_id, error.detail) == (502, "req_9", "502 Bad Gateway")


def test_integer_codes_and_upstream_reasons_openrouter_style() -> None:
    body = json.dumps(
        {
            "error": {
                "code": 429,
                "message": "Provider returned error",
                "metadata": {"raw": "temporarily rate-limited upstream"},
            },
            "user_id": "u",
        }
    ).encode()
    error = error_from_response(429, {}, body)
    assert isinstance(error, errors.RateLimitError)
    assert error.code == "429"
    assert "rate-limited upstream" in (error.detail or "")


def test_a_plain_text_error_body() -> None:
    error = error_from_response(400, {}, b"missing field `messages`")
    assert isinstance(error, errors.BadRequestError)
    assert str(error) == "The provider rejected the request: missing field `messages`"


def test_bodies_that_say_nothing() -> None:
    assert isinstance(error_from_response(500, {}, b""), errors.ServerError)
    assert isinstance(error_from_response(418, {}, b"\xff\xfe"), errors.BadRequestError)
    assert type(error_from_payload({"error": "weird"})) is errors.ProviderError


def test_long_details_are_clipped() -> None:
    error = error_from_response(400, {}, openai_error("x" * 5000))
    assert error.detail is not None and len(error.detail) <= 500


@pytest.mark.parametrize(
    ("exc", "expected", "words"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), errors.NetworkError, "connect"),
        (httpx.ConnectTimeout("timed out"), errors.NetworkError, "Timed out"),
        (httpx.ReadTimeout("timed out"), errors.StreamTimeoutError, "stopped sending"),
        (httpx.RemoteProtocolError("peer closed"), errors.NetworkError, "lost"),
        (httpx.ReadError("reset"), errors.NetworkError, "lost"),
        (httpx.UnsupportedProtocol("no"), errors.NetworkError, "base URL"),
        (httpx.InvalidURL("bad"), errors.NetworkError, "base URL"),
    ],
)
def test_transport_failures(
    exc: Exception, expected: type[errors.ProviderError], words: str
) -> None:
    error = error_from_transport(
        exc, provider="p", url="https://api.example.test/v1/x", stall_timeout=30
    )
    assert type(error) is expected
    assert words in error.message
    assert error.action is Action.RETRY or words == "base URL"


def test_a_redirect_points_at_the_base_url() -> None:
    headers = {"location": "https://api.example.test/v1/chat/completions"}
    error = error_from_response(301, headers, b"")
    assert isinstance(error, errors.EndpointNotFoundError)
    assert error.detail == "Redirected to https://api.example.test/v1/chat/completions"
    assert "base URL" in str(error)
