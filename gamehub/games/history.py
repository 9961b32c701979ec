"""A player's bets across every game (cursor pages, newest first) and their totals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub.errors import ApiError
from gamehub.models import BetHistory, Game

# Bets whose outcome is known; pending bets are still at stake and refunded ones never played.
SETTLED = ("won", "lost")


class UnknownGame(ApiError):
    status, code, message = 422, "unknown_game", "There is no game with that slug."


@dataclass(frozen=True)
class Bet:
    id: int
    game: str
    bet_type: str
    bet_amount: int
    win_amount: int
    status: str
    room_id: int | None
    created_at: datetime
    tax_withheld: int

    @property
    def net_result(self) -> int | None:
        """What the bet did to the balance: win - tax withheld - bet once settled, 0 if
        refunded, None while pending."""
        if self.status in SETTLED:
            return self.win_amount - self.tax_withheld - self.bet_amount
        if self.status == "refunded":
            return 0
        return None


@dataclass(frozen=True)
class Page:
    bets: list[Bet]
    next_before: int | None  # pass as `before` for the next (older) page; None on the last


@dataclass(frozen=True)
class Totals:
    bets: int
    wagered: int
    won: int

    @property
    def net(self) -> int:
        return self.won - self.wagered


@dataclass(frozen=True)
class Stats:
    overall: Totals
    by_game: list[tuple[str, Totals]]


async def _game_id(session: AsyncSession, slug: str) -> int:
    found = await session.scalar(select(Game.id).where(Game.slug == slug))
    if found is None:
        raise UnknownGame(details={"game": slug})
    return found


async def bets(
    sessions: async_sessionmaker[AsyncSession],
    user_id: int,
    *,
    limit: int,
    before: int | None,
    game: str | None,
) -> Page:
    """The user's bets with id < `before`, newest first, optionally of one game."""
    async with sessions() as session:
        query = (
            select(
                BetHistory.id,
                Game.slug,
                BetHistory.bet_type,
                BetHistory.bet_amount,
                BetHistory.win_amount,
                BetHistory.status,
                BetHistory.room_id,
                BetHistory.created_at,
                BetHistory.tax_withheld,
            )
            .join(Game, Game.id == BetHistory.game_id)
            .where(BetHistory.user_id == user_id)
            .order_by(BetHistory.id.desc())
            .limit(limit + 1)
        )
        if game is not None:
            query = query.where(BetHistory.game_id == await _game_id(session, game))
        if before is not None:
            query = query.where(BetHistory.id < before)
        rows = (await session.execute(query)).all()
    page = [Bet(*row) for row in rows[:limit]]
    return Page(page, page[-1].id if len(rows) > limit else None)


async def stats(sessions: async_sessionmaker[AsyncSession], user_id: int) -> Stats:
    """Settled bets counted, wagered and won, overall and per game, whatever the bet type."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    Game.slug,
                    func.count(BetHistory.id),
                    func.coalesce(func.sum(BetHistory.bet_amount), 0),
                    func.coalesce(func.sum(BetHistory.win_amount), 0),
                )
                .join(Game, Game.id == BetHistory.game_id)
                .where(BetHistory.user_id == user_id, BetHistory.status.in_(SETTLED))
                .group_by(Game.slug)
                .order_by(Game.slug)
            )
        ).all()
    by_game = [
        (slug, Totals(int(count), int(wagered), int(won))) for slug, count, wagered, won in rows
    ]
    overall = Totals(
        bets=sum(totals.bets for _, totals in by_game),
        wagered=sum(totals.wagered for _, totals in by_game),
        won=sum(totals.won for _, totals in by_game),
    )
    return Stats(overall, by_game)
