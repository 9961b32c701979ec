"""Taxes as configuration (off by default): a tax is a list of rates, each in force from a
date (UTC), so a change in the law is a new entry rather than an edit of history.

Two taxes use them: the excise on deposits (wallet/settle.py: the deposit is credited in full,
then the excise moves from the wallet to its liability account in the same transaction) and the
withholding on winnings (a spin's statement, games/spin_pg.py; a room's postings, rooms/roulette.py:
the payout is credited in full, then the tax on the winnings moves from the wallet to a liability
account, in the same statement). Winnings are what a payout adds to the stake it pays back (the
profit): nothing is withheld on a loss, on a payout that only returns the stake, or on a refund.
A third, the withholding on withdrawals (wallet/withdrawals.py, wallet/settle.py), is fixed when
a withdrawal is asked for and taken when it is paid out: the wallet gives the whole amount, M-Pesa
pays the player the amount less the tax, and the tax goes to its liability account.
Rates are basis points (1/100 of a percent); the tax on an amount is rounded down to the cent
(the withholding on withdrawals to the shilling: M-Pesa pays whole shillings)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from gamehub.money import CENTS

DEPOSIT_EXCISE_ACCOUNT = "tax:deposit_excise"
# Withholding on winnings is credited to sub-accounts (kind "tax") per game and shard, for the
# reason the house has sub-accounts (ledger.house_shard): one row would queue every winning
# payout of the land on its lock. A game's sub-accounts are its own, so a spin (which locks
# wallet, house, then its tax account) and a room (which locks its accounts in id order) never
# wait for each other's tax rows.
WITHHOLDING_PREFIX = "tax:withholding:"
WITHHOLDING_SHARDS = 64
# The transfer kinds of the withholding: a spin's, and a room's (`roulette_` + posting kind).
WITHHOLDING_KINDS = ("withholding", "roulette_withholding")
# A withholding transfer's reference is the payout's it was taken from, with this suffix.
WITHHOLDING_SUFFIX = ":withholding"
# The withholding on withdrawals: one liability account (every payout already locks the one
# M-Pesa clearing row in the same transaction, so a second single row queues nothing more), and
# its transfer's reference is the withdrawal's hold's (`hold:<id>`) with this suffix.
WITHDRAWAL_WITHHOLDING_ACCOUNT = "tax:withdrawal_withholding"
WITHDRAWAL_WITHHOLDING_KIND = "withdrawal_withholding"
_ENTRY = re.compile(r"^\s*([0-9]{1,2}(?:\.[0-9]{1,2})?)%@([0-9]{4}-[0-9]{2}-[0-9]{2})\s*$")


@dataclass(frozen=True)
class TaxRate:
    basis_points: int  # 500 = 5 %
    effective_from: date  # 00:00 UTC that day


def parse_rates(text: str) -> tuple[TaxRate, ...]:
    """`"12.5%@2023-07-01,5%@2025-07-01"` → rates in date order; ValueError if malformed."""
    rates = []
    for part in text.split(","):
        if not part.strip():
            continue
        found = _ENTRY.match(part)
        if found is None:
            raise ValueError(f"expected RATE%@YYYY-MM-DD, got {part.strip()!r}")
        whole, _, decimals = found.group(1).partition(".")
        points = int(whole) * 100 + int((decimals or "0").ljust(2, "0"))
        rates.append(TaxRate(points, date.fromisoformat(found.group(2))))
    days = [rate.effective_from for rate in rates]
    if len(set(days)) != len(days):
        raise ValueError("two rates from the same day")
    return tuple(sorted(rates, key=lambda rate: rate.effective_from))


def format_rates(rates: tuple[TaxRate, ...]) -> str:
    """parse_rates' inverse: the text a room's terms keep the rates in (JSON-friendly)."""
    return ",".join(
        f"{rate.basis_points // 100}.{rate.basis_points % 100:02d}%@{rate.effective_from}"
        for rate in rates
    )


@functools.lru_cache(maxsize=32)
def parse_rates_cached(text: str) -> tuple[TaxRate, ...]:
    return parse_rates(text)


def rate_at(rates: tuple[TaxRate, ...], moment: datetime) -> int:
    """The rate in force at `moment` (basis points; 0 before the first)."""
    day = moment.astimezone(UTC).date()
    current = 0
    for rate in rates:
        if rate.effective_from <= day:
            current = rate.basis_points
    return current


def tax_on(cents: int, basis_points: int) -> int:
    """Rounded down: never more than the law's rate of the amount."""
    return cents * basis_points // 10_000


def withholding_on(payout: int, stake: int, basis_points: int) -> int:
    """The tax withheld from `payout` cents that pays back `stake`: on the winnings (the profit,
    payout - stake) only, rounded down to the cent; 0 on a loss, a draw or a refund."""
    return tax_on(max(payout - stake, 0), basis_points)


def withdrawal_withholding(amount: int, basis_points: int) -> int:
    """The tax withheld from a withdrawal of `amount` cents (whole shillings): rounded down to
    the shilling, so that what M-Pesa pays (amount - tax) is whole shillings, as B2C requires,
    and the tax is never more than the rate's share."""
    return tax_on(amount, basis_points) // CENTS * CENTS


def withholding_account(game: str, key: int) -> str:
    """The code of the liability sub-account (kind "tax") of `game`'s withholding for `key` (a
    player for spins, a room for rooms)."""
    return f"{WITHHOLDING_PREFIX}{game}:{key % WITHHOLDING_SHARDS:02d}"
