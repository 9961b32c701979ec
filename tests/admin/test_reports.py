"""Reports (gamehub/admin/reports.py): the house's results per game per day with observed and
theoretical return to player, its CSV, and the ledger check on demand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from quart import Quart
from sqlalchemy import text

from gamehub.runtime import EXTENSION, Runtime
from tests.admin.operators import operator
from tests.funding import fund
from tests.helpers import bearer, error_of, register


def _runtime(app: Quart) -> Runtime:
    runtime: Runtime = app.extensions[EXTENSION]
    return runtime


async def _play_a_match(client: Any, runtime: Runtime) -> dict[str, Any]:
    """Two players, a 100.00 stake each, pulled to the end; the finished room."""
    players = [await register(client) for _ in range(2)]
    tokens = {}
    for player in players:
        await fund(runtime, player["user"]["id"], 100_000)
        tokens[player["user"]["id"]] = player["access_token"]
    room: dict[str, Any] = {}
    for player in players:
        joined = await client.post(
            "/games/join", json={"stake": "100.00"}, headers=bearer(player["access_token"])
        )
        assert joined.status_code == 200, await joined.get_data(as_text=True)
        room = (await joined.get_json())["room"]
    while room["status"] == "playing":
        pulled = await client.post(
            "/games/pull-trigger",
            json={"room_id": room["id"]},
            headers=bearer(tokens[room["turn_user_id"]]),
        )
        assert pulled.status_code == 200, await pulled.get_data(as_text=True)
        room = (await pulled.get_json())["room"]
    assert room["status"] == "finished"
    return room


async def test_the_house_report_per_game_per_day(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    spinner = await register(client)
    await fund(runtime, spinner["user"]["id"], 1_000_000)
    won = 0
    for _ in range(20):
        spin = await client.post(
            "/games/spin-and-win/play",
            json={"bet_amount": "10.00"},
            headers=bearer(spinner["access_token"]),
        )
        assert spin.status_code == 200, await spin.get_data(as_text=True)
        won += int(Decimal((await spin.get_json())["win_amount"]) * 100)
    await _play_a_match(client, runtime)

    today = datetime.now(UTC).date()
    response = await client.get(
        f"/admin/reports/house?from={today}&to={today}", headers=staff.headers
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    report = await response.get_json()
    assert report["period"] == {"from": today.isoformat(), "to": today.isoformat()}
    by_game = {row["game"]: row for row in report["days"]}
    spins = by_game["spin-and-win"]
    assert spins["day"] == today.isoformat() and spins["bets"] == 20
    assert spins["wagered"] == "200.00"
    assert spins["paid_out"] == f"{won / 100:.2f}"
    assert spins["rake"] == "0.00"
    assert Decimal(spins["net"]) == Decimal("200.00") - Decimal(won) / 100
    assert spins["rtp"]["theoretical"] == "0.7500"
    assert spins["rtp"]["observed"] == f"{won / 20_000:.4f}"
    low, high = Decimal(spins["rtp"]["ci95_low"]), Decimal(spins["rtp"]["ci95_high"])
    assert low <= Decimal(spins["rtp"]["observed"]) <= high
    assert spins["rtp"]["within"] == (low <= Decimal("0.75") <= high)

    roulette = by_game["russian-roulette"]
    assert roulette["bets"] == 2 and roulette["wagered"] == "200.00"
    assert roulette["paid_out"] == "190.00" and roulette["rake"] == "10.00"
    assert roulette["net"] == "10.00"
    assert roulette["rtp"]["observed"] == "0.9500"
    assert roulette["rtp"]["theoretical"] == "0.9500"
    assert report["totals"]["rake"] == "10.00"

    exported = await client.get(
        f"/admin/reports/house.csv?from={today}&to={today}", headers=staff.headers
    )
    assert exported.status_code == 200
    assert exported.content_type.startswith("text/csv")
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await exported.get_data(as_text=True))))
    assert [(row["game"], row["wagered"], row["net"]) for row in rows] == [
        (day["game"], day["wagered"], day["net"]) for day in report["days"]
    ]

    yesterday = today - timedelta(days=1)
    empty = await client.get(
        f"/admin/reports/house?from={yesterday}&to={yesterday}", headers=staff.headers
    )
    assert (await empty.get_json())["days"] == []
    for bad in (
        f"from={today}&to={yesterday}",
        f"from={today - timedelta(days=400)}&to={today}",
        "from=yesterday",
    ):
        refused = await client.get(f"/admin/reports/house?{bad}", headers=staff.headers)
        assert refused.status_code == 422, bad
        assert (await error_of(refused))["code"] == "validation_error"
    by_player = await client.get("/admin/reports/house", headers=bearer(spinner["access_token"]))
    assert by_player.status_code == 403


async def test_the_ledger_check_on_demand(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    player = await register(client)
    await fund(runtime, player["user"]["id"], 5_000)
    healthy = await client.get("/admin/ledger/check", headers=staff.headers)
    assert healthy.status_code == 200
    assert await healthy.get_json() == {"ok": True, "problems": []}
    # Damage the books behind the ledger's back: a balance no transfer explains.
    async with runtime.engine.begin() as connection:
        await connection.execute(
            text("UPDATE ledger_accounts SET balance = balance + 1 WHERE kind = 'wallet'")
        )
    broken = await (await client.get("/admin/ledger/check", headers=staff.headers)).get_json()
    assert broken["ok"] is False and broken["problems"]
