"""ApiError and the handlers that turn every failure into the contract's JSON error body."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from quart import Quart, Response, jsonify
from quart_schema import RequestSchemaValidationError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from werkzeug.exceptions import HTTPException

from gamehub.pg import PoolExhausted

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the client should see: a status, a stable machine code and a human message."""

    status = 400
    code = "bad_request"
    message = "The request could not be processed."
    # A 5xx that still ends a keyed request for good, so a retry gets it replayed (wallet.errors).
    ends_request = False

    @property
    def final(self) -> bool:
        """Whether a retry with the same Idempotency-Key gets this answer replayed (not a 401:
        the login had ended, and a retry after logging in again must run)."""
        return (self.status < 500 and self.status != 401) or self.ends_request

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.details = details or {}
        self.headers = headers or {}
        super().__init__(self.message)


class NotFound(ApiError):
    status, code, message = 404, "not_found", "Not found."


class Unauthorized(ApiError):
    status, code, message = 401, "unauthenticated", "Authentication is required."


class Forbidden(ApiError):
    status, code, message = 403, "forbidden", "You may not do that."


class Conflict(ApiError):
    status, code, message = 409, "conflict", "The request conflicts with the current state."


class InsufficientFunds(Conflict):
    code, message = "insufficient_funds", "Not enough available balance."


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    response.headers.update(headers or {})
    return response


# Stable codes for werkzeug's HTTP-level failures.
HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


# A 422 names at most this many problems (and how many more): a body built to fail everywhere
# gets a short answer.
MAX_ERRORS = 20


def validation_details(error: Exception) -> dict[str, Any]:
    if isinstance(error, ValidationError):
        items = error.errors(include_url=False, include_input=False, include_context=False)
        details: dict[str, Any] = {
            "fields": [
                {
                    "field": ".".join(str(part) for part in item["loc"])[:200] or "body",
                    "message": item["msg"].removeprefix("Value error, ")[:200],
                    "type": item["type"],
                }
                for item in items[:MAX_ERRORS]
            ]
        }
        if len(items) > MAX_ERRORS:
            details["more"] = len(items) - MAX_ERRORS
        return details
    return {"reason": str(error)[:200]}


def register_error_handlers(app: Quart) -> None:
    @app.errorhandler(ApiError)
    async def _api_error(error: ApiError) -> Response:
        return error_response(error.status, error.code, error.message, error.details, error.headers)

    @app.errorhandler(RequestSchemaValidationError)
    async def _schema_error(error: RequestSchemaValidationError) -> Response:
        invalid = error.validation_error
        code, message = _custom_code(invalid) or ("validation_error", "The request is not valid.")
        return error_response(422, code, message, validation_details(invalid))

    @app.errorhandler(HTTPException)
    async def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code = HTTP_CODES.get(status, "http_error")
        message = error.description or error.name
        if status == 413:
            message = "The request body is larger than the 1 MiB limit."
        headers = {}
        allowed = getattr(error, "valid_methods", None)
        if status == 405 and allowed:
            headers["Allow"] = ", ".join(allowed)
        return error_response(status, code, message, headers=headers)

    @app.errorhandler(SATimeoutError)
    @app.errorhandler(PoolExhausted)
    async def _overloaded(error: Exception) -> Response:
        # Every connection stayed busy past the pool timeout: nothing was done; say when to retry.
        log.warning("database pool exhausted: %s", error)
        return error_response(
            503,
            "overloaded",
            "The service is busy; retry shortly.",
            headers={"Retry-After": "2"},
        )

    @app.errorhandler(Exception)
    async def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error", exc_info=error)
        return error_response(500, "internal_error", "Something went wrong on our side.")


def _custom_code(error: Exception) -> tuple[str, str] | None:
    """Validators may raise `CodedValueError` so a domain rule (e.g. underage) keeps its code."""
    if not isinstance(error, ValidationError):
        return None
    for item in error.errors(include_url=False):
        ctx = item.get("ctx") or {}
        original = ctx.get("error")
        if isinstance(original, CodedValueError):
            return original.code, original.message
    return None


class CodedValueError(ValueError):
    """A validation failure with its own error code (422 with that code instead of the generic)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)
