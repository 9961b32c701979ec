"""Withholding tax on Russian Roulette winnings over HTTP, with the tax configured: the survivor's
and the winning side bets' tax moves in the room's one statement, to the room's tax
sub-account; events, history and the house report show it; the books balance."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from quart.typing import TestClientProtocol
from sqlalchemy import select

from gamehub import taxes
from gamehub.models import Account, BetHistory, RoomEvent, Transfer
from gamehub.runtime import Runtime
from gamehub.settings import Settings
from tests.admin.operators import operator
from tests.funding import books_balance, fund
from tests.helpers import bearer, place_side_bet, register


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(tax_winnings_withholding=taxes.parse_rates("20%@2020-01-01"))


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


async def _player(client: TestClientProtocol, runtime: Runtime) -> dict[str, Any]:
    data = await register(client)
    await fund(runtime, data["user"]["id"], 100_000)
    return data


async def test_a_match_and_its_side_bets_withhold_the_tax_on_winnings(
    client: TestClientProtocol, runtime: Runtime
) -> None:
    alice, bob, carol = [await _player(client, runtime) for _ in range(3)]
    tokens = {p["user"]["id"]: p["access_token"] for p in (alice, bob)}
    await client.post("/games/join", json={"stake": "50"}, headers=bearer(alice["access_token"]))
    joined = await client.post(
        "/games/join", json={"stake": "50"}, headers=bearer(bob["access_token"])
    )
    room = (await joined.get_json())["room"]
    room_id = room["id"]
    bets: list[dict[str, Any]] = []
    outcome = "click"
    while outcome == "click":
        if room["chambers_left"] >= 2:
            bets.append(await place_side_bet(client, room_id, carol["access_token"]))
        pulled = await client.post(
            "/games/pull-trigger",
            json={"room_id": room_id},
            headers=bearer(tokens[room["turn_user_id"]]),
        )
        assert pulled.status_code == 200, await pulled.get_data(as_text=True)
        body = await pulled.get_json()
        outcome, room = body["outcome"], body["room"]

    winner = room["winner_user_id"]
    match_tax = (9_500 - 5_000) * 20 // 100
    profile = await (await client.get("/profile", headers=bearer(tokens[winner]))).get_json()
    assert cents(profile["balance"]) == 100_000 - 5_000 + 9_500 - match_tax
    won_bet = bets[-1] if bets and bets[-1]["pull_number"] == room["pull_number"] else None
    bet_tax = 0
    if won_bet is not None:
        bet_tax = (cents(won_bet["potential_payout"]) - 1_000) * 20 // 100
    carol_expected = 100_000 - 1_000 * len(bets) - bet_tax
    if won_bet is not None:
        carol_expected += cents(won_bet["potential_payout"])
    carol_profile = await (
        await client.get("/profile", headers=bearer(carol["access_token"]))
    ).get_json()
    assert cents(carol_profile["balance"]) == carol_expected

    async with runtime.sessions() as session:
        moved = (
            await session.execute(
                select(Transfer.reference, Transfer.amount, Account.code)
                .join(Account, Account.id == Transfer.credit_account_id)
                .where(Transfer.kind == "roulette_withholding")
                .order_by(Transfer.id)
            )
        ).all()
        events = {
            row.type: json.loads(row.data)
            for row in await session.scalars(
                select(RoomEvent).where(RoomEvent.room_id == room_id).order_by(RoomEvent.seq)
            )
        }
        stake_taxes = dict(
            (
                await session.execute(
                    select(BetHistory.user_id, BetHistory.tax_withheld).where(
                        BetHistory.room_id == room_id, BetHistory.bet_type == "stake"
                    )
                )
            ).all()
        )
    code = taxes.withholding_account("roulette", room_id)
    expected = [(f"room:{room_id}:payout:withholding", match_tax, code)]
    if won_bet is not None:
        expected.insert(
            0, (f"room:{room_id}:bet:{won_bet['bet_id']}:payout:withholding", bet_tax, code)
        )
    assert [tuple(row) for row in moved] == expected
    assert events["match_ended"]["tax_withheld"] == "9.00"
    last_settled = events["bets_settled"]["bets"]
    assert {b["tax_withheld"] for b in last_settled if b["outcome"] == "lost"} <= {"0.00"}
    if won_bet is not None:
        assert cents(last_settled[-1]["tax_withheld"]) == bet_tax
    assert stake_taxes == {winner: match_tax, next(u for u in tokens if u != winner): 0}
    assert await books_balance(runtime) == []

    history = await (await client.get("/history", headers=bearer(tokens[winner]))).get_json()
    [stake] = [b for b in history["bets"] if b["bet_type"] == "stake"]
    assert (stake["tax_withheld"], stake["net_result"]) == ("9.00", "36.00")

    staff = await operator(client, runtime)
    today = date.today().isoformat()
    report = await (
        await client.get(f"/admin/reports/house?from={today}&to={today}", headers=staff.headers)
    ).get_json()
    [row] = [day for day in report["days"] if day["game"] == "russian-roulette"]
    assert cents(row["tax_withheld"]) == match_tax + bet_tax
