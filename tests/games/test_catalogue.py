"""GET /games: the catalogue from the database, with the wheel's exact return to player."""

from __future__ import annotations

from quart.typing import TestClientProtocol
from sqlalchemy import select, update

from gamehub.app import create_app
from gamehub.db import transaction
from gamehub.models import Game
from gamehub.runtime import Runtime
from gamehub.settings import Settings
from tests.games.conftest import Player
from tests.helpers import error_of


async def test_games_lists_both_games_with_their_rules(
    client: TestClientProtocol, player: Player
) -> None:
    response = await client.get("/games", headers=player.headers)
    assert response.status_code == 200
    games = {game["slug"]: game for game in (await response.get_json())["games"]}
    assert set(games) == {"spin-and-win", "russian-roulette"}
    assert games["spin-and-win"] == {
        "slug": "spin-and-win",
        "name": "Spin and Win",
        "kind": "single",
        "min_bet": "10.00",
        "max_bet": "10000.00",
        "segments": [
            {"label": "Lose", "multiplier": "0", "weight": 60},
            {"label": "x1", "multiplier": "1", "weight": 20},
            {"label": "x2", "multiplier": "2", "weight": 15},
            {"label": "x5", "multiplier": "5", "weight": 5},
        ],
        "rtp": "0.75",
    }
    assert games["russian-roulette"] == {
        "slug": "russian-roulette",
        "name": "Russian Roulette",
        "kind": "multiplayer",
        "min_bet": "10.00",
        "max_bet": "10000.00",
        "rake_percent": 5,
        "side_bet_edge_percent": 5,
        "turn_timeout_s": 20,
        "waiting_timeout_s": 120,
        "side_bet_min": "10.00",
        "side_bet_max": "10000.00",
    }


async def test_rtp_is_computed_from_the_table(
    client: TestClientProtocol, runtime: Runtime, player: Player
) -> None:
    # Catalogue rows are kept between tests (tests/backends.py): put the row back afterwards.
    async with runtime.sessions() as session:
        original = await session.scalar(select(Game.rules).where(Game.slug == "spin-and-win"))
    changed = {
        "segments": [
            {"label": "Lose", "multiplier": "0", "weight": 1},
            {"label": "x1.5", "multiplier": "1.5", "weight": 2},
        ]
    }
    try:
        async with transaction(runtime.sessions) as session:
            await session.execute(
                update(Game).where(Game.slug == "spin-and-win").values(rules=changed)
            )
        body = await (await client.get("/games", headers=player.headers)).get_json()
        wheel = next(game for game in body["games"] if game["slug"] == "spin-and-win")
        assert wheel["rtp"] == "1"
        assert wheel["segments"][1] == {"label": "x1.5", "multiplier": "1.5", "weight": 2}
    finally:
        async with transaction(runtime.sessions) as session:
            await session.execute(
                update(Game).where(Game.slug == "spin-and-win").values(rules=original)
            )


async def test_games_needs_a_login(client: TestClientProtocol) -> None:
    response = await client.get("/games")
    assert response.status_code == 401
    await error_of(response)


async def test_the_endpoints_are_documented(client: TestClientProtocol) -> None:
    paths = (await (await client.get("/openapi.json")).get_json())["paths"]
    for path in (
        "/games",
        "/games/spin-and-win/play",
        "/fairness",
        "/fairness/rotate",
        "/fairness/verify",
        "/history",
        "/stats",
    ):
        assert path in paths, path


async def test_the_rules_a_server_overrides_are_the_ones_shown(
    settings: Settings, player: Player
) -> None:
    """A server started with GAMEHUB_ROULETTE_TURN_TIMEOUT_S / _WAITING_TIMEOUT_S opens rooms
    with those timeouts: /games tells players those, not the catalogue's."""
    quick = create_app(
        settings.with_overrides(roulette_turn_timeout_s=7, roulette_waiting_timeout_s=45)
    )
    async with quick.test_app():
        response = await quick.test_client().get("/games", headers=player.headers)
    games = {game["slug"]: game for game in (await response.get_json())["games"]}
    assert (
        games["russian-roulette"]["turn_timeout_s"],
        games["russian-roulette"]["waiting_timeout_s"],
    ) == (7, 45)
    assert "turn_timeout_s" not in games["spin-and-win"]
