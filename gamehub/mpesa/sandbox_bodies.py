"""Daraja's exact answer and callback bodies, built from sandbox records (pure functions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gamehub.mpesa.sandbox_state import B2CPayment, StatusQuery, StkPrompt
from gamehub.mpesa.security import NAIROBI

PROCESSED = "The service request is processed successfully."
ACCEPTED = "Accept the service request successfully."
STK_ACCEPTED = "Success. Request accepted for processing"
QUERY_ACCEPTED = "The service request has been accepted successsfully"  # sic, as Daraja spells it
INITIATOR_INVALID = "The initiator information is invalid."
TIMED_OUT = "The service request has timed out."
NOT_FOUND_CODE = "R000002"
NOT_FOUND_DESC = "The transaction receipt number does not exist."
QUEUE_TIMEOUT_URL = "https://internalsandbox.safaricom.co.ke/mpesa/b2cresults/v1/submit"


def _items(name: str, *items: tuple[str] | tuple[str, Any]) -> list[dict[str, Any]]:
    """Daraja's [{Name|Key, Value}] lists; a 1-tuple is an item Daraja sends without a Value."""
    return [dict(zip((name, "Value"), item, strict=False)) for item in items]


def _reference(key: str, value: Any) -> dict[str, Any]:
    return {"ReferenceItem": {"Key": key, "Value": value}}


def stk_accepted(prompt: StkPrompt) -> dict[str, Any]:
    return {
        "MerchantRequestID": prompt.merchant_request_id,
        "CheckoutRequestID": prompt.checkout_request_id,
        "ResponseCode": "0",
        "ResponseDescription": STK_ACCEPTED,
        "CustomerMessage": STK_ACCEPTED,
    }


def stk_callback(prompt: StkPrompt) -> dict[str, Any]:
    """Body.stkCallback; ResultCode is an integer here, and only a payment has metadata."""
    callback: dict[str, Any] = {
        "MerchantRequestID": prompt.merchant_request_id,
        "CheckoutRequestID": prompt.checkout_request_id,
        "ResultCode": prompt.result_code,
        "ResultDesc": prompt.result_desc,
    }
    if prompt.result_code == 0:
        callback["CallbackMetadata"] = {
            "Item": _items(
                "Name",
                ("Amount", prompt.amount),
                ("MpesaReceiptNumber", prompt.receipt),
                ("Balance",),
                ("TransactionDate", prompt.transaction_date),
                ("PhoneNumber", int(prompt.phone)),
            )
        }
    return {"Body": {"stkCallback": callback}}


def stk_query_answer(prompt: StkPrompt) -> dict[str, Any]:
    """The query's answer for a settled prompt; ResultCode is a string here."""
    return {
        "ResponseCode": "0",
        "ResponseDescription": QUERY_ACCEPTED,
        "MerchantRequestID": prompt.merchant_request_id,
        "CheckoutRequestID": prompt.checkout_request_id,
        "ResultCode": str(prompt.result_code),
        "ResultDesc": prompt.result_desc,
    }


def request_accepted(originator_conversation_id: str, conversation_id: str) -> dict[str, Any]:
    return {
        "ConversationID": conversation_id,
        "OriginatorConversationID": originator_conversation_id,
        "ResponseCode": "0",
        "ResponseDescription": ACCEPTED,
    }


def _b2c_completed_at(moment: datetime | None) -> str:
    return moment.astimezone(NAIROBI).strftime("%d.%m.%Y %H:%M:%S") if moment else ""


def b2c_result(payment: B2CPayment) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ResultType": 0,
        "ResultCode": payment.result_code,
        "ResultDesc": payment.result_desc,
        "OriginatorConversationID": payment.originator_conversation_id,
        "ConversationID": payment.conversation_id,
        "TransactionID": payment.transaction_id,
    }
    if payment.result_code == 0:
        result["ResultParameters"] = {
            "ResultParameter": _items(
                "Key",
                ("TransactionAmount", payment.amount),
                ("TransactionReceipt", payment.transaction_id),
                ("B2CRecipientIsRegisteredCustomer", "Y"),
                ("B2CChargesPaidAccountAvailableFunds", -4510.00),
                ("ReceiverPartyPublicName", f"{payment.phone} - Sandbox Customer"),
                ("TransactionCompletedDateTime", _b2c_completed_at(payment.completed_at)),
                ("B2CUtilityAccountAvailableFunds", 10116.00),
                ("B2CWorkingAccountAvailableFunds", 900000.00),
            )
        }
    result["ReferenceData"] = _reference("QueueTimeoutURL", QUEUE_TIMEOUT_URL)
    return {"Result": result}


def queue_timeout(payment: B2CPayment) -> dict[str, Any]:
    return {
        "Result": {
            "ResultType": 1,
            "ResultCode": 1,
            "ResultDesc": TIMED_OUT,
            "OriginatorConversationID": payment.originator_conversation_id,
            "ConversationID": payment.conversation_id,
            "TransactionID": "",
            "ReferenceData": _reference("QueueTimeoutURL", QUEUE_TIMEOUT_URL),
        }
    }


def _stamp(moment: datetime | None) -> int | None:
    return int(moment.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")) if moment else None


def status_result(query: StatusQuery, payment: B2CPayment | None, shortcode: str) -> dict[str, Any]:
    """What a Transaction Status query found: the payment, or that there is no such transaction."""
    result: dict[str, Any] = {
        "ResultType": 0,
        "OriginatorConversationID": query.originator_conversation_id,
        "ConversationID": query.conversation_id,
    }
    if payment is None or payment.transaction_id is None:
        result.update(ResultCode=NOT_FOUND_CODE, ResultDesc=NOT_FOUND_DESC, TransactionID="")
    else:
        done = payment.status == "completed"
        result.update(
            ResultCode=0,
            ResultDesc=PROCESSED,
            TransactionID=payment.transaction_id,
            ResultParameters={
                "ResultParameter": _items(
                    "Key",
                    ("DebitPartyName", f"{shortcode} - Game Hub Sandbox"),
                    ("CreditPartyName", f"{payment.phone} - Sandbox Customer"),
                    ("InitiatedTime", _stamp(payment.completed_at)),
                    ("Originator Conversation ID", payment.originator_conversation_id),
                    ("DebitAccountType", "Utility Account"),
                    ("DebitPartyCharges", "Fee For B2C Payment|KES|0.00"),
                    ("TransactionReason",),
                    ("ReasonType", "Business Payment to Customer via API"),
                    ("TransactionStatus", "Completed" if done else "Pending"),
                    ("FinalisedTime", _stamp(payment.completed_at)),
                    ("Amount", payment.amount),
                    ("ConversationID", payment.conversation_id),
                    ("ReceiptNo", payment.transaction_id),
                )
            },
        )
    result["ReferenceData"] = _reference("Occasion", query.occasion)
    return {"Result": result}
