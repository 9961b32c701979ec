"""Which parts of the saving statement a message takes (rooms/store_pg.py: _save_sql). That
each combination saves what it should is shown on PostgreSQL by the room tests."""

from __future__ import annotations

from gamehub.rooms import store, store_pg
from gamehub.rooms.roulette import Pull
from gamehub.rooms.roulette_game import GAME
from tests.rooms.roulette_helpers import ROOM_ID, T0, at, playing_game


def _parts_of_each_pull(bullet: int) -> list[frozenset[str]]:
    game = playing_game(bullet)
    seq = 10
    parts: list[frozenset[str]] = []
    while game.state.status == "playing":
        before = game.state
        shooter = before.players[before.turn_seat or 0].user_id
        transition = game.do(Pull(user_id=shooter, now=at(10 + len(parts))))
        writes = store.plan(GAME, store.RoomRow(ROOM_ID, 1, seq, None), before, transition, T0)
        seq = writes.seq
        parts.append(store_pg._save_parts(writes, moves=[], seat=None))
    return parts


def test_a_click_writes_only_the_room_its_events_and_the_match() -> None:
    *clicks, bang = _parts_of_each_pull(bullet=3)
    assert clicks
    assert all(p == {"room", "events", "match"} for p in clicks)
    # The bang settles the stakes, ends the session and frees the seats (money is given
    # separately, as moves resolved to accounts).
    assert {"stakes_settled", "session", "seats", "match", "events"} <= bang


def test_every_combination_is_one_cached_statement() -> None:
    parts = frozenset({"room", "events", "match"})
    assert store_pg._save_sql(GAME, parts) is store_pg._save_sql(GAME, frozenset(parts))
    text = store_pg._save_sql(GAME, parts).text
    assert "bet_history" not in text and "ledger_accounts" not in text
    assert "gamehub_refuse" not in text  # nothing in it can refuse
    assert "gamehub_refuse" in store_pg._save_sql(GAME, parts | {"money"}).text
