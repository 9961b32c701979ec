"""Load benchmark of `GET /profile` against the bare `GET /healthz`, one Hypercorn worker.

Starts the app as a subprocess (`gamehub serve`, uvloop, one process) on a free loopback port,
registers a user over HTTP, then drives each endpoint with wrk (1 thread, 32 connections by
default) after a short warm-up. Prints req/s, p50 and p99 latency, the profile/bare ratio and
the CPU that wrk, the server and PostgreSQL used in each measured window, so a reader can tell
whether the load driver or the server was the bottleneck. Writes the same as JSON to
bench/results/.

    python -m bench.profile                 # PostgreSQL (database created and migrated)
    python -m bench.profile --embedded      # the embedded default (its own fresh PostgreSQL)
    python -m bench.profile --access-log off --duration 20

Any response that is not 2xx/3xx, or any socket error, fails the run (exit status 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gamehub.pg import asyncpg_dsn

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/gamehub_bench"
# A fixed secret keeps the run reproducible; it only ever signs tokens for this throwaway server.
JWT_SECRET = "bench-only-jwt-secret-0123456789abcdefghijklmnop"
# bcrypt cost 4 only speeds up /register during set-up; neither measured endpoint hashes.
BCRYPT_ROUNDS = 4
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    requests_per_s: float
    latency_p50_ms: float
    latency_p90_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    non_2xx_3xx: int
    socket_errors: dict[str, int]

    @property
    def failed(self) -> bool:
        return self.non_2xx_3xx > 0 or any(self.socket_errors.values())


@dataclass
class CpuUse:
    """CPU seconds spent during one measured window, and as a share of one core."""

    wrk_s: float
    server_s: float
    postgres_s: float | None
    machine_busy_s: float
    wall_s: float

    @property
    def other_s(self) -> float:
        """Busy time nobody above accounts for: other programs on the machine (noise), kernel."""
        return max(0.0, self.machine_busy_s - self.wrk_s - self.server_s - (self.postgres_s or 0))

    def percent(self, seconds: float | None) -> float | None:
        return None if seconds is None else round(100 * seconds / self.wall_s, 1)


@dataclass
class EndpointRun:
    name: str
    path: str
    wrk: WrkResult
    cpu: CpuUse
    database: dict[str, float] = field(default_factory=dict)
    cpu_percent_of_one_core: dict[str, float | None] = field(default_factory=dict)


# --- wrk output -------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_LATENCY_LINE = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_MAX_LATENCY = re.compile(r"^\s*Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m|h)", re.MULTILINE)
_TOTAL = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
_RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def parse_wrk(output: str) -> WrkResult:
    """Read wrk 4's `--latency` report; raises ValueError if a figure is missing."""
    percentiles = {int(p): float(v) * _UNITS_MS[u] for p, v, u in _LATENCY_LINE.findall(output)}
    total = _TOTAL.search(output)
    rps = _RPS.search(output)
    max_latency = _MAX_LATENCY.search(output)
    if (
        total is None
        or rps is None
        or max_latency is None
        or not {50, 90, 99} <= percentiles.keys()
    ):
        raise ValueError(f"could not parse wrk output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    errors = _SOCKET_ERRORS.search(output)
    return WrkResult(
        requests=int(total.group(1)),
        duration_s=float(total.group(2)) * _UNITS_MS[total.group(3)] / 1000,
        requests_per_s=float(rps.group(1)),
        latency_p50_ms=round(percentiles[50], 3),
        latency_p90_ms=round(percentiles[90], 3),
        latency_p99_ms=round(percentiles[99], 3),
        latency_max_ms=round(float(max_latency.group(1)) * _UNITS_MS[max_latency.group(2)], 3),
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=dict(
            zip(
                ("connect", "read", "write", "timeout"),
                (int(n) for n in errors.groups()) if errors else (0, 0, 0, 0),
                strict=True,
            )
        ),
    )


# --- CPU accounting from /proc (no extra dependency) -----------------------------------------


def _proc_cpu_s(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        # The command name may contain spaces and parentheses: split after the last ')'.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds of every local PostgreSQL process we may read (empty if it runs elsewhere)."""
    found: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/comm", encoding="utf-8", errors="replace") as comm:
                if not comm.read().startswith("postgres"):
                    continue
            found[int(entry)] = _proc_cpu_s(int(entry))
        except OSError:  # the process ended while we looked
            continue
    return found


def _machine_busy_s() -> float:
    """Non-idle CPU seconds of the whole machine, summed over cores, since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        ticks = [int(n) for n in stat.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / CLOCK_TICKS  # guest time is already inside user


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- the server under test --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _ensure_database(url: str) -> bool:
    """Create the target database if it is missing; True when it was created."""
    import asyncpg

    dsn = asyncpg_dsn(url)
    head, _, name = dsn.rpartition("/")
    name = name.split("?", 1)[0]
    admin = await asyncpg.connect(f"{head}/postgres", timeout=10)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        await admin.execute(f"CREATE DATABASE {quoted}")
        return True
    finally:
        await admin.close()


async def _pg_counters(url: str) -> dict[str, int]:
    import asyncpg

    dsn = asyncpg_dsn(url)
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        row = await connection.fetchrow(
            "SELECT xact_commit, xact_rollback, sessions FROM pg_stat_database"
            " WHERE datname = current_database()"
        )
    finally:
        await connection.close()
    assert row is not None
    return {key: int(value) for key, value in dict(row).items()}


def pg_counters(url: str | None) -> dict[str, int] | None:
    """The database's transaction and session counters (PostgreSQL 14+), or None."""
    if url is None:
        return None
    try:
        return asyncio.run(_pg_counters(url))
    except Exception:  # statistics are a nice-to-have; the benchmark stands without them
        return None


def server_env(database_url: str | None, data_dir: Path, token_ttl_s: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEHUB_")}
    env.update(
        GAMEHUB_ENV="development",
        GAMEHUB_JWT_SECRET=JWT_SECRET,
        GAMEHUB_LOG_JSON="false",
        GAMEHUB_BCRYPT_ROUNDS=str(BCRYPT_ROUNDS),
        GAMEHUB_DATA_DIR=str(data_dir),
        # The token must outlive warm-ups and runs, or the tail of a long run turns into 401s.
        GAMEHUB_ACCESS_TOKEN_TTL_S=str(token_ttl_s),
    )
    if database_url is not None:
        env["GAMEHUB_DATABASE_URL"] = database_url
    return env


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gamehub.cli", "migrate"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: `gamehub migrate` failed:\n{done.stdout}{done.stderr}")


def start_server(
    env: dict[str, str], port: int, access_log: bool, log_path: Path, module: str | None = None
) -> Any:
    # `gamehub serve` is the shipped path: hypercorn.toml (uvloop worker), one process, no
    # Hypercorn access log. The bench launcher only differs by silencing `gamehub.access`;
    # `module` names another launcher (a counting variant).
    module = module or ("gamehub.cli" if access_log else "bench._serve_quiet")
    log = log_path.open("w", encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", module, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # our Ctrl-C must not reach it before we stop it cleanly
    )


def stop_server(server: Any) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=5)


def http(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_ready(base: str, server: Any, log_path: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(
                f"bench: the server exited with status {server.returncode}:\n"
                + log_path.read_text(encoding="utf-8")[-4000:]
            )
        try:
            if http("GET", f"{base}/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"bench: the server did not answer /healthz within {timeout_s:.0f} s")


def register_user(base: str) -> str:
    suffix = f"{int(time.time())}_{os.getpid()}"
    status, body = http(
        "POST",
        f"{base}/register",
        {
            "username": f"bench_{suffix}"[:32],
            "email": f"bench_{suffix}@example.com",
            "password": "bench-password-123",
            "date_of_birth": "1990-01-01",
        },
    )
    if status != 201:
        raise SystemExit(f"bench: POST /register answered {status}: {body}")
    token = str(body["access_token"])
    status, body = http("GET", f"{base}/profile", token=token)
    if status != 200:
        raise SystemExit(f"bench: GET /profile answered {status}: {body}")
    return token


# --- load -------------------------------------------------------------------------------------


def wrk_command(
    url: str, threads: int, connections: int, duration_s: float, headers: list[str]
) -> list[str]:
    command = ["wrk", "--latency", f"-t{threads}", f"-c{connections}", f"-d{duration_s:g}s"]
    for header in headers:
        command += ["-H", header]
    return [*command, url]


def run_wrk(command: list[str], duration_s: float) -> str:
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def measure(
    name: str,
    url: str,
    server_pid: int,
    args: argparse.Namespace,
    headers: list[str],
    py_spy_out: Path | None = None,
) -> EndpointRun:
    if args.warmup > 0:
        # Warm-up fills the connection pool, the statement caches and the CPU frequency.
        warm = parse_wrk(
            run_wrk(
                wrk_command(url, args.threads, args.connections, args.warmup, headers), args.warmup
            )
        )
        if warm.failed:
            print(f"  warm-up of {name} saw failures: {warm}", file=sys.stderr)
    command = wrk_command(url, args.threads, args.connections, args.duration, headers)
    counters_before = pg_counters(args.pg_url)
    pg_before = _postgres_cpu()
    server_before = _proc_cpu_s(server_pid)
    children_before = _children_cpu_s()
    busy_before = _machine_busy_s()
    started = time.monotonic()
    sampler = start_py_spy(server_pid, args.duration, py_spy_out) if py_spy_out else None
    output = run_wrk(command, args.duration)
    wall = time.monotonic() - started
    busy_after = _machine_busy_s()
    children_after = _children_cpu_s()
    server_after = _proc_cpu_s(server_pid)
    pg_after = _postgres_cpu()
    if sampler is not None:
        sampler.wait(timeout=60)  # reaped only now, so its CPU stays out of wrk's figure below
    counters_after = pg_counters(args.pg_url)
    # wrk is the only child reaped in this window, so the children's rusage delta is wrk's CPU.
    cpu = CpuUse(
        wrk_s=round(children_after - children_before, 3),
        server_s=round(server_after - server_before, 3),
        postgres_s=(
            round(sum(t - pg_before.get(pid, 0.0) for pid, t in pg_after.items()), 3)
            if pg_after
            else None
        ),
        machine_busy_s=round(busy_after - busy_before, 3),
        wall_s=round(wall, 3),
    )
    result = parse_wrk(output)
    database: dict[str, float] = {}
    if counters_before and counters_after and result.requests:
        # Each counter less our own probe (one session, one transaction), per request served.
        for key in ("xact_commit", "xact_rollback", "sessions"):
            delta = (
                counters_after[key] - counters_before[key] - (1 if key != "xact_rollback" else 0)
            )
            database[f"{key}_per_request"] = round(max(0, delta) / result.requests, 3)
    if args.verbose:
        print(output)
    return EndpointRun(
        name=name,
        path=url.split("/", 3)[-1],
        wrk=result,
        cpu=cpu,
        database=database,
        cpu_percent_of_one_core={
            "wrk": cpu.percent(cpu.wrk_s),
            "server": cpu.percent(cpu.server_s),
            "postgres": cpu.percent(cpu.postgres_s),
            "other": cpu.percent(cpu.other_s),
            "machine": cpu.percent(cpu.machine_busy_s),
        },
    )


def start_py_spy(pid: int, duration_s: float, out: Path) -> Any:
    """Sample the server's Python stacks while wrk runs (collapsed stacks, one per line)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(duration_s))),
            "--rate",
            "200",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^():]*)(?::\d+)?\)$")


def _package(frame: str) -> str:
    """`Session.execute (sqlalchemy/orm/session.py:2555)` -> `sqlalchemy`."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return "?"
    file = match.group("file")
    return file.split("/", 1)[0] if "/" in file else file.removesuffix(".py")


def summarise_stacks(path: Path, top: int = 25) -> tuple[list[tuple[float, str]], ...]:
    """Self time by package and by frame, in % of samples, from py-spy's collapsed stacks.

    Self time rather than inclusive: SQLAlchemy runs its ORM code in greenlets, which py-spy
    shows as separate stacks, so inclusive time of a request handler is undercounted.
    """
    by_package: dict[str, int] = {}
    by_frame: dict[str, int] = {}
    total = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        leaf = stack.split(";")[-1].strip()
        by_frame[leaf] = by_frame.get(leaf, 0) + count
        by_package[_package(leaf)] = by_package.get(_package(leaf), 0) + count

    def ranked(counts: dict[str, int]) -> list[tuple[float, str]]:
        order = sorted(counts.items(), key=lambda item: item[1], reverse=True)[:top]
        return [(100 * n / total, name) for name, n in order]

    return (ranked(by_package), ranked(by_frame)) if total else ([], [])


# --- report -----------------------------------------------------------------------------------


def print_table(runs: list[EndpointRun], cores: int) -> None:
    header = f"{'endpoint':<14}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
    header += f"{'wrk cpu':>9}{'server':>9}{'postgres':>10}{'other':>8}{'machine':>9}"
    print(header)
    print("-" * len(header))
    for run in runs:
        pct = run.cpu_percent_of_one_core

        def show(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.0f}%"

        print(
            f"{'GET /' + run.path:<14}{run.wrk.requests_per_s:>10.0f}"
            f"{run.wrk.latency_p50_ms:>9.2f}{run.wrk.latency_p99_ms:>9.2f}"
            f"{run.wrk.non_2xx_3xx:>9}{show(pct['wrk']):>9}{show(pct['server']):>9}"
            f"{show(pct['postgres']):>10}{show(pct['other']):>8}{show(pct['machine']):>9}"
        )
    print(f"(CPU as % of one core over the measured window; the machine has {cores} cores)")
    for run in runs:
        if run.database:
            figures = ", ".join(
                f"{k.removesuffix('_per_request')} {v:g}" for k, v in run.database.items()
            )
            print(f"PostgreSQL per {run.name} request: {figures}")


def bottleneck_notes(runs: list[EndpointRun], cores: int) -> list[str]:
    notes = []
    for run in runs:
        pct = run.cpu_percent_of_one_core
        wrk, server = pct["wrk"] or 0.0, pct["server"] or 0.0
        machine = pct["machine"] or 0.0
        if wrk >= 90:
            notes.append(f"{run.name}: wrk used {wrk:.0f}% of a core: the driver may be the limit")
        elif server >= 90:
            notes.append(
                f"{run.name}: the server process is CPU-bound ({server:.0f}% of its one core; "
                f"wrk {wrk:.0f}%)"
            )
        if machine >= 90 * cores:
            notes.append(f"{run.name}: the whole machine was busy ({machine:.0f}%)")
        if (pct["other"] or 0.0) >= 20:
            notes.append(
                f"{run.name}: other programs used {pct['other']:.0f}% of a core meanwhile; "
                "the figures are disturbed, run again on a quiet machine"
            )
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    backend = parser.add_mutually_exclusive_group()
    backend.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    backend.add_argument(
        "--embedded",
        action="store_true",
        help="bench the embedded default (the server starts a fresh PostgreSQL of its own)",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per endpoint")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--access-log",
        choices=("on", "off"),
        default="on",
        help="on = as shipped (gamehub.access at INFO); off = that logger at WARNING",
    )
    parser.add_argument("--verbose", action="store_true", help="print wrk's own reports too")
    parser.add_argument(
        "--py-spy",
        action="store_true",
        help="sample the server with py-spy during the measured /profile run and print the "
        "hottest frames (the sampler costs CPU: do not quote these throughput figures)",
    )
    args = parser.parse_args(argv)
    args.pg_url = None if args.embedded else args.database_url

    if args.py_spy and not (
        shutil.which("py-spy") or Path(sys.executable).with_name("py-spy").exists()
    ):
        print("bench: --py-spy needs py-spy (`pip install py-spy`)", file=sys.stderr)
        return 2
    if shutil.which("wrk") is None:
        print(
            "bench: wrk is not installed. On Debian/Ubuntu: `apt-get install -y wrk` "
            "(or `make bench-profile`, which installs it when it can).",
            file=sys.stderr,
        )
        return 2

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    log_path = RESULTS_DIR / f"profile-{stamp}-server.log"
    stacks_path = RESULTS_DIR / f"profile-{stamp}-stacks.txt"
    scratch = Path(tempfile.mkdtemp(prefix="gamehub-bench-"))
    database_url = None if args.embedded else args.database_url
    token_ttl_s = max(900, int(4 * (args.duration + args.warmup)) + 300)
    env = server_env(database_url, scratch, token_ttl_s)
    cores = os.cpu_count() or 1

    print(
        f"backend: {'embedded default (its own PostgreSQL)' if args.embedded else database_url}\n"
        f"server: gamehub serve (Hypercorn, 1 worker, uvloop), GAMEHUB_ENV=development, "
        f"GAMEHUB_LOG_JSON=false, access log {'at INFO (as shipped)' if args.access_log == 'on' else 'silenced'}\n"  # noqa: E501
        f"set-up: GAMEHUB_BCRYPT_ROUNDS={BCRYPT_ROUNDS} so /register is quick "
        "(neither measured endpoint hashes a password)\n"
        f"load: wrk -t{args.threads} -c{args.connections}, {args.warmup:g} s warm-up + "
        f"{args.duration:g} s measured per endpoint"
    )
    if database_url is not None:
        try:
            if asyncio.run(_ensure_database(database_url)):
                print("created the benchmark database")
        except (OSError, Exception) as error:  # asyncpg raises its own error classes
            print(f"bench: cannot reach or create the database: {error}", file=sys.stderr)
            return 2
        migrate(env)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(env, port, args.access_log == "on", log_path)
    try:
        wait_ready(base, server, log_path)
        token = register_user(base)
        runs = [
            measure("bare", f"{base}/healthz", server.pid, args, []),
            measure(
                "profile",
                f"{base}/profile",
                server.pid,
                args,
                [f"Authorization: Bearer {token}"],
                py_spy_out=stacks_path if args.py_spy else None,
            ),
        ]
    finally:
        stop_server(server)
        shutil.rmtree(scratch, ignore_errors=True)

    bare, profile = runs
    ratio = profile.wrk.requests_per_s / bare.wrk.requests_per_s
    print()
    print_table(runs, cores)
    print(f"ratio profile/bare: {ratio:.3f}")
    for note in bottleneck_notes(runs, cores):
        print(f"note: {note}")

    if args.py_spy and stacks_path.exists():
        print(f"\nhottest frames of the server under GET /profile (py-spy, {stacks_path.name}):")
        packages, frames = summarise_stacks(stacks_path)
        print("self time by package:")
        for share, name in packages[:12]:
            print(f"  {share:5.1f}%  {name}")
        print("self time by frame:")
        for share, name in frames:
            print(f"  {share:5.1f}%  {name}")

    failed = [run for run in runs if run.wrk.failed]
    result = {
        "benchmark": "profile",
        "at": stamp,
        "backend": "embedded" if args.embedded else "postgresql",
        "server": "gamehub serve: Hypercorn, 1 worker, uvloop",
        "access_log": args.access_log,
        "bcrypt_rounds": BCRYPT_ROUNDS,
        "wrk": {
            "threads": args.threads,
            "connections": args.connections,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
        },
        "cores": cores,
        "runs": [
            {
                **asdict(run),
                "cpu_percent_of_one_core": run.cpu_percent_of_one_core,
            }
            for run in runs
        ],
        "ratio_profile_over_bare": round(ratio, 4),
        "ok": not failed,
    }
    out = RESULTS_DIR / f"profile-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"wrote {out.relative_to(PROJECT_ROOT)} (server log: {log_path.relative_to(PROJECT_ROOT)})"
    )

    if failed:
        for run in failed:
            print(
                f"FAILED: {run.name}: {run.wrk.non_2xx_3xx} non-2xx/3xx responses, "
                f"socket errors {run.wrk.socket_errors}; the figures above are not valid",
                file=sys.stderr,
            )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
