"""Rooms and room events as clients see them: amounts as "99.50" strings, times as ISO UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gamehub.db import iso_utc
from gamehub.money import format_cents

# Fields of the rules' payloads that hold cents.
MONEY_KEYS = frozenset(
    {
        "stake",
        "pot",
        "bet_amount",
        "potential_payout",
        "payout",
        "rake",
        "refunded",
        "forfeited",
        "tax_withheld",
    }
)


def render(value: Any, key: str | None = None) -> Any:
    """Render a payload tree: cents under money keys become strings, datetimes ISO strings."""
    if isinstance(value, dict):
        return {k: render(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render(item) for item in value]
    if isinstance(value, datetime):
        return iso_utc(value)
    if key in MONEY_KEYS and isinstance(value, int) and not isinstance(value, bool):
        return format_cents(value)
    return value


def render_room(view: dict[str, Any], seq: int) -> dict[str, Any]:
    """The contract's room object from roulette.room_view(state) and the room's last seq."""
    rendered: dict[str, Any] = render(view)
    rendered["seq"] = seq
    return rendered
