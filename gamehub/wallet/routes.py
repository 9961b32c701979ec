"""HTTP endpoints of the wallet: balance, deposit, withdraw, transactions, provider callbacks."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Blueprint, g, request
from quart_schema import validate_querystring, validate_request, validate_response

from gamehub.auth.guard import current_user, login_required
from gamehub.errors import Forbidden, NotFound
from gamehub.idempotency import idempotency_scope, idempotent
from gamehub.responsible.pauses import ensure_may_play
from gamehub.runtime import Runtime, runtime
from gamehub.userlimits import limited
from gamehub.wallet import callbacks, deposits, queries, withdrawals
from gamehub.wallet.render import transaction_out, wallet_out
from gamehub.wallet.schemas import (
    CallbackAck,
    DepositIn,
    TransactionEnvelope,
    TransactionOut,
    TransactionsOut,
    TransactionsQuery,
    WalletOut,
    WithdrawIn,
)

log = logging.getLogger(__name__)
blueprint = Blueprint("wallet", __name__)


@blueprint.get("/wallet")
@login_required
@validate_response(WalletOut)
async def get_wallet() -> WalletOut:
    """Balance, held (pending withdrawals and escrow) and available, in KES."""
    return wallet_out(g.balance)  # read with the caller's token, escrow included


@blueprint.post("/deposit")
@login_required
@limited("payments")
@validate_request(DepositIn)
@idempotent
@validate_response(TransactionEnvelope, 202)
async def deposit(data: DepositIn) -> tuple[TransactionEnvelope, int]:
    """Send an M-Pesa payment prompt to `phone`; the balance changes when M-Pesa confirms.
    409 `daily_deposit_limit`, 403 `play_paused`, 502 `mpesa_refused`, 503 `mpesa_unavailable`."""
    user = current_user()
    ensure_may_play(user.paused_until)
    row = await deposits.deposit(runtime(), user.id, data.amount, data.phone, idempotency_scope())
    return TransactionEnvelope(transaction=transaction_out(row)), 202


@blueprint.post("/withdraw")
@login_required
@limited("payments")
@validate_request(WithdrawIn)
@idempotent
@validate_response(TransactionEnvelope, 202)
async def withdraw(data: WithdrawIn) -> tuple[TransactionEnvelope, int]:
    """Hold the amount and pay `net_amount` to `phone` (default: the profile's) by M-Pesa B2C.
    409 `insufficient_funds`, 422 `phone_required` or `amount_out_of_range`."""
    row = await withdrawals.withdraw(
        runtime(), current_user().id, data.amount, data.phone, idempotency_scope()
    )
    return TransactionEnvelope(transaction=transaction_out(row)), 202


@blueprint.get("/transactions")
@login_required
@validate_querystring(TransactionsQuery)
@validate_response(TransactionsOut)
async def list_transactions(query_args: TransactionsQuery) -> TransactionsOut:
    """The caller's deposits and withdrawals, newest first; pass `next_before` as `before`."""
    page = await queries.page(
        runtime(), current_user().id, limit=query_args.limit, before=query_args.before
    )
    return TransactionsOut(
        transactions=[transaction_out(row) for row in page.transactions],
        next_before=page.next_before,
    )


@blueprint.get("/transactions/<int:transaction_id>")
@login_required
@validate_response(TransactionOut)
async def get_transaction(transaction_id: int) -> TransactionOut:
    """One of the caller's transactions (404 for anyone else's)."""
    return transaction_out(await queries.one(runtime(), current_user().id, transaction_id))


# --- provider callbacks (Daraja calls these; no bearer token, a secret in the path) ----------

Handler = Callable[[Runtime, Any], Awaitable[None]]


async def _accept(secret: str, handler: Handler) -> CallbackAck:
    rt = runtime()
    settings = rt.settings
    if not hmac.compare_digest(secret.encode(), settings.mpesa_callback_secret.encode()):
        raise NotFound()
    allowed = settings.mpesa_callback_allowlist
    if allowed and request.remote_addr not in allowed:
        log.warning("callback from %s refused: not in the allowlist", request.remote_addr)
        raise Forbidden()
    body = await request.get_json(silent=True)
    try:
        await handler(rt, body)
    except Exception:
        # Daraja never retries a callback; the reconciler settles what this one could not.
        log.exception("payment callback failed; left for the reconciler")
    return CallbackAck()


@blueprint.post("/payments/callbacks/<secret>/stk")
@validate_response(CallbackAck)
async def stk_callback(secret: str) -> CallbackAck:
    """M-Pesa: the outcome of an STK push (always acknowledged)."""
    return await _accept(secret, callbacks.on_stk)


@blueprint.post("/payments/callbacks/<secret>/b2c/result")
@validate_response(CallbackAck)
async def b2c_result(secret: str) -> CallbackAck:
    """M-Pesa: the outcome of a B2C payout (always acknowledged)."""
    return await _accept(secret, callbacks.on_b2c_result)


@blueprint.post("/payments/callbacks/<secret>/b2c/timeout")
@validate_response(CallbackAck)
async def b2c_timeout(secret: str) -> CallbackAck:
    """M-Pesa: a payout's queue timeout; its status is then queried (always acknowledged)."""
    return await _accept(secret, callbacks.on_b2c_timeout)


@blueprint.post("/payments/callbacks/<secret>/b2c/status")
@validate_response(CallbackAck)
async def b2c_status(secret: str) -> CallbackAck:
    """M-Pesa: the answer to a Transaction Status query about a payout (always acknowledged)."""
    return await _accept(secret, callbacks.on_status_result)
