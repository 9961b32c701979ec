"""The sandbox's moving parts: scenarios by phone number, prompts settling, callbacks over HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from gamehub.mpesa import sandbox_bodies as bodies
from gamehub.mpesa.sandbox_keys import SandboxKeys
from gamehub.mpesa.sandbox_state import (
    B2CPayment,
    CallbackAttempt,
    SandboxConfig,
    SandboxState,
    SandboxTimings,
    StatusQuery,
    StkPrompt,
    new_receipt,
    now_iso,
)
from gamehub.mpesa.security import NAIROBI, tls_context

log = logging.getLogger(__name__)

# STK outcomes by the phone's last two digits; 04, 05 and 07 change timing or callbacks only.
STK_FAILURES: dict[str, tuple[int, str]] = {
    "01": (1032, "Request cancelled by user"),
    "02": (1, "The balance is insufficient for the transaction."),
    "03": (2001, "The initiator information is invalid."),
    "06": (1037, "DS timeout user cannot be reached"),
}
SCENARIOS = frozenset(f"0{digit}" for digit in range(10))
CANCELLED = STK_FAILURES["01"]
UNREACHABLE = STK_FAILURES["06"]
NO_CALLBACK, REPEATED_CALLBACK, SLOW, B2C_TIMEOUT, B2C_FAILS = "04", "05", "07", "08", "09"


def scenario(phone: str) -> str:
    return phone[-2:]


class DarajaSandbox:
    """One emulated Daraja: state, key pair, background flows and the HTTP client for callbacks."""

    def __init__(
        self, config: SandboxConfig | None = None, keys: SandboxKeys | None = None
    ) -> None:
        self.config = config or SandboxConfig()
        self.keys = keys or SandboxKeys.generate()
        self.state = SandboxState(self.config)
        self._answers: dict[str, asyncio.Future[tuple[int, str]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None

    @property
    def timings(self) -> SandboxTimings:
        return self.config.timings

    async def start(self) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self.timings.callback_timeout_s, verify=tls_context()
            )

    async def stop(self) -> None:
        await self._cancel_flows()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def reset(self) -> None:
        """Forget everything (tokens too) and stop every running flow."""
        await self._cancel_flows()
        self.state.reset()

    async def _cancel_flows(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._answers.clear()

    def _delay(self, code: str) -> float:
        return self.timings.slow_delay_s if code == SLOW else self.timings.result_delay_s

    def _spawn(self, flow: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(flow)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def open_prompt(self, prompt: StkPrompt) -> None:
        self.state.prompts[prompt.checkout_request_id] = prompt
        self._answers[prompt.checkout_request_id] = asyncio.get_running_loop().create_future()
        self._spawn(self._settle_prompt(prompt))

    def answer_prompt(self, checkout_request_id: str, *, approve: bool) -> bool:
        """The customer's answer (from /sandbox/phone or a test); False if no prompt is open."""
        answer = self._answers.get(checkout_request_id)
        if answer is None or answer.done():
            return False
        answer.set_result((0, bodies.PROCESSED) if approve else CANCELLED)
        return True

    async def _settle_prompt(self, prompt: StkPrompt) -> None:
        code = scenario(prompt.phone)
        waits_for_page = self.config.manual_prompts and code not in SCENARIOS
        wait = self.timings.prompt_timeout_s if waits_for_page else self._delay(code)
        answer = self._answers[prompt.checkout_request_id]
        try:
            outcome = await asyncio.wait_for(asyncio.shield(answer), wait)
        except TimeoutError:
            outcome = (
                UNREACHABLE if waits_for_page else STK_FAILURES.get(code, (0, bodies.PROCESSED))
            )
        finally:
            self._answers.pop(prompt.checkout_request_id, None)
        prompt.result_code, prompt.result_desc = outcome
        if outcome[0] == 0:
            prompt.status = "completed"
            prompt.receipt = new_receipt()
            prompt.transaction_date = int(datetime.now(NAIROBI).strftime("%Y%m%d%H%M%S"))
        else:
            prompt.status = "failed"
        if code == NO_CALLBACK:
            return
        await self._repeat(
            code, prompt.callbacks, prompt.callback_url, "stk", bodies.stk_callback(prompt)
        )

    def start_payment(self, payment: B2CPayment) -> None:
        self.state.payments[payment.originator_conversation_id] = payment
        self._spawn(self._settle_payment(payment))

    async def _settle_payment(self, payment: B2CPayment) -> None:
        code = scenario(payment.phone)
        await asyncio.sleep(self._delay(code))
        if not payment.credential_valid or code == B2C_FAILS:
            payment.status = "failed"
            payment.result_code, payment.result_desc = 2001, bodies.INITIATOR_INVALID
            payment.transaction_id = new_receipt()[:3] + "0000000"  # Daraja's "no transaction" id
        else:
            payment.status = "completed"
            payment.result_code, payment.result_desc = 0, bodies.PROCESSED
            payment.transaction_id = new_receipt()
            payment.completed_at = datetime.now(UTC)
        if code == B2C_TIMEOUT and payment.status == "completed":
            # The money moved but Daraja lost the answer: only the status query tells.
            body = bodies.queue_timeout(payment)
            await self._deliver(payment.callbacks, payment.timeout_url, "timeout", body)
            return
        if code == NO_CALLBACK:
            return
        body = bodies.b2c_result(payment)
        await self._repeat(code, payment.callbacks, payment.result_url, "result", body)

    def find_payment(self, transaction_id: str, original_conversation_id: str) -> B2CPayment | None:
        payment = self.state.payment_by_transaction(transaction_id) if transaction_id else None
        if payment is None and original_conversation_id:
            payment = self.state.payments.get(original_conversation_id)
        if payment is not None and payment.status == "failed":
            return None  # a failed B2C never became a transaction
        return payment

    def start_status_query(self, query: StatusQuery, shortcode: str) -> None:
        self.state.status_queries.append(query)
        self._spawn(self._answer_status_query(query, shortcode))

    async def _answer_status_query(self, query: StatusQuery, shortcode: str) -> None:
        await asyncio.sleep(self.timings.result_delay_s)
        payment = self.find_payment(query.transaction_id, query.original_conversation_id)
        body = bodies.status_result(query, payment, shortcode)
        await self._deliver(query.callbacks, query.result_url, "result", body)

    async def _repeat(
        self, code: str, log_to: list[CallbackAttempt], url: str, kind: str, body: dict[str, Any]
    ) -> None:
        times = self.timings.repeat_count if code == REPEATED_CALLBACK else 1
        for number in range(times):
            if number:
                await asyncio.sleep(self.timings.repeat_interval_s)
            await self._deliver(log_to, url, kind, body)

    async def _deliver(
        self, log_to: list[CallbackAttempt], url: str, kind: str, body: dict[str, Any]
    ) -> None:
        attempt = CallbackAttempt(url=url, kind=kind, body=body, at=now_iso())
        log_to.append(attempt)
        allowed = self.config.callback_hosts
        if allowed is not None and urlsplit(url).hostname not in allowed:
            attempt.error = "not delivered: host outside this sandbox's callback_hosts"
            return
        await self.start()
        assert self._http is not None
        try:
            response = await self._http.post(url, json=body)
            attempt.status_code = response.status_code
        except httpx.HTTPError as error:
            # Daraja does not retry a failed callback either; the record shows what happened.
            attempt.error = f"{type(error).__name__}: {error}"
            log.info("sandbox callback to %s failed: %s", url, attempt.error)
