"""Side-bet pricing (RULES.md): payouts and odds of survival / elimination bets, in cents."""

from __future__ import annotations

from typing import Literal

CHAMBERS = 6
ODDS_PLACES = 4
BetType = Literal["survival", "elimination"]
BET_TYPES: tuple[BetType, ...] = ("survival", "elimination")


def chambers_left_before(pull_number: int) -> int:
    """k, the chambers not yet fired before pull p (1-based); one of them holds the bullet."""
    if not 1 <= pull_number <= CHAMBERS:
        raise ValueError(f"pull number must be 1..{CHAMBERS}, got {pull_number}")
    return CHAMBERS + 1 - pull_number


def multiplier(bet_type: BetType, chambers_left: int, edge_percent: int) -> tuple[int, int]:
    """The exact payout multiplier as (numerator, denominator), stake included: fair is k for
    elimination (bang has probability 1/k) and k / (k - 1) for survival, less `edge_percent`.
    A fraction, so that every payout is floored once from exact integers, never a float."""
    k = chambers_left
    if k < 2:
        raise ValueError("side bets need at least 2 chambers left")
    if bet_type == "elimination":
        return k * (100 - edge_percent), 100
    if bet_type == "survival":
        return k * (100 - edge_percent), 100 * (k - 1)
    raise ValueError(f"unknown bet type {bet_type!r}")


def payout(amount: int, bet_type: BetType, chambers_left: int, edge_percent: int) -> int:
    """What a winning bet of `amount` cents pays back, stake included, floored to the cent."""
    numerator, denominator = multiplier(bet_type, chambers_left, edge_percent)
    return amount * numerator // denominator


def odds(bet_type: BetType, chambers_left: int, edge_percent: int) -> str:
    """The multiplier as a decimal string rounded down to 4 places, e.g. "5.7000", "1.1400"."""
    numerator, denominator = multiplier(bet_type, chambers_left, edge_percent)
    scaled = numerator * 10**ODDS_PLACES // denominator
    whole, fraction = divmod(scaled, 10**ODDS_PLACES)
    return f"{whole}.{fraction:0{ODDS_PLACES}d}"
