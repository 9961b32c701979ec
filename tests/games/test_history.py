"""GET /history (cursor pages, game filter, ownership) and GET /stats (sums over every bet type)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from quart.typing import TestClientProtocol
from sqlalchemy import insert, select

from gamehub.db import transaction, utcnow
from gamehub.models import BetHistory, Game
from gamehub.runtime import Runtime
from tests.games.conftest import Player, new_player
from tests.helpers import error_of


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


async def spins(
    client: TestClientProtocol, who: Player, amounts: list[str]
) -> list[dict[str, Any]]:
    results = []
    for amount in amounts:
        response = await client.post(
            "/games/spin-and-win/play", json={"bet_amount": amount}, headers=who.headers
        )
        assert response.status_code == 200
        results.append(await response.get_json())
    return results


async def get(client: TestClientProtocol, path: str, who: Player, **query: Any) -> Any:
    response = await client.get(path, query_string=query, headers=who.headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


async def add_roulette_bets(runtime: Runtime, user_id: int) -> None:
    """Rows as the roulette rooms write them: a won stake, a lost side bet, a pending side bet
    and a refunded one."""
    async with transaction(runtime.sessions) as session:
        game_id = await session.scalar(select(Game.id).where(Game.slug == "russian-roulette"))
        now = utcnow()
        rows = [
            ("stake", 5000, 9500, "won"),
            ("survival", 2000, 0, "lost"),
            ("elimination", 1000, 0, "pending"),
            ("survival", 3000, 0, "refunded"),
        ]
        for bet_type, bet, win, status in rows:
            await session.execute(
                insert(BetHistory).values(
                    user_id=user_id,
                    game_id=game_id,
                    bet_type=bet_type,
                    pull_number=None if bet_type == "stake" else 2,
                    bet_amount=bet,
                    win_amount=win,
                    status=status,
                    created_at=now,
                )
            )


async def test_history_lists_bets_newest_first(client: TestClientProtocol, player: Player) -> None:
    played = await spins(client, player, ["10", "11.50", "12"])
    page = await get(client, "/history", player)
    assert page["next_before"] is None
    bets = page["bets"]
    assert [b["id"] for b in bets] == [p["bet_id"] for p in reversed(played)]
    newest, spin = bets[0], played[-1]
    assert set(newest) == {
        "id",
        "game",
        "bet_type",
        "bet_amount",
        "win_amount",
        "tax_withheld",
        "net_result",
        "status",
        "room_id",
        "created_at",
    }
    assert newest["game"] == "spin-and-win" and newest["bet_type"] == "spin"
    assert newest["bet_amount"] == spin["bet_amount"] == "12.00"
    assert newest["win_amount"] == spin["win_amount"]
    assert cents(newest["net_result"]) == cents(spin["win_amount"]) - 1200
    assert newest["status"] == ("won" if cents(spin["win_amount"]) else "lost")
    assert newest["room_id"] is None
    assert newest["created_at"].endswith("Z")


async def test_history_pages_by_cursor(client: TestClientProtocol, player: Player) -> None:
    played = await spins(client, player, ["10"] * 5)
    everything = [p["bet_id"] for p in reversed(played)]
    seen: list[int] = []
    before: int | None = None
    pages = 0
    while True:
        query: dict[str, Any] = {"limit": 2}
        if before is not None:
            query["before"] = before
        page = await get(client, "/history", player, **query)
        pages += 1
        seen += [b["id"] for b in page["bets"]]
        before = page["next_before"]
        if before is None:
            break
        assert before == page["bets"][-1]["id"]
    assert seen == everything and pages == 3
    default = await get(client, "/history", player)
    assert len(default["bets"]) == 5


async def test_history_filters_by_game(
    client: TestClientProtocol, runtime: Runtime, player: Player
) -> None:
    await spins(client, player, ["10", "10"])
    await add_roulette_bets(runtime, player.id)
    spin_only = await get(client, "/history", player, game="spin-and-win")
    assert [b["bet_type"] for b in spin_only["bets"]] == ["spin", "spin"]
    roulette = await get(client, "/history", player, game="russian-roulette")
    assert [(b["bet_type"], b["status"]) for b in roulette["bets"]] == [
        ("survival", "refunded"),
        ("elimination", "pending"),
        ("survival", "lost"),
        ("stake", "won"),
    ]
    assert [b["net_result"] for b in roulette["bets"]] == ["0.00", None, "-20.00", "45.00"]
    unknown = await client.get("/history?game=poker", headers=player.headers)
    assert unknown.status_code == 422
    assert (await error_of(unknown))["code"] == "unknown_game"


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "limit=abc", "limit=1.5", "before=0", "before=x", "game=Bad Slug"],
)
async def test_history_validation(client: TestClientProtocol, player: Player, query: str) -> None:
    response = await client.get(f"/history?{query}", headers=player.headers)
    assert response.status_code == 422
    assert (await error_of(response))["code"] == "validation_error"


async def test_history_and_stats_are_the_callers_own(
    client: TestClientProtocol, runtime: Runtime, player: Player
) -> None:
    await spins(client, player, ["10", "20"])
    await add_roulette_bets(runtime, player.id)
    stranger = await new_player(client)
    assert await get(client, "/history", stranger) == {"bets": [], "next_before": None}
    zero = {"bets": 0, "wagered": "0.00", "won": "0.00", "net": "0.00"}
    assert await get(client, "/stats", stranger) == {"overall": zero, "by_game": []}


async def test_stats_sum_settled_bets_of_every_type(
    client: TestClientProtocol, runtime: Runtime, player: Player
) -> None:
    played = await spins(client, player, ["10", "20.50", "30"])
    await add_roulette_bets(runtime, player.id)
    stats = await get(client, "/stats", player)

    spin_won = sum(cents(p["win_amount"]) for p in played)
    spin_wagered = 1000 + 2050 + 3000

    def money(value: int) -> str:
        sign = "-" if value < 0 else ""
        return f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"

    by_game = {row["game"]: row for row in stats["by_game"]}
    assert by_game["spin-and-win"] == {
        "game": "spin-and-win",
        "bets": 3,
        "wagered": money(spin_wagered),
        "won": money(spin_won),
        "net": money(spin_won - spin_wagered),
    }
    # Pending and refunded bets have no result yet (or never had one): they are not counted.
    assert by_game["russian-roulette"] == {
        "game": "russian-roulette",
        "bets": 2,
        "wagered": "70.00",
        "won": "95.00",
        "net": "25.00",
    }
    assert stats["overall"] == {
        "bets": 5,
        "wagered": money(spin_wagered + 7000),
        "won": money(spin_won + 9500),
        "net": money(spin_won + 9500 - spin_wagered - 7000),
    }


@pytest.mark.parametrize("path", ["/history", "/stats"])
async def test_history_and_stats_need_a_login(client: TestClientProtocol, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 401
    await error_of(response)
