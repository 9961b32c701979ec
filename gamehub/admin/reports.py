"""The house's results per game per day, with the observed return to player against the
theoretical one, the taxes levied, and the ledger's invariants on demand."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub import ledger
from gamehub.games.catalogue import RUSSIAN_ROULETTE, SPIN_AND_WIN, active_games
from gamehub.games.wheel import Wheel
from gamehub.rooms import store
from gamehub.taxes import WITHHOLDING_KINDS, WITHHOLDING_SUFFIX

Z_95 = 1.959964

_BETS = text(
    """
    SELECT (coalesce(b.settled_at, b.created_at) AT TIME ZONE 'UTC')::date AS day,
        g.slug, b.bet_type, count(*), sum(b.bet_amount), sum(b.win_amount),
        sum(b.win_amount::numeric * b.win_amount), sum(b.bet_amount::numeric * b.bet_amount),
        sum(b.win_amount::numeric * b.bet_amount), sum(b.tax_withheld)
    FROM bet_history b JOIN games g ON g.id = b.game_id
    WHERE b.status IN ('won', 'lost')
        AND coalesce(b.settled_at, b.created_at) >= :start
        AND coalesce(b.settled_at, b.created_at) < :end
    GROUP BY 1, 2, 3
    """
)
_RAKE = text(
    """
    SELECT (created_at AT TIME ZONE 'UTC')::date, sum(amount) FROM ledger_transfers
    WHERE kind = 'roulette_rake' AND created_at >= :start AND created_at < :end
    GROUP BY 1
    """
)


@dataclass
class DayResult:
    day: date
    game: str
    bets: int = 0
    wagered: int = 0
    paid_out: int = 0
    rake: int = 0
    tax_withheld: int = 0  # withholding tax on the players' winnings (taxes.py)
    # Sums for the interval and the weighted theoretical value.
    _ww: float = 0.0
    _bb: float = 0.0
    _wb: float = 0.0
    _expected: float | None = 0.0  # Σ wagered * its kind's promised RTP; None: one has none

    @property
    def theoretical(self) -> float | None:
        if self._expected is None or not self.wagered:
            return None
        return self._expected / self.wagered

    @property
    def net(self) -> int:
        return self.wagered - self.paid_out

    @property
    def observed(self) -> float | None:
        return self.paid_out / self.wagered if self.wagered else None

    @property
    def interval(self) -> tuple[float, float] | None:
        """95% interval of paid out / wagered as a ratio estimator over the day's bets (standard
        error sqrt(Σ(wᵢ - R·bᵢ)²) / Σbᵢ)."""
        ratio = self.observed
        if ratio is None or self.bets < 2:
            return None
        spread = max(self._ww - 2 * ratio * self._wb + ratio * ratio * self._bb, 0.0)
        half = Z_95 * math.sqrt(spread) / self.wagered
        return ratio - half, ratio + half


def theoretical_rtps(games: dict[str, dict[str, object]]) -> dict[tuple[str, str], float]:
    """(game slug, bet type) → the return to player the rules promise."""
    found: dict[tuple[str, str], float] = {}
    if SPIN_AND_WIN in games:
        found[(SPIN_AND_WIN, "spin")] = float(Fraction(Wheel.from_rules(games[SPIN_AND_WIN]).rtp))
    rules = games.get(RUSSIAN_ROULETTE, {})
    rake = int(str(rules.get("rake_percent", 5)))
    edge = int(str(rules.get("side_bet_edge_percent", 5)))
    found[(RUSSIAN_ROULETTE, "stake")] = 1 - rake / 100
    for side in ("survival", "elimination"):
        found[(RUSSIAN_ROULETTE, side)] = 1 - edge / 100
    return found


def _moment(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


async def house(
    sessions: async_sessionmaker[AsyncSession], first: date, last: date
) -> list[DayResult]:
    """Each game's results for each day from `first` to `last` (inclusive) that had bets."""
    games = {game.slug: game.rules for game in await active_games(sessions)}
    promised = theoretical_rtps(games)
    bounds = {"start": _moment(first), "end": _moment(last + timedelta(days=1))}
    async with sessions() as session:
        bets = (await session.execute(_BETS, bounds)).all()
        rakes: dict[date, int] = {
            day: int(total) for day, total in (await session.execute(_RAKE, bounds)).all()
        }
    results: dict[tuple[date, str], DayResult] = {}
    for day, slug, bet_type, count, wagered, paid, ww, bb, wb, withheld in bets:
        row = results.setdefault((day, slug), DayResult(day, slug))
        row.bets += int(count)
        row.tax_withheld += int(withheld)
        row.wagered += int(wagered)
        row.paid_out += int(paid)
        row._ww += float(ww)
        row._bb += float(bb)
        row._wb += float(wb)
        rtp = promised.get((slug, bet_type))
        if rtp is None or row._expected is None:
            row._expected = None
        else:
            row._expected += int(wagered) * rtp
    for row in results.values():
        if row.game == RUSSIAN_ROULETTE:
            row.rake = rakes.get(row.day, 0)
    return sorted(results.values(), key=lambda row: (row.day, row.game))


async def ledger_check(session: AsyncSession) -> list[str]:
    """Every broken invariant of the books, now: the ledger's and the rooms' escrow."""
    return await ledger.check_invariants(session) + await store.escrow_problems(session)


_TAXES = text(
    """
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, kind, count(*), sum(amount)
    FROM ledger_transfers
    WHERE kind IN ('deposit', 'deposit_excise') AND created_at >= :start AND created_at < :end
    GROUP BY 1, 2
    """
)
# The withholding on winnings per day: its base (the winnings of the bets it was taken from)
# from the bets, its amount from the ledger (what the liability accounts were credited).
_WITHHELD = text(
    """
    SELECT day, sum(base), sum(amount), sum(n) FROM (
        SELECT (settled_at AT TIME ZONE 'UTC')::date AS day,
            sum(win_amount - bet_amount) AS base, 0 AS amount, 0 AS n
        FROM bet_history
        WHERE tax_withheld > 0 AND settled_at >= :start AND settled_at < :end
        GROUP BY 1
        UNION ALL
        SELECT (created_at AT TIME ZONE 'UTC')::date, 0, sum(amount), count(*)
        FROM ledger_transfers
        WHERE kind = ANY(:kinds) AND created_at >= :start AND created_at < :end
        GROUP BY 1
    ) AS parts
    GROUP BY day
    """
)


# The withholding on withdrawals per day: its base is the day's paid-out withdrawals (their
# holds, posted when M-Pesa paid), its amount the withholding posted with them (ledger.py).
_WITHDRAWN = text(
    """
    SELECT (h.ended_at AT TIME ZONE 'UTC')::date AS day,
        sum(h.amount), sum(coalesce(w.amount, 0)), count(w.id)
    FROM ledger_holds h
    LEFT JOIN ledger_transfers w ON w.reference = 'hold:' || h.id || CAST(:suffix AS text)
    WHERE h.kind = 'withdrawal' AND h.status = 'posted'
        AND h.ended_at >= :start AND h.ended_at < :end
    GROUP BY 1
    """
)


@dataclass(frozen=True)
class TaxDay:
    day: date
    tax: str
    base: int  # what it was levied on (the day's deposits, winnings or withdrawals)
    amount: int  # owed to the tax authority (credited to the liability account)
    count: int


async def taxes(
    sessions: async_sessionmaker[AsyncSession], first: date, last: date
) -> list[TaxDay]:
    """Per UTC day and tax (excise on deposits, withholding on winnings and on withdrawals): its
    base and the tax."""
    bounds = {"start": _moment(first), "end": _moment(last + timedelta(days=1))}
    async with sessions() as session:
        rows = (await session.execute(_TAXES, bounds)).all()
        withheld = (
            await session.execute(_WITHHELD, {**bounds, "kinds": list(WITHHOLDING_KINDS)})
        ).all()
        withdrawn = (
            await session.execute(_WITHDRAWN, {**bounds, "suffix": WITHHOLDING_SUFFIX})
        ).all()
    deposits = {day: int(total) for day, kind, _count, total in rows if kind == "deposit"}
    found = [
        TaxDay(day, "deposit_excise", deposits.get(day, 0), int(total), int(count))
        for day, kind, count, total in rows
        if kind == "deposit_excise"
    ]
    for tax, days in (("winnings_withholding", withheld), ("withdrawal_withholding", withdrawn)):
        found += [
            TaxDay(day, tax, int(base), int(amount), int(count))
            for day, base, amount, count in days
            if amount
        ]
    return sorted(found, key=lambda row: (row.day, row.tax))
