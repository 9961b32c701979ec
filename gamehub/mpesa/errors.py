"""Typed failures of Daraja calls: Daraja's own error answers, transport trouble, bad callbacks."""

from __future__ import annotations

from typing import Any

INVALID_ACCESS_TOKEN = "404.001.03"
TRANSACTION_IN_PROGRESS = "500.001.1001"
IN_PROGRESS_MESSAGE = "The transaction is being processed"
SPIKE_ARREST = "500.003.02"


class MpesaError(Exception):
    """Anything that went wrong talking to M-Pesa."""


class DarajaError(MpesaError):
    """Daraja answered with an error body: `{requestId, errorCode, errorMessage}`."""

    def __init__(
        self,
        status_code: int,
        error_code: str,
        error_message: str,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(
            f"{error_code} {error_message} (HTTP {status_code}, requestId {request_id})"
        )
        self.status_code = status_code
        self.error_code = error_code
        self.error_message = error_message
        self.request_id = request_id
        self.body = body


class InvalidAccessToken(DarajaError):
    """404.001.03: the bearer token expired or was never valid."""


class DarajaAuthenticationError(DarajaError):
    """The OAuth endpoint refused the consumer key/secret or the grant type."""


class TransactionInProgress(DarajaError):
    """500.001.1001 "The transaction is being processed": the STK prompt is still open."""


class DarajaUnavailable(MpesaError):
    """Daraja could not be reached or kept failing; `may_have_arrived` if the request was sent."""

    def __init__(self, message: str, *, may_have_arrived: bool) -> None:
        super().__init__(message)
        self.may_have_arrived = may_have_arrived


class CallbackFormatError(MpesaError, ValueError):
    """A callback body is not shaped like Daraja's."""


def error_from_body(status_code: int, body: Any) -> DarajaError:
    """The typed exception for a Daraja error answer (or for an unexpected non-2xx body)."""
    if isinstance(body, dict) and "errorCode" in body:
        code = str(body.get("errorCode"))
        message = str(body.get("errorMessage", ""))
        request_id = body.get("requestId")
        kind: type[DarajaError] = DarajaError
        if code == INVALID_ACCESS_TOKEN:
            kind = InvalidAccessToken
        elif code == TRANSACTION_IN_PROGRESS and IN_PROGRESS_MESSAGE.lower() in message.lower():
            kind = TransactionInProgress
        elif code.startswith("400.008"):
            kind = DarajaAuthenticationError
        return kind(status_code, code, message, str(request_id) if request_id else None, body)
    return DarajaError(
        status_code, f"http.{status_code}", "unexpected answer from Daraja", None, body
    )
