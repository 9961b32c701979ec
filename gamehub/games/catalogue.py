"""The games catalogue: rows of `games`, how clients see them, and the Spin and Win table."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub.errors import ApiError
from gamehub.games.wheel import Wheel, decimal_text
from gamehub.models import Game
from gamehub.money import format_cents
from gamehub.runtime import Runtime

SPIN_AND_WIN = "spin-and-win"
RUSSIAN_ROULETTE = "russian-roulette"
# Rules that are amounts in cents: shown to clients as "10.00" like every other amount.
MONEY_RULES = frozenset({"side_bet_min", "side_bet_max"})
# Every spin needs the table; reading it once per this many seconds keeps it off the hot path
# while an operator's change to the catalogue still takes effect promptly.
TABLE_TTL_S = 10.0
_CACHE_KEY = "games.spin_table"


class GameUnavailable(ApiError):
    status, code, message = 503, "game_unavailable", "This game is not available right now."


@dataclass(frozen=True)
class CatalogueGame:
    id: int
    slug: str
    name: str
    kind: str
    min_bet: int
    max_bet: int
    rules: dict[str, Any]


@dataclass(frozen=True)
class SpinTable:
    """What a spin needs from the catalogue: the game's id, its bet limits and its wheel."""

    game_id: int
    min_bet: int
    max_bet: int
    wheel: Wheel


async def active_games(sessions: async_sessionmaker[AsyncSession]) -> list[CatalogueGame]:
    async with sessions() as session:
        rows = await session.scalars(select(Game).where(Game.active).order_by(Game.id))
        return [
            CatalogueGame(
                id=row.id,
                slug=row.slug,
                name=row.name,
                kind=row.kind,
                min_bet=row.min_bet,
                max_bet=row.max_bet,
                rules=dict(row.rules or {}),
            )
            for row in rows
        ]


def public_rules(game: CatalogueGame, overrides: dict[str, int] | None = None) -> dict[str, Any]:
    """A game's rules as clients see them, amounts as strings; `overrides` are this server's
    GAMEHUB_ROULETTE_*_TIMEOUT_S, which a room opened now will use."""
    if game.slug == SPIN_AND_WIN:
        wheel = Wheel.from_rules(game.rules)
        return {
            "segments": [
                {
                    "label": segment.label,
                    "multiplier": decimal_text(segment.multiplier),
                    "weight": segment.weight,
                }
                for segment in wheel.segments
            ],
            "rtp": decimal_text(wheel.rtp),
        }
    rules = {**game.rules, **{k: v for k, v in (overrides or {}).items() if k in game.rules}}
    return {
        key: format_cents(value) if key in MONEY_RULES else value for key, value in rules.items()
    }


async def spin_table(rt: Runtime) -> SpinTable:
    """The Spin and Win table, read from the catalogue at most every TABLE_TTL_S seconds."""
    cached = rt.extras.get(_CACHE_KEY)
    now = time.monotonic()
    if isinstance(cached, tuple) and cached[0] > now:
        table: SpinTable = cached[1]
        return table
    async with rt.sessions() as session:
        game = await session.scalar(select(Game).where(Game.slug == SPIN_AND_WIN, Game.active))
    if game is None:
        raise GameUnavailable(details={"game": SPIN_AND_WIN})
    table = SpinTable(
        game_id=game.id,
        min_bet=game.min_bet,
        max_bet=game.max_bet,
        wheel=Wheel.from_rules(game.rules),
    )
    rt.extras[_CACHE_KEY] = (now + TABLE_TTL_S, table)
    return table
