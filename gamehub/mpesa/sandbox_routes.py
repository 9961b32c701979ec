"""Daraja's own API on the sandbox: OAuth, STK Push and query, B2C v3, Transaction Status."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
from typing import Any

from quart import Blueprint, Response, request

from gamehub.mpesa import sandbox_bodies as bodies
from gamehub.mpesa import sandbox_validation as check
from gamehub.mpesa.sandbox_flows import DarajaSandbox
from gamehub.mpesa.sandbox_state import B2CPayment, StatusQuery, StkPrompt, now_iso
from gamehub.mpesa.sandbox_validation import DarajaFault
from gamehub.mpesa.security import stk_password

TRANSACTION_TYPES = frozenset({"CustomerPayBillOnline", "CustomerBuyGoodsOnline"})
B2C_COMMANDS = frozenset({"BusinessPayment", "SalaryPayment", "PromotionPayment"})


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    # Serialised here, not by the host app's JSON provider, so the bytes are Daraja's wherever
    # the sandbox is mounted.
    return Response(json.dumps(body), status=status, content_type="application/json")


def daraja_api_blueprint(sandbox: DarajaSandbox) -> Blueprint:
    api = Blueprint("daraja_api", __name__)
    state = sandbox.state
    config = sandbox.config

    @api.errorhandler(DarajaFault)
    async def _fault(fault: DarajaFault) -> Response:
        body = {
            "requestId": state.merchant_request_id(),
            "errorCode": fault.code,
            "errorMessage": fault.message,
        }
        return json_response(body, fault.status)

    def bearer() -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise DarajaFault(400, check.INVALID_AUTH_HEADER, "Invalid Authentication Header")
        if not state.token_valid(token.strip()):
            raise DarajaFault(401, check.INVALID_TOKEN, "Invalid Access Token")

    async def body() -> dict[str, Any]:
        bearer()
        return check.parse_body(await request.get_data())

    @api.get("/oauth/v1/generate")
    async def generate_token() -> Response:
        if request.args.get("grant_type") != "client_credentials":
            raise DarajaFault(400, check.INVALID_GRANT, "Invalid grant type passed")
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            key, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            key = secret = ""
        if (
            scheme.lower() != "basic"
            or not hmac.compare_digest(key, config.consumer_key)
            or not hmac.compare_digest(secret, config.consumer_secret)
        ):
            raise DarajaFault(400, check.INVALID_CLIENT, "Invalid Authentication passed")
        token = state.issue_token()
        return json_response({"access_token": token, "expires_in": str(int(config.token_ttl_s))})

    def stk_credentials(data: dict[str, Any]) -> str:
        shortcode = check.shortcode(data, "BusinessShortCode")
        passkey = config.passkeys.get(shortcode)
        if passkey is None:
            raise check.invalid("BusinessShortCode")
        password = check.text(data, "Password", limit=500)
        stamp = check.timestamp(data)
        if not hmac.compare_digest(password, stk_password(shortcode, passkey, stamp)):
            raise DarajaFault(500, check.INTERNAL, "Wrong credentials")
        return shortcode

    @api.post("/mpesa/stkpush/v1/processrequest")
    async def stk_push() -> Response:
        data = await body()
        shortcode = stk_credentials(data)
        check.one_of(data, "TransactionType", TRANSACTION_TYPES)
        amount = check.amount(data)
        check.msisdn(data, "PartyA")
        check.shortcode(data, "PartyB")
        phone = check.msisdn(data, "PhoneNumber")
        callback_url = check.url(data, "CallBackURL")
        reference = check.text(data, "AccountReference", limit=12)
        description = check.text(data, "TransactionDesc", required=False, limit=182)
        prompt = StkPrompt(
            merchant_request_id=state.merchant_request_id(),
            checkout_request_id=state.checkout_request_id(phone),
            business_shortcode=shortcode,
            phone=phone,
            amount=amount,
            account_reference=reference,
            description=description,
            callback_url=callback_url,
            created_at=now_iso(),
        )
        sandbox.open_prompt(prompt)
        return json_response(bodies.stk_accepted(prompt))

    @api.post("/mpesa/stkpushquery/v1/query")
    async def stk_query() -> Response:
        data = await body()
        stk_credentials(data)
        prompt = state.prompts.get(check.text(data, "CheckoutRequestID", limit=100))
        if prompt is None:
            raise check.invalid("CheckoutRequestID")
        if prompt.status == "open":
            raise DarajaFault(500, check.INTERNAL, "The transaction is being processed")
        return json_response(bodies.stk_query_answer(prompt))

    async def initiator_valid(initiator: str, credential: str) -> bool:
        password = await asyncio.to_thread(sandbox.keys.decrypt_credential, credential)
        expected = config.initiators.get(initiator)
        return password is not None and expected is not None and password == expected

    @api.post("/mpesa/b2c/v3/paymentrequest")
    @api.post("/mpesa/b2c/v1/paymentrequest")
    async def b2c_payment() -> Response:
        data = await body()
        originator_id = check.text(data, "OriginatorConversationID", limit=100)
        initiator = check.text(data, "InitiatorName", limit=100)
        credential = check.text(data, "SecurityCredential", limit=2000)
        check.one_of(data, "CommandID", B2C_COMMANDS)
        amount = check.amount(data)
        check.shortcode(data, "PartyA")
        phone = check.msisdn(data, "PartyB")
        check.text(data, "Remarks", limit=100)
        timeout_url = check.url(data, "QueueTimeOutURL")
        result_url = check.url(data, "ResultURL")
        earlier = state.payments.get(originator_id)
        if earlier is not None:
            # Keyed by OriginatorConversationID: a repeat is the same payment, never a second.
            if earlier.request != data:
                raise DarajaFault(500, check.DUPLICATE, "Duplicate OriginatorConversationID")
            return json_response(bodies.request_accepted(originator_id, earlier.conversation_id))
        payment = B2CPayment(
            originator_conversation_id=originator_id,
            conversation_id=state.conversation_id(),
            request=data,
            phone=phone,
            amount=amount,
            result_url=result_url,
            timeout_url=timeout_url,
            created_at=now_iso(),
            credential_valid=await initiator_valid(initiator, credential),
        )
        sandbox.start_payment(payment)
        return json_response(bodies.request_accepted(originator_id, payment.conversation_id))

    @api.post("/mpesa/transactionstatus/v1/query")
    async def transaction_status() -> Response:
        data = await body()
        check.text(data, "Initiator", limit=100)
        check.text(data, "SecurityCredential", limit=2000)
        check.one_of(data, "CommandID", frozenset({"TransactionStatusQuery"}))
        transaction_id = check.text(data, "TransactionID", required=False, limit=30)
        original_id = check.text(data, "OriginalConversationID", required=False, limit=100)
        if not transaction_id and not original_id:
            raise check.invalid("TransactionID")
        party = check.shortcode(data, "PartyA")
        check.one_of(data, "IdentifierType", frozenset({"1", "2", "4"}))
        result_url = check.url(data, "ResultURL")
        check.url(data, "QueueTimeOutURL")
        query = StatusQuery(
            originator_conversation_id=state.merchant_request_id(),
            conversation_id=state.conversation_id(),
            transaction_id=transaction_id,
            original_conversation_id=original_id,
            result_url=result_url,
            occasion=check.text(data, "Occasion", required=False),
            created_at=now_iso(),
        )
        sandbox.start_status_query(query, party)
        return json_response(
            bodies.request_accepted(query.originator_conversation_id, query.conversation_id)
        )

    return api
