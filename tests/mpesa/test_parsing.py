"""Callback parsing and request secrets, without any network."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gamehub.mpesa.callbacks import parse_b2c_result, parse_stk_callback
from gamehub.mpesa.errors import CallbackFormatError
from gamehub.mpesa.results import StkQueryResult, result_code
from gamehub.mpesa.security import daraja_timestamp, stk_password

PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"


def test_the_password_matches_safaricoms_documented_sample() -> None:
    assert stk_password("174379", PASSKEY, "20160216165627") == (
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEw"
        "Zjc4ZTZiNzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3"
    )


def test_the_timestamp_is_nairobi_time() -> None:
    assert daraja_timestamp(datetime(2024, 12, 31, 21, 30, 5, tzinfo=UTC)) == "20250101003005"


def test_stk_items_are_read_by_name_whatever_their_order() -> None:
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "29115-34620561-1",
                "CheckoutRequestID": "ws_CO_191220191020363925",
                "ResultCode": "0",
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "PhoneNumber", "Value": 254708374149},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20191219102115},
                        {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
                        {"Name": "Amount", "Value": 1.00},
                    ]
                },
            }
        }
    }
    parsed = parse_stk_callback(body)
    assert parsed.succeeded and parsed.result_code == 0
    assert parsed.amount == Decimal("1.0") and parsed.receipt == "NLJ7RT61SV"
    assert parsed.phone == "254708374149" and parsed.transaction_date == "20191219102115"
    assert "Balance" in parsed.metadata


def test_b2c_parameters_by_key_and_a_lone_item_object() -> None:
    body = {
        "Result": {
            "ResultType": 0,
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "OriginatorConversationID": "gh-7",
            "ConversationID": "AG_20191219_00005797af5d7d75f652",
            "TransactionID": "NLJ41HAY6Q",
            "ResultParameters": {"ResultParameter": {"Key": "TransactionAmount", "Value": 10}},
            "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL", "Value": "x"}},
        }
    }
    parsed = parse_b2c_result(body)
    assert parsed.amount == 10 and parsed.receipt == "NLJ41HAY6Q" and parsed.succeeded


@pytest.mark.parametrize(
    "body",
    [None, {}, {"Body": {}}, {"Body": {"stkCallback": {"CheckoutRequestID": "x"}}}, []],
)
def test_malformed_stk_callbacks_are_refused(body: object) -> None:
    with pytest.raises(CallbackFormatError):
        parse_stk_callback(body)


def test_result_codes_as_int_or_string() -> None:
    assert result_code(1032) == 1032 and result_code("1032") == 1032
    assert result_code("R000002") == "R000002"
    with pytest.raises(ValueError):
        result_code(True)
    answer = StkQueryResult.from_body(
        {
            "ResponseCode": "0",
            "MerchantRequestID": "m",
            "CheckoutRequestID": "c",
            "ResultCode": "1037",
            "ResultDesc": "DS timeout user cannot be reached",
        }
    )
    assert answer.result_code == 1037 and not answer.succeeded
