"""Withholding tax on Spin and Win winnings (GAMEHUB_TAX_WINNINGS_WITHHOLDING, off by default):
in the spin's one statement, the win is paid in full and the tax on the winnings (win - bet,
rounded down) moves from the wallet to the player's tax sub-account; shown in the answer, the
history and the reports; once, whatever the retries; the ledger's invariants hold."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from quart.typing import TestClientProtocol
from sqlalchemy import func, select

from gamehub import taxes
from gamehub.auth import tokens
from gamehub.games import spin
from gamehub.models import Account, BetHistory, Transfer
from gamehub.runtime import Runtime
from gamehub.settings import Settings, SettingsError, load_settings
from tests.admin.operators import operator
from tests.games.conftest import Player, balance, invariants

PLAY = "/games/spin-and-win/play"
# 12.5 % makes the rounding visible (a x2 win on 10.01 has winnings of 10.01: 125.125 cents).
RATE = "12.5%@2020-01-01"


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.with_overrides(tax_winnings_withholding=taxes.parse_rates(RATE))


async def _spin_until_winnings(
    client: TestClientProtocol, player: Player, amount: str = "10.01", **headers: str
) -> list[dict[str, Any]]:
    """Spins until one wins more than its stake (a x2 or x5: 20 % of spins); every answer."""
    answers = []
    for _ in range(200):
        response = await client.post(
            PLAY, json={"bet_amount": amount}, headers={**player.headers, **headers}
        )
        assert response.status_code == 200, await response.get_data(as_text=True)
        answers.append(await response.get_json())
        if cents(answers[-1]["win_amount"]) > cents(amount):
            return answers
    raise AssertionError("200 spins without a win above the stake")


async def test_winnings_pay_the_tax_in_the_spins_statement(
    client: TestClientProtocol, runtime: Runtime, player: Player
) -> None:
    before = await balance(runtime, player.id)
    answers = await _spin_until_winnings(client, player)
    withheld = 0
    for answer in answers:
        bet, win = cents(answer["bet_amount"]), cents(answer["win_amount"])
        expected = max(win - bet, 0) * 1250 // 10_000
        assert cents(answer["tax_withheld"]) == expected, answer
        withheld += expected
    assert withheld > 0
    paid = sum(cents(a["win_amount"]) - cents(a["bet_amount"]) for a in answers)
    assert await balance(runtime, player.id) == before + paid - withheld
    assert cents(answers[-1]["new_balance"]) == before + paid - withheld

    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(Transfer.reference, Transfer.kind, Transfer.amount, Account.code)
                .join(Account, Account.id == Transfer.credit_account_id)
                .where(Transfer.kind == "withholding")
            )
        ).all()
        account = await session.scalar(
            select(Account).where(Account.code == taxes.withholding_account("spin", player.id))
        )
        history_taxes = list(
            await session.scalars(
                select(BetHistory.tax_withheld)
                .where(BetHistory.user_id == player.id)
                .order_by(BetHistory.id)
            )
        )
    assert account is not None and account.kind == "tax" and account.balance == withheld
    assert {code for _, _, _, code in rows} == {account.code}
    assert sum(amount for _, _, amount, _ in rows) == withheld
    assert all(reference.endswith(":payout:withholding") for reference, _, _, _ in rows)
    assert history_taxes == [cents(a["tax_withheld"]) for a in answers]
    assert await invariants(runtime) == []

    history = await (await client.get("/history", headers=player.headers)).get_json()
    newest = history["bets"][0]
    last = answers[-1]
    assert newest["id"] == last["bet_id"]
    assert newest["tax_withheld"] == last["tax_withheld"]
    net = cents(last["win_amount"]) - cents(last["tax_withheld"]) - cents(last["bet_amount"])
    assert cents(newest["net_result"]) == net

    # The back office: per game per day in the house report and its CSV, and the tax report.
    staff = await operator(client, runtime)
    today = date.today().isoformat()
    report = await (
        await client.get(f"/admin/reports/house?from={today}&to={today}", headers=staff.headers)
    ).get_json()
    [row] = [day for day in report["days"] if day["game"] == "spin-and-win"]
    assert cents(row["tax_withheld"]) == withheld
    assert cents(report["totals"]["tax_withheld"]) == withheld
    csv = await (
        await client.get(f"/admin/reports/house.csv?from={today}&to={today}", headers=staff.headers)
    ).get_data(as_text=True)
    header, line = csv.splitlines()[:2]
    assert header.split(",")[-1] == "tax_withheld"
    assert line.split(",")[-1] == row["tax_withheld"]
    taxed = await (
        await client.get(f"/admin/reports/taxes?from={today}&to={today}", headers=staff.headers)
    ).get_json()
    [tax_day] = [day for day in taxed["days"] if day["tax"] == "winnings_withholding"]
    winnings = sum(max(cents(a["win_amount"]) - cents(a["bet_amount"]), 0) for a in answers)
    assert (cents(tax_day["amount"]), cents(tax_day["base"])) == (withheld, winnings)
    assert tax_day["count"] == sum(1 for a in answers if cents(a["tax_withheld"]) > 0)
    check = await (await client.get("/admin/ledger/check", headers=staff.headers)).get_json()
    assert check == {"ok": True, "problems": []}


async def test_a_retried_request_withholds_once(
    client: TestClientProtocol, runtime: Runtime, player: Player
) -> None:
    login = tokens.decode_access_token(
        runtime.settings, player.headers["Authorization"].removeprefix("Bearer ")
    )
    for attempt in range(200):
        scope = f"test-retry:{player.id}:{attempt}"
        first = await spin.play(runtime, login, 1_001, scope)
        if first.win_amount > 1_001:
            break
    else:
        raise AssertionError("200 spins without a win above the stake")
    assert first.tax_withheld == (first.win_amount - 1_001) * 1250 // 10_000 > 0
    # The same request again (its first answer was lost): that spin, not a new one.
    again = await spin.play(runtime, login, 1_001, scope)
    assert (again.bet_id, again.win_amount, again.tax_withheld) == (
        first.bet_id,
        first.win_amount,
        first.tax_withheld,
    )
    # And through HTTP with an Idempotency-Key: the first answer replayed, nothing moved again.
    for attempt in range(200):
        key = {**player.headers, "Idempotency-Key": f"withholding-once-{attempt}"}
        response = await client.post(PLAY, json={"bet_amount": "10.01"}, headers=key)
        answer = await response.get_json()
        if cents(answer["win_amount"]) > 1_001:
            break
    else:
        raise AssertionError("200 spins without a win above the stake")
    assert cents(answer["tax_withheld"]) > 0
    moved_before = await _withheld_total(runtime)
    for _ in range(2):
        replayed = await client.post(PLAY, json={"bet_amount": "10.01"}, headers=key)
        assert await replayed.get_json() == answer
    assert await _withheld_total(runtime) == moved_before
    async with runtime.sessions() as session:
        counted = await session.scalar(
            select(func.count())
            .select_from(Transfer)
            .where(Transfer.reference == f"{scope}:payout:withholding")
        )
    assert counted == 1
    assert await invariants(runtime) == []


async def _withheld_total(runtime: Runtime) -> tuple[int, int]:
    async with runtime.sessions() as session:
        row = (
            await session.execute(
                select(func.count(), func.coalesce(func.sum(Transfer.amount), 0)).where(
                    Transfer.kind == "withholding"
                )
            )
        ).one()
    return int(row[0]), int(row[1])


@pytest.mark.parametrize("rates", ["12.5%@2999-01-01", ""])
async def test_nothing_is_withheld_before_the_rate_is_in_force_or_when_off(
    client: TestClientProtocol, runtime: Runtime, player: Player, rates: str
) -> None:
    runtime.settings = runtime.settings.with_overrides(
        tax_winnings_withholding=taxes.parse_rates(rates)
    )
    answers = await _spin_until_winnings(client, player)
    assert {a["tax_withheld"] for a in answers} == {"0.00"}
    async with runtime.sessions() as session:
        moved = await session.scalar(
            select(func.count()).select_from(Transfer).where(Transfer.kind == "withholding")
        )
    assert moved == 0
    assert await invariants(runtime) == []


def test_the_setting_is_parsed_as_the_excise_is() -> None:
    loaded = load_settings({"GAMEHUB_TAX_WINNINGS_WITHHOLDING": "20%@2023-07-01,5%@2025-07-01"})
    assert [
        (r.basis_points, r.effective_from.isoformat()) for r in loaded.tax_winnings_withholding
    ] == [
        (2000, "2023-07-01"),
        (500, "2025-07-01"),
    ]
    with pytest.raises(SettingsError, match="TAX_WINNINGS_WITHHOLDING"):
        load_settings({"GAMEHUB_TAX_WINNINGS_WITHHOLDING": "5 percent"})
    assert load_settings({}).tax_winnings_withholding == ()
    # A rate of 0 from a day on ends the tax (OPERATIONS.md's Kenyan example); the rooms keep
    # the rates as text that reads back the same.
    ended = taxes.parse_rates("20%@2014-01-01,0%@2025-07-01")
    assert taxes.rate_at(ended, datetime(2025, 6, 30, 23, 59, tzinfo=UTC)) == 2000
    assert taxes.rate_at(ended, datetime(2025, 7, 1, tzinfo=UTC)) == 0
    assert taxes.parse_rates(taxes.format_rates(ended)) == ended
    assert taxes.withholding_on(2_000, 1_000, 1250) == 125  # 125.0
    assert taxes.withholding_on(2_002, 1_001, 1250) == 125  # 125.125, rounded down
    assert taxes.withholding_on(1_000, 1_000, 2000) == 0  # the stake back: no winnings
    assert taxes.withholding_on(0, 1_000, 2000) == 0  # a loss
