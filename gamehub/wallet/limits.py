"""Amount limits from the settings (RULES.md: deposits 1-250000, withdrawals 10-250000)."""

from __future__ import annotations

from gamehub.money import CENTS, format_cents
from gamehub.wallet.errors import AmountOutOfRange


def check_range(amount: int, minimum_kes: int, maximum_kes: int, what: str) -> None:
    """Refuse (422) an amount outside [minimum, maximum] shillings; `amount` is in cents."""
    if not minimum_kes * CENTS <= amount <= maximum_kes * CENTS:
        raise AmountOutOfRange(
            f"A {what} is between {minimum_kes} and {maximum_kes} KES.",
            details={
                "fields": [{"field": "amount", "message": "out of range", "type": "range"}],
                "minimum": format_cents(minimum_kes * CENTS),
                "maximum": format_cents(maximum_kes * CENTS),
            },
        )
