"""The embedded default's PostgreSQL: started from the pip-installed binaries, reused by a
second caller, stopped with its owner however the owner ends (SIGTERM, SIGKILL), and started
again over the stale files a killed owner leaves."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

from gamehub import embedded_pg
from gamehub.pg import asyncpg_dsn

OWNER = """
import sys, time
from gamehub import embedded_pg
print(embedded_pg.start(sys.argv[1], database="owned"), flush=True)
time.sleep(600)
"""


def _owner(data: Path) -> tuple[subprocess.Popen[str], str]:
    """A process that starts the server of `data` and waits: (the process, the URL)."""
    process = subprocess.Popen(
        [sys.executable, "-c", OWNER, str(data)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def _stopped(data: Path, within: float = 20) -> bool:
    deadline = time.monotonic() + within
    while (data / "postmaster.pid").exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


async def _answer(url: str) -> int:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        value: int = await connection.fetchval("SELECT 41 + 1")
        return value
    finally:
        await connection.close()


def test_a_second_caller_reuses_the_server_and_its_owner_stops_it(tmp_path: Path) -> None:
    data = tmp_path / "pg"
    process, url = _owner(data)
    try:
        assert url.startswith("postgresql+asyncpg://postgres@/owned?host=")
        assert asyncio.run(_answer(url)) == 42
        reused = embedded_pg.start(data, database="owned")  # no second server: the same one
        assert reused == url
        embedded_pg.stop(data)  # not ours: a no-op
        assert asyncio.run(_answer(url)) == 42
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert _stopped(data), (data / "postgres.log").read_text()


def test_a_killed_owner_takes_its_server_down_and_the_next_start_recovers(
    tmp_path: Path,
) -> None:
    data = tmp_path / "pg"
    process, url = _owner(data)
    process.kill()  # SIGKILL: no atexit, no cleanup of ours
    process.wait(10)
    assert _stopped(data), "the server outlived the process that started it"
    again = embedded_pg.start(data, database="owned")
    try:
        assert again == url
        assert asyncio.run(_answer(again)) == 42
    finally:
        embedded_pg.stop(data)
    assert _stopped(data)
