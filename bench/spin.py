"""Load benchmark of `POST /games/spin-and-win/play` beside a bare one-transaction endpoint.

Starts `gamehub serve` (Hypercorn, uvloop, one process) on a free loopback port against
PostgreSQL (database created if missing and migrated with `gamehub migrate`), with the bench-only
probe enabled (GAMEHUB_BENCH_ENDPOINTS=true). It registers N players over HTTP, funds their
wallets through the ledger directly in the database (the product has no funding shortcut), then
drives each endpoint for the same time (in alternating windows, so that both see the same drift
of a shared machine) with the same number of keep-alive connections, one per
player:

  bare   POST /bench/probe — UPDATE … RETURNING on a random row of 1 000 and an INSERT, in one
         transaction, no authentication
  spin   POST /games/spin-and-win/play — the real thing, bearer token and all

The driver is a minimal HTTP/1.1 client on raw asyncio streams (uvloop), so that its own CPU
stays small; the CPU of the driver, the server and PostgreSQL in each window is printed, to show
who was the bottleneck. Prints req/s and p50/p99 latency of both and the spin/bare ratio, and
writes the same as JSON to bench/results/.

    python -m bench.spin                         # 64 players, 20 s per endpoint
    python -m bench.spin --players 32 --duration 10
    python -m bench.spin --winnings-tax 20%@2020-01-01   # with the withholding on winnings
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import common

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/gamehub_bench_spin"
# Fixed so that runs are comparable; it only signs tokens for this throwaway server.
JWT_SECRET = "bench-only-jwt-secret-0123456789abcdefghijklmnop"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BET = "10.00"


# --- CPU accounting from /proc -----------------------------------------------------------------


def _proc_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _postgres_cpu_s() -> float:
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm", encoding="utf-8", errors="replace") as comm:
                if comm.read().startswith("postgres"):
                    total += _proc_cpu_s(int(entry))
        except OSError:
            continue
    return total


def _machine_busy_s() -> float:
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(n) for n in stat.readline().split()[1:]]
    return (sum(ticks[:8]) - ticks[3] - ticks[4]) / CLOCK_TICKS


def _self_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuSample:
    driver: float
    server: float
    postgres: float
    machine: float

    @classmethod
    def take(cls, server_pid: int) -> CpuSample:
        return cls(_self_cpu_s(), _proc_cpu_s(server_pid), _postgres_cpu_s(), _machine_busy_s())


# --- a lean HTTP/1.1 keep-alive client ---------------------------------------------------------

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


def build_request(
    method: str, path: str, port: int, body: bytes = b"", token: str | None = None
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    if body or method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        found = _CONTENT_LENGTH.search(head)
        if found is None:
            raise RuntimeError(f"response without Content-Length: {head[:200]!r}")
        body = await self.reader.readexactly(int(found.group(1)))
        return int(head[9:12]), body

    def close(self) -> None:
        self.writer.close()


@dataclass
class Window:
    name: str
    connections: int
    duration_s: float
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    cpu_percent_of_one_core: dict[str, float]


@dataclass
class Sample:
    """What one short window of one endpoint measured, before windows are summed up."""

    name: str
    connections: int
    wall_s: float
    latencies: list[float]
    statuses: Counter[int]
    cpu_s: dict[str, float]  # CPU seconds used by each part in the window


async def drive(
    name: str, port: int, requests: list[bytes], duration: float, server_pid: int | None
) -> Sample:
    """One connection per prepared request, each sending it back to back for `duration` s."""
    connections = [await Connection.open(port) for _ in requests]
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    start_cpu = CpuSample.take(server_pid) if server_pid else None
    started = time.perf_counter()
    deadline = started + duration

    async def run(connection: Connection, request: bytes) -> None:
        clock = time.perf_counter
        while (begin := clock()) < deadline:
            status, _ = await connection.exchange(request)
            latencies.append(clock() - begin)
            statuses[status] += 1

    await asyncio.gather(*(run(c, r) for c, r in zip(connections, requests, strict=True)))
    wall = time.perf_counter() - started
    cpu: dict[str, float] = {}
    if start_cpu is not None and server_pid is not None:
        end_cpu = CpuSample.take(server_pid)
        for part in ("driver", "server", "postgres", "machine"):
            cpu[part] = getattr(end_cpu, part) - getattr(start_cpu, part)
    for connection in connections:
        connection.close()
    return Sample(name, len(requests), wall, latencies, statuses, cpu)


def summarise(samples: list[Sample]) -> Window:
    """One endpoint's windows as one: requests over the summed time, percentiles over all."""
    wall = sum(s.wall_s for s in samples)
    latencies = sorted(value for s in samples for value in s.latencies)
    statuses: Counter[int] = Counter()
    for s in samples:
        statuses.update(s.statuses)
    cpu: dict[str, float] = {}
    if all(s.cpu_s for s in samples):
        for part in ("driver", "server", "postgres", "machine"):
            cpu[part] = round(100 * sum(s.cpu_s[part] for s in samples) / wall, 1)
        cpu["other"] = round(cpu["machine"] - cpu["driver"] - cpu["server"] - cpu["postgres"], 1)

    def pct(p: float) -> float:
        return round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2)

    return Window(
        name=samples[0].name,
        connections=samples[0].connections,
        duration_s=round(wall, 2),
        requests=len(latencies),
        requests_per_s=round(len(latencies) / wall, 1),
        p50_ms=pct(0.50),
        p99_ms=pct(0.99),
        max_ms=round(1000 * latencies[-1], 2),
        statuses={str(k): v for k, v in sorted(statuses.items())},
        cpu_percent_of_one_core=cpu,
    )


# --- set-up: database, server, players ---------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def ensure_database(url: str) -> None:
    import asyncpg

    dsn = re.sub(r"^postgres(ql)?(\+asyncpg)?://", "postgresql://", url)
    head, _, name = dsn.rpartition("/")
    admin = await asyncpg.connect(f"{head}/postgres", timeout=10)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def server_environment(
    database_url: str, data_dir: Path, winnings_tax: str | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEHUB_")}
    if winnings_tax:
        env["GAMEHUB_TAX_WINNINGS_WITHHOLDING"] = winnings_tax
    env.update(
        GAMEHUB_ENV="development",
        GAMEHUB_DATABASE_URL=database_url,
        GAMEHUB_DATA_DIR=str(data_dir),
        GAMEHUB_JWT_SECRET=JWT_SECRET,
        GAMEHUB_BCRYPT_ROUNDS="4",  # only speeds up /register during set-up
        GAMEHUB_RATE_LIMITS="false",
        GAMEHUB_BENCH_ENDPOINTS="true",
    )
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "gamehub.cli", "migrate"],
        env=env,
        cwd=PROJECT_ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gamehub.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not come up within 30 s")


async def register_players(port: int, count: int, run_id: str) -> list[tuple[int, str]]:
    """(user id, access token) of `count` new players."""
    connection = await Connection.open(port)
    players = []
    try:
        for index in range(count):
            name = f"b{run_id}_{index}"
            body = json.dumps(
                {
                    "username": name,
                    "email": f"{name}@bench.example.com",
                    "password": "bench-password-1",
                    "date_of_birth": "1990-01-01",
                }
            ).encode()
            status, answer = await connection.exchange(
                build_request("POST", "/register", port, body)
            )
            if status != 201:
                raise RuntimeError(f"register failed: {status} {answer[:200]!r}")
            data = json.loads(answer)
            players.append((int(data["user"]["id"]), str(data["access_token"])))
    finally:
        connection.close()
    return players


# --- the run -----------------------------------------------------------------------------------


def report(windows: list[Window], ratio: float) -> None:
    print()
    print(
        f"{'endpoint':<8} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  "
        f"CPU % of one core (driver / server / postgres / other)   statuses"
    )
    for w in windows:
        c = w.cpu_percent_of_one_core
        cpu = f"{c['driver']:>5} / {c['server']:>5} / {c['postgres']:>5} / {c['other']:>5}"
        print(
            f"{w.name:<8} {w.connections:>5} {w.requests_per_s:>9} {w.p50_ms:>8} {w.p99_ms:>8} "
            f"{w.max_ms:>8}  {cpu:<55} {w.statuses}"
        )
    print(f"\nspin / bare throughput ratio: {ratio:.2f}  (goal >= 0.60)")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    await ensure_database(args.database_url)
    work = Path(tempfile.mkdtemp(prefix="gamehub-bench-spin-"))
    env = server_environment(args.database_url, work, args.winnings_tax)
    migrate(env)
    port = free_port()
    server = start_server(env, port, work / "server.log")
    try:
        run_id = datetime.now(UTC).strftime("%m%d%H%M%S")
        players = await register_players(port, args.players, run_id)
        await common.fund_players(args.database_url, [user for user, _ in players], run_id)
        body = json.dumps({"bet_amount": BET}).encode()
        spin = [
            build_request("POST", "/games/spin-and-win/play", port, body, t) for _, t in players
        ]
        bare = [build_request("POST", "/bench/probe", port)] * args.players
        await drive("warm-up", port, bare, args.warmup, None)
        await drive("warm-up", port, spin, args.warmup, None)
        # Alternating short windows: on a shared machine the speed drifts over a run, and
        # interleaving lets both endpoints see the same drift.
        slice_s = args.duration / args.rounds
        samples: dict[str, list[Sample]] = {"bare": [], "spin": []}
        for _ in range(args.rounds):
            samples["bare"].append(await drive("bare", port, bare, slice_s, server.pid))
            samples["spin"].append(await drive("spin", port, spin, slice_s, server.pid))
        windows = [summarise(samples["bare"]), summarise(samples["spin"])]
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    bad = {w.name: w.statuses for w in windows if set(w.statuses) != {"200"}}
    ratio = windows[1].requests_per_s / windows[0].requests_per_s
    report(windows, ratio)
    if bad:
        print(f"\nNON-200 RESPONSES: {bad}  (server log: {work / 'server.log'})")
    return {
        "at": datetime.now(UTC).isoformat(),
        "players": args.players,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "windows": [asdict(w) for w in windows],
        "ratio": round(ratio, 3),
        "failed": bool(bad),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--players", type=int, default=64)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--rounds", type=int, default=4, help="alternating windows per endpoint (summed)"
    )
    parser.add_argument(
        "--winnings-tax",
        default=None,
        help="GAMEHUB_TAX_WINNINGS_WITHHOLDING for the server (default: off)",
    )
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    result = asyncio.run(run(args))
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"spin-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"results: {out.relative_to(PROJECT_ROOT)}")
    raise SystemExit(1 if result["failed"] else 0)


if __name__ == "__main__":
    main()
