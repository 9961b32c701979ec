"""GET /fairness, POST /fairness/rotate, GET /fairness/verify and the client seed's one truth."""

from __future__ import annotations

import asyncio
import hashlib
import re
from typing import Any

import pytest
from quart.typing import TestClientProtocol
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from gamehub.db import transaction, utcnow
from gamehub.games import seed_pairs
from gamehub.models import SeedPair
from gamehub.models.fairness import ACTIVE
from gamehub.runtime import Runtime
from tests.games.conftest import Player, new_player
from tests.helpers import error_of
from tests.test_fairness import reference_integers, reference_segment, reference_uniform

HEX64 = re.compile(r"^[0-9a-f]{64}$")
LABELS = ["Lose", "x1", "x2", "x5"]
MULTIPLIERS = ["0", "1", "2", "5"]


async def spin(client: TestClientProtocol, who: Player) -> dict[str, Any]:
    response = await client.post(
        "/games/spin-and-win/play", json={"bet_amount": "10"}, headers=who.headers
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    body: dict[str, Any] = await response.get_json()
    return body


async def get_json(client: TestClientProtocol, path: str, who: Player) -> dict[str, Any]:
    response = await client.get(path, headers=who.headers)
    assert response.status_code == 200, await response.get_data(as_text=True)
    body: dict[str, Any] = await response.get_json()
    return body


async def test_fairness_shows_the_commitment_and_the_next_nonce(
    client: TestClientProtocol, player: Player
) -> None:
    first = await get_json(client, "/fairness", player)
    assert set(first) == {"server_seed_hash", "client_seed", "nonce"}
    assert HEX64.match(first["server_seed_hash"])
    assert first["client_seed"] == player.client_seed
    assert first["nonce"] == 0
    assert await get_json(client, "/fairness", player) == first
    await spin(client, player)
    assert (await get_json(client, "/fairness", player))["nonce"] == 1


async def test_first_use_opens_one_pair_even_when_raced(client: TestClientProtocol) -> None:
    fresh = await new_player(client)
    views = await asyncio.gather(
        *(client.get("/fairness", headers=fresh.headers) for _ in range(8))
    )
    hashes = {(await view.get_json())["server_seed_hash"] for view in views}
    assert len(hashes) == 1


async def test_the_database_allows_one_active_pair_per_user(
    runtime: Runtime, client: TestClientProtocol, player: Player
) -> None:
    await get_json(client, "/fairness", player)
    with pytest.raises(IntegrityError):
        async with transaction(runtime.sessions) as session:
            await session.execute(
                insert(SeedPair).values(
                    user_id=player.id,
                    server_seed="0" * 64,
                    server_seed_hash="1" * 64,
                    client_seed="x",
                    next_nonce=0,
                    status="active",
                    created_at=utcnow(),
                )
            )


async def test_pairs_open_on_one_connection_however_often_it_is_done(
    runtime: Runtime, client: TestClientProtocol
) -> None:
    """PostgreSQL runs a prepared statement on its generic plan from the sixth run on a
    connection; the ON CONFLICT that opens a pair must still find the partial index then."""
    players = [await new_player(client) for _ in range(12)]
    async with transaction(runtime.sessions) as session:  # one session: one connection
        for fresh in players:
            await seed_pairs.ensure_active(session, fresh.id)
            await seed_pairs.ensure_active(session, fresh.id)  # has one: opens none
        opened = await session.scalar(
            select(func.count()).select_from(SeedPair).where(SeedPair.status == ACTIVE)
        )
    assert opened == len(players)


async def test_rotate_reveals_a_seed_that_reproduces_every_spin(
    client: TestClientProtocol, player: Player
) -> None:
    committed = await get_json(client, "/fairness", player)
    spins = [await spin(client, player) for _ in range(6)]
    assert [s["fairness"]["nonce"] for s in spins] == list(range(6))
    assert {s["fairness"]["server_seed_hash"] for s in spins} == {committed["server_seed_hash"]}

    response = await client.post(
        "/fairness/rotate", json={"client_seed": "my_new-seed"}, headers=player.headers
    )
    assert response.status_code == 200
    rotation = await response.get_json()
    previous, current = rotation["previous"], rotation["current"]
    assert previous["server_seed_hash"] == committed["server_seed_hash"]
    assert (
        hashlib.sha256(previous["server_seed"].encode("ascii")).hexdigest()
        == (committed["server_seed_hash"])
    )
    assert previous["client_seed"] == player.client_seed
    assert previous["last_nonce"] == 5
    assert current["client_seed"] == "my_new-seed" and current["nonce"] == 0
    assert HEX64.match(current["server_seed_hash"])
    assert current["server_seed_hash"] != previous["server_seed_hash"]

    for played in spins:
        fair = played["fairness"]
        query = {
            "server_seed": previous["server_seed"],
            "client_seed": fair["client_seed"],
            "nonce": str(fair["nonce"]),
            "game": "spin-and-win",
        }
        checked = await client.get("/fairness/verify", query_string=query, headers=player.headers)
        assert checked.status_code == 200
        result = await checked.get_json()
        assert result["server_seed_hash"] == fair["server_seed_hash"]
        assert (result["segment"], result["label"], result["multiplier"]) == (
            played["segment"],
            played["label"],
            played["multiplier"],
        )
        assert result["bullet"] is None and result["first_shooter_seat"] is None
        independent = reference_segment(
            [60, 20, 15, 5], previous["server_seed"], fair["client_seed"], fair["nonce"]
        )
        assert independent == played["segment"]
        r = reference_uniform(
            100, reference_integers(previous["server_seed"], fair["client_seed"], fair["nonce"])
        )
        assert result["r"] == r

    after = await spin(client, player)
    assert after["fairness"] == {
        "server_seed_hash": current["server_seed_hash"],
        "client_seed": "my_new-seed",
        "nonce": 0,
    }
    profile = await get_json(client, "/profile", player)
    assert profile["client_seed"] == "my_new-seed"


async def test_rotate_without_a_client_seed_keeps_it(
    client: TestClientProtocol, player: Player
) -> None:
    rotation = await (
        await client.post("/fairness/rotate", json={}, headers=player.headers)
    ).get_json()
    assert rotation["previous"]["last_nonce"] is None  # that pair served no spin
    assert rotation["current"]["client_seed"] == player.client_seed
    assert (await get_json(client, "/profile", player))["client_seed"] == player.client_seed
    again = await (
        await client.post("/fairness/rotate", json={}, headers=player.headers)
    ).get_json()
    assert again["previous"]["server_seed_hash"] == rotation["current"]["server_seed_hash"]


async def test_profile_client_seed_is_what_the_next_spin_uses(
    client: TestClientProtocol, player: Player
) -> None:
    await spin(client, player)
    patched = await client.patch(
        "/profile", json={"client_seed": "chosen_by-me"}, headers=player.headers
    )
    assert patched.status_code == 200
    assert (await patched.get_json())["client_seed"] == "chosen_by-me"
    fair = await get_json(client, "/fairness", player)
    assert fair["client_seed"] == "chosen_by-me" and fair["nonce"] == 1
    played = await spin(client, player)
    assert played["fairness"]["client_seed"] == "chosen_by-me"
    assert played["fairness"]["nonce"] == 1


async def test_profile_client_seed_before_the_first_spin(client: TestClientProtocol) -> None:
    fresh = await new_player(client)
    await client.patch("/profile", json={"client_seed": "early"}, headers=fresh.headers)
    assert (await get_json(client, "/fairness", fresh))["client_seed"] == "early"


@pytest.mark.parametrize(
    "body",
    [
        {"client_seed": "has:colon"},
        {"client_seed": ""},
        {"client_seed": "x" * 65},
        {"client_seed": 12345},
        {"client_seed": "ok", "server_seed": "0" * 64},
    ],
)
async def test_rotate_validation(
    client: TestClientProtocol, player: Player, body: dict[str, Any]
) -> None:
    before = await get_json(client, "/fairness", player)
    response = await client.post("/fairness/rotate", json=body, headers=player.headers)
    assert response.status_code == 422
    assert (await error_of(response))["code"] == "validation_error"
    assert await get_json(client, "/fairness", player) == before


async def test_verify_roulette(client: TestClientProtocol, player: Player) -> None:
    seed = hashlib.sha256(b"room").hexdigest()
    query = {
        "server_seed": seed,
        "client_seed": "a_b:c-d",
        "nonce": "42",
        "game": "russian-roulette",
    }
    response = await client.get("/fairness/verify", query_string=query, headers=player.headers)
    assert response.status_code == 200
    result = await response.get_json()
    stream = reference_integers(seed, "a_b:c-d", 42)
    bullet = reference_uniform(6, stream)
    shooter = reference_uniform(2, stream)
    assert (result["bullet"], result["first_shooter_seat"]) == (bullet, shooter)
    assert result["server_seed_hash"] == hashlib.sha256(seed.encode()).hexdigest()
    assert result["nonce"] == 42 and result["segment"] is None


async def test_verify_defaults_to_spin_and_win(client: TestClientProtocol, player: Player) -> None:
    seed = "5455fc3fb94cf1d5cac49792b3c79be4376671a1c1fffaf3edf630d61840e838"
    query = {"server_seed": seed, "client_seed": "my-client_seed", "nonce": "7"}
    result = await (
        await client.get("/fairness/verify", query_string=query, headers=player.headers)
    ).get_json()
    assert (result["game"], result["r"], result["segment"], result["label"]) == (
        "spin-and-win",
        74,
        1,
        "x1",
    )


SEED = "ab" * 32


@pytest.mark.parametrize(
    "query",
    [
        {"client_seed": "c", "nonce": "1"},
        {"server_seed": SEED.upper(), "client_seed": "c", "nonce": "1"},
        {"server_seed": SEED[:-1], "client_seed": "c", "nonce": "1"},
        {"server_seed": SEED, "nonce": "1"},
        {"server_seed": SEED, "client_seed": "c"},
        {"server_seed": SEED, "client_seed": "c", "nonce": "-1"},
        {"server_seed": SEED, "client_seed": "c", "nonce": "abc"},
        {"server_seed": SEED, "client_seed": "c", "nonce": "1.5"},
        {"server_seed": SEED, "client_seed": "c", "nonce": str(2**63)},
        {"server_seed": SEED, "client_seed": "a:b", "nonce": "1"},
        {"server_seed": SEED, "client_seed": "c", "nonce": "1", "game": "poker"},
        {"server_seed": SEED, "client_seed": "c", "nonce": "1", "game": "russian-roulette"},
        {"server_seed": SEED, "client_seed": "a:b:c", "nonce": "1", "game": "russian-roulette"},
    ],
)
async def test_verify_validation(
    client: TestClientProtocol, player: Player, query: dict[str, str]
) -> None:
    response = await client.get("/fairness/verify", query_string=query, headers=player.headers)
    assert response.status_code == 422, await response.get_data(as_text=True)
    assert (await error_of(response))["code"] == "validation_error"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/fairness"), ("POST", "/fairness/rotate"), ("GET", "/fairness/verify")],
)
async def test_fairness_needs_a_login(client: TestClientProtocol, method: str, path: str) -> None:
    response = await client.open(path, method=method, json={})
    assert response.status_code == 401
    await error_of(response)
