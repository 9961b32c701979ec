"""Transactions and wallets as the API shows them, and telling the user's stream they changed."""

from __future__ import annotations

import logging
from typing import Any

from gamehub.balances import Balance
from gamehub.db import iso_utc
from gamehub.models import Transaction
from gamehub.money import format_cents
from gamehub.runtime import Runtime
from gamehub.userstream import publish, publish_wallet
from gamehub.wallet.schemas import TransactionOut, WalletOut

log = logging.getLogger(__name__)


def transaction_out(row: Transaction) -> TransactionOut:
    withdrawal = row.type == "withdrawal"
    return TransactionOut(
        id=row.id,
        type=row.type,
        status=row.status,
        amount=format_cents(row.amount),
        phone=row.phone,
        provider_ref=row.provider_ref,
        receipt=row.receipt,
        failure_reason=row.failure_reason,
        created_at=iso_utc(row.created_at),
        updated_at=iso_utc(row.updated_at),
        tax_withheld=format_cents(row.tax_withheld) if withdrawal else None,
        net_amount=format_cents(row.net_amount) if withdrawal else None,
    )


def wallet_out(wallet: Balance) -> WalletOut:
    return WalletOut(
        balance=format_cents(wallet.balance),
        held=format_cents(wallet.held),
        available=format_cents(wallet.available),
    )


async def announce(rt: Runtime, row: Transaction, *, wallet: bool) -> None:
    """Publish a committed transaction change (and the wallet, if money moved) to its user."""
    body: dict[str, Any] = {"transaction": transaction_out(row).model_dump()}
    try:
        await publish(rt.broker, row.user_id, "transaction", body)
        if wallet:
            await publish_wallet(rt.broker, rt.sessions, row.user_id)
    except Exception:
        # The payment itself is committed; a stream that misses it reloads from the snapshot.
        log.exception("could not publish transaction %s to the user's stream", row.id)
