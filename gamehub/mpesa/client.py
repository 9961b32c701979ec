"""The async Daraja client: OAuth token cache, STK Push and its query, B2C and Transaction Status.
Retries only where a repeat cannot pay twice (reads, B2C by our id, STK Push never sent)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from gamehub.mpesa.errors import (
    SPIKE_ARREST,
    DarajaError,
    DarajaUnavailable,
    InvalidAccessToken,
    error_from_body,
)
from gamehub.mpesa.results import RequestAccepted, StkPushAccepted, StkQueryResult
from gamehub.mpesa.security import (
    daraja_timestamp,
    security_credential,
    stk_password,
    tls_context,
)
from gamehub.settings import Settings

OAUTH_PATH = "/oauth/v1/generate"
STK_PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
STK_QUERY_PATH = "/mpesa/stkpushquery/v1/query"
B2C_PATH = "/mpesa/b2c/v3/paymentrequest"
TRANSACTION_STATUS_PATH = "/mpesa/transactionstatus/v1/query"

_PHONE = re.compile(r"^254[17][0-9]{8}$")
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Errors that mean "the request never started": safe to send again even for STK Push.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True)
class DarajaConfig:
    """Where Daraja is and who we are there; defaults are Safaricom's public sandbox data."""

    base_url: str
    consumer_key: str
    consumer_secret: str
    shortcode: str = "174379"
    passkey: str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
    transaction_type: str = "CustomerPayBillOnline"
    b2c_shortcode: str = "600000"
    initiator_name: str = "testapi"
    initiator_password: str = "Safaricom999!*!"
    certificate: bytes | None = None  # Safaricom's public certificate (PEM or DER)
    connect_timeout_s: float = 5.0
    timeout_s: float = 20.0
    max_attempts: int = 3
    backoff_s: float = 0.5
    token_refresh_margin_s: float = 60.0

    @classmethod
    def from_settings(
        cls, settings: Settings, *, base_url: str | None = None, certificate: bytes | None = None
    ) -> DarajaConfig:
        """Build from GAMEHUB_MPESA_*; reads the certificate file: call it at start-up."""
        url = base_url or settings.mpesa_base_url
        if url is None:
            raise ValueError("no Daraja base URL: set GAMEHUB_MPESA_BASE_URL or pass base_url")
        if certificate is None and settings.mpesa_certificate is not None:
            certificate = Path(settings.mpesa_certificate).read_bytes()
        return cls(
            base_url=url.rstrip("/"),
            consumer_key=settings.mpesa_consumer_key,
            consumer_secret=settings.mpesa_consumer_secret,
            shortcode=settings.mpesa_shortcode,
            passkey=settings.mpesa_passkey,
            b2c_shortcode=settings.mpesa_b2c_shortcode,
            initiator_name=settings.mpesa_initiator_name,
            initiator_password=settings.mpesa_initiator_password,
            certificate=certificate,
        )

    def with_overrides(self, **changes: Any) -> DarajaConfig:
        return replace(self, **changes)


def normalise_msisdn(phone: str) -> str:
    """Daraja wants 2547XXXXXXXX / 2541XXXXXXXX; 07…, 01… and +254… are accepted here too."""
    digits = phone.strip().removeprefix("+").replace(" ", "")
    if digits.startswith("0") and len(digits) == 10:
        digits = "254" + digits[1:]
    if not _PHONE.match(digits):
        raise ValueError(f"not a Kenyan mobile number: {phone!r}")
    return digits


def _whole_shillings(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
        raise ValueError("M-Pesa amounts are whole shillings, at least 1")
    return amount


class DarajaClient:
    """One per process; share it. Close it with `aclose()` (or use `async with`)."""

    def __init__(
        self,
        config: DarajaConfig,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s),
            verify=tls_context(),
        )
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._token_lock = asyncio.Lock()
        self._credential: str | None = None

    async def __aenter__(self) -> DarajaClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def access_token(self) -> str:
        """The cached bearer token, renewed shortly before it expires."""
        async with self._token_lock:
            if self._token is not None and self._clock() < self._renew_at:
                return self._token
            body = await self._send(
                "GET",
                OAUTH_PATH,
                params={"grant_type": "client_credentials"},
                auth=(self.config.consumer_key, self.config.consumer_secret),
                repeatable=True,
            )
            try:
                token = str(body["access_token"])
                lifetime = float(body["expires_in"])
            except (KeyError, TypeError, ValueError):
                raise DarajaError(200, "malformed", "token answer without access_token") from None
            margin = min(self.config.token_refresh_margin_s, lifetime / 10)
            self._token, self._renew_at = token, self._clock() + lifetime - margin
            return token

    def _stk_secret(self) -> tuple[str, str]:
        timestamp = daraja_timestamp()
        return stk_password(self.config.shortcode, self.config.passkey, timestamp), timestamp

    async def stk_push(
        self,
        *,
        phone: str,
        amount: int,
        callback_url: str,
        account_reference: str,
        description: str,
    ) -> StkPushAccepted:
        """Send the payment prompt to `phone`; the outcome arrives at `callback_url`."""
        msisdn = normalise_msisdn(phone)
        password, timestamp = self._stk_secret()
        payload = {
            "BusinessShortCode": self.config.shortcode,
            "Password": password,
            "Timestamp": timestamp,
            "TransactionType": self.config.transaction_type,
            "Amount": _whole_shillings(amount),
            "PartyA": msisdn,
            "PartyB": self.config.shortcode,
            "PhoneNumber": msisdn,
            "CallBackURL": callback_url,
            "AccountReference": account_reference[:12],
            "TransactionDesc": description[:13],
        }
        # A second prompt could be paid too: repeat only if the first never left.
        body = await self._authorised(STK_PUSH_PATH, payload, repeatable=False)
        return StkPushAccepted.from_body(body)

    async def stk_query(self, checkout_request_id: str) -> StkQueryResult:
        """The prompt's outcome; raises TransactionInProgress while it is still open."""
        password, timestamp = self._stk_secret()
        payload = {
            "BusinessShortCode": self.config.shortcode,
            "Password": password,
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
        }
        body = await self._authorised(STK_QUERY_PATH, payload, repeatable=True)
        return StkQueryResult.from_body(body)

    def security_credential(self) -> str:
        """The initiator password encrypted for Daraja (computed once per client)."""
        if self._credential is None:
            if self.config.certificate is None:
                raise ValueError("B2C needs the M-Pesa certificate (GAMEHUB_MPESA_CERTIFICATE)")
            self._credential = security_credential(
                self.config.initiator_password, self.config.certificate
            )
        return self._credential

    async def b2c_payment(
        self,
        *,
        originator_conversation_id: str,
        phone: str,
        amount: int,
        result_url: str,
        timeout_url: str,
        remarks: str,
        occasion: str = "",
        command_id: str = "BusinessPayment",
    ) -> RequestAccepted:
        """Pay `amount` to `phone`; the same OriginatorConversationID again is the same payment."""
        payload = {
            "OriginatorConversationID": originator_conversation_id,
            "InitiatorName": self.config.initiator_name,
            "SecurityCredential": self.security_credential(),
            "CommandID": command_id,
            "Amount": _whole_shillings(amount),
            "PartyA": self.config.b2c_shortcode,
            "PartyB": normalise_msisdn(phone),
            "Remarks": remarks[:100] or "Withdrawal",
            "QueueTimeOutURL": timeout_url,
            "ResultURL": result_url,
            "Occassion": occasion[:100],  # Daraja's own spelling
        }
        body = await self._authorised(B2C_PATH, payload, repeatable=True)
        return RequestAccepted.from_body(body)

    async def transaction_status(
        self,
        *,
        result_url: str,
        timeout_url: str,
        transaction_id: str | None = None,
        original_conversation_id: str | None = None,
        remarks: str = "Status check",
        occasion: str = "",
    ) -> RequestAccepted:
        """Ask what became of a payment (by receipt or OriginatorConversationID) at `result_url`."""
        if not transaction_id and not original_conversation_id:
            raise ValueError("name the transaction_id or the original_conversation_id")
        payload = {
            "Initiator": self.config.initiator_name,
            "SecurityCredential": self.security_credential(),
            "CommandID": "TransactionStatusQuery",
            "TransactionID": transaction_id or "",
            "OriginalConversationID": original_conversation_id or "",
            "PartyA": self.config.b2c_shortcode,
            "IdentifierType": "4",  # an organisation shortcode
            "ResultURL": result_url,
            "QueueTimeOutURL": timeout_url,
            "Remarks": remarks[:100],
            "Occasion": occasion[:100],
        }
        body = await self._authorised(TRANSACTION_STATUS_PATH, payload, repeatable=True)
        return RequestAccepted.from_body(body)

    async def _authorised(self, path: str, payload: dict[str, Any], *, repeatable: bool) -> Any:
        token = await self.access_token()
        try:
            return await self._send("POST", path, json=payload, token=token, repeatable=repeatable)
        except InvalidAccessToken:
            # Daraja refused the token before doing anything: renew once and send again.
            if token == self._token:  # unless a concurrent call renewed it already
                self._token, self._renew_at = None, 0.0
            token = await self.access_token()
            return await self._send("POST", path, json=payload, token=token, repeatable=repeatable)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        repeatable: bool,
        token: str | None = None,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Any:
        url = self.config.base_url + path
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        attempts = max(1, self.config.max_attempts)
        for attempt in range(1, attempts + 1):
            last = attempt == attempts
            try:
                response = await self._http.request(
                    method, url, json=json, params=params, auth=auth, headers=headers
                )
            except httpx.TransportError as error:
                sent = not isinstance(error, _NOT_SENT)
                if last or (sent and not repeatable):
                    raise DarajaUnavailable(
                        f"{method} {path}: {type(error).__name__}", may_have_arrived=sent
                    ) from error
                await self._backoff(attempt)
                continue
            body = _json(response)
            if response.status_code < 400:
                return body
            refusal = error_from_body(response.status_code, body)
            busy = response.status_code in _RETRY_STATUSES or refusal.error_code == SPIKE_ARREST
            if busy and repeatable and not last:
                await self._backoff(attempt)
                continue
            raise refusal
        raise AssertionError("unreachable")  # pragma: no cover

    async def _backoff(self, attempt: int) -> None:
        await asyncio.sleep(self.config.backoff_s * 2 ** (attempt - 1))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
