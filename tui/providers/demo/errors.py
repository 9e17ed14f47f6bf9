"""The demo model's error answers: OpenAI's status codes, messages and envelope fields."""

from __future__ import annotations

import json
from typing import Any

INVALID_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
    "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
    "sent was not valid JSON. If you have trouble figuring out how to fix this, please contact "
    "us through our help center at help.openai.com.)"
)


class ApiError(Exception):
    """An error answer: HTTP status plus OpenAI's ``{"error": {...}}`` fields."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.param = param
        self.code = code

    @classmethod
    def model_not_found(cls, model: str, *, status: int) -> ApiError:
        """Chat Completions and ``/models`` answer 404 (param null), Responses 400."""
        return cls(
            status,
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model" if status == 400 else None,
            code="model_not_found",
        )

    @classmethod
    def missing(cls, param: str) -> ApiError:
        """A required field is absent."""
        return cls(
            400,
            f"Missing required parameter: '{param}'.",
            param=param,
            code="missing_required_parameter",
        )

    @classmethod
    def invalid_type(cls, param: str, expected: str, value: Any) -> ApiError:
        """A field has the wrong JSON type."""
        return cls(
            400,
            f"Invalid type for '{param}': expected {expected}, but got {json_kind(value)} instead.",
            param=param,
            code="invalid_type",
        )


def json_kind(value: Any) -> str:
    """How OpenAI's messages name a JSON value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def load_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object, or the 400 OpenAI sends for anything else."""
    try:
        value = json.loads(body)
    except ValueError:  # UnicodeDecodeError is a ValueError too
        raise ApiError(400, INVALID_JSON) from None
    if not isinstance(value, dict):
        raise ApiError(
            400, f"Invalid body: expected an object, but got {json_kind(value)} instead."
        )
    return value
