"""Daraja's callback bodies parsed into typed results; items are read by name, never by position."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from gamehub.mpesa.errors import CallbackFormatError
from gamehub.mpesa.results import result_code


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise CallbackFormatError(f"{where} must be an object")
    return value


def _text(body: Mapping[str, Any], name: str, where: str) -> str:
    value = body.get(name)
    if value is None or isinstance(value, Mapping | list):
        raise CallbackFormatError(f"{where}.{name} is missing")
    return str(value)


def _code(body: Mapping[str, Any], where: str) -> int | str:
    try:
        return result_code(body["ResultCode"])
    except (KeyError, ValueError):
        raise CallbackFormatError(f"{where}.ResultCode is missing or malformed") from None


def _named_values(
    parent: Mapping[str, Any], holder: str, list_key: str, key: str, where: str
) -> dict[str, Any]:
    """Daraja's optional {holder: {list_key: [{Name|Key, Value}]}} (a lone object when there is
    one) as a dict by name."""
    if not (found := parent.get(holder)):
        return {}
    items = _object(found, f"{where}.{holder}").get(list_key)
    if items is None:
        return {}
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list):
        raise CallbackFormatError(f"{where}.{holder}.{list_key} must be a list")
    values: dict[str, Any] = {}
    for item in items:
        if isinstance(item, Mapping) and isinstance(item.get(key), str):
            values[item[key]] = item.get("Value")  # an item may come without a Value
    return values


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise CallbackFormatError(f"amount {value!r} is not a number") from None


def _optional_text(value: Any) -> str | None:
    if isinstance(value, Mapping | list):
        raise CallbackFormatError("a text field holds an object or a list")
    return None if value is None or value == "" else str(value)


class _Outcome:
    """A ResultCode of 0 succeeded, another number failed; any other text is neither (the
    reconciler asks M-Pesa instead)."""

    result_code: int | str

    @property
    def succeeded(self) -> bool:
        return self.result_code == 0

    @property
    def failed(self) -> bool:
        return isinstance(self.result_code, int) and self.result_code != 0


@dataclass(frozen=True)
class StkCallback(_Outcome):
    """The outcome of an STK prompt (Body.stkCallback); ResultCode 0 means the customer paid."""

    merchant_request_id: str
    checkout_request_id: str
    result_code: int | str
    result_desc: str
    amount: Decimal | None = None
    receipt: str | None = None
    transaction_date: str | None = None  # YYYYMMDDHHMMSS, Nairobi time
    phone: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


def parse_stk_callback(body: Any) -> StkCallback:
    stk = _object(_object(_object(body, "body").get("Body"), "Body").get("stkCallback"), "stk")
    where = "Body.stkCallback"
    items = _named_values(stk, "CallbackMetadata", "Item", "Name", where)
    return StkCallback(
        merchant_request_id=_text(stk, "MerchantRequestID", where),
        checkout_request_id=_text(stk, "CheckoutRequestID", where),
        result_code=_code(stk, where),
        result_desc=str(stk.get("ResultDesc", "")),
        amount=_amount(items.get("Amount")),
        receipt=_optional_text(items.get("MpesaReceiptNumber")),
        transaction_date=_optional_text(items.get("TransactionDate")),
        phone=_optional_text(items.get("PhoneNumber")),
        metadata=items,
    )


@dataclass(frozen=True)
class DarajaResult(_Outcome):
    """A `{"Result": {...}}` body, as B2C, Transaction Status and queue timeouts send it."""

    result_type: int | str
    result_code: int | str
    result_desc: str
    originator_conversation_id: str
    conversation_id: str
    transaction_id: str | None
    parameters: Mapping[str, Any]
    reference: Mapping[str, Any]


def parse_result(body: Any) -> DarajaResult:
    result = _object(_object(body, "body").get("Result"), "Result")
    return DarajaResult(
        result_type=result_code(result.get("ResultType", 0)),
        result_code=_code(result, "Result"),
        result_desc=str(result.get("ResultDesc", "")),
        originator_conversation_id=_text(result, "OriginatorConversationID", "Result"),
        conversation_id=str(result.get("ConversationID", "")),
        transaction_id=_optional_text(result.get("TransactionID")),
        parameters=_named_values(result, "ResultParameters", "ResultParameter", "Key", "Result"),
        reference=_named_values(result, "ReferenceData", "ReferenceItem", "Key", "Result"),
    )


@dataclass(frozen=True)
class B2CResult(DarajaResult):
    """The outcome of a B2C payment posted to ResultURL; ResultCode 0 means the phone was paid."""

    receipt: str | None
    amount: Decimal | None
    completed_at: str | None  # "DD.MM.YYYY HH:MM:SS", Nairobi time
    receiver: str | None


def parse_b2c_result(body: Any) -> B2CResult:
    result = parse_result(body)
    params = result.parameters
    return B2CResult(
        **vars(result),
        receipt=_optional_text(params.get("TransactionReceipt")) or result.transaction_id,
        amount=_amount(params.get("TransactionAmount")),
        completed_at=_optional_text(params.get("TransactionCompletedDateTime")),
        receiver=_optional_text(params.get("ReceiverPartyPublicName")),
    )


def parse_queue_timeout(body: Any) -> DarajaResult:
    """Posted to QueueTimeOutURL: Daraja lost track of the request; the outcome is unknown."""
    return parse_result(body)


@dataclass(frozen=True)
class TransactionStatusResult(DarajaResult):
    """What a Transaction Status query found, posted to its ResultURL."""

    transaction_status: str | None  # "Completed" once the money moved
    receipt: str | None
    amount: Decimal | None
    original_conversation_id: str | None  # the OriginatorConversationID of the queried payment

    @property
    def found(self) -> bool:
        return self.succeeded

    @property
    def completed(self) -> bool:
        return self.found and (self.transaction_status or "").lower() == "completed"


def parse_transaction_status_result(body: Any) -> TransactionStatusResult:
    result = parse_result(body)
    params = result.parameters
    return TransactionStatusResult(
        **vars(result),
        transaction_status=_optional_text(params.get("TransactionStatus")),
        receipt=_optional_text(params.get("ReceiptNo")),
        amount=_amount(params.get("Amount")),
        original_conversation_id=_optional_text(params.get("Originator Conversation ID")),
    )
