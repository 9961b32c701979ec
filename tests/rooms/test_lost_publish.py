"""An instance dies between a room command's commit and its publish (a crash point): the events
are in the database but not in the broker. The other instance's sweeper notices and publishes
them from the database, and its spectator sees them within 5 s, in order, once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from quart import Quart

from gamehub.runtime import Runtime
from gamehub.settings import Settings
from tests.backends import Backend
from tests.conftest import TEST_JWT_SECRET
from tests.funding import books_balance, fund
from tests.helpers import bearer, register
from tests.live import App, free_port, live_server


@pytest.fixture
def settings(settings: Settings, backend: Backend) -> Settings:
    if backend.redis_url is None:
        pytest.skip("two instances share a broker only on Redis (the services backend)")
    return settings.with_overrides(rooms_sweep_interval_s=0.5)


async def _spectate(base: str, room_id: int, token: str, seen: list[dict[str, Any]]) -> None:
    """Read the room's stream from its snapshot on, noting each event's data and arrival."""
    async with (
        httpx.AsyncClient(base_url=base, timeout=None) as http,
        http.stream("GET", f"/games/rooms/{room_id}/events", headers=bearer(token)) as stream,
    ):
        async for line in stream.aiter_lines():
            if line.startswith("data:"):
                seen.append({**json.loads(line[5:]), "arrived": time.monotonic()})


async def test_events_a_dead_instance_committed_reach_the_other_instances_spectators(
    app: Quart, runtime: Runtime, backend: Backend, tmp_path: Path
) -> None:
    client = app.test_client()
    alice, bob, carol = [await register(client) for _ in range(3)]
    for player in (alice, bob):
        await fund(runtime, player["user"]["id"], 100_000)
        joined = await client.post(
            "/games/join", json={"stake": 10}, headers=bearer(player["access_token"])
        )
        assert joined.status_code == 200, await joined.get_data(as_text=True)
    room = (await joined.get_json())["room"]
    assert room["status"] == "playing"
    shooter = alice if room["turn_user_id"] == alice["user"]["id"] else bob

    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEHUB_")}
    env.update(
        GAMEHUB_DATABASE_URL=backend.database_url,
        GAMEHUB_REDIS_URL=str(backend.redis_url),
        GAMEHUB_DATA_DIR=str(tmp_path / "doomed"),
        GAMEHUB_JWT_SECRET=TEST_JWT_SECRET,
        GAMEHUB_LOG_JSON="false",
        GAMEHUB_FAULTS="room_committed",
    )
    doomed = App(env, tmp_path, free_port())
    seen: list[dict[str, Any]] = []
    async with live_server(app) as base:
        spectator = asyncio.create_task(_spectate(base, room["id"], carol["access_token"], seen))
        try:
            await doomed.start()
            while not seen:  # the snapshot: the spectator is listening
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient(base_url=doomed.base, timeout=30) as http:
                with pytest.raises(httpx.TransportError):
                    await http.post(
                        "/games/pull-trigger",
                        json={"room_id": room["id"]},
                        headers=bearer(shooter["access_token"]),
                    )
            assert doomed.process is not None
            assert doomed.process.wait(10) == -signal.SIGKILL
            killed = time.monotonic()
            deadline = killed + 5
            while not any(event["type"] == "trigger_pulled" for event in seen):
                assert time.monotonic() < deadline, f"no pull within 5 s: {seen}"
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.5)  # more sweeps must not publish it again
        finally:
            spectator.cancel()
            doomed.stop()
    snapshot, *events = seen
    assert snapshot["type"] == "snapshot" and snapshot["seq"] == room["seq"]
    seqs = [event["seq"] for event in events]
    assert seqs == list(range(room["seq"] + 1, room["seq"] + 1 + len(seqs)))  # in order, once
    assert events[0]["type"] == "trigger_pulled"
    assert events[0]["shooter"] == shooter["user"]["id"]
    assert events[0]["arrived"] - killed < 5
    assert await books_balance(runtime) == []
