"""Taxes as configuration (off by default): a tax is a list of rates, each in force from a
date (UTC), so a change in the law is a new entry rather than an edit of history.

Only the excise on deposits is applied so far (wallet/settle.py: the deposit is credited in full,
then the excise moves from the wallet to its liability account in the same transaction).
Rates are basis points (1/100 of a percent); the tax on an amount is rounded down to the cent."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

DEPOSIT_EXCISE_ACCOUNT = "tax:deposit_excise"
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
