"""Exact money: parsing request amounts into integer cents and rendering cents as "99.50"."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

CURRENCY = "KES"
CENTS = 100
# Far above any limit, far below 2**63: rejects absurd inputs before any arithmetic.
MAX_CENTS = 10**15
_AMOUNT_TEXT = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")


def parse_cents(value: object) -> int:
    """An amount given as a JSON number or a string with at most 2 decimals, in cents."""
    if isinstance(value, bool):
        raise ValueError("amount must be a number or a decimal string, not a boolean")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, float):
        # The app parses JSON numbers as Decimal; a float only arrives from Python callers.
        amount = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not _AMOUNT_TEXT.match(text):
            raise ValueError("amount must be a positive number with at most 2 decimals")
        amount = Decimal(text)
    else:
        raise ValueError("amount must be a number or a decimal string")
    if not amount.is_finite():
        raise ValueError("amount must be a finite number")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        raise ValueError("amount must have at most 2 decimals")
    if amount <= 0:
        raise ValueError("amount must be greater than zero")
    try:
        cents = int((amount * CENTS).to_integral_exact())
    except InvalidOperation:
        raise ValueError("amount is not a valid number") from None
    if cents > MAX_CENTS:
        raise ValueError("amount is too large")
    return cents


def parse_whole_shillings(value: object) -> int:
    """An M-Pesa amount: whole shillings only (M-Pesa moves no cents), in cents."""
    cents = parse_cents(value)
    if cents % CENTS:
        raise ValueError("M-Pesa amounts are whole shillings")
    return cents


def format_cents(cents: int) -> str:
    """Render cents as a decimal string with exactly 2 decimals: 9950 -> "99.50"."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), CENTS)
    return f"{sign}{whole}.{part:02d}"


def shillings(amount: int | str) -> int:
    """Cents from whole shillings or a decimal string (configuration and tests)."""
    return parse_cents(str(amount))


# The document promises what the parsers take; its string patterns are a plain subset (no
# leading zeros, at most 13 digits before the point).
_MAX_SHILLINGS = MAX_CENTS // CENTS
_AMOUNT_SCHEMA = WithJsonSchema(
    {
        "oneOf": [
            {
                "type": "number",
                "exclusiveMinimum": 0,
                "maximum": _MAX_SHILLINGS,
                "multipleOf": 0.01,
            },
            {
                "type": "string",
                "pattern": r"^([1-9][0-9]{0,12}(\.[0-9]{1,2})?|0\.(0[1-9]|[1-9][0-9]?))$",
            },
        ],
        "description": "KES, a number or a string with at most 2 decimals",
        "examples": ["99.50", 100],
    }
)
_WHOLE_SCHEMA = WithJsonSchema(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": _MAX_SHILLINGS},
            {"type": "string", "pattern": r"^[1-9][0-9]{0,12}(\.00?)?$"},
        ],
        "description": "KES, whole shillings",
        "examples": [100, "250"],
    }
)

# Request fields validated into integer cents.
Cents = Annotated[int, BeforeValidator(parse_cents), _AMOUNT_SCHEMA]
WholeShillingCents = Annotated[int, BeforeValidator(parse_whole_shillings), _WHOLE_SCHEMA]
