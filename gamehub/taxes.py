"""Taxes as configuration (off by default): each tax is rates in force from a date (UTC), in basis
points, rounded down. What each taxes and when: docs/OPERATIONS.md, "Taxes"."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from gamehub.money import CENTS

DEPOSIT_EXCISE_ACCOUNT = "tax:deposit_excise"
# Withholding on winnings goes to sub-accounts per game and shard (as ledger.house_shard: one
# row would queue every payout on its lock); a spin and a room never share a tax row.
WITHHOLDING_PREFIX = "tax:withholding:"
WITHHOLDING_SHARDS = 64
# The transfer kinds of the withholding: a spin's, and a room's (`roulette_` + posting kind).
WITHHOLDING_KINDS = ("withholding", "roulette_withholding")
# A withholding transfer's reference is the payout's it was taken from, with this suffix.
WITHHOLDING_SUFFIX = ":withholding"
# The withholding on withdrawals: one account (each payout already locks the one M-Pesa clearing
# row, so a second queues nothing more); reference `hold:<id>` plus WITHHOLDING_SUFFIX.
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
    return next((rate.basis_points for rate in reversed(rates) if rate.effective_from <= day), 0)


def tax_on(cents: int, basis_points: int) -> int:
    """Rounded down: never more than the law's rate of the amount."""
    return cents * basis_points // 10_000


def withholding_on(payout: int, stake: int, basis_points: int) -> int:
    """The tax on the winnings (payout - stake) only: 0 on a loss, a draw or a refund."""
    return tax_on(max(payout - stake, 0), basis_points)


def withdrawal_withholding(amount: int, basis_points: int) -> int:
    """The tax on a withdrawal of `amount` cents, rounded down to the shilling: B2C pays whole
    shillings (amount - tax)."""
    return tax_on(amount, basis_points) // CENTS * CENTS


def withholding_account(game: str, key: int) -> str:
    """The code of `game`'s withholding sub-account for `key` (a player or a room)."""
    return f"{WITHHOLDING_PREFIX}{game}:{key % WITHHOLDING_SHARDS:02d}"
