"""Load benchmark of Russian Roulette: many concurrent two-player matches on one server.

Starts `gamehub serve` (Hypercorn, one worker, uvloop) against a fresh PostgreSQL database
(`gamehub_bench_rooms`, dropped, created and migrated each run) with the in-process broker, or
Redis with --redis (redis://127.0.0.1:6379/7, flushed first). Set-up registers two players per
match over HTTP (GAMEHUB_BCRYPT_ROUNDS=4 so that /register is quick; nothing measured hashes a
password) and funds their wallets through the ledger in the database, as a confirmed M-Pesa
deposit would (the product has no funding endpoint).

Each pair of bots then loops: both `POST /games/join` with the pair's own stake (so the two meet
each other), each takes a ticket (`POST /auth/stream-ticket`) and reads the room's SSE stream;
whoever's turn it is pulls (`POST /games/pull-trigger`) until `match_ended`; then both join again.
Every stream is checked: ids gapless and unique from the snapshot's seq to `match_ended`. The
pull-to-event latency is the time from sending a pull to seeing its `trigger_pulled` on each
player's stream (the shooter's and the opponent's). After the measured window no new match
starts, matches in play finish, and ledger.check_invariants (plus escrow of closed rooms) must
come back clean.

The baseline, in the same run and with the same number of concurrent clients, is the bench-only
one-transaction endpoint `POST /bench/probe` (GAMEHUB_BENCH_ENDPOINTS=true), or `GET /healthz`
if the probe is missing. The driver is aiohttp on uvloop, split over --drivers processes; the CPU
of the drivers, the server and PostgreSQL in the measured window is printed beside the figures.

    python -m bench.roulette --matches 100
    python -m bench.roulette --matches 1000 --duration 30
    python -m bench.roulette --matches 100 --redis --py-spy
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import common
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

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/gamehub_bench_rooms"
TRANSPORTS = {
    "sse": "HTTP commands, an SSE stream each per match",
    "ws": "one WebSocket each for commands and events",
}
MIN_STAKE_CENTS = 1_000  # the catalogue's minimum stake; pair i plays for MIN + i cents


# --- the driver (runs in --drivers worker processes) -------------------------------------------


def _stake_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass
class DriverStats:
    window_start: float
    window_end: float
    matches: int = 0
    matches_total: int = 0
    joins: int = 0
    pulls: int = 0
    requests: int = 0
    latency_shooter: list[float] = field(default_factory=list)
    latency_opponent: list[float] = field(default_factory=list)
    pull_http: list[float] = field(default_factory=list)
    join_http: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    streams: int = 0
    streams_complete: int = 0
    lost: int = 0
    duplicated: int = 0
    streams_with_problems: int = 0
    late_streams: int = 0
    auto_pulls: int = 0
    problem_examples: list[str] = field(default_factory=list)

    def in_window(self, at: float) -> bool:
        return self.window_start <= at < self.window_end

    def problem(self, text: str) -> None:
        self.streams_with_problems += 1
        if len(self.problem_examples) < 10:
            self.problem_examples.append(text)


class MatchFailed(Exception):
    pass


@dataclass
class Pair:
    bots: tuple[tuple[int, str], tuple[int, str]]
    stake: str
    # The instance each bot talks to (bench.cluster puts a pair's bots on different ones);
    # None: the driver's own base.
    bases: tuple[str, str] | None = None
    sent: dict[int, float] = field(default_factory=dict)
    rooms: dict[int, int] = field(default_factory=dict)


class Watch:
    """One bot's view of one room's events, whatever carries them (SSE or WebSocket): checks
    that ids run gapless and unique from the snapshot's seq, measures pull-to-event latency,
    and says when it is this bot's turn (`take_turn(pull number)`) and when the match is over."""

    def __init__(
        self,
        stats: DriverStats,
        pair: Pair,
        user_id: int,
        room_id: int,
        take_turn: Callable[[int], None],
    ) -> None:
        self.stats = stats
        self.pair = pair
        self.user_id = user_id
        self.room_id = room_id
        self._take_turn = take_turn
        self.pulled: set[int] = set()
        self.last: int | None = None
        self.ended_at: float | None = None

    def turn(self, number: int) -> None:
        if number not in self.pulled:
            self.pulled.add(number)
            self._take_turn(number)

    def see(self, seq: int, kind: str, data: bytes | dict[str, Any], now: float) -> bool:
        """One event (its JSON text, or already decoded); True once the match is over."""
        stats, room_id, user_id, last = self.stats, self.room_id, self.user_id, self.last

        def body() -> dict[str, Any]:
            return data if isinstance(data, dict) else json.loads(data)

        if last is None:
            if kind != "snapshot":
                stats.problem(f"room {room_id}: first event {kind}, not snapshot")
        elif seq <= last:
            stats.duplicated += 1
            stats.problem(f"room {room_id}: id {seq} after {last}")
            return False
        elif seq != last + 1:
            stats.lost += seq - last - 1
            stats.problem(f"room {room_id}: id {seq} after {last}")
        self.last = seq
        if kind == "turn":
            turn = body()
            if turn["shooter"] == user_id:
                self.turn(int(turn["pull_number"]))
        elif kind == "trigger_pulled":
            pulled = body()
            if pulled.get("auto") and pulled["shooter"] == user_id:
                stats.auto_pulls += 1
            sent = self.pair.sent.get(int(pulled["pull_number"]))
            if sent is not None and stats.in_window(sent):
                mine = pulled["shooter"] == user_id
                (stats.latency_shooter if mine else stats.latency_opponent).append(now - sent)
        elif kind == "snapshot":
            state = body()["room"]
            if state["status"] in ("finished", "cancelled"):
                # Not a lost event: the match ended (a bang on the first pull, or turns timed
                # out) before this bot's stream opened.
                stats.late_streams += 1
                self.ended_at = now
            elif state["status"] == "playing" and state["turn_user_id"] == user_id:
                self.turn(int(state["pull_number"]) + 1)
        elif kind == "match_ended":
            self.ended_at = now
        elif kind == "room_cancelled":
            stats.errors["room_cancelled"] += 1
            raise MatchFailed("cancelled")
        return self.ended_at is not None

    def finished(self) -> tuple[int, float]:
        """(room id, match_ended time) of a stream read to its end; MatchFailed otherwise."""
        if self.ended_at is None:
            self.stats.errors["events ended early"] += 1
            raise MatchFailed("stream ended before match_ended")
        self.stats.streams_complete += 1
        return self.room_id, self.ended_at


class Driver:
    """The bots' moves, whatever carries them: `command` sends one (join, pull-trigger, leave)
    and `watch_room` reads one bot's room events until the match is over. SseDriver does it the
    browser's way (HTTP commands, a ticket, an EventSource), WsDriver a game client's way (one
    WebSocket per bot for commands and events, as the peer's clients do)."""

    def __init__(
        self,
        session: Any,
        base: str,
        stats: DriverStats,
        match_timeout: float,
        think_s: float = 0.0,
    ) -> None:
        self.session = session
        self.base = base
        self.stats = stats
        self.match_timeout = match_timeout
        self.think_s = think_s

    def base_of(self, pair: Pair, seat: int) -> str:
        return self.base if pair.bases is None else pair.bases[seat]

    async def command(self, pair: Pair, seat: int, op: str, body: dict[str, Any]) -> Any:
        raise NotImplementedError

    async def watch_room(self, pair: Pair, seat: int, watch: Watch) -> None:
        raise NotImplementedError

    async def pull(self, pair: Pair, seat: int, room_id: int, number: int) -> None:
        if self.think_s:
            # A person's pace: half to one and a half times the think time, before pulling.
            await asyncio.sleep(self.think_s * (0.5 + random.random()))
        clock = time.time
        sent = pair.sent[number] = clock()
        try:
            await self.command(pair, seat, "pull-trigger", {"room_id": room_id})
        except MatchFailed:
            return
        if self.stats.in_window(sent):
            self.stats.pulls += 1
            self.stats.pull_http.append(clock() - sent)

    async def play(self, pair: Pair, seat: int) -> tuple[int, float]:
        """One bot's match: join, watch the room, pull on its turns; (room id, match_ended
        time)."""
        stats = self.stats
        begun = time.time()
        room = (await self.command(pair, seat, "join", {"stake": pair.stake}))["room"]
        if stats.in_window(begun):
            stats.joins += 1
            stats.join_http.append(time.time() - begun)
        room_id = pair.rooms[seat] = int(room["id"])
        pulls: list[asyncio.Task[None]] = []
        watch = Watch(
            stats,
            pair,
            pair.bots[seat][0],
            room_id,
            lambda number: pulls.append(
                asyncio.create_task(self.pull(pair, seat, room_id, number))
            ),
        )
        stats.streams += 1
        try:
            await self.watch_room(pair, seat, watch)
        finally:
            for task in pulls:
                with contextlib.suppress(Exception):
                    await task
        return watch.finished()

    async def close(self) -> None:
        """Close what the bots keep open across matches."""

    async def leave(self, pair: Pair) -> None:
        """After a failed match: leave the rooms the bots joined (a refund while waiting, a
        forfeit in play, a 409 if the room has closed meanwhile), so no seat stays taken."""
        for seat, room_id in pair.rooms.items():
            with contextlib.suppress(Exception):
                await self.command(pair, seat, "leave", {"room_id": room_id})

    async def pair_loop(self, pair: Pair, stop_at: float) -> None:
        stats = self.stats
        while time.time() < stop_at:
            pair.sent = {}
            pair.rooms = {}
            outcome: list[Any]
            try:
                async with asyncio.timeout(self.match_timeout):
                    outcome = list(
                        await asyncio.gather(
                            self.play(pair, 0), self.play(pair, 1), return_exceptions=True
                        )
                    )
            except TimeoutError:
                stats.errors["match timeout"] += 1
                outcome = [MatchFailed("timeout")]
            failures = [o for o in outcome if isinstance(o, BaseException)]
            for failure in failures:
                if not isinstance(failure, MatchFailed):
                    stats.errors[f"driver {type(failure).__name__}: {failure}"[:120]] += 1
            if failures:
                await self.leave(pair)
                await asyncio.sleep(0.5)
                continue
            (room_a, ended), (room_b, _) = outcome
            if room_a != room_b:
                stats.errors["pair split over two rooms"] += 1
                continue
            stats.matches_total += 1
            if stats.in_window(ended):
                stats.matches += 1


class SseDriver(Driver):
    """HTTP commands and one SSE stream per bot and match, as the browser client plays."""

    async def command(self, pair: Pair, seat: int, op: str, body: dict[str, Any]) -> Any:
        return await self.post(f"/games/{op}", pair.bots[seat][1], body, self.base_of(pair, seat))

    async def post(
        self, path: str, token: str, body: dict[str, Any] | None = None, base: str | None = None
    ) -> Any:
        """POST and return the JSON answer; raises MatchFailed (counted) on anything but 200."""
        data = b"{}" if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        name = path.rsplit("/", 1)[-1]
        self.stats.requests += 1
        try:
            url = (base or self.base) + path
            async with self.session.post(url, data=data, headers=headers) as answer:
                text = await answer.read()
                status = answer.status
        except Exception as error:  # connection errors and the like, counted by type
            self.stats.errors[f"{name} {type(error).__name__}"] += 1
            raise MatchFailed(name) from error
        if status != 200:
            code = ""
            with contextlib.suppress(Exception):
                code = " " + json.loads(text)["error"]["code"]
            self.stats.errors[f"{name} {status}{code}"] += 1
            raise MatchFailed(f"{name} {status}")
        return json.loads(text)

    async def watch_room(self, pair: Pair, seat: int, watch: Watch) -> None:
        base = self.base_of(pair, seat)
        ticket = (await self.post("/auth/stream-ticket", pair.bots[seat][1], None, base))["ticket"]
        url = f"{base}/games/rooms/{watch.room_id}/events?ticket={ticket}"
        self.stats.requests += 1
        async with self.session.get(url) as response:
            if response.status != 200:
                self.stats.errors[f"events {response.status}"] += 1
                raise MatchFailed("events")
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                while (cut := buffer.find(b"\n\n")) >= 0:
                    block, buffer = buffer[:cut], buffer[cut + 2 :]
                    if not block.startswith(b"id: "):
                        continue  # `retry:` or a keep-alive comment
                    now = time.time()
                    head, _, data = block.partition(b"\ndata: ")
                    id_line, _, type_line = head.partition(b"\nevent: ")
                    if watch.see(int(id_line[4:]), type_line.decode(), data, now):
                        return


async def _probe_loops(spec: dict[str, Any], session: Any, stats: DriverStats) -> None:
    url = spec["base"] + spec["probe_path"]
    method = spec["probe_method"]
    end = spec["window_end"]

    async def loop() -> None:
        while (begun := time.time()) < end:
            stats.requests += 1
            try:
                async with session.request(method, url) as answer:
                    await answer.read()
                    status = answer.status
            except Exception as error:
                stats.errors[f"probe {type(error).__name__}"] += 1
                await asyncio.sleep(0.1)
                continue
            if status != 200:
                stats.errors[f"probe {status}"] += 1
            elif stats.in_window(begun):
                stats.pulls += 1  # counted as "requests done" in probe mode
                stats.pull_http.append(time.time() - begun)

    await asyncio.gather(*(loop() for _ in range(spec["loops"])))


async def run_driver(spec: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    stats = DriverStats(spec["window_start"], spec["window_end"])
    connector = aiohttp.TCPConnector(limit=0, force_close=False, enable_cleanup_closed=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.sleep(max(0.0, spec["start_at"] - time.time()))
        if spec["mode"] == "probe":
            await _probe_loops(spec, session, stats)
        else:
            driver: Driver
            think = spec["think_ms"] / 1000
            if spec["transport"] == "ws":
                from bench.roulette_ws import WsDriver

                driver = WsDriver(session, spec["base"], stats, spec["match_timeout"], think)
            else:
                driver = SseDriver(session, spec["base"], stats, spec["match_timeout"], think)
            pairs = [
                Pair(
                    ((a[0], a[1]), (b[0], b[1])),
                    _stake_text(stake),
                    None if not bases else (bases[0], bases[1]),
                )
                for a, b, stake, *bases in spec["pairs"]
            ]

            async def staggered(index: int, pair: Pair) -> None:
                # Spread the first joins over the warm-up instead of one thundering herd.
                await asyncio.sleep(spec["ramp_s"] * index / max(1, len(pairs)))
                await driver.pair_loop(pair, spec["window_end"])

            await asyncio.gather(*(staggered(i, p) for i, p in enumerate(pairs)))
            await driver.close()
    result = {key: value for key, value in vars(stats).items()}
    result["errors"] = dict(stats.errors)
    return result


def driver_main(spec_path: str, out_path: str) -> None:
    common.install_uvloop()
    common.raise_open_files_limit()
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    result = asyncio.run(run_driver(spec))
    Path(out_path).write_text(json.dumps(result), encoding="utf-8")


# --- the orchestrator ----------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    drivers: list[dict[str, Any]]
    cpu: dict[str, float]
    load_average: list[float]
    server_rss_peak_kb: int
    server_rss_end_kb: int
    wall_s: float

    def merged(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for part in self.drivers:
            for key, value in part.items():
                if isinstance(value, list):
                    merged.setdefault(key, []).extend(value)
                elif isinstance(value, dict):
                    bucket = merged.setdefault(key, {})
                    for k, v in value.items():
                        bucket[k] = bucket.get(k, 0) + v
                elif isinstance(value, int | float) and key not in ("window_start", "window_end"):
                    merged[key] = merged.get(key, 0) + value
        return merged


def run_phase(
    name: str,
    specs: list[dict[str, Any]],
    server: Any,
    scratch: Path,
    window: tuple[float, float],
    deadline: float,
    py_spy_out: Path | None = None,
    on_window: Any = None,
) -> Phase:
    procs = []
    outs = []
    for index, spec in enumerate(specs):
        spec_path = scratch / f"{name}-{index}.json"
        out_path = scratch / f"{name}-{index}-out.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "bench.roulette", "--driver", str(spec_path), str(out_path)],
                cwd=PROJECT_ROOT,
            )
        )
        outs.append(out_path)
    cpu = common.CpuWindow(server.pid, [p.pid for p in procs])
    cpu_result: dict[str, float] = {}
    load: list[float] = []
    peak = 0
    started = False
    sampler = None
    try:
        while any(p.poll() is None for p in procs):
            now = time.time()
            if not started and now >= window[0]:
                cpu.start()
                started = True
                if on_window is not None:
                    on_window()
                if py_spy_out is not None:
                    sampler = start_py_spy(server.pid, window[1] - window[0], py_spy_out)
            if started and not cpu_result and now >= window[1]:
                cpu_result = cpu.stop()
                load = common.load_average()
                if on_window is not None:
                    on_window()
            peak = max(peak, common.rss_kb(server.pid))
            if now > deadline:
                raise SystemExit(f"bench: the {name} drivers did not finish in time")
            if server.poll() is not None:
                raise SystemExit(f"bench: the server exited during {name}")
            time.sleep(0.1)
        if sampler is not None:
            sampler.wait(timeout=60)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if any(p.returncode != 0 for p in procs):
        raise SystemExit(f"bench: a {name} driver failed")
    if not cpu_result:
        cpu_result = cpu.stop()
        load = common.load_average()
    return Phase(
        name=name,
        drivers=[json.loads(out.read_text(encoding="utf-8")) for out in outs],
        cpu=cpu_result,
        load_average=load,
        server_rss_peak_kb=peak,
        server_rss_end_kb=common.rss_kb(server.pid),
        wall_s=window[1] - window[0],
    )


def summarise_roulette(phase: Phase, matches: int) -> dict[str, Any]:
    m = phase.merged()
    wall = phase.wall_s
    pct = common.percentile
    return {
        "concurrent_matches": matches,
        "matches_per_s": round(m["matches"] / wall, 1),
        "pulls_per_s": round(m["pulls"] / wall, 1),
        "joins_per_s": round(m["joins"] / wall, 1),
        "room_commands_per_s": round((m["pulls"] + m["joins"]) / wall, 1),
        "pull_to_event_ms": {
            "shooter": {
                "p50": common.ms(pct(m["latency_shooter"], 0.5)),
                "p99": common.ms(pct(m["latency_shooter"], 0.99)),
                "samples": len(m["latency_shooter"]),
            },
            "opponent": {
                "p50": common.ms(pct(m["latency_opponent"], 0.5)),
                "p99": common.ms(pct(m["latency_opponent"], 0.99)),
                "samples": len(m["latency_opponent"]),
            },
        },
        "pull_http_ms": {
            "p50": common.ms(pct(m["pull_http"], 0.5)),
            "p99": common.ms(pct(m["pull_http"], 0.99)),
        },
        "join_http_ms": {
            "p50": common.ms(pct(m["join_http"], 0.5)),
            "p99": common.ms(pct(m["join_http"], 0.99)),
        },
        "streams_checked": m["streams"],
        "streams_complete": m["streams_complete"],
        "events_lost": m["lost"],
        "events_duplicated": m["duplicated"],
        "streams_with_problems": m["streams_with_problems"],
        "problem_examples": m.get("problem_examples", [])[:10],
        "streams_opened_after_match_ended": m["late_streams"],
        "auto_pulls_by_turn_timeout": m["auto_pulls"],
        "matches_total_incl_warmup_and_drain": m["matches_total"],
        "errors": dict(sorted(m.get("errors", {}).items())),
        "cpu_percent_of_one_core": phase.cpu,
        "load_average": phase.load_average,
        "server_rss_peak_mb": round(phase.server_rss_peak_kb / 1024, 1),
    }


def summarise_probe(phase: Phase, path: str, loops: int) -> dict[str, Any]:
    m = phase.merged()
    return {
        "endpoint": path,
        "concurrent_clients": loops,
        "requests_per_s": round(m["pulls"] / phase.wall_s, 1),
        "p50_ms": common.ms(common.percentile(m["pull_http"], 0.5)),
        "p99_ms": common.ms(common.percentile(m["pull_http"], 0.99)),
        "errors": dict(sorted(m.get("errors", {}).items())),
        "cpu_percent_of_one_core": phase.cpu,
        "load_average": phase.load_average,
    }


def sql_per_match(path: Path, phase: Phase) -> dict[str, Any] | None:
    time.sleep(0.5)  # the server writes its snapshot from a signal handler
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    if len(lines) < 2:
        return None
    first, last = json.loads(lines[0]), json.loads(lines[1])
    delta = {key: last[key] - first.get(key, 0) for key in last}
    matches = max(1, phase.merged()["matches"])
    ordered = sorted(delta.items(), key=lambda item: item[1], reverse=True)
    return {
        "window_totals": dict(ordered),
        "per_match": {key: round(value / matches, 2) for key, value in ordered if value},
    }


def think_text(think_ms: float) -> str:
    return f", bots thinking {think_ms / 2:g}-{think_ms * 1.5:g} ms per pull" if think_ms else ""


def print_report(result: dict[str, Any]) -> None:
    r, b = result["roulette"], result["baseline"]

    def cpu(c: dict[str, float]) -> str:
        return (
            f"server {c['server']:.0f}% | drivers {c['driver']:.0f}% | postgres "
            f"{c['postgres']:.0f}% | other {c['other']:.0f}% | machine {c['machine']:.0f}%"
        )

    lat = r["pull_to_event_ms"]
    print()
    print(
        f"Russian Roulette, {r['concurrent_matches']} concurrent matches over "
        f"{result['transport']}{think_text(result['think_ms'])}, broker {result['broker']}, "
        f"{result['duration_s']:g} s measured"
    )
    print("-" * 96)
    rows = [
        ("matches/s", f"{r['matches_per_s']}"),
        ("pulls/s", f"{r['pulls_per_s']}   (joins/s {r['joins_per_s']})"),
        (
            "pull→event shooter",
            f"p50 {lat['shooter']['p50']} ms  p99 {lat['shooter']['p99']} ms  "
            f"({lat['shooter']['samples']} samples)",
        ),
        (
            "pull→event opponent",
            f"p50 {lat['opponent']['p50']} ms  p99 {lat['opponent']['p99']} ms  "
            f"({lat['opponent']['samples']} samples)",
        ),
        (
            "reply to pull / join",
            f"pull p50 {r['pull_http_ms']['p50']} p99 {r['pull_http_ms']['p99']} ms; "
            f"join p50 {r['join_http_ms']['p50']} p99 {r['join_http_ms']['p99']} ms",
        ),
        (
            "streams checked",
            f"{r['streams_checked']} ({r['streams_complete']} to match_ended): lost "
            f"{r['events_lost']}, duplicated {r['events_duplicated']}, "
            f"streams with problems {r['streams_with_problems']}",
        ),
        (
            "too slow to play",
            f"turns timed out (auto-pulls) {r['auto_pulls_by_turn_timeout']}, streams opened "
            f"after their match ended {r['streams_opened_after_match_ended']}",
        ),
        ("errors", json.dumps(r["errors"]) if r["errors"] else "none"),
        ("CPU (% of one core)", cpu(r["cpu_percent_of_one_core"])),
        (
            "server RSS",
            f"peak {r['server_rss_peak_mb']} MB (idle before load "
            f"{result['server_rss_idle_mb']} MB)",
        ),
        ("load average", f"{r['load_average']} (before the run {result['load_average_before']})"),
        ("", ""),
        (
            f"baseline {b['endpoint']}",
            f"{b['requests_per_s']} req/s with {b['concurrent_clients']} clients, "
            f"p50 {b['p50_ms']} p99 {b['p99_ms']} ms, errors "
            f"{json.dumps(b['errors']) if b['errors'] else 'none'}",
        ),
        ("  CPU (% of one core)", cpu(b["cpu_percent_of_one_core"])),
        ("ratio", result["ratio_text"]),
        (
            "books",
            "ledger invariants hold"
            if result["books"]["ok"]
            else f"BROKEN: {result['books']['problems']}",
        ),
        ("rooms left", json.dumps(result["books"]["rooms_by_status"])),
    ]
    for label, value in rows:
        print(f"{label:<24}{value}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--driver"]:
        driver_main(argv[1], argv[2])
        return 0
    parser = argparse.ArgumentParser(
        prog="python -m bench.roulette",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--matches", type=int, default=100, help="concurrent matches")
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    parser.add_argument("--baseline-duration", type=float, default=10.0)
    parser.add_argument(
        "--drivers", type=int, default=0, help="driver processes (default: one per 500 matches)"
    )
    parser.add_argument(
        "--transport",
        choices=("sse", "ws"),
        default="sse",
        help="sse = HTTP commands + one SSE stream per bot and match (the browser's way); "
        "ws = commands and events on one WebSocket per bot (a game client's way)",
    )
    parser.add_argument(
        "--think-ms",
        type=float,
        default=0.0,
        help="a bot waits 0.5-1.5 times this before each pull, as a person would (default 0: "
        "pull at once, the load a server can at most take)",
    )
    parser.add_argument(
        "--redis", action="store_true", help=f"use the Redis broker ({common.REDIS_URL})"
    )
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--access-log",
        choices=("on", "off"),
        default="on",
        help="on = as shipped (gamehub.access at INFO); off = silenced",
    )
    parser.add_argument(
        "--match-timeout",
        type=float,
        default=None,
        help="seconds a pair waits for its match before leaving (default: 60 s plus six "
        "pulls at the longest think time)",
    )
    parser.add_argument(
        "--count-sql",
        action="store_true",
        help="count the server's SQL statements in the measured window (bench._serve_counting; "
        "costs CPU: do not quote its throughput)",
    )
    parser.add_argument(
        "--py-spy",
        action="store_true",
        help="sample the server with py-spy in the measured window (costs CPU)",
    )
    args = parser.parse_args(argv)
    if args.py_spy and not (
        shutil.which("py-spy") or Path(sys.executable).with_name("py-spy").exists()
    ):
        print("bench: --py-spy needs py-spy (`pip install py-spy`)", file=sys.stderr)
        return 2
    drivers = args.drivers or max(1, math.ceil(args.matches / 500))
    if args.match_timeout is None:
        # A match has at most six pulls, each after up to 1.5x the think time: a slow match
        # is not a stuck one.
        args.match_timeout = 60.0 + 6 * 1.5 * args.think_ms / 1000
    common.raise_open_files_limit()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    log_path = RESULTS_DIR / f"roulette-{stamp}-server.log"
    stacks_path = RESULTS_DIR / f"roulette-{stamp}-stacks.txt"
    scratch = Path(tempfile.mkdtemp(prefix="gamehub-bench-roulette-"))
    redis_url = common.REDIS_URL if args.redis else None
    env = common.server_env(args.database_url, scratch, redis_url=redis_url)
    print(
        f"server: gamehub serve (Hypercorn, 1 worker, uvloop), PostgreSQL {args.database_url} "
        f"(fresh), broker {'redis ' + common.REDIS_URL if args.redis else 'in-process'}, "
        f"access log {args.access_log}\nset-up: GAMEHUB_BCRYPT_ROUNDS={common.BCRYPT_ROUNDS} "
        f"(registration only), wallets funded through the ledger in the database\n"
        f"load: {args.matches} matches = {2 * args.matches} bots ({TRANSPORTS[args.transport]}), "
        f"aiohttp on "
        f"uvloop in {drivers} driver process(es); {args.warmup:g} s warm-up, "
        f"{args.duration:g} s measured; baseline {args.baseline_duration:g} s",
        flush=True,
    )
    asyncio.run(common.reset_database(args.database_url))
    migrate(env)
    if args.redis:
        asyncio.run(common.flush_redis(common.REDIS_URL))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    counts_path = scratch / "sql-counts.jsonl"
    if args.count_sql:
        env["BENCH_SQL_COUNTS"] = str(counts_path)
        with log_path.open("w", encoding="utf-8") as sink:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench._serve_counting",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    else:
        server = start_server(env, port, args.access_log == "on", log_path)

    def snapshot_counts() -> None:
        if args.count_sql:
            server.send_signal(signal.SIGUSR1)

    try:
        wait_ready(base, server, log_path)
        run_id = stamp[4:14]
        began = time.time()
        players = asyncio.run(common.register_players(base, 2 * args.matches, run_id))
        asyncio.run(common.fund_players(args.database_url, [p.user_id for p in players], run_id))
        print(
            f"registered and funded {len(players)} players in {time.time() - began:.1f} s",
            flush=True,
        )
        load_before = common.load_average()
        rss_idle = common.rss_kb(server.pid)

        # Baseline: the bare one-transaction probe (or /healthz) with as many clients as bots.
        import urllib.request

        probe_path, probe_method = "/bench/probe", "POST"
        try:
            urllib.request.urlopen(
                urllib.request.Request(base + probe_path, method="POST"), timeout=10
            )
        except Exception:
            probe_path, probe_method = "/healthz", "GET"
        loops = 2 * args.matches
        start_at = time.time() + 2.0
        window = (start_at + 2.0, start_at + 2.0 + args.baseline_duration)
        specs = [
            {
                "mode": "probe",
                "base": base,
                "probe_path": probe_path,
                "probe_method": probe_method,
                "start_at": start_at,
                "window_start": window[0],
                "window_end": window[1],
                "loops": loops // drivers + (1 if i < loops % drivers else 0),
            }
            for i in range(drivers)
        ]
        print(f"baseline: {probe_method} {probe_path} …", flush=True)
        baseline = run_phase("baseline", specs, server, scratch, window, window[1] + 120)
        baseline_summary = summarise_probe(baseline, f"{probe_method} {probe_path}", loops)

        print("roulette …", flush=True)
        pairs = [
            [[a.user_id, a.token], [b.user_id, b.token], MIN_STAKE_CENTS + i]
            for i, (a, b) in enumerate(zip(players[0::2], players[1::2], strict=True))
        ]
        start_at = time.time() + 3.0
        window = (start_at + args.warmup, start_at + args.warmup + args.duration)
        specs = [
            {
                "mode": "roulette",
                "base": base,
                "start_at": start_at,
                "window_start": window[0],
                "window_end": window[1],
                "pairs": pairs[i::drivers],
                "match_timeout": args.match_timeout,
                "transport": args.transport,
                "think_ms": args.think_ms,
                # First joins spread over up to a second per hundred matches (at least 3 s):
                # a thousand pairs joining inside 3 s queue for seconds, and the measured
                # window would see that herd drain instead of the steady state.
                "ramp_s": min(args.warmup, max(3.0, args.matches / 100)),
            }
            for i in range(drivers)
        ]
        phase = run_phase(
            "roulette",
            specs,
            server,
            scratch,
            window,
            window[1] + args.match_timeout + 60,
            py_spy_out=stacks_path if args.py_spy else None,
            on_window=snapshot_counts,
        )
        sql = sql_per_match(counts_path, phase) if args.count_sql else None
        roulette = summarise_roulette(phase, args.matches)
        books = asyncio.run(common.check_books(args.database_url))
    finally:
        stop_server(server)
        shutil.rmtree(scratch, ignore_errors=True)

    commands = roulette["room_commands_per_s"]
    bare = baseline_summary["requests_per_s"] or 1.0
    ratio = commands / bare
    result = {
        "benchmark": "roulette",
        "at": stamp,
        "broker": "redis" if args.redis else "memory",
        "transport": args.transport,
        "think_ms": args.think_ms,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "drivers": drivers,
        "driver": "aiohttp on uvloop",
        "access_log": args.access_log,
        "bcrypt_rounds": common.BCRYPT_ROUNDS,
        "cores": os.cpu_count(),
        "load_average_before": load_before,
        "server_rss_idle_mb": round(rss_idle / 1024, 1),
        "roulette": roulette,
        "baseline": baseline_summary,
        "ratio_room_commands_over_bare": round(ratio, 3),
        "ratio_text": (
            f"room commands (joins + pulls) {commands}/s ÷ bare {bare}/s = {ratio:.3f}; "
            f"matches/s ÷ (bare/6 commands per match) = "
            f"{roulette['matches_per_s'] / (bare / 6):.3f}"
        ),
        "books": books,
        "sql_in_window": sql,
    }
    print_report(result)
    if sql:
        print(
            "\nSQL sent by the server in the measured window, per finished match "
            "(bench._serve_counting):"
        )
        for key, value in sql["per_match"].items():
            print(f"  {value:7.1f}  {key}")
    if args.py_spy and stacks_path.exists():
        packages, frames = summarise_stacks(stacks_path)
        result["py_spy"] = {
            "stacks": stacks_path.name,
            "self_by_package": packages[:15],
            "self_by_frame": frames[:25],
        }
        print(f"\npy-spy self time by package ({stacks_path.name}; the sampler costs CPU):")
        for share, name in packages[:12]:
            print(f"  {share:5.1f}%  {name}")
    out = RESULTS_DIR / f"roulette-{stamp}.json"
    common.write_json(out, result)
    print(f"wrote {out.relative_to(PROJECT_ROOT)}")
    clean = (
        books["ok"]
        and roulette["events_lost"] == 0
        and roulette["events_duplicated"] == 0
        and roulette["streams_with_problems"] == 0
    )
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
