"""Helpers shared by the room benchmarks (roulette, fanout): a fresh database, the server under
test, players, funding through the ledger, and CPU / memory / load figures from /proc.

The lower-level pieces (server start and stop, migrations, CPU counters) come from
bench.profile so that every benchmark starts the server the same way.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.profile import (
    JWT_SECRET,
    _machine_busy_s,
    _postgres_cpu,
    _proc_cpu_s,
)
from gamehub.pg import asyncpg_dsn

FUNDING_CENTS = 100_000_000  # KES 1 000 000 per player: no join ever fails for lack of funds
BCRYPT_ROUNDS = 4  # only speeds up /register during set-up; nothing measured hashes a password
REDIS_URL = "redis://127.0.0.1:6379/7"


def raise_open_files_limit(wanted: int = 65_536) -> int:
    """Lift the soft open-files limit towards the hard one (thousands of sockets)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is absent only on Windows
        return
    uvloop.install()


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def rss_kb(pid: int) -> int:
    """Resident set size of one process in KiB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- the database ----------------------------------------------------------------------------


async def reset_database(url: str) -> None:
    """Drop (if present) and create the benchmark's own database, so each run starts empty."""
    import asyncpg

    dsn = asyncpg_dsn(url)
    head, _, name = dsn.rpartition("/")
    name = name.split("?", 1)[0]
    quoted = '"' + name.replace('"', '""') + '"'
    admin = await asyncpg.connect(f"{head}/postgres", timeout=10)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {quoted}")
    finally:
        await admin.close()


async def flush_redis(url: str) -> None:
    """Empty the benchmark's Redis database: room offsets of an earlier run would shadow ours."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


def server_env(
    database_url: str, data_dir: Path, *, redis_url: str | None = None, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEHUB_")}
    env.update(
        GAMEHUB_ENV="development",
        GAMEHUB_DATABASE_URL=database_url,
        GAMEHUB_DATA_DIR=str(data_dir),
        GAMEHUB_JWT_SECRET=JWT_SECRET,
        GAMEHUB_LOG_JSON="false",
        GAMEHUB_BCRYPT_ROUNDS=str(BCRYPT_ROUNDS),
        GAMEHUB_RATE_LIMITS="false",
        GAMEHUB_ACCESS_TOKEN_TTL_S="7200",
        GAMEHUB_BENCH_ENDPOINTS="true",
    )
    if redis_url is not None:
        env["GAMEHUB_REDIS_URL"] = redis_url
    env.update(extra)
    return env


# --- players ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Player:
    user_id: int
    username: str
    token: str


async def register_players(
    base: str, count: int, run_id: str, concurrency: int = 16
) -> list[Player]:
    """`count` new players registered over HTTP, in order."""
    import aiohttp

    players: list[Player | None] = [None] * count
    indices = iter(range(count))

    async def one(session: aiohttp.ClientSession) -> None:
        for index in indices:
            name = f"r{run_id}_{index}"
            body = {
                "username": name,
                "email": f"{name}@bench.example.com",
                "password": "bench-password-1",
                "date_of_birth": "1990-01-01",
            }
            async with session.post(f"{base}/register", json=body) as response:
                answer = await response.json()
                if response.status != 201:
                    raise RuntimeError(f"register failed: {response.status} {answer}")
            players[index] = Player(int(answer["user"]["id"]), name, str(answer["access_token"]))

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(one(session) for _ in range(concurrency)))
    return [player for player in players if player is not None]


async def fund_players(database_url: str, user_ids: list[int], run_id: str) -> None:
    """Credit each wallet through the ledger as a confirmed M-Pesa deposit would (the product
    has no funding endpoint): clearing → wallet, one transfer per player, unique references."""
    from gamehub import ledger
    from gamehub.db import create_engine, session_factory, transaction
    from gamehub.settings import normalise_database_url

    engine = create_engine(normalise_database_url(database_url), pool_size=4, max_overflow=0)
    try:
        sessions = session_factory(engine)

        async def fund(chunk: list[int]) -> None:
            async with transaction(sessions) as session:
                clearing = await ledger.account_id(session, ledger.MPESA_CLEARING)
                for user_id in chunk:
                    wallet = await ledger.open_wallet(session, user_id)
                    await ledger.transfer(
                        session,
                        reference=f"bench-funding:{run_id}:{user_id}",
                        kind="deposit",
                        debit=clearing,
                        credit=wallet,
                        amount=FUNDING_CENTS,
                    )

        # Sorted chunks: the clearing account is locked by every chunk, so they run one by one.
        for start in range(0, len(user_ids), 500):
            await fund(sorted(user_ids[start : start + 500]))
    finally:
        await engine.dispose()


async def check_books(database_url: str) -> dict[str, Any]:
    """ledger.check_invariants plus escrow left in closed rooms, and rooms still open."""
    from sqlalchemy import func, select

    from gamehub import ledger
    from gamehub.db import create_engine, session_factory
    from gamehub.models import Multiplayer
    from gamehub.rooms import store
    from gamehub.settings import normalise_database_url

    engine = create_engine(normalise_database_url(database_url), pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as session:
            problems = await ledger.check_invariants(session)
            problems += await store.escrow_problems(session)
            rows = await session.execute(
                select(Multiplayer.status, func.count()).group_by(Multiplayer.status)
            )
            rooms = {str(status): int(count) for status, count in rows}
    finally:
        await engine.dispose()
    return {"ok": not problems, "problems": problems[:20], "rooms_by_status": rooms}


# --- CPU over a window -----------------------------------------------------------------------


@dataclass
class CpuWindow:
    """CPU seconds of the server, the driver processes, PostgreSQL and the whole machine."""

    server_pid: int
    driver_pids: list[int]
    extra_pids: dict[str, int] = field(default_factory=dict)
    _start: dict[str, float] = field(default_factory=dict)
    _postgres: dict[int, float] = field(default_factory=dict)
    _wall: float = 0.0

    def _sample(self) -> dict[str, float]:
        def cpu(pid: int) -> float:
            try:
                return _proc_cpu_s(pid)
            except OSError:
                return 0.0

        sample = {
            "server": cpu(self.server_pid),
            "driver": sum(cpu(pid) for pid in self.driver_pids),
            "postgres": 0.0,
            "machine": _machine_busy_s(),
        }
        for name, pid in self.extra_pids.items():
            sample[name] = cpu(pid)
        return sample

    def start(self) -> None:
        self._start = self._sample()
        self._postgres = _postgres_cpu()
        self._wall = time.monotonic()

    def stop(self) -> dict[str, float]:
        """CPU use in the window, as % of one core (the machine has os.cpu_count() cores)."""
        end = self._sample()
        postgres = _postgres_cpu()
        wall = time.monotonic() - self._wall
        used = {key: 100 * (end[key] - self._start.get(key, 0.0)) / wall for key in end}
        # PostgreSQL backends come and go: count each one alive at the end from its start value
        # (0 if it started meanwhile); a backend that ended in the window is not counted.
        used["postgres"] = (
            100 * sum(t - self._postgres.get(pid, 0.0) for pid, t in postgres.items()) / wall
        )
        named = sum(value for key, value in used.items() if key != "machine")
        used["other"] = max(0.0, used["machine"] - named)
        return {key: round(value, 1) for key, value in used.items()}


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def ms(value: float | None) -> float | None:
    return None if value is None else round(1000 * value, 2)


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
