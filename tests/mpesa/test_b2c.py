"""B2C and Transaction Status through our client against the sandbox over HTTP."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gamehub.mpesa.callbacks import (
    parse_b2c_result,
    parse_queue_timeout,
    parse_transaction_status_result,
)
from gamehub.mpesa.client import DarajaClient
from gamehub.mpesa.errors import DarajaError
from tests.mpesa.conftest import RunningSandbox
from tests.mpesa.servers import CallbackReceiver

RESULT_KEYS = {
    "TransactionAmount",
    "TransactionReceipt",
    "B2CRecipientIsRegisteredCustomer",
    "B2CChargesPaidAccountAvailableFunds",
    "ReceiverPartyPublicName",
    "TransactionCompletedDateTime",
    "B2CUtilityAccountAvailableFunds",
    "B2CWorkingAccountAvailableFunds",
}


async def pay(client: DarajaClient, receiver: CallbackReceiver, phone: str, **changes):
    request = {
        "originator_conversation_id": str(uuid.uuid4()),
        "phone": phone,
        "amount": 500,
        "result_url": receiver.url("/b2c/result"),
        "timeout_url": receiver.url("/b2c/timeout"),
        "remarks": "Withdrawal",
        **changes,
    }
    return request, await client.b2c_payment(**request)


async def status(client: DarajaClient, receiver: CallbackReceiver, **which: str):
    accepted = await client.transaction_status(
        result_url=receiver.url("/status"), timeout_url=receiver.url("/status/timeout"), **which
    )
    assert accepted.conversation_id.startswith("AG_")
    (body,) = await receiver.wait_for("/status")
    return parse_transaction_status_result(body)


async def test_00_pays_and_posts_the_result(
    client: DarajaClient, receiver: CallbackReceiver
) -> None:
    request, accepted = await pay(client, receiver, "254712345600")
    assert accepted.originator_conversation_id == request["originator_conversation_id"]
    assert accepted.response_description == "Accept the service request successfully."
    (body,) = await receiver.wait_for("/b2c/result")
    result = body["Result"]
    assert list(result) == [
        "ResultType",
        "ResultCode",
        "ResultDesc",
        "OriginatorConversationID",
        "ConversationID",
        "TransactionID",
        "ResultParameters",
        "ReferenceData",
    ]
    assert result["ResultType"] == 0 and result["ResultCode"] == 0
    assert isinstance(result["ResultCode"], int)
    assert result["ConversationID"] == accepted.conversation_id
    keys = {item["Key"] for item in result["ResultParameters"]["ResultParameter"]}
    assert keys == RESULT_KEYS
    parsed = parse_b2c_result(body)
    assert parsed.succeeded and parsed.amount == 500
    assert parsed.receipt == result["TransactionID"]
    assert parsed.originator_conversation_id == request["originator_conversation_id"]
    assert receiver.bodies("/b2c/timeout") == []
    found = await status(client, receiver, transaction_id=parsed.receipt or "")
    assert found.completed and found.receipt == parsed.receipt and found.amount == 500


async def test_09_fails_with_2001(client: DarajaClient, receiver: CallbackReceiver) -> None:
    request, _ = await pay(client, receiver, "254712345609")
    (body,) = await receiver.wait_for("/b2c/result")
    assert body["Result"]["ResultCode"] == 2001
    assert body["Result"]["ResultDesc"] == "The initiator information is invalid."
    assert "ResultParameters" not in body["Result"]
    assert not parse_b2c_result(body).succeeded
    found = await status(
        client, receiver, original_conversation_id=request["originator_conversation_id"]
    )
    assert not found.found and not found.completed


async def test_08_times_out_then_the_status_query_shows_it_completed(
    client: DarajaClient, receiver: CallbackReceiver
) -> None:
    request, _ = await pay(client, receiver, "254712345608")
    (body,) = await receiver.wait_for("/b2c/timeout")
    timeout = parse_queue_timeout(body)
    assert timeout.originator_conversation_id == request["originator_conversation_id"]
    assert body["Result"]["ResultType"] == 1 and isinstance(body["Result"]["ResultCode"], int)
    await asyncio.sleep(0.1)
    assert receiver.bodies("/b2c/result") == []
    found = await status(
        client, receiver, original_conversation_id=request["originator_conversation_id"]
    )
    assert found.completed and found.amount == 500 and found.receipt
    assert found.original_conversation_id == request["originator_conversation_id"]
    assert found.result_code == 0


async def test_04_pays_silently_and_05_repeats_the_result(
    client: DarajaClient, receiver: CallbackReceiver
) -> None:
    silent, _ = await pay(client, receiver, "254712345604")
    _, repeated = await pay(client, receiver, "254712345605")
    bodies = await receiver.wait_for("/b2c/result", count=3)
    await asyncio.sleep(0.2)
    assert len(receiver.bodies("/b2c/result")) == 3
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["Result"]["ConversationID"] == repeated.conversation_id
    found = await status(
        client, receiver, original_conversation_id=silent["originator_conversation_id"]
    )
    assert found.completed


async def test_07_pays_after_the_long_delay(
    client: DarajaClient, receiver: CallbackReceiver
) -> None:
    await pay(client, receiver, "254712345607")
    await asyncio.sleep(0.15)
    assert receiver.bodies("/b2c/result") == []
    (body,) = await receiver.wait_for("/b2c/result")
    assert body["Result"]["ResultCode"] == 0


async def test_the_same_originator_conversation_id_is_the_same_payment(
    client: DarajaClient, receiver: CallbackReceiver, daraja: RunningSandbox
) -> None:
    request, first = await pay(client, receiver, "254712345600")
    again = await client.b2c_payment(**request)
    assert again.conversation_id == first.conversation_id
    await receiver.wait_for("/b2c/result")
    third = await client.b2c_payment(**request)  # after it settled, still the same payment
    assert third.conversation_id == first.conversation_id
    await asyncio.sleep(0.15)
    assert len(receiver.bodies("/b2c/result")) == 1
    assert len(daraja.sandbox.state.payments) == 1
    with pytest.raises(DarajaError) as clash:
        await client.b2c_payment(**{**request, "amount": 501})
    assert clash.value.error_code == "500.002.1001"


async def test_security_credential_decrypts_to_the_initiator_password(
    daraja: RunningSandbox, client: DarajaClient, receiver: CallbackReceiver
) -> None:
    credential = client.security_credential()
    assert daraja.sandbox.keys.decrypt_credential(credential) == "Safaricom999!*!"
    async with daraja.client(initiator_password="not-the-password") as wrong:
        await pay(wrong, receiver, "254712345600")
    (body,) = await receiver.wait_for("/b2c/result")
    assert body["Result"]["ResultCode"] == 2001


async def test_the_certificate_is_served_for_clients_elsewhere(daraja: RunningSandbox) -> None:
    import httpx

    async with httpx.AsyncClient() as http:
        answer = await http.get(daraja.base_url + "/sandbox/api/certificate")
    assert answer.content == daraja.sandbox.keys.certificate_pem
    assert b"PRIVATE" not in answer.content
