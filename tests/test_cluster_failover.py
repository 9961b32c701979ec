"""Three `gamehub serve` instances behind a real NGINX running the shipped deploy/nginx.conf, on
the machine's PostgreSQL and Redis: matches whose two players and spectator sit on three
different instances, over SSE and over the WebSocket, go on while one instance is killed
(SIGKILL) before any pull and another is restarted (SIGTERM: a drain; then started again) as
the first pulls are sent. Two of the six matches are left to the turn timers (nobody pulls), so
the survivors' sweeps play them to the end.

Each client talks to NGINX only, on a port of its own instance: NGINX runs the shipped server
block once per instance (gamehub/nginx.py `preferring`), each copy sending everything to its
instance and, while that one fails, to the others (`backup`), so failover goes through NGINX as
in production. Asserted: every match ends; every client, coming back with its last id, got every
event of its room once and in order (the room's full list, replayed from the first at the end);
every pull answered 200 is in that list as its shooter's; the ledger invariants hold; those on
the signalled instances did reconnect; and nothing but these reaches a client, each only while
an instance it is sent to is dying (from the signal until the process has gone, plus
`DYING_SLACK_S` for the client to notice):

- a broken connection: an SSE stream cut off (SIGKILL: NGINX loses the upstream mid-response and
  closes the client's connection without the last chunk: httpx's RemoteProtocolError), a
  WebSocket closed without a close frame (1006), or a connection refused;
- a WebSocket command with no reply: sent on a socket that then closed (the kill; or the drain's
  1012 closing a socket before it read the command: a command read is answered first, so one
  left unanswered by a 1012 must not have been applied, which is checked), or not sent because
  the socket was down ("no socket");
- 502 Bad Gateway: NGINX's answer to a request that the killed instance had accepted and never
  answered, or that a draining one closed its keep-alive connection under; NGINX does not retry
  a POST once sent (it may have done its work);
- 503 `restarting`: the draining instance's answer to a new stream or socket (NGINX retries a
  stream on the next instance, so it reaches a client only if that one refuses too).

A client whose own instance is down is sent to the others, so another instance dying counts for
it too while its own is down. Commands are answered 200, or 409 `not_your_turn` (or
`room_not_playing`, if that pull ended the match) when the turn was played for the shooter
meanwhile by its timer. Anything else fails the test, a 500 first."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from gamehub.db import create_engine, session_factory
from tests.backends import Backend, clean_services
from tests.conftest import TEST_JWT_SECRET
from tests.funding import books_problems, fund_with
from tests.helpers import bearer, register_over_http
from tests.live import App, free_port
from tests.nginx import binary, nginx_preferring
from tests.roomclients import RoomEvent, RoomStream, SocketRoom, SseRoom, wait_for
from tests.sse import Reader

INSTANCES = 3
MATCHES = 6
TURN_S = 3  # the turn timer: a shooter who does not pull is pulled for after it
THINK_S = 1.0  # a player's wait before pulling: the SIGKILL lands before any pull, the SIGTERM
# as the first pulls are sent
RETRY_S = 0.5  # a client's wait before it reconnects
MATCHES_END_WITHIN_S = 60.0  # an idle match: 6 turns of TURN_S, each swept within 2 s
DYING_SLACK_S = 3.0
KILLED, RESTARTED = 2, 1  # the instances signalled (0 stays up throughout)
# A command's answers that need no excuse: done, or the turn was already played for the shooter
# (its timer; a client that reconnected late may pull as the timer does), ending the match maybe.
ANSWERS = frozenset(
    {
        "200",
        "409 not_your_turn",
        "error not_your_turn",
        "409 room_not_playing",
        "error room_not_playing",
    }
)


@dataclass
class Seen:
    """What one client met: (time.monotonic(), what) for each command status and failure."""

    name: str
    instance: int  # the instance its NGINX port prefers
    statuses: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class Dying:
    """When each signalled instance was dying ([signal, gone]) and down ([signal, back])."""

    dying: dict[int, tuple[float, float]] = field(default_factory=dict)
    down: dict[int, tuple[float, float]] = field(default_factory=dict)

    def excuses(self, instance: int, at: float) -> bool:
        for dying, (start, end) in self.dying.items():
            if start <= at <= end + DYING_SLACK_S and (
                dying == instance or self._is_down(instance, at)
            ):
                return True
        return False

    def _is_down(self, instance: int, at: float) -> bool:
        start, end = self.down.get(instance, (0.0, -1.0))
        return start <= at <= end + DYING_SLACK_S


def _instance_env(backend: Backend, data: Path) -> dict[str, str]:
    assert backend.redis_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEHUB_")}
    env.update(
        GAMEHUB_DATABASE_URL=backend.database_url,
        GAMEHUB_REDIS_URL=backend.redis_url,
        GAMEHUB_DATA_DIR=str(data),
        GAMEHUB_JWT_SECRET=TEST_JWT_SECRET,
        GAMEHUB_BCRYPT_ROUNDS="4",
        GAMEHUB_RATE_LIMITS="false",  # every client comes from one address
        GAMEHUB_TRUSTED_PROXIES="127.0.0.1",  # NGINX
        GAMEHUB_ROULETTE_TURN_TIMEOUT_S=str(TURN_S),
        # Three instances on a PostgreSQL that other test runs may share: a few connections
        # each are plenty for eighteen clients.
        GAMEHUB_DB_POOL_SIZE="4",
        GAMEHUB_DB_RAW_POOL_SIZE="4",
    )
    return env


@pytest.fixture
async def cluster(backend: Backend, tmp_path: Path) -> AsyncIterator[tuple[list[App], list[str]]]:
    """Three running instances and, for each, the base URL of NGINX's port that prefers it."""
    if backend.redis_url is None:
        pytest.skip("instances share rooms through Redis: the services backend runs this test")
    binary()  # skips (fails in CI) without nginx
    await clean_services(backend.database_url, backend.redis_url)
    instances = []
    for n in range(INSTANCES):
        folder = tmp_path / f"instance-{n}"
        folder.mkdir()
        env = _instance_env(backend, folder / "data")
        instances.append(App(env, folder, free_port()))
    try:
        await asyncio.gather(*(instance.start() for instance in instances))
        upstreams = [f"127.0.0.1:{instance.port}" for instance in instances]
        async with nginx_preferring(upstreams) as bases:
            yield instances, bases
    finally:
        for instance in instances:
            instance.stop()


@dataclass
class Client:
    """One player or spectator of a match: what it met, its stream, and (players) how it pulls."""

    seen: Seen
    stream: RoomStream
    user_id: int
    pull: Callable[[int], Awaitable[None]] | None = None  # given the pull number it makes
    answered: list[int] = field(default_factory=list)  # pull numbers its pulls were answered
    # Pull numbers of its pulls left unanswered by a socket closed with 1012 (a drain): a
    # draining instance answers every command it has read, so these were not applied.
    drained: list[int] = field(default_factory=list)


async def _play(client: Client) -> None:
    """Pull THINK_S after each turn of mine, unless something happened meanwhile; until the end."""
    stream, count = client.stream, 0
    while True:
        events = await wait_for(stream, count, MATCHES_END_WITHIN_S)
        count, last = len(events), events[-1]
        if last.type == "match_ended":
            return
        if (
            client.pull is not None
            and last.type == "turn"
            and last.data["shooter"] == client.user_id
        ):
            await asyncio.sleep(THINK_S)
            if len(stream.events) == count:
                await client.pull(int(last.data["pull_number"]))


async def _until(stream: RoomStream, kind: str) -> None:
    while not any(event.type == kind for event in stream.events):
        await wait_for(stream, len(stream.events), MATCHES_END_WITHIN_S)


async def _full_list(http: httpx.AsyncClient, token: str, room_id: int) -> list[RoomEvent]:
    """The room's events from the first, as a fresh client replays them at the end."""
    headers = {**bearer(token), "Last-Event-ID": "0"}
    reader = Reader(http, f"/games/rooms/{room_id}/events", headers)
    try:
        await reader.until(lambda events: any(e.event == "match_ended" for e in events), 10)
    finally:
        await reader.stop()
    return [RoomEvent(int(e.id), e.event, json.loads(e.data)) for e in reader.events]


async def test_matches_survive_a_sigkill_and_a_rolling_restart_behind_nginx(
    cluster: tuple[list[App], list[str]], backend: Backend
) -> None:
    instances, bases = cluster
    began = time.monotonic()
    timeout = httpx.Timeout(10, read=60)  # streams: keep-alive comments come every 15 s
    https = [httpx.AsyncClient(base_url=base, timeout=timeout) for base in bases]
    session = aiohttp.ClientSession()
    engine = create_engine(backend.database_url, pool_size=1, max_overflow=0)
    matches: list[tuple[int, list[Client]]] = []  # room id, its clients (a, b, spectator)
    try:
        # Players and spectators, registered through NGINX; players funded as a deposit does.
        users = [await register_over_http(https[0], f"failover{n}") for n in range(3 * MATCHES)]
        sessions = session_factory(engine)
        for n, user in enumerate(users):
            if n % 3 != 2:
                await fund_with(sessions, user["user"]["id"], 100_000)

        async def post(seen: Seen, token: str, path: str, body: dict[str, Any]) -> Any:
            try:
                response = await https[seen.instance].post(path, json=body, headers=bearer(token))
            except httpx.HTTPError as error:
                seen.statuses.append((time.monotonic(), type(error).__name__))
                return None
            what = str(response.status_code)
            if response.status_code == 409:
                what += f" {response.json()['error']['code']}"
            seen.statuses.append((time.monotonic(), what))
            return response.json() if response.status_code == 200 else None

        def puller(client: Client, token: str, room_id: int) -> Callable[[int], Awaitable[None]]:
            async def pull(number: int) -> None:
                body = {"room_id": room_id}
                if isinstance(client.stream, SocketRoom):
                    reply = await client.stream.call("pull-trigger", body)
                    if isinstance(reply, str):
                        what, result = reply, None
                        if reply.endswith("(1012)"):
                            client.drained.append(number)
                    elif reply["ok"]:
                        what, result = "200", reply["result"]
                    else:
                        what, result = f"error {reply['error']['code']}", None
                    client.seen.statuses.append((time.monotonic(), what))
                else:
                    result = await post(client.seen, token, "/games/pull-trigger", body)
                if result is not None:
                    client.answered.append(int(result["pull_number"]))

            return pull

        for m in range(MATCHES):
            trio = users[3 * m : 3 * m + 3]
            # Seat 0 on instance m, seat 1 on the next, the spectator on the third; the
            # transports alternate so that each role is played over both.
            on = [(m + k) % INSTANCES for k in range(3)]
            transports = ["sse", "ws", "sse"] if m % 2 == 0 else ["ws", "sse", "ws"]
            seen = [Seen(f"match {m} {role}", on[k]) for k, role in enumerate("abs")]
            tokens = [user["access_token"] for user in trio]
            stake = 10 + m  # a stake of its own: the second player joins this very room
            joined = await post(seen[0], tokens[0], "/games/join", {"stake": stake})
            assert joined is not None, seen[0]
            room_id = int(joined["room"]["id"])
            clients = []
            for k, user in enumerate(trio):
                stream: RoomStream
                if transports[k] == "sse":
                    stream = SseRoom(seen[k].name, https[on[k]], tokens[k], room_id, RETRY_S)
                else:
                    stream = SocketRoom(
                        seen[k].name, session, bases[on[k]], tokens[k], room_id, RETRY_S
                    )
                clients.append(Client(seen[k], stream, user["user"]["id"]))
                if k < 2 and m % 3 != 2:  # players, but those of a match left to the timers
                    clients[-1].pull = puller(clients[-1], tokens[k], room_id)
            second = {"stake": stake, "room_id": room_id}
            assert await post(seen[1], tokens[1], "/games/join", second) is not None, seen[1]
            matches.append((room_id, clients))
        everyone = [client for _, clients in matches for client in clients]

        # Every client has seen its match start: no pull yet (THINK_S), the signals land now.
        await asyncio.wait_for(
            asyncio.gather(*(_until(c.stream, "match_started") for c in everyone)),
            MATCHES_END_WITHIN_S,
        )
        playing = [asyncio.create_task(_play(client)) for client in everyone]

        dying = Dying()
        killed_at = time.monotonic()
        instances[KILLED].kill()
        dying.dying[KILLED] = (killed_at, time.monotonic())
        dying.down[KILLED] = (killed_at, float("inf"))
        await asyncio.sleep(THINK_S)  # the first pulls are on their way
        restarted = instances[RESTARTED]
        assert restarted.process is not None
        signalled = time.monotonic()
        restarted.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(restarted.process.wait, 15)
        gone = time.monotonic()
        assert code == 0, restarted.output()
        dying.dying[RESTARTED] = (signalled, gone)
        await restarted.start()
        dying.down[RESTARTED] = (signalled, time.monotonic())
        back_s = time.monotonic() - killed_at

        await asyncio.wait_for(asyncio.gather(*playing), MATCHES_END_WITHIN_S)
        ended_s = time.monotonic() - killed_at

        # Every client got every event of its room once, in order: the room's whole list.
        for room_id, clients in matches:
            full = await _full_list(https[0], users[0]["access_token"], room_id)
            assert [e.id for e in full] == list(range(1, len(full) + 1)), full
            assert full[-1].type == "match_ended", full
            for client in clients:
                assert client.stream.events == full, (client.seen.name, client.stream.events)
            # No pull answered 200 was lost: each is in the list, as its shooter's own.
            pulled = {
                (e.data["shooter"], e.data["pull_number"])
                for e in full
                if e.type == "trigger_pulled" and not e.data["auto"]
            }
            for client in clients:
                for number in client.answered:
                    assert (client.user_id, number) in pulled, (client.seen.name, number, full)
                for number in client.drained:
                    assert (client.user_id, number) not in pulled, (client.seen.name, number)

        # Those on the signalled instances did come back (the failover was exercised).
        for client in everyone:
            if client.seen.instance in (KILLED, RESTARTED):
                assert client.stream.connections() >= 2, (client.seen, client.stream.failures())

        # Nothing reached a client but what the docstring allows, and only while dying.
        met = [(c, at, what) for c in everyone for at, what in c.seen.statuses]
        met += [(c, at, what) for c in everyone for at, what in c.stream.failures()]
        unexcused = [
            (client.seen.name, client.seen.instance, round(at - killed_at, 2), what)
            for client, at, what in met
            if what not in ANSWERS and not dying.excuses(client.seen.instance, at)
        ]
        assert not unexcused, unexcused

        assert await books_problems(sessions) == []
        excused = sorted(what for _, _, what in met if what not in ("200",))
        reconnections = sum(client.stream.connections() - 1 for client in everyone)
        print(
            f"\nfailover: {MATCHES} matches ended {ended_s:.1f} s after the SIGKILL; the "
            f"restarted instance drained in {gone - signalled:.1f} s and was back "
            f"{back_s:.1f} s after the kill; {reconnections} reconnections; met besides 200: "
            f"{excused}; whole test {time.monotonic() - began:.1f} s"
        )
    finally:
        for _, clients in matches:
            for client in clients:
                await client.stream.stop()
        await session.close()
        for http in https:
            await http.aclose()
        await engine.dispose()
