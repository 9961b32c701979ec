"""Fan-out benchmark: thousands of SSE subscribers on ONE room's stream, against a bare Quart
SSE broadcast measured in the same run.

Game Hub side: `gamehub serve` (Hypercorn, one worker, uvloop) with the Redis broker
(redis://127.0.0.1:6379/7, flushed first) and a fresh PostgreSQL database
(`gamehub_bench_fanout`). One player opens a waiting room (timeouts raised so that it stays
open); N subscribers each take a stream ticket and open `GET /games/rooms/{id}/events?ticket=…`.
Events are then published straight into the room's channel with the app's own
RedisBroker.publish (the atomic offset + XADD + PUBLISH script), at a fixed rate, from this
process: the server does what it does for any room event published by any instance — read it
from pub/sub once and deliver it to every local subscriber, which checks the seq and writes the
SSE frame. No room command runs, so this isolates the streaming path (a real pull adds one
database transaction per event, measured by bench.roulette). The events are synthetic
(`bench_tick`, padded to --event-bytes) but travel the same path as `trigger_pulled`.

Bare side: bench/bare_sse.py, a minimal Quart app under the same Hypercorn configuration, one
asyncio.Queue per subscriber, an in-process publisher at the same rate and event size.

For each: server RSS before and after the N streams are open and idle (KB per idle stream),
then delivered events/s in the measured window (and the offered rate), publish-to-receive
latency p50/p99 (sampled), lost or duplicated ids per stream (must be 0), streams cut off,
and the CPU of server, drivers, PostgreSQL and Redis. Prints the Game Hub/bare ratio.

    python -m bench.fanout                       # 2 000 subscribers, 100 events/s, 10 s
    python -m bench.fanout --subscribers 500 --rate 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import common
from bench.bare_sse import event_body
from bench.profile import (
    PROJECT_ROOT,
    RESULTS_DIR,
    free_port,
    migrate,
    start_py_spy,
    start_server,
    stop_server,
    summarise_stacks,
    wait_ready,
)
from gamehub.pg import asyncpg_dsn

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/gamehub_bench_fanout"
_IDS = re.compile(rb"^id: (\d+)$", re.MULTILINE)
_SENT = re.compile(rb'"sent":([\d.]+)')


# --- the driver (runs in --drivers worker processes) -------------------------------------------


@dataclass
class Stream:
    last: int | None = None
    events: int = 0
    lost: int = 0
    duplicated: int = 0
    ended: bool = False


async def run_driver(spec: dict[str, Any]) -> dict[str, Any]:
    """Open the spec's streams, report `ready` on stdout, read `go` times from stdin, count."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=60)
    streams = [Stream() for _ in spec["urls"]]
    window = [math.inf, math.inf]
    stop = asyncio.Event()
    latencies: list[float] = []
    in_window = [0]
    connect_errors: dict[str, int] = {}
    opened = [0]
    sample_every = int(spec["sample_every"])

    async def read(session: aiohttp.ClientSession, url: str, stream: Stream, gate: Any) -> None:
        async with gate:
            try:
                response = await session.get(url)
            except Exception as error:
                key = type(error).__name__
                connect_errors[key] = connect_errors.get(key, 0) + 1
                stream.ended = True
                return
        if response.status != 200:
            key = f"status {response.status}"
            connect_errors[key] = connect_errors.get(key, 0) + 1
            stream.ended = True
            response.release()
            return
        opened[0] += 1
        buffer = b""
        try:
            async for chunk in response.content.iter_any():
                buffer += chunk
                cut = buffer.rfind(b"\n\n")
                if cut < 0:
                    continue
                complete, buffer = buffer[: cut + 2], buffer[cut + 2 :]
                now = time.time()
                counted = window[0] <= now < window[1]
                for found in _IDS.finditer(complete):
                    seq = int(found.group(1))
                    if stream.last is not None:
                        if seq <= stream.last:
                            stream.duplicated += 1
                            continue
                        if seq != stream.last + 1:
                            stream.lost += seq - stream.last - 1
                    stream.last = seq
                    stream.events += 1
                    if counted:
                        in_window[0] += 1
                        if seq % sample_every == 0:
                            sent = _SENT.search(complete, found.end())
                            if sent is not None:
                                latencies.append(now - float(sent.group(1)))
                if stop.is_set():
                    break
        except Exception:
            pass
        finally:
            response.close()
        if not stop.is_set():
            stream.ended = True

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        gate = asyncio.Semaphore(int(spec["connect_concurrency"]))
        readers = [
            asyncio.create_task(read(session, url, stream, gate))
            for url, stream in zip(spec["urls"], streams, strict=True)
        ]
        # Ready once every stream has its first event (the snapshot for Game Hub, `retry` only
        # for the bare app) or has failed.
        while True:
            waiting = sum(1 for s in streams if s.last is None and not s.ended and spec["first_id"])
            if spec["first_id"] and waiting == 0:
                break
            if not spec["first_id"] and opened[0] + len(connect_errors) >= len(streams):
                break
            await asyncio.sleep(0.1)
        print(f"ready {opened[0]}", flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        start, end, stop_at = (float(x) for x in line.split()[1:4])
        window[0], window[1] = start, end
        await asyncio.sleep(max(0.0, stop_at - time.time()))
        stop.set()
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    return {
        "opened": opened[0],
        "connect_errors": connect_errors,
        "events_in_window": in_window[0],
        "events_total": sum(s.events for s in streams),
        "lost": sum(s.lost for s in streams),
        "duplicated": sum(s.duplicated for s in streams),
        "streams_with_gaps": sum(1 for s in streams if s.lost or s.duplicated),
        "streams_cut_off": sum(1 for s in streams if s.ended),
        "latencies": latencies,
    }


def driver_main(spec_path: str, out_path: str) -> None:
    common.install_uvloop()
    common.raise_open_files_limit()
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    result = asyncio.run(run_driver(spec))
    Path(out_path).write_text(json.dumps(result), encoding="utf-8")


# --- the orchestrator ----------------------------------------------------------------------------


class Drivers:
    """The driver processes of one side: started, ready, told when to count, collected."""

    def __init__(self, name: str, urls: list[str], first_id: bool, args: Any, scratch: Path):
        self.outs: list[Path] = []
        self.procs: list[subprocess.Popen[str]] = []
        for index in range(args.drivers):
            spec = {
                "urls": urls[index :: args.drivers],
                "first_id": first_id,
                "sample_every": args.sample_every,
                "connect_concurrency": 64,
            }
            spec_path = scratch / f"{name}-{index}.json"
            out = scratch / f"{name}-{index}-out.json"
            spec_path.write_text(json.dumps(spec), encoding="utf-8")
            self.outs.append(out)
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "bench.fanout", "--driver", str(spec_path), str(out)],
                    cwd=PROJECT_ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )

    @property
    def pids(self) -> list[int]:
        return [proc.pid for proc in self.procs]

    def wait_ready(self) -> int:
        opened = 0
        for proc in self.procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith("ready"):
                raise SystemExit(f"bench: a driver failed before it was ready ({line!r})")
            opened += int(line.split()[1])
        return opened

    def go(self, start: float, end: float, stop_at: float) -> None:
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(f"go {start} {end} {stop_at}\n")
            proc.stdin.flush()

    def collect(self, timeout: float) -> dict[str, Any]:
        merged: dict[str, Any] = {"latencies": [], "connect_errors": {}}
        for proc, out in zip(self.procs, self.outs, strict=True):
            proc.wait(timeout=timeout)
            if proc.returncode != 0:
                raise SystemExit("bench: a fanout driver failed")
            part = json.loads(out.read_text(encoding="utf-8"))
            for key, value in part.items():
                if key == "latencies":
                    merged["latencies"].extend(value)
                elif key == "connect_errors":
                    for k, v in value.items():
                        merged["connect_errors"][k] = merged["connect_errors"].get(k, 0) + v
                else:
                    merged[key] = merged.get(key, 0) + value
        return merged

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _redis_pid() -> int | None:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm", encoding="utf-8") as comm:
                    if comm.read().strip() == "redis-server":
                        return int(entry)
            except OSError:
                continue
    return None


def measure_side(
    name: str,
    server: Any,
    urls: list[str],
    first_id: bool,
    publish: Any,
    args: Any,
    scratch: Path,
) -> dict[str, Any]:
    """Open the streams, weigh them idle, publish for warm-up + duration, count deliveries."""
    time.sleep(1.0)
    rss_before = common.rss_kb(server.pid)
    drivers = Drivers(name, urls, first_id, args, scratch)
    try:
        began = time.time()
        opened = drivers.wait_ready()
        connect_s = time.time() - began
        time.sleep(3.0)  # let the server settle (buffers, GC) before weighing the idle streams
        rss_idle = common.rss_kb(server.pid)
        start_at = time.time() + 1.0
        window = (start_at + args.warmup, start_at + args.warmup + args.duration)
        stop_at = window[1] + 1.0
        drivers.go(window[0], window[1], stop_at)
        extra = {"redis": pid} if (pid := _redis_pid()) else {}
        cpu = common.CpuWindow(server.pid, drivers.pids, extra)
        publish(start_at, math.ceil(args.rate * (args.warmup + args.duration)))
        while time.time() < window[0]:
            time.sleep(0.05)
        cpu.start()
        sampler = (
            start_py_spy(server.pid, args.duration, args.py_spy_out)
            if getattr(args, "py_spy_out", None) is not None
            else None
        )
        peak = 0
        while time.time() < window[1]:
            peak = max(peak, common.rss_kb(server.pid))
            time.sleep(0.2)
        used = cpu.stop()
        load = common.load_average()
        if sampler is not None:
            sampler.wait(timeout=60)
        merged = drivers.collect(timeout=120)
    finally:
        drivers.kill()
    latencies = merged.pop("latencies")
    offered = args.rate * opened
    delivered = merged["events_in_window"] / args.duration
    return {
        "side": name,
        "subscribers_opened": opened,
        "connect_s": round(connect_s, 1),
        "server_rss_before_mb": round(rss_before / 1024, 1),
        "server_rss_idle_streams_mb": round(rss_idle / 1024, 1),
        "kb_per_idle_stream": round((rss_idle - rss_before) / max(1, opened), 1),
        "server_rss_peak_mb": round(peak / 1024, 1),
        "offered_events_per_s": round(offered, 1),
        "delivered_events_per_s": round(delivered, 1),
        "latency_ms": {
            "p50": common.ms(common.percentile(latencies, 0.5)),
            "p99": common.ms(common.percentile(latencies, 0.99)),
            "samples": len(latencies),
        },
        **merged,
        "cpu_percent_of_one_core": used,
        "load_average": load,
    }


async def _tickets(base: str, token: str, count: int) -> list[str]:
    import aiohttp

    tickets: list[str] = []
    remaining = iter(range(count))

    async def one(session: aiohttp.ClientSession) -> None:
        for _ in remaining:
            async with session.post(
                f"{base}/auth/stream-ticket", headers={"Authorization": f"Bearer {token}"}
            ) as answer:
                body = await answer.json()
                if answer.status != 200:
                    raise RuntimeError(f"stream-ticket: {answer.status} {body}")
                tickets.append(str(body["ticket"]))

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16)) as session:
        await asyncio.gather(*(one(session) for _ in range(16)))
    return tickets


async def _open_room(base: str, token: str) -> int:
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{base}/games/join",
            json={"stake": "10.00"},
            headers={"Authorization": f"Bearer {token}"},
        ) as answer,
    ):
        body = await answer.json()
        if answer.status != 200:
            raise RuntimeError(f"join: {answer.status} {body}")
        return int(body["room"]["id"])


def publish_redis(room_id: int, event_bytes: int, database_url: str) -> Any:
    """A publisher that does what a room's actor does for each event, at a fixed rate: store
    the event in room_events (so the durable replay can fill a subscriber's gap, as in
    production) and RedisBroker.publish it with its seq. Runs in a background thread with its
    own event loop, so the orchestrator stays free to sample."""
    import threading

    import asyncpg

    from gamehub.rooms.broker import encode
    from gamehub.rooms.redis_broker import RedisBroker
    from gamehub.rooms.store import channel

    def publish(start_at: float, count: int, rate: float) -> None:
        async def run() -> None:
            broker = RedisBroker(common.REDIS_URL)
            database = await asyncpg.connect(asyncpg_dsn(database_url))
            try:
                for index in range(count):
                    delay = start_at + index / rate - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    seq = index + 2  # the room's player_joined was seq 1
                    body = event_body(seq, room_id, event_bytes, time.time())
                    del body["seq"]
                    await database.execute(
                        "INSERT INTO room_events (room_id, seq, type, data, created_at)"
                        " VALUES ($1, $2, $3, $4, now())",
                        room_id,
                        seq,
                        body["type"],
                        encode(seq, body),
                    )
                    await broker.publish(channel(room_id), body, seq=seq)
            finally:
                await broker.close()
                await database.close()

        asyncio.run(run())

    def start(start_at: float, count: int, rate: float) -> threading.Thread:
        thread = threading.Thread(target=publish, args=(start_at, count, rate), daemon=True)
        thread.start()
        return thread

    return start


def print_report(result: dict[str, Any]) -> None:
    print()
    print(
        f"Fan-out: {result['subscribers']} subscribers on one stream, {result['rate']:g} events/s "
        f"of ~{result['event_bytes']} B, {result['duration_s']:g} s measured"
    )
    header = (
        f"{'':<22}{'opened':>7}{'KB/idle':>9}{'offered/s':>11}{'delivered/s':>13}"
        f"{'p50 ms':>9}{'p99 ms':>10}{'lost':>6}{'dup':>5}{'cut off':>8}"
    )
    print(header)
    print("-" * len(header))
    for side in (result["gamehub"], result["bare"]):
        print(
            f"{side['side']:<22}{side['subscribers_opened']:>7}{side['kb_per_idle_stream']:>9}"
            f"{side['offered_events_per_s']:>11.0f}{side['delivered_events_per_s']:>13.0f}"
            f"{side['latency_ms']['p50'] or 0:>9}{side['latency_ms']['p99'] or 0:>10}"
            f"{side['lost']:>6}{side['duplicated']:>5}{side['streams_cut_off']:>8}"
        )
    for side in (result["gamehub"], result["bare"]):
        c = side["cpu_percent_of_one_core"]
        print(
            f"CPU {side['side']:<18} server {c['server']:.0f}% | drivers {c['driver']:.0f}% | "
            f"redis {c.get('redis', 0):.0f}% | postgres {c['postgres']:.0f}% | other "
            f"{c['other']:.0f}% | machine {c['machine']:.0f}%   load {side['load_average']}"
        )
    print(
        f"ratio delivered events/s Game Hub / bare: {result['ratio']:.3f} (goal >= 0.8); "
        f"KB per idle stream {result['gamehub']['kb_per_idle_stream']} (goal <= 20)"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--driver"]:
        driver_main(argv[1], argv[2])
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m bench.fanout",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=100.0, help="events/s published")
    parser.add_argument("--event-bytes", type=int, default=200, help="JSON data size of an event")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--drivers", type=int, default=2, help="driver processes")
    parser.add_argument("--sample-every", type=int, default=5, help="latency of every n-th id")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--skip-bare", action="store_true")
    parser.add_argument(
        "--py-spy",
        action="store_true",
        help="sample the Game Hub server with py-spy in its measured window (costs CPU)",
    )
    args = parser.parse_args(argv)
    common.raise_open_files_limit()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="gamehub-bench-fanout-"))
    log_path = RESULTS_DIR / f"fanout-{stamp}-server.log"
    env = common.server_env(
        args.database_url,
        scratch,
        redis_url=common.REDIS_URL,
        # The room must stay open (waiting) for the whole run.
        GAMEHUB_ROULETTE_WAITING_TIMEOUT_S="36000",
        GAMEHUB_STREAM_TICKET_TTL_S="3600",
        # Every subscriber is the one player's: the per-login cap of streams must not refuse them.
        GAMEHUB_MAX_STREAMS_PER_USER=str(args.subscribers),
    )
    print(
        f"Game Hub: gamehub serve (Hypercorn, 1 worker, uvloop), Redis broker {common.REDIS_URL} "
        f"(flushed), PostgreSQL {args.database_url} (fresh); events published with "
        f"RedisBroker.publish into one room's channel\nbare: bench/bare_sse.py (same Hypercorn "
        f"config, asyncio.Queue per subscriber, in-process publisher)\nload: "
        f"{args.subscribers} SSE subscribers (aiohttp on uvloop, {args.drivers} driver "
        f"processes), {args.rate:g} events/s, {args.warmup:g} s warm-up + {args.duration:g} s",
        flush=True,
    )
    load_before = common.load_average()
    asyncio.run(common.reset_database(args.database_url))
    migrate(env)
    asyncio.run(common.flush_redis(common.REDIS_URL))

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(env, port, True, log_path)
    try:
        wait_ready(base, server, log_path)
        run_id = stamp[4:14]
        (owner,) = asyncio.run(common.register_players(base, 1, run_id))
        asyncio.run(common.fund_players(args.database_url, [owner.user_id], run_id))
        room_id = asyncio.run(_open_room(base, owner.token))
        tickets = asyncio.run(_tickets(base, owner.token, args.subscribers))
        urls = [f"{base}/games/rooms/{room_id}/events?ticket={t}" for t in tickets]
        start = publish_redis(room_id, args.event_bytes, args.database_url)
        threads: list[Any] = []

        def publish(start_at: float, count: int) -> None:
            threads.append(start(start_at, count, args.rate))

        print(f"Game Hub: {args.subscribers} streams on room {room_id} …", flush=True)
        args.py_spy_out = RESULTS_DIR / f"fanout-{stamp}-stacks.txt" if args.py_spy else None
        gamehub = measure_side("Game Hub room stream", server, urls, True, publish, args, scratch)
        for thread in threads:
            thread.join(timeout=30)
    finally:
        stop_server(server)

    bare: dict[str, Any] | None = None
    if not args.skip_bare:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        bare_log = RESULTS_DIR / f"fanout-{stamp}-bare.log"
        with bare_log.open("w", encoding="utf-8") as sink:
            bare_server = subprocess.Popen(
                [sys.executable, "-m", "bench.bare_sse", "--port", str(port)],
                cwd=PROJECT_ROOT,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_ready(base, bare_server, bare_log)
            import urllib.request

            def publish_bare(start_at: float, count: int) -> None:
                body = json.dumps(
                    {
                        "rate": args.rate,
                        "count": count,
                        "event_bytes": args.event_bytes,
                        "start_at": start_at,
                    }
                ).encode()
                request = urllib.request.Request(
                    f"{base}/start",
                    data=body,
                    method="POST",
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=30):
                    pass

            print(f"bare: {args.subscribers} streams …", flush=True)
            urls = [f"{base}/events"] * args.subscribers
            args.py_spy_out = None
            bare = measure_side(
                "bare Quart SSE", bare_server, urls, False, publish_bare, args, scratch
            )
        finally:
            stop_server(bare_server)
    shutil.rmtree(scratch, ignore_errors=True)

    result: dict[str, Any] = {
        "benchmark": "fanout",
        "at": stamp,
        "subscribers": args.subscribers,
        "rate": args.rate,
        "event_bytes": args.event_bytes,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "drivers": args.drivers,
        "cores": os.cpu_count(),
        "load_average_before": load_before,
        "gamehub": gamehub,
        "bare": bare,
    }
    if bare is not None:
        result["ratio"] = round(
            gamehub["delivered_events_per_s"] / max(1.0, bare["delivered_events_per_s"]), 3
        )
        print_report(result)
    else:
        print(json.dumps(gamehub, indent=2))
    stacks = RESULTS_DIR / f"fanout-{stamp}-stacks.txt"
    if args.py_spy and stacks.exists():
        packages, frames = summarise_stacks(stacks)
        result["py_spy"] = {"stacks": stacks.name, "self_by_package": packages[:15]}
        print(f"\npy-spy self time of the Game Hub server ({stacks.name}; costs CPU):")
        for share, name in packages[:10]:
            print(f"  {share:5.1f}%  {name}")
        for share, name in frames[:15]:
            print(f"  {share:5.1f}%  {name}")
    out = RESULTS_DIR / f"fanout-{stamp}.json"
    common.write_json(out, result)
    print(f"wrote {out.relative_to(PROJECT_ROOT)}")
    return 0 if gamehub["lost"] == 0 and gamehub["duplicated"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
