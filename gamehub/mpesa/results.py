"""Typed synchronous answers of Daraja: what an accepted request or a query tells us at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gamehub.mpesa.errors import DarajaError


def result_code(value: object) -> int | str:
    """Daraja sends ResultCode as an int in callbacks and as a string in queries; numeric → int."""
    if isinstance(value, bool):
        raise ValueError("ResultCode must be a number or a string")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        return text  # a few Daraja codes are not numbers (e.g. "R000002")


def _field(body: Any, name: str) -> str:
    if not isinstance(body, dict) or body.get(name) is None:
        raise DarajaError(200, "malformed", f"Daraja's answer has no {name}", None, body)
    return str(body[name])


def _accepted(body: Any) -> None:
    """A 200 whose ResponseCode is not "0" is a refusal, not an acceptance."""
    code = _field(body, "ResponseCode")
    if code != "0":
        raise DarajaError(200, code, str(body.get("ResponseDescription", "")), None, body)


@dataclass(frozen=True)
class StkPushAccepted:
    """The STK prompt was sent; the outcome comes by callback (or STK query)."""

    merchant_request_id: str
    checkout_request_id: str
    response_description: str
    customer_message: str

    @classmethod
    def from_body(cls, body: Any) -> StkPushAccepted:
        _accepted(body)
        return cls(
            merchant_request_id=_field(body, "MerchantRequestID"),
            checkout_request_id=_field(body, "CheckoutRequestID"),
            response_description=str(body.get("ResponseDescription", "")),
            customer_message=str(body.get("CustomerMessage", "")),
        )


@dataclass(frozen=True)
class StkQueryResult:
    """The final outcome of an STK prompt, as the query reports it (ResultCode 0 = paid)."""

    merchant_request_id: str
    checkout_request_id: str
    result_code: int | str
    result_desc: str

    @property
    def succeeded(self) -> bool:
        return self.result_code == 0

    @classmethod
    def from_body(cls, body: Any) -> StkQueryResult:
        _accepted(body)
        return cls(
            merchant_request_id=_field(body, "MerchantRequestID"),
            checkout_request_id=_field(body, "CheckoutRequestID"),
            result_code=result_code(_field(body, "ResultCode")),
            result_desc=str(body.get("ResultDesc", "")),
        )


@dataclass(frozen=True)
class RequestAccepted:
    """B2C or Transaction Status accepted for processing; the result comes to ResultURL."""

    conversation_id: str
    originator_conversation_id: str
    response_description: str

    @classmethod
    def from_body(cls, body: Any) -> RequestAccepted:
        _accepted(body)
        return cls(
            conversation_id=_field(body, "ConversationID"),
            originator_conversation_id=_field(body, "OriginatorConversationID"),
            response_description=str(body.get("ResponseDescription", "")),
        )
