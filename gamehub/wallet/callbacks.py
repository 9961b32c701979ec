"""What Daraja's callbacks mean for our transactions. Every handler is safe to run any number of
times, concurrently, with any body: a bad or unmatched one changes nothing and is logged."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from gamehub.mpesa.callbacks import (
    parse_b2c_result,
    parse_queue_timeout,
    parse_stk_callback,
    parse_transaction_status_result,
)
from gamehub.mpesa.errors import CallbackFormatError
from gamehub.runtime import Runtime
from gamehub.wallet import settle, withdrawals

log = logging.getLogger(__name__)

# An STK callback can overtake the response to our own push by a few milliseconds, before the
# CheckoutRequestID is stored; it waits this long for it (only while a push is in flight).
EARLY_CALLBACK_WAIT_S = 5.0
EARLY_CALLBACK_POLL_S = 0.05
FAILED_STATUSES = frozenset({"failed", "cancelled", "declined", "reversed"})
Parsed = TypeVar("Parsed")


def _parsed(parse: Callable[[Any], Parsed], body: Any, what: str) -> Parsed | None:
    try:
        return parse(body)
    except CallbackFormatError as error:
        log.warning("malformed %s ignored: %s", what, error)
        return None


async def on_stk(rt: Runtime, body: Any) -> None:
    """Body.stkCallback: the customer paid (credit once) or did not (fail)."""
    if (callback := _parsed(parse_stk_callback, body, "STK callback")) is None:
        return
    checkout = callback.checkout_request_id
    if not (callback.succeeded or callback.failed):
        log.warning("STK callback %s: unreadable ResultCode ignored", checkout)
        return
    deadline = time.monotonic() + EARLY_CALLBACK_WAIT_S
    while True:
        if callback.succeeded:
            amount = settle.cents_of(callback.amount)
            if amount is None or callback.receipt is None:
                log.warning("STK callback %s: success without amount or receipt", checkout)
                return
            changed = await settle.complete_deposit(
                rt, checkout_request_id=checkout, amount=amount, receipt=callback.receipt
            )
        else:
            reason = f"{callback.result_desc} ({callback.result_code})"
            changed = await settle.fail_deposit(rt, reason, checkout_request_id=checkout)
        if changed is not None:
            return
        if time.monotonic() >= deadline or not await settle.awaiting_checkout(rt, checkout):
            log.info("STK callback %s matched no pending deposit; nothing changed", checkout)
            return
        await asyncio.sleep(EARLY_CALLBACK_POLL_S)


async def on_b2c_result(rt: Runtime, body: Any) -> None:
    """The B2C outcome: paid (post the hold once) or failed (release it once)."""
    if (result := _parsed(parse_b2c_result, body, "B2C result")) is None:
        return
    ref = result.originator_conversation_id
    if not (result.succeeded or result.failed):
        log.warning("B2C result %s: unreadable ResultCode ignored", ref)
        return
    if result.succeeded:
        changed = await settle.complete_withdrawal(
            rt,
            originator_conversation_id=ref,
            amount=settle.cents_of(result.amount),
            receipt=result.receipt,
        )
    else:
        reason = f"{result.result_desc} ({result.result_code})"
        changed = await settle.fail_withdrawal(rt, reason, originator_conversation_id=ref)
    if changed is None:
        log.info("B2C result %s matched no pending withdrawal; nothing changed", ref)


async def on_b2c_timeout(rt: Runtime, body: Any) -> None:
    """Daraja lost track of a payout that may have moved money: never release; ask its status."""
    if (timeout := _parsed(parse_queue_timeout, body, "queue timeout")) is None:
        return
    ref = timeout.originator_conversation_id
    if (row := await settle.find_pending(rt, ref, "withdrawal")) is None:
        log.info("queue timeout %s matched no pending withdrawal", ref)
        return
    gateway = rt.gateway
    assert gateway is not None
    # Not awaited here: Daraja gets its acknowledgement without waiting for our query.
    gateway.spawn(withdrawals.query_status(rt, row))


async def on_status_result(rt: Runtime, body: Any) -> None:
    """A Transaction Status answer about one of our withdrawals."""
    if (status := _parsed(parse_transaction_status_result, body, "status result")) is None:
        return
    ref = status.original_conversation_id or status.reference.get("Occasion")
    if not isinstance(ref, str) or not ref:
        log.info("status result names no withdrawal; nothing changed")
        return
    if status.completed:
        await settle.complete_withdrawal(
            rt,
            originator_conversation_id=ref,
            amount=settle.cents_of(status.amount),
            receipt=status.receipt,
        )
    elif status.found and (status.transaction_status or "").lower() in FAILED_STATUSES:
        reason = f"M-Pesa reports the payout {status.transaction_status}"
        await settle.fail_withdrawal(rt, reason, originator_conversation_id=ref)
    else:
        # Not found or still pending: the reconciler asks again later. Releasing here could
        # hand back money that M-Pesa is still paying out.
        log.info("withdrawal %s: status %s", ref, status.transaction_status or "not found")
