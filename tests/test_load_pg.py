"""Load on PostgreSQL: many brand-new players at once register, spin, sit down at Russian Roulette,
bet on pulls and pull, over real HTTP. Every answer is a 2xx or a documented 4xx, never a 500, and
the books balance afterwards.

Not a benchmark (bench/ measures speed): this checks that what goes wrong only under concurrency,
or only after a statement has run many times on one pooled connection (PostgreSQL may move a
prepared statement to a generic plan from its sixth run), still answers as the contract says.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import ssl
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
from quart import Quart
from sqlalchemy import func, select

from gamehub.models import Multiplayer
from gamehub.runtime import Runtime
from tests.funding import books_balance, fund
from tests.helpers import PASSWORD, bearer
from tests.live import live_server

PLAYERS = 100
CLIENTS = 32  # players played at once, each by a client with a connection of its own
SPINS = 3
STAKES = (10, 20)
# A player left alone at a table gives up (leaves, refunded) after this long.
WAIT_S = 1.0
# A player whose turn it is not looks at the table when the opponent has acted, or after this.
LOOK_S = 2.0

# Every answer the run may get, per endpoint: (status, error code, "" for a success).
ALLOWED: dict[str, set[tuple[int, str]]] = {
    "register": {(201, "")},
    "spin": {(200, "")},  # every player is funded for every spin
    "join": {(200, "")},
    "room": {(200, "")},
    # A table bet on as a spectator may have ended, or be down to its last chamber; a player's
    # own table ends early when an opponent who was giving up left just after sitting down.
    "place-bet": {(200, ""), (409, "room_not_playing"), (409, "bets_closed")},
    "pull-trigger": {(200, ""), (409, "room_not_playing")},  # the same early end
    # Giving up just as someone sat down forfeits the match (200); after it ended, 409.
    "leave": {(200, ""), (409, "room_closed")},
}

Answers = Counter[tuple[str, int, str]]
_names = itertools.count(1)


@dataclass
class Run:
    """What the clients share: the tally of answers, the tables seen playing, and a nudge per
    seated player, so that one waiting for their turn looks when the opponent has acted."""

    runtime: Runtime
    answers: Answers = field(default_factory=Counter)
    playing: set[int] = field(default_factory=set)
    moved: defaultdict[tuple[int, int], asyncio.Event] = field(
        default_factory=lambda: defaultdict(asyncio.Event)
    )

    def nudge(self, room: dict[str, Any], by: int) -> None:
        for seated in room["players"]:
            if seated["user_id"] != by:
                self.moved[(room["id"], seated["user_id"])].set()

    async def wait_for_move(self, room_id: int, user_id: int, at_most: float) -> None:
        moved = self.moved[(room_id, user_id)]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(moved.wait(), at_most)
        moved.clear()


@dataclass
class Player:
    run: Run
    http: httpx.AsyncClient
    user_id: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    async def call(self, label: str, method: str, path: str, **kwargs: Any) -> Any:
        """The answer's JSON body, or None for an error; either way the answer is tallied."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = await self.http.request(method, path, headers=headers, **kwargs)
        code = "" if response.is_success else _error_code(response)
        self.run.answers[(label, response.status_code, code)] += 1
        return response.json() if response.is_success else None


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"not a JSON error: {response.text[:80]!r}"


def _bet(room_id: int, pull: int) -> dict[str, Any]:
    kind = "elimination" if pull % 2 else "survival"
    return {"room_id": room_id, "bet_amount": 10, "bet_type": kind}


async def _sign_up(run: Run, http: httpx.AsyncClient) -> Player:
    me = Player(run, http)
    name = f"load{next(_names)}"
    body = {
        "username": name,
        "email": f"{name}@example.com",
        "password": PASSWORD,
        "date_of_birth": "1990-05-17",
    }
    registered = await me.call("register", "POST", "/register", json=body)
    assert registered is not None, run.answers  # without a player the script cannot go on
    me.user_id, me.headers = registered["user"]["id"], bearer(registered["access_token"])
    await fund(run.runtime, me.user_id, 100_000)  # KES 1 000, as a confirmed deposit would
    return me


async def _play(run: Run, http: httpx.AsyncClient, number: int) -> None:
    """One new player's session: spins, then a seat at a table, bets and pulls until it ends."""
    me = await _sign_up(run, http)
    for spin in range(SPINS):
        # Half the spins carry an Idempotency-Key, as a careful client's would.
        keyed = {"Idempotency-Key": f"load-{me.user_id}-{spin}"} if spin % 2 else {}
        body = {"bet_amount": 10}
        await me.call("spin", "POST", "/games/spin-and-win/play", json=body, headers=keyed)
    joined = await me.call("join", "POST", "/games/join", json={"stake": STAKES[number % 2]})
    if joined is None:
        return
    room = joined["room"]
    run.nudge(room, me.user_id)  # a waiting opponent now has a match
    sat_down = time.monotonic()
    bet_elsewhere = False
    while room["status"] in {"waiting", "playing"}:
        if room["status"] == "waiting" and time.monotonic() - sat_down > WAIT_S:
            await me.call("leave", "POST", "/games/leave", json={"room_id": room["id"]})
            return
        if room["status"] == "playing":
            run.playing.add(room["id"])
        if room["status"] == "playing" and room["turn_user_id"] == me.user_id:
            pull = room["pull_number"] + 1
            if room["chambers_left"] >= 2:  # no bets on a last, certain, chamber
                await me.call("place-bet", "POST", "/games/place-bet", json=_bet(room["id"], pull))
            if not bet_elsewhere:  # and once, as a spectator, on any table
                bet_elsewhere = True
                other = random.choice(sorted(run.playing))
                await me.call("place-bet", "POST", "/games/place-bet", json=_bet(other, pull))
            pulled = await me.call(
                "pull-trigger", "POST", "/games/pull-trigger", json={"room_id": room["id"]}
            )
            if pulled is not None:
                room = pulled["room"]
                run.nudge(room, me.user_id)
                continue
        else:
            alone = room["status"] == "waiting"
            await run.wait_for_move(room["id"], me.user_id, WAIT_S if alone else LOOK_S)
        found = await me.call("room", "GET", f"/games/rooms/{room['id']}")
        if found is None:
            return
        room = found["room"]


async def test_many_new_players_at_once_never_get_a_500(app: Quart, runtime: Runtime) -> None:
    run = Run(runtime)
    numbers = iter(range(PLAYERS))

    # Plain HTTP needs no TLS context, but httpx makes one per client unless given one: one
    # context made once saves loading the CA bundle 32 times.
    tls = ssl.create_default_context()

    async def client(base: str) -> None:
        async with httpx.AsyncClient(
            base_url=base, timeout=30, limits=httpx.Limits(max_connections=1), verify=tls
        ) as http:
            for number in numbers:  # the clients share one queue of players
                await _play(run, http, number)

    async with live_server(app) as base:
        await asyncio.gather(*(client(base) for _ in range(CLIENTS)))

    answers = run.answers
    tally = "\n".join(f"{key}: {count}" for key, count in sorted(answers.items()))
    unexpected = {key: n for key, n in answers.items() if key[1:] not in ALLOWED[key[0]]}
    assert not unexpected, f"answers outside the contract: {unexpected}\nall answers:\n{tally}"
    assert answers[("spin", 200, "")] == PLAYERS * SPINS, tally
    assert answers[("join", 200, "")] == PLAYERS, tally
    assert answers[("pull-trigger", 200, "")] >= PLAYERS // 4, tally  # most tables played
    assert answers[("place-bet", 200, "")] >= PLAYERS // 4, tally
    async with runtime.sessions() as session:
        still_open = await session.scalar(
            select(func.count())
            .select_from(Multiplayer)
            .where(Multiplayer.status.in_(["waiting", "playing"]))
        )
    assert still_open == 0  # every table was played out or left: no stake still in escrow
    assert await books_balance(runtime) == []
