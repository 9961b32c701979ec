"""A failure after a money-moving request committed and before its answer was recorded (the
response could not be made): the client's retry with the same Idempotency-Key finds what the
first attempt did and answers with it. Money moves once, M-Pesa is asked once, the books
balance (checked by `live`'s teardown)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from quart import Quart, has_request_context, request
from sqlalchemy import func, select

from gamehub.models import BetHistory, Transaction, Transfer
from gamehub.runtime import Runtime
from tests.funding import books_balance, fund
from tests.wallet.conftest import Live, Player, new_player


class RenderingFails:
    """Makes the next response to a request for `path` fail to be made, once: the request's
    work is done and committed, and the client gets a 500. (Only that path: the built-in
    M-Pesa sandbox is served by the same app.)"""

    def __init__(self, app: Quart, monkeypatch: pytest.MonkeyPatch) -> None:
        self.armed: str | None = None
        original = app.make_response

        async def make_response(value: Any) -> Any:
            if self.armed is not None and has_request_context() and request.path == self.armed:
                self.armed = None
                raise RuntimeError("injected: the response could not be made")
            return await original(value)

        monkeypatch.setattr(app, "make_response", make_response)

    def arm(self, path: str) -> None:
        self.armed = path


@pytest.fixture
def fails(app: Quart, monkeypatch: pytest.MonkeyPatch) -> Iterator[RenderingFails]:
    yield RenderingFails(app, monkeypatch)


async def _post_twice(
    live: Live, fails: RenderingFails, path: str, body: dict[str, Any], player: Player, key: str
) -> dict[str, Any]:
    """The request fails after its commit; the retry with the same key answers. Its body."""
    headers = {**player.headers, "Idempotency-Key": key}
    fails.arm(path)
    first = await live.http.post(path, json=body, headers=headers)
    assert first.status_code == 500, first.text
    assert fails.armed is None
    again = await live.http.post(path, json=body, headers=headers)
    assert again.status_code in (200, 202), again.text
    replayed = await live.http.post(path, json=body, headers=headers)
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert replayed.json() == again.json()
    answer: dict[str, Any] = again.json()
    return answer


async def _count(rt: Runtime, statement: Any) -> int:
    async with rt.sessions() as session:
        return int(await session.scalar(statement) or 0)


async def test_a_withdrawal_retried_after_a_failure_is_held_and_paid_once(
    live: Live, fails: RenderingFails
) -> None:
    player = await new_player(live)
    await fund(live.rt, player.id, 100_000)
    answer = await _post_twice(
        live, fails, "/withdraw", {"amount": 300, "phone": "254712345600"}, player, "w-1"
    )
    withdrawal = answer["transaction"]
    assert withdrawal["amount"] == "300.00"
    assert list(live.sandbox.state.payments) == [withdrawal["provider_ref"]]
    rows = select(func.count()).select_from(Transaction).where(Transaction.user_id == player.id)
    assert await _count(live.rt, rows) == 1
    holds = select(func.count()).select_from(Transfer).where(Transfer.kind == "withdrawal")
    wallet = (await live.http.get("/wallet", headers=player.headers)).json()
    assert wallet["available"] == "700.00"
    assert await _count(live.rt, holds) <= 1  # posted once, or still held once


async def test_a_deposit_retried_after_a_failure_prompts_the_phone_once(
    live: Live, fails: RenderingFails
) -> None:
    player = await new_player(live)
    answer = await _post_twice(
        live, fails, "/deposit", {"amount": 250, "phone": "254712345604"}, player, "d-1"
    )
    assert answer["transaction"]["type"] == "deposit"
    assert len(live.sandbox.state.prompts) == 1
    rows = select(func.count()).select_from(Transaction).where(Transaction.user_id == player.id)
    assert await _count(live.rt, rows) == 1


async def test_a_spin_retried_after_a_failure_is_played_once(
    live: Live, fails: RenderingFails
) -> None:
    player = await new_player(live)
    await fund(live.rt, player.id, 100_000)
    answer = await _post_twice(
        live, fails, "/games/spin-and-win/play", {"bet_amount": "10.00"}, player, "s-1"
    )
    bets = select(func.count()).select_from(BetHistory).where(BetHistory.user_id == player.id)
    assert await _count(live.rt, bets) == 1
    wallet = (await live.http.get("/wallet", headers=player.headers)).json()
    assert wallet["balance"] == answer["new_balance"]


async def test_a_join_retried_after_a_failure_takes_the_stake_once(
    live: Live, fails: RenderingFails
) -> None:
    alice = await new_player(live)
    await fund(live.rt, alice.id, 100_000)
    answer = await _post_twice(live, fails, "/games/join", {"stake": 50}, alice, "j-1")
    room = answer["room"]
    assert [player["user_id"] for player in room["players"]] == [alice.id]
    wallet = (await live.http.get("/wallet", headers=alice.headers)).json()
    assert (wallet["balance"], wallet["held"]) == ("1000.00", "50.00")
    stakes = select(func.count()).select_from(BetHistory).where(BetHistory.user_id == alice.id)
    assert await _count(live.rt, stakes) == 1


async def test_a_join_retried_after_its_match_ended_answers_with_that_room(
    live: Live, fails: RenderingFails
) -> None:
    """The retry comes after the match the first attempt joined has finished: it answers with
    that room and does not sit the player down at a new table."""
    alice, bob = await new_player(live), await new_player(live)
    for player in (alice, bob):
        await fund(live.rt, player.id, 100_000)
    headers = {**alice.headers, "Idempotency-Key": "j-late"}
    fails.arm("/games/join")
    first = await live.http.post("/games/join", json={"stake": 50}, headers=headers)
    assert first.status_code == 500
    joined = await live.http.post("/games/join", json={"stake": 50}, headers=bob.headers)
    room = joined.json()["room"]
    left = await live.http.post("/games/leave", json={"room_id": room["id"]}, headers=bob.headers)
    assert left.status_code == 200 and left.json()["room"]["status"] == "finished"
    again = await live.http.post("/games/join", json={"stake": 50}, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["room"]["id"] == room["id"]
    assert again.json()["room"]["status"] == "finished"
    stakes = select(func.count()).select_from(BetHistory).where(BetHistory.user_id == alice.id)
    assert await _count(live.rt, stakes) == 1
    assert await books_balance(live.rt) == []


async def test_a_side_bet_retried_after_a_failure_is_placed_once(
    live: Live, fails: RenderingFails
) -> None:
    alice, bob, carol = [await new_player(live) for _ in range(3)]
    for player in (alice, bob, carol):
        await fund(live.rt, player.id, 100_000)
    await live.http.post("/games/join", json={"stake": 50}, headers=alice.headers)
    joined = await live.http.post("/games/join", json={"stake": 50}, headers=bob.headers)
    room = joined.json()["room"]
    assert room["status"] == "playing"
    body = {"room_id": room["id"], "bet_amount": "20.00", "bet_type": "survival"}
    answer = await _post_twice(live, fails, "/games/place-bet", body, carol, "b-1")
    assert answer["pull_number"] == 1
    wallet = (await live.http.get("/wallet", headers=carol.headers)).json()
    assert (wallet["balance"], wallet["held"]) == ("1000.00", "20.00")
    bets = select(func.count()).select_from(BetHistory).where(BetHistory.user_id == carol.id)
    assert await _count(live.rt, bets) == 1
