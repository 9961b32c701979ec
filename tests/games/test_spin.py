"""POST /games/spin-and-win/play: outcome, money, limits, validation, idempotency, concurrency."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest
from quart.typing import TestClientProtocol
from sqlalchemy import func, select, update

from gamehub import fairness
from gamehub.auth import tokens
from gamehub.games import spin
from gamehub.games.house import house_code
from gamehub.models import Account, BetHistory, SeedPair, SpinAndWin, Transfer
from gamehub.runtime import Runtime
from tests.games.conftest import Player, balance, fund, invariants, new_player
from tests.helpers import PASSWORD, error_of

PLAY = "/games/spin-and-win/play"
LABELS = ["Lose", "x1", "x2", "x5"]
MULTIPLIERS = ["0", "1", "2", "5"]


def cents(text: str) -> int:
    return int(Decimal(text) * 100)


async def play(client: TestClientProtocol, who: Player, amount: object = "10.00", **kw: Any) -> Any:
    return await client.post(PLAY, json={"bet_amount": amount}, headers=who.headers, **kw)


async def test_a_spin_moves_the_bet_and_the_win(
    client: TestClientProtocol, runtime: Runtime, player: Player
) -> None:
    fair = await (await client.get("/fairness", headers=player.headers)).get_json()
    response = await play(client, player, "25.50")
    assert response.status_code == 200, await response.get_data(as_text=True)
    body = await response.get_json()
    assert set(body) == {
        "bet_id",
        "segment",
        "label",
        "multiplier",
        "bet_amount",
        "win_amount",
        "tax_withheld",
        "new_balance",
        "fairness",
    }
    segment = body["segment"]
    assert body["label"] == LABELS[segment] and body["multiplier"] == MULTIPLIERS[segment]
    assert body["bet_amount"] == "25.50"
    win = 2550 * int(MULTIPLIERS[segment])
    assert body["win_amount"] == f"{win // 100}.{win % 100:02d}"
    assert cents(body["new_balance"]) == 100_000 - 2550 + win == await balance(runtime, player.id)
    assert body["fairness"] == {
        "server_seed_hash": fair["server_seed_hash"],
        "client_seed": player.client_seed,
        "nonce": 0,
    }
    second = await (await play(client, player)).get_json()
    assert second["fairness"]["nonce"] == 1
    assert second["bet_id"] > body["bet_id"]

    async with runtime.sessions() as session:
        kinds = (await session.scalars(select(Transfer.kind).order_by(Transfer.id))).all()
        spins = (await session.scalars(select(SpinAndWin).order_by(SpinAndWin.id))).all()
        bets = (await session.scalars(select(BetHistory).order_by(BetHistory.id))).all()
    paid = [b.win_amount > 0 for b in bets]
    assert kinds == ["deposit"] + [
        k for won in paid for k in (["bet", "payout"] if won else ["bet"])
    ]
    assert [s.nonce for s in spins] == [0, 1]
    assert bets[0].id == body["bet_id"] and bets[0].bet_type == "spin"
    assert bets[0].status == ("won" if win else "lost")
    assert spins[0].game_session_id == bets[0].game_session_id
    assert await invariants(runtime) == []


async def test_outcome_is_the_fair_draw_of_the_pair(
    client: TestClientProtocol, runtime: Runtime, player: Player
) -> None:
    results = [await (await play(client, player)).get_json() for _ in range(5)]
    rotated = await (
        await client.post("/fairness/rotate", json={}, headers=player.headers)
    ).get_json()
    seed = rotated["previous"]["server_seed"]
    for result in results:
        nonce = result["fairness"]["nonce"]
        expected = fairness.spin_segment([60, 20, 15, 5], seed, player.client_seed, nonce)
        assert result["segment"] == expected


async def test_insufficient_funds_rolls_back_and_keeps_the_nonce(
    client: TestClientProtocol, runtime: Runtime
) -> None:
    broke = await new_player(client)
    response = await play(client, broke)
    assert response.status_code == 409
    assert (await error_of(response))["code"] == "insufficient_funds"
    fair = await (await client.get("/fairness", headers=broke.headers)).get_json()
    assert fair["nonce"] == 0
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(BetHistory)) == 0
        assert await session.scalar(select(func.count()).select_from(SpinAndWin)) == 0
    await fund(runtime, broke.id, 1000)
    ok = await play(client, broke)
    assert ok.status_code == 200
    assert (await ok.get_json())["fairness"]["nonce"] == 0
    assert await invariants(runtime) == []


@pytest.mark.parametrize(
    ("amount", "limit"), [("9.99", "below"), ("10000.01", "above"), (1_000_000, "above")]
)
async def test_bets_outside_the_limits_are_422(
    client: TestClientProtocol, runtime: Runtime, player: Player, amount: object, limit: str
) -> None:
    response = await play(client, player, amount)
    assert response.status_code == 422
    error = await error_of(response)
    assert error["code"] == "bet_out_of_limits"
    assert error["details"]["min_bet"] == "10.00"
    assert error["details"]["max_bet"] == "10000.00"
    assert await balance(runtime, player.id) == 100_000
    fair = await (await client.get("/fairness", headers=player.headers)).get_json()
    assert fair["nonce"] == 0


async def test_limits_are_inclusive(
    client: TestClientProtocol, runtime: Runtime, player: Player
) -> None:
    await fund(runtime, player.id, 1_000_000)
    assert (await play(client, player, 10)).status_code == 200
    assert (await play(client, player, "10000.00")).status_code == 200


@pytest.mark.parametrize(
    "raw_body",
    [
        b'{"bet_amount": NaN}',
        b'{"bet_amount": "NaN"}',
        b'{"bet_amount": Infinity}',
        b'{"bet_amount": "Infinity"}',
        b'{"bet_amount": 1e309}',
        b'{"bet_amount": -5}',
        b'{"bet_amount": "-5"}',
        b'{"bet_amount": 0}',
        b'{"bet_amount": "10.001"}',
        b'{"bet_amount": 10.001}',
        b'{"bet_amount": true}',
        b'{"bet_amount": "abc"}',
        b'{"bet_amount": null}',
        b'{"bet_amount": [10]}',
        b"{}",
        b'{"bet_amount": 10, "segment": 3}',
        b"[]",
    ],
)
async def test_malformed_bets_are_422(
    client: TestClientProtocol, runtime: Runtime, player: Player, raw_body: bytes
) -> None:
    response = await client.post(
        PLAY,
        data=raw_body,
        headers={**player.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, await response.get_data(as_text=True)
    assert (await error_of(response))["code"] == "validation_error"
    assert await balance(runtime, player.id) == 100_000


async def test_malformed_json_is_400(client: TestClientProtocol, player: Player) -> None:
    response = await client.post(
        PLAY, data=b"{bet", headers={**player.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert (await error_of(response))["code"] == "malformed_json"


async def test_spinning_needs_a_login(client: TestClientProtocol) -> None:
    response = await client.post(PLAY, json={"bet_amount": 10})
    assert response.status_code == 401
    await error_of(response)


async def test_same_key_same_body_replays_the_first_answer(
    client: TestClientProtocol, runtime: Runtime, player: Player
) -> None:
    headers = {**player.headers, "Idempotency-Key": "spin-key-1"}
    first = await client.post(PLAY, json={"bet_amount": "12.00"}, headers=headers)
    assert first.status_code == 200
    after_first = await balance(runtime, player.id)
    again = await client.post(PLAY, json={"bet_amount": "12.00"}, headers=headers)
    assert again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert await again.get_json() == await first.get_json()
    assert await balance(runtime, player.id) == after_first
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(BetHistory)) == 1
    fair = await (await client.get("/fairness", headers=player.headers)).get_json()
    assert fair["nonce"] == 1

    reused = await client.post(PLAY, json={"bet_amount": "13.00"}, headers=headers)
    assert reused.status_code == 422
    assert (await error_of(reused))["code"] == "idempotency_key_reused"
    assert await balance(runtime, player.id) == after_first


async def test_a_refusal_is_replayed_too(client: TestClientProtocol, runtime: Runtime) -> None:
    broke = await new_player(client)
    headers = {**broke.headers, "Idempotency-Key": "broke-1"}
    assert (await client.post(PLAY, json={"bet_amount": 10}, headers=headers)).status_code == 409
    await fund(runtime, broke.id, 5000)
    replay = await client.post(PLAY, json={"bet_amount": 10}, headers=headers)
    assert replay.status_code == 409  # the first answer, not a new attempt
    assert await balance(runtime, broke.id) == 5000


async def test_a_retried_scope_finds_its_spin_instead_of_spinning_again(
    runtime: Runtime, client: TestClientProtocol, player: Player
) -> None:
    """The request died after its commit; its retry (same key, same scope) gets that spin."""
    token = player.headers["Authorization"].removeprefix("Bearer ")
    login = tokens.decode_access_token(runtime.settings, token)
    first = await spin.play(runtime, login, 1500, "idem:test-crashed")
    after_first = await balance(runtime, player.id)
    retry = await spin.play(runtime, login, 1500, "idem:test-crashed")
    assert (retry.bet_id, retry.nonce, retry.segment, retry.win_amount) == (
        first.bet_id,
        first.nonce,
        first.segment,
        first.win_amount,
    )
    assert retry.new_balance == after_first == await balance(runtime, player.id)
    fair = await (await client.get("/fairness", headers=player.headers)).get_json()
    assert fair["nonce"] == 1  # the retry's nonce was rolled back with it
    assert await invariants(runtime) == []


async def test_a_retry_finds_its_spin_after_the_wallet_was_spent(
    runtime: Runtime, client: TestClientProtocol
) -> None:
    """The retry of a spin that spent the wallet's last shillings cannot pay again, and must
    still answer with that spin (found under its reference) rather than "insufficient funds"."""
    spender = await new_player(client)
    await fund(runtime, spender.id, 1000)
    token = spender.headers["Authorization"].removeprefix("Bearer ")
    login = tokens.decode_access_token(runtime.settings, token)
    first = await spin.play(runtime, login, 1000, "idem:test-spent")
    for _ in range(50):  # a win refilled the wallet: spend it so the retry cannot pay
        if (left := await balance(runtime, spender.id)) < 1000:
            break
        await spin.play(runtime, login, left, None)
    assert await balance(runtime, spender.id) < 1000
    after = await balance(runtime, spender.id)
    retry = await spin.play(runtime, login, 1000, "idem:test-spent")
    assert (retry.bet_id, retry.nonce, retry.segment) == (first.bet_id, first.nonce, first.segment)
    assert await balance(runtime, spender.id) == after
    assert await invariants(runtime) == []


async def test_concurrent_spins_never_overdraw_and_use_consecutive_nonces(
    client: TestClientProtocol, runtime: Runtime
) -> None:
    gambler = await new_player(client)
    bet = 1000
    initial = 37 * bet  # enough for 37 spins if every one loses
    await fund(runtime, gambler.id, initial)

    responses = await asyncio.gather(*(play(client, gambler, "10.00") for _ in range(200)))
    bodies = [json.loads(await r.get_data(as_text=True)) for r in responses]
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409}, statuses
    wins = [b for s, b in zip(statuses, bodies, strict=True) if s == 200]
    failures = [b for s, b in zip(statuses, bodies, strict=True) if s == 409]
    assert len(wins) + len(failures) == 200
    assert all(b["error"]["code"] == "insufficient_funds" for b in failures)

    nonces = sorted(b["fairness"]["nonce"] for b in wins)
    assert nonces == list(range(len(wins)))
    final = await balance(runtime, gambler.id)
    assert final == initial - bet * len(wins) + sum(cents(b["win_amount"]) for b in wins)
    assert final >= 0
    # Replaying the spins in nonce order, the wallet always covered the bet it took.
    running = initial
    for body in sorted(wins, key=lambda b: b["fairness"]["nonce"]):
        running -= bet
        assert running >= 0
        running += cents(body["win_amount"])
        assert cents(body["new_balance"]) == running
    # A spin fails only once the balance is below the bet; nothing can raise it after that.
    assert not failures or final < bet
    fair = await (await client.get("/fairness", headers=gambler.headers)).get_json()
    assert fair["nonce"] == len(wins)
    assert await invariants(runtime) == []


async def test_spins_go_through_a_house_sub_account_that_may_go_negative(
    client: TestClientProtocol, runtime: Runtime, player: Player
) -> None:
    await play(client, player)
    async with runtime.sessions() as session:
        house = (
            await session.execute(select(Account).where(Account.code == house_code(player.id)))
        ).scalar_one()
    assert (house.kind, house.allow_negative) == ("house", True)
    assert await invariants(runtime) == []


async def test_a_logged_out_token_spins_nothing_and_its_key_stays_usable(
    client: TestClientProtocol, runtime: Runtime, player: Player
) -> None:
    """The spin checks the login in its own statement: after logout the still-unexpired token
    is refused with nothing written, and the 401 is not remembered as the key's answer."""
    key = {"Idempotency-Key": "after-logout"}
    assert (await client.post("/auth/logout", headers=player.headers)).status_code == 204
    refused = await client.post(
        PLAY, json={"bet_amount": "10.00"}, headers={**player.headers, **key}
    )
    assert refused.status_code == 401
    assert (await error_of(refused))["code"] == "session_revoked"
    assert await balance(runtime, player.id) == 100_000
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(BetHistory)) == 0

    login = await client.post("/login", json={"username": player.username, "password": PASSWORD})
    assert login.status_code == 200, await login.get_data(as_text=True)
    fresh = {"Authorization": f"Bearer {(await login.get_json())['access_token']}"}
    again = await client.post(PLAY, json={"bet_amount": "10.00"}, headers={**fresh, **key})
    assert again.status_code == 200, await again.get_data(as_text=True)
    assert await invariants(runtime) == []


async def test_a_spin_follows_a_pair_moved_on_elsewhere(
    client: TestClientProtocol, runtime: Runtime, player: Player
) -> None:
    """Another instance spinning for the player (here: the nonce moved under this process's
    memory of the pair) and a new client seed: the next spin uses the pair as it is now."""
    first = await (await play(client, player)).get_json()
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(SeedPair)
            .where(SeedPair.user_id == player.id, SeedPair.status == "active")
            .values(next_nonce=SeedPair.next_nonce + 5)
        )
    second = await (await play(client, player)).get_json()
    assert second["fairness"]["nonce"] == first["fairness"]["nonce"] + 6

    patched = await client.patch(
        "/profile", json={"client_seed": "a-new-seed"}, headers=player.headers
    )
    assert patched.status_code == 200, await patched.get_data(as_text=True)
    third = await (await play(client, player)).get_json()
    assert third["fairness"]["client_seed"] == "a-new-seed"
    assert third["fairness"]["nonce"] == second["fairness"]["nonce"] + 1

    rotation = await client.post("/fairness/rotate", json={}, headers=player.headers)
    rotated = await rotation.get_json()
    for body in (first, second, third):
        query = {
            "server_seed": rotated["previous"]["server_seed"],
            "client_seed": body["fairness"]["client_seed"],
            "nonce": str(body["fairness"]["nonce"]),
        }
        checked = await client.get("/fairness/verify", query_string=query, headers=player.headers)
        assert (await checked.get_json())["segment"] == body["segment"]
    after = await (await play(client, player)).get_json()
    assert after["fairness"]["nonce"] == 0
    assert after["fairness"]["server_seed_hash"] != first["fairness"]["server_seed_hash"]
    assert await invariants(runtime) == []


async def test_a_first_deposit_after_a_refused_spin_is_spendable(
    client: TestClientProtocol, runtime: Runtime
) -> None:
    newcomer = await new_player(client)
    assert (await play(client, newcomer)).status_code == 409  # no wallet yet
    await fund(runtime, newcomer.id, 2000)
    assert (await play(client, newcomer)).status_code == 200
