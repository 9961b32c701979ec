"""A player's own deposit limits (gamehub/responsible/deposit_limits.py): a lower one is in force
at once, a higher one or none a day later; pending deposits count; the latest decision wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from gamehub.db import transaction
from gamehub.models import DepositLimit
from tests.wallet.conftest import Live, Player, new_player
from tests.wallet.flows import phone, post


async def _decide(live: Live, player: Player, **limits: Any) -> Any:
    return await live.http.put(
        "/responsible-play/deposit-limits", json=limits, headers=player.headers
    )


async def _deposit(live: Live, player: Player, kes: int) -> Any:
    # Scenario 04 never calls back: the deposit stays pending, and pending deposits count.
    return await post(live, player, "/deposit", {"amount": kes, "phone": phone("04")})


async def test_a_lower_limit_is_in_force_at_once(live: Live) -> None:
    player = await new_player(live)
    decided = await _decide(live, player, day="1000")
    assert decided.status_code == 200, decided.text
    assert decided.json()["deposit_limits"] == {
        "day": {"limit": "1000.00", "next_limit": None, "next_from": None},
        "week": {"limit": None, "next_limit": None, "next_from": None},
        "month": {"limit": None, "next_limit": None, "next_from": None},
    }
    assert (await _deposit(live, player, 600)).status_code == 202
    over = await _deposit(live, player, 500)
    assert over.status_code == 409
    assert over.json()["error"]["code"] == "deposit_limit"
    assert over.json()["error"]["details"] == {
        "period": "day",
        "limit": "1000.00",
        "used": "600.00",
        "remaining": "400.00",
    }
    assert (await _deposit(live, player, 400)).status_code == 202
    shown = (await live.http.get("/responsible-play", headers=player.headers)).json()
    assert shown["deposit_limits"]["day"]["limit"] == "1000.00" and shown["paused"] is False


async def test_a_higher_limit_or_none_waits_a_day_and_the_latest_decision_wins(
    live: Live,
) -> None:
    player = await new_player(live)
    assert (await _decide(live, player, week="1000")).status_code == 200
    raised = (await _decide(live, player, week="5000")).json()["deposit_limits"]["week"]
    assert raised["limit"] == "1000.00" and raised["next_limit"] == "5000.00"
    next_from = datetime.fromisoformat(raised["next_from"].replace("Z", "+00:00"))
    assert timedelta(hours=23, minutes=59) < next_from - datetime.now(UTC) <= timedelta(hours=24)
    over = await _deposit(live, player, 1500)
    assert over.status_code == 409 and over.json()["error"]["details"]["period"] == "week"

    removed = (await _decide(live, player, week=None)).json()["deposit_limits"]["week"]
    assert removed["limit"] == "1000.00" and removed["next_limit"] is None
    assert removed["next_from"] is not None  # "no limit", a day from now

    # Keeping the limit in force drops the waiting decision and adds none.
    kept = (await _decide(live, player, week="1000")).json()["deposit_limits"]["week"]
    assert kept == {"limit": "1000.00", "next_limit": None, "next_from": None}
    assert (await _decide(live, player, week=None)).status_code == 200
    # Lowering drops the waiting decision too: 800 at once, nothing waiting.
    lowered = (await _decide(live, player, week="800")).json()["deposit_limits"]["week"]
    assert lowered == {"limit": "800.00", "next_limit": None, "next_from": None}
    assert (await _deposit(live, player, 801)).status_code == 409

    assert (await _decide(live, player, week="3000")).status_code == 200
    async with transaction(live.rt.sessions) as session:  # a day goes by
        for decision in await session.scalars(
            select(DepositLimit).where(DepositLimit.user_id == player.id)
        ):
            decision.effective_from -= timedelta(hours=24)
    shown = (await live.http.get("/responsible-play", headers=player.headers)).json()
    assert shown["deposit_limits"]["week"] == {
        "limit": "3000.00",
        "next_limit": None,
        "next_from": None,
    }
    assert (await _deposit(live, player, 1500)).status_code == 202
    # No limit, and none asked for: nothing changes, nothing waits.
    month = (await _decide(live, player, month=None)).json()["deposit_limits"]["month"]
    assert month == {"limit": None, "next_limit": None, "next_from": None}


async def test_bad_limits_are_422_and_change_nothing(live: Live) -> None:
    player = await new_player(live)
    for body in (
        {"day": "-5"},
        {"day": "0"},
        {"week": "abc"},
        {"year": "100"},
        {"day": 1.505},
        {"day": True},
    ):
        response = await live.http.put(
            "/responsible-play/deposit-limits", json=body, headers=player.headers
        )
        assert response.status_code == 422, (body, response.text)
    shown = (await live.http.get("/responsible-play", headers=player.headers)).json()
    assert all(limit["limit"] is None for limit in shown["deposit_limits"].values())
    unauthenticated = await live.http.put("/responsible-play/deposit-limits", json={"day": "5"})
    assert unauthenticated.status_code == 401
