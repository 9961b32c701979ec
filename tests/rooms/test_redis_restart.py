"""Streams through a Redis server of the test's own that is killed and restarted empty (and then
flushed): every client comes back with its last id and gets a snapshot or exactly the events it
missed, then every new event. Nothing is silent."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import ServerSentEvent
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gamehub import userstream
from gamehub.app import create_app
from gamehub.rooms.registry import LOBBY
from gamehub.runtime import EXTENSION, Runtime
from gamehub.settings import Settings
from tests.backends import Backend, clean_services, unavailable
from tests.funding import books_balance, funded_players
from tests.helpers import bearer
from tests.live import free_port, live_server
from tests.sse import Reader


class RedisServer:
    """A `redis-server` of this test's own on a loopback port, keeping nothing on disk."""

    def __init__(self, executable: str, port: int, folder: Path) -> None:
        self.command = [
            executable,
            *("--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder)),
            *("--save", "", "--appendonly", "no"),
        ]
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        client = Redis.from_url(self.url)
        try:
            # (If it never answers, the caller's kill() ends it.)
            async with asyncio.timeout(10):
                while True:
                    with contextlib.suppress(OSError, RedisError):
                        if await client.ping():
                            return
                    assert self.process.poll() is None, "redis-server exited"
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()

    def kill(self) -> None:
        """SIGKILL: no chance to save anything (and nothing to save to)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    async def flush(self) -> None:
        client = Redis.from_url(self.url)
        try:
            await client.flushall()
        finally:
            await client.aclose()


@contextlib.asynccontextmanager
async def own_redis(folder: Path) -> AsyncIterator[RedisServer]:
    executable = shutil.which("redis-server")
    if executable is None:
        unavailable("redis-server is not installed (on PATH)", "restart of a Redis of its own")
        raise AssertionError("unreachable")
    server = RedisServer(executable, free_port(), folder)
    try:
        await server.start()
        yield server
    finally:
        server.kill()


def _epoch(event: ServerSentEvent) -> str:
    return (event.id or "").rpartition("-")[0]


def _offset(event: ServerSentEvent) -> int:
    return int((event.id or "").rpartition("-")[2])


async def _caught_up(reader: Reader, seq: int) -> None:
    """Until a room stream has sent the room's event `seq`."""
    await reader.until(lambda events: bool(events) and events[-1].id == str(seq))


async def _resumed(reader: Reader, mark: int, old: str, first: str) -> None:
    """Until a broker-numbered stream has come back, after its event `mark`, in a new epoch."""

    def resumed(events: list[ServerSentEvent]) -> bool:
        fresh = [event for event in events[mark:] if _epoch(event) != old]
        return bool(fresh) and fresh[0].event == first

    await reader.until(resumed)


async def _reaches(reader: Reader, runtime: Runtime, channel: str) -> None:
    """Until a broker-numbered stream has sent the channel's last event as the broker has it."""
    epoch, head = await runtime.broker.position(channel)
    await reader.until(lambda events: any(e.id == f"{epoch}-{head}" for e in events))


def _check_new_epoch(events: list[ServerSentEvent], old: str, first: str) -> str:
    """After the loss: a snapshot of a new epoch, then that epoch's events without a gap."""
    at = next(i for i, event in enumerate(events) if _epoch(event) != old)
    assert all(_epoch(event) == old for event in events[:at])
    snapshot, later = events[at], events[at + 1 :]
    new = _epoch(snapshot)
    assert snapshot.event == first and new, snapshot
    assert [(_epoch(e), _offset(e)) for e in later] == [
        (new, _offset(snapshot) + n) for n in range(1, len(later) + 1)
    ]
    return new


async def test_streams_survive_redis_restarted_empty_and_flushed(
    settings: Settings, backend: Backend, tmp_path: Path
) -> None:
    async with own_redis(tmp_path) as redis_server:
        await clean_services(settings.database_url, backend.redis_url)
        # No turn times out during the test: every room event comes from its steps.
        app = create_app(replace(settings, redis_url=redis_server.url, roulette_turn_timeout_s=600))
        async with app.test_app():
            runtime: Runtime = app.extensions[EXTENSION]
            alice, bob, carol = await funded_players(app, 3)
            await _play(app, runtime, redis_server, alice, bob, carol)
            assert await books_balance(runtime) == []


async def _play(
    app: Any,
    runtime: Runtime,
    redis_server: RedisServer,
    alice: dict[str, Any],
    bob: dict[str, Any],
    carol: dict[str, Any],
) -> None:
    watcher = bearer(carol["access_token"])
    tokens = {p["user"]["id"]: p["access_token"] for p in (alice, bob)}
    async with live_server(app) as base, httpx.AsyncClient(base_url=base, timeout=30) as http:

        async def post(path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
            answer = await http.post(path, json=body, headers=bearer(token))
            assert answer.status_code == 200, answer.text
            result: dict[str, Any] = answer.json()
            return result

        async def carol_comes_and_goes(stake: int) -> None:
            """Events on carol's own stream (seated, left, her wallet) and the lobby's."""
            room = (await post("/games/join", {"stake": stake}, carol["access_token"]))["room"]
            await post("/games/leave", {"room_id": room["id"]}, carol["access_token"])

        async def playing(room: dict[str, Any] | None) -> dict[str, Any]:
            """`room` while its match goes on, else a new match of alice and bob."""
            if room is not None and room["status"] == "playing":
                return room
            await post("/games/join", {"stake": 20}, alice["access_token"])
            return dict((await post("/games/join", {"stake": 20}, bob["access_token"]))["room"])

        async def pull(room: dict[str, Any]) -> dict[str, Any]:
            shooter = tokens[room["turn_user_id"]]
            pulled = await post("/games/pull-trigger", {"room_id": room["id"]}, shooter)
            return dict(pulled["room"])

        async def seq_of(room_id: int) -> int:
            answer = await http.get(f"/games/rooms/{room_id}", headers=watcher)
            return int(answer.json()["room"]["seq"])

        room = first = await playing(None)
        first_path = f"/games/rooms/{first['id']}/events"
        streams = {
            "user": Reader(http, "/events", watcher, reconnect=True),
            "lobby": Reader(http, "/games/lobby/events", watcher, reconnect=True),
            "room": Reader(http, first_path, watcher, reconnect=True),
        }
        first_types = {"user": "snapshot", "lobby": "lobby"}
        channels = {"user": userstream.channel(carol["user"]["id"]), "lobby": LOBBY}
        away: list[Reader] = []  # room streams closed through a loss, back once it is over
        try:
            for reader in streams.values():
                await reader.count(1)
            await carol_comes_and_goes(30)
            room = await pull(room)
            for loss, stake in (("restart", 40), ("flush", 50)):
                room = await playing(room)
                left_at = room["seq"]
                await _caught_up(streams["room"], await seq_of(first["id"]))
                await streams["user"].until(lambda events: events[-1].event == "wallet")
                epochs = {name: _epoch(streams[name].events[-1]) for name in first_types}
                marks = {name: len(streams[name].events) for name in first_types}
                assert all(epochs.values()) and _offset(streams["user"].events[-1]) > 1
                if loss == "restart":
                    redis_server.kill()
                    await asyncio.sleep(0.5)  # the streams are cut off meanwhile
                    await redis_server.start()  # empty, on the same port
                else:
                    await redis_server.flush()  # the streams stay open through it
                # Offsets 1, 2, … again: before epochs, a client back from its last id dropped
                # these as already seen, for ever.
                await carol_comes_and_goes(stake)
                for name, first_type in first_types.items():
                    await _resumed(streams[name], marks[name], epochs[name], first_type)
                await carol_comes_and_goes(stake + 5)  # and then every new event
                room = await pull(room)
                # Away during the loss and the pull: exactly the events it missed, then more.
                back = Reader(
                    http,
                    f"/games/rooms/{room['id']}/events",
                    {**watcher, "Last-Event-ID": str(left_at)},
                )
                away.append(back)
                await _caught_up(back, room["seq"])
                missed = [int(e.id or 0) for e in back.events]
                assert missed == list(range(left_at + 1, room["seq"] + 1))
                for name, channel in channels.items():
                    await _reaches(streams[name], runtime, channel)
                for name, first_type in first_types.items():
                    _check_new_epoch(streams[name].events[marks[name] :], epochs[name], first_type)
            # A room's ids are its seqs: every event once, in order, through both losses.
            last = await seq_of(first["id"])
            await _caught_up(streams["room"], last)
            snapshot, *later = streams["room"].events
            assert snapshot.event == "snapshot"
            seqs = [int(e.id or 0) for e in later]
            assert seqs == list(range(int(snapshot.id or 0) + 1, last + 1)), seqs
            assert len(streams["room"].starts) >= 2  # cut off by the restart, back exactly
        finally:
            for reader in [*streams.values(), *away]:
                await reader.stop()
