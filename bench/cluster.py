"""Several instances on one PostgreSQL and one Redis: what it costs when a match's players sit
on different instances, what a second instance adds, and how fast the survivors take over.

Starts --instances copies of `gamehub serve` (Hypercorn, one worker, uvloop each) on a fresh
database (`gamehub_bench_cluster`) and Redis (redis://127.0.0.1:6379/7, flushed), with turns of
--turn-s seconds, and registers and funds players as bench.roulette does. Then, in one run:

1. one instance: every pair on instance A (the baseline of the phases below);
2. pairs spread: pair i on instance i mod N, both of its bots on the same one;
3. players split: each pair's two bots on two different instances, so that every pull is
   applied by the instance the puller talks to and reaches the other bot through Redis;

each with bench.roulette's bots (SSE or WebSocket) for --duration seconds, printing matches/s and
pull→event p50/p99 beside phase 1's (a ratio);

4. orphaned matches (--kills times): two players join on the last instance, a spectator watches
   on instance A; as the first turn starts the last instance is killed with SIGKILL; the time
   from the kill to the spectator's next event (the turn's timeout pulled by a survivor), and
   how late that is against the turn's deadline; the instance is then started again;
5. drain: --drain-streams room streams open on the last instance, which is sent SIGTERM: the
   time until every stream has ended and until the process has exited.

Every stream is checked (gapless, no duplicates) and the ledger invariants at the end.

    python -m bench.cluster --matches 50 --duration 15
    python -m bench.cluster --matches 50 --duration 15 --transport ws --instances 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import common
from bench.profile import (
    PROJECT_ROOT,
    RESULTS_DIR,
    free_port,
    migrate,
    start_server,
    stop_server,
    wait_ready,
)
from bench.roulette import MIN_STAKE_CENTS, TRANSPORTS, run_phase, summarise_roulette

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/gamehub_bench_cluster"


@dataclass
class Instance:
    name: str
    port: int
    env: dict[str, str]
    log: Path
    process: Any = None
    module: str | None = None  # another launcher than the quiet `gamehub serve`

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = start_server(self.env, self.port, False, self.log, self.module)
        wait_ready(self.base, self.process, self.log)


# --- phases 1-3: matches ----------------------------------------------------------------------


def play_phase(
    name: str,
    pairs: list[list[Any]],
    args: argparse.Namespace,
    server: Instance,
    scratch: Path,
    instances: list[Instance],
) -> dict[str, Any]:
    drivers = args.drivers or max(1, math.ceil(args.matches / 500))
    start_at = time.time() + 3.0
    window = (start_at + args.warmup, start_at + args.warmup + args.duration)
    specs = [
        {
            "mode": "roulette",
            "base": server.base,
            "start_at": start_at,
            "window_start": window[0],
            "window_end": window[1],
            "pairs": pairs[i::drivers],
            "match_timeout": 60.0,
            "transport": args.transport,
            "think_ms": args.think_ms,
            "ramp_s": min(args.warmup, max(3.0, args.matches / 100)),
        }
        for i in range(drivers)
    ]
    print(f"{name} …", flush=True)
    on_window = None
    if args.count_paths:

        def on_window() -> None:
            for instance in instances:
                instance.process.send_signal(signal.SIGUSR1)

    phase = run_phase(
        name, specs, server.process, scratch, window, window[1] + 120, None, on_window
    )
    summary = summarise_roulette(phase, args.matches)
    if args.count_paths:
        time.sleep(0.5)  # the last snapshots written
        summary["actor_paths"] = {i.name: paths_in_window(i) for i in instances}
    return summary


def paths_in_window(instance: Instance) -> dict[str, Any]:
    """The difference between an instance's last two snapshots of bench._serve_paths: how its
    actors applied messages in the measured window (count, mean and largest ms per way)."""
    lines = Path(instance.env["BENCH_PATH_COUNTS"]).read_text(encoding="utf-8").splitlines()
    before, after = (json.loads(line) for line in lines[-2:])
    ways: dict[str, Any] = {}
    for way, count in sorted(after["counts"].items()):
        n = count - before["counts"].get(way, 0)
        if not n:
            continue
        spent = after["spent_ms"].get(way)
        ways[way] = {"n": n}
        if spent is not None:
            ways[way]["mean_ms"] = round((spent - before["spent_ms"].get(way, 0)) / n, 2)
            ways[way]["max_ms"] = after["longest_ms"][way]  # over the run so far
    return ways


def pairs_on(players: list[common.Player], bases: list[tuple[str, str]]) -> list[list[Any]]:
    """bench.roulette's pairs, pair i's bots on bases[i]."""
    return [
        [[a.user_id, a.token], [b.user_id, b.token], MIN_STAKE_CENTS + i, *bases[i]]
        for i, (a, b) in enumerate(zip(players[0::2], players[1::2], strict=True))
    ]


# --- phase 4: an orphaned match -----------------------------------------------------------------


async def _post(session: Any, url: str, token: str, body: dict[str, Any] | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    async with session.post(url, json=body or {}, headers=headers) as answer:
        data = await answer.json()
        if answer.status != 200:
            raise RuntimeError(f"POST {url}: {answer.status} {data}")
        return data


async def _room_events(session: Any, base: str, token: str, room_id: int) -> Any:
    """The room's SSE stream on `base`, as (id, type, data, time seen) tuples."""
    ticket = (await _post(session, f"{base}/auth/stream-ticket", token))["ticket"]
    response = await session.get(f"{base}/games/rooms/{room_id}/events?ticket={ticket}")
    if response.status != 200:
        raise RuntimeError(f"events: {response.status}")
    buffer = b""
    async for chunk in response.content.iter_any():
        buffer += chunk
        while (cut := buffer.find(b"\n\n")) >= 0:
            block, buffer = buffer[:cut], buffer[cut + 2 :]
            if block.startswith(b"id: "):
                head, _, data = block.partition(b"\ndata: ")
                id_line, _, kind = head.partition(b"\nevent: ")
                yield int(id_line[4:]), kind.decode(), json.loads(data), time.time()


async def orphaned_match(
    spectator_on: Instance,
    victim: Instance,
    players: tuple[common.Player, common.Player],
    watcher: common.Player,
    stake_cents: int,
) -> dict[str, Any]:
    """Kill the instance both players use as the first turn starts; how long until the
    spectator (on a survivor) sees the match go on."""
    import aiohttp

    stake = f"{stake_cents // 100}.{stake_cents % 100:02d}"
    async with aiohttp.ClientSession() as session:
        room = (
            await _post(session, f"{victim.base}/games/join", players[0].token, {"stake": stake})
        )["room"]
        room_id = int(room["id"])
        events = _room_events(session, spectator_on.base, watcher.token, room_id)
        await _post(
            session,
            f"{victim.base}/games/join",
            players[1].token,
            {"stake": stake, "room_id": room_id},
        )
        last = None
        killed_at = deadline = None
        async with asyncio.timeout(120):
            async for seq, kind, data, seen in events:
                if last is not None and seq != last + 1:
                    raise RuntimeError(f"spectator saw id {seq} after {last}")
                last = seq
                if killed_at is None and kind in ("turn", "snapshot"):
                    turn_deadline = data.get("deadline") or data.get("room", {}).get(
                        "turn_deadline"
                    )
                    if turn_deadline is None:
                        continue  # a snapshot before the match started
                    deadline = datetime.fromisoformat(turn_deadline).timestamp()
                    victim.process.send_signal(signal.SIGKILL)
                    killed_at = time.time()
                    victim.process.wait()
                elif killed_at is not None:
                    assert deadline is not None
                    return {
                        "event": kind,
                        "kill_to_event_s": round(seen - killed_at, 2),
                        "after_turn_deadline_s": round(seen - deadline, 2),
                        "turn_left_at_kill_s": round(deadline - killed_at, 2),
                    }
    raise RuntimeError("the spectator's stream ended")


# --- phase 5: drain -------------------------------------------------------------------------------


async def drain(
    victim: Instance, room_id: int, watchers: list[common.Player], streams: int
) -> dict[str, Any]:
    """Open `streams` room streams on `victim` (spread over the watchers: one user's streams
    may be capped), send it SIGTERM: when every stream ended and when the process exited."""
    import aiohttp

    ended: list[float] = []
    failures: Counter[str] = Counter()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        settled = asyncio.Event()
        opened = 0

        def tally() -> None:
            if opened + sum(failures.values()) >= streams:
                settled.set()

        async def one(watcher: common.Player) -> None:
            nonlocal opened
            first = True
            try:
                async for _ in _room_events(session, victim.base, watcher.token, room_id):
                    if first:
                        first = False
                        opened += 1
                        tally()
            except Exception as error:
                if first:  # it never opened: say why
                    failures[f"{type(error).__name__}: {error}"[:80]] += 1
                    tally()
            if not first:
                ended.append(time.time())

        tasks = [asyncio.create_task(one(watchers[i % len(watchers)])) for i in range(streams)]
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(60):
                await settled.wait()
        signalled = time.time()
        victim.process.send_signal(signal.SIGTERM)
        loop = asyncio.get_running_loop()
        exit_code = await loop.run_in_executor(None, victim.process.wait)
        exited = time.time()
        _, pending = await asyncio.wait(tasks, timeout=30)
        for task in pending:
            task.cancel()
    return {
        "streams": opened,
        "streams_not_opened": dict(failures),
        "streams_ended_by_exit": sum(1 for at in ended if at <= exited + 0.05),
        "last_stream_end_s": round(max(ended) - signalled, 2) if ended else None,
        "exit_s": round(exited - signalled, 2),
        "exit_code": exit_code,
    }


# --- the run ----------------------------------------------------------------------------------


PHASES = {"one": "one_instance", "spread": "pairs_spread", "split": "players_split"}


def medians(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Each phase as its round's figures when there was one round; otherwise the median over
    the rounds of matches/s and of the opponent's p50 and p99, each beside the median of its
    ratio to the same round's one instance (and the sums of lost and duplicated events)."""
    if len(rounds) == 1:
        return rounds[0]
    merged: dict[str, Any] = {}
    for name in rounds[0]:
        played = [r[name] for r in rounds]
        one = [r["one_instance"] for r in rounds]

        def median_of(path: tuple[str, ...], of: list[dict[str, Any]]) -> list[Any]:
            values = []
            for phase in of:
                value: Any = phase
                for key in path:
                    value = value[key]
                values.append(value)
            return values

        figure: dict[str, Any] = {
            "rounds": len(played),
            "errors": {},
            "events_lost": sum(p["events_lost"] for p in played),
            "events_duplicated": sum(p["events_duplicated"] for p in played),
        }
        for label, path in (
            ("matches_per_s", ("matches_per_s",)),
            ("p50", ("pull_to_event_ms", "opponent", "p50")),
            ("p99", ("pull_to_event_ms", "opponent", "p99")),
        ):
            mine, base = median_of(path, played), median_of(path, one)
            figure[label] = round(statistics.median(v for v in mine if v is not None), 2)
            figure[f"{label}_all"] = mine
            figure[f"{label}_ratio"] = round(
                statistics.median(m / b for m, b in zip(mine, base, strict=True) if m and b), 2
            )
        merged[name] = figure
    return merged


def ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return "n/a"
    return f"x{value / base:.2f}"


def print_phase(name: str, phase: dict[str, Any], one: dict[str, Any]) -> None:
    lat, base = phase["pull_to_event_ms"]["opponent"], one["pull_to_event_ms"]["opponent"]
    print(
        f"{name:<16} matches/s {phase['matches_per_s']:>7} "
        f"({ratio(phase['matches_per_s'], one['matches_per_s'])})"
        f"  pull→event opponent p50 {lat['p50']} ms ({ratio(lat['p50'], base['p50'])}) "
        f"p99 {lat['p99']} ms ({ratio(lat['p99'], base['p99'])})"
        f"  lost {phase['events_lost']} dup {phase['events_duplicated']} "
        f"errors {json.dumps(phase['errors']) if phase['errors'] else 'none'}"
    )
    for instance, ways in phase.get("actor_paths", {}).items():
        print(f"    actors on {instance}: {json.dumps(ways)}")


def print_report(result: dict[str, Any]) -> None:
    print()
    print(
        f"{result['instances']} instances, {result['matches']} concurrent matches over "
        f"{result['transport']}, broker redis, {result['duration_s']:g} s per phase"
    )
    print("-" * 96)
    for number, played in enumerate(result["rounds"], 1):
        if len(result["rounds"]) > 1:
            print(f"round {number}")
        for name, phase in played.items():
            print_phase(name, phase, played["one_instance"])
    if len(result["rounds"]) > 1:
        print(
            f"medians of {len(result['rounds'])} rounds (ratios: to the same round's one instance)"
        )
        for name, m in result["phases"].items():
            print(
                f"{name:<16} matches/s {m['matches_per_s']} (x{m['matches_per_s_ratio']})"
                f"  pull→event opponent p50 {m['p50']} ms (x{m['p50_ratio']})"
                f" p99 {m['p99']} ms (x{m['p99_ratio']})"
                f"  lost {m['events_lost']} dup {m['events_duplicated']}"
            )
    for kill in result["orphaned"]:
        print(
            f"SIGKILL mid-turn: next event ({kill['event']}) {kill['kill_to_event_s']} s after the "
            f"kill, {kill['after_turn_deadline_s']} s after the turn's deadline "
            f"({kill['turn_left_at_kill_s']} s of the turn were left)"
        )
    d = result["drain"]
    if d is None:
        print("books: " + ("ledger invariants hold" if result["books"]["ok"] else "BROKEN"))
        return
    print(
        f"SIGTERM with {d['streams']} open streams: exited after {d['exit_s']} s "
        f"(code {d['exit_code']}), last stream ended {d['last_stream_end_s']} s after the signal"
        + (
            f"; not opened: {json.dumps(d['streams_not_opened'])}"
            if d["streams_not_opened"]
            else ""
        )
    )
    books = result["books"]
    print("books: " + ("ledger invariants hold" if books["ok"] else f"BROKEN {books['problems']}"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cluster",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--matches", type=int, default=50, help="concurrent matches")
    parser.add_argument("--duration", type=float, default=15.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--drivers", type=int, default=0)
    parser.add_argument("--transport", choices=tuple(TRANSPORTS), default="sse")
    parser.add_argument("--think-ms", type=float, default=0.0)
    parser.add_argument("--turn-s", type=int, default=3, help="turn timeout of the instances")
    parser.add_argument("--kills", type=int, default=3, help="orphaned-match trials")
    parser.add_argument("--drain-streams", type=int, default=200)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--count-paths",
        action="store_true",
        help="count and time how actors apply messages in each window (bench._serve_paths; "
        "costs CPU: do not quote latency from such a run)",
    )
    parser.add_argument(
        "--phases",
        default="one,spread,split",
        help="which match phases to run, in this order (one, spread, split; one always first)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="play the phases this many times, alternated"
    )
    parser.add_argument("--skip-failover", action="store_true", help="no SIGKILL or SIGTERM trials")
    args = parser.parse_args(argv)
    if args.instances < 2:
        parser.error("--instances must be at least 2")
    common.raise_open_files_limit()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="gamehub-bench-cluster-"))
    asyncio.run(common.reset_database(args.database_url))
    asyncio.run(common.flush_redis(common.REDIS_URL))
    instances = []
    for index in range(args.instances):
        name = chr(ord("A") + index)
        env = common.server_env(
            args.database_url,
            scratch / name,
            redis_url=common.REDIS_URL,
            GAMEHUB_ROULETTE_TURN_TIMEOUT_S=str(args.turn_s),
        )
        log = RESULTS_DIR / f"cluster-{stamp}-{name}.log"
        module = None
        if args.count_paths:
            env["BENCH_PATH_COUNTS"] = str(scratch / f"paths-{name}.jsonl")
            module = "bench._serve_paths"
        instances.append(Instance(name, free_port(), env, log, module=module))
    migrate(instances[0].env)
    print(
        f"{args.instances} instances of gamehub serve (Hypercorn, 1 worker, uvloop) on PostgreSQL "
        f"{args.database_url} (fresh) and redis {common.REDIS_URL}; turns of {args.turn_s} s\n"
        f"load: {args.matches} matches ({TRANSPORTS[args.transport]}), "
        f"{args.warmup:g} s warm-up and {args.duration:g} s measured per phase",
        flush=True,
    )
    first, last = instances[0], instances[-1]
    try:
        for instance in instances:
            instance.start()
        run_id = stamp[4:14]
        extra = 2 * args.kills + 1
        players = asyncio.run(
            common.register_players(first.base, 2 * args.matches + 2 * extra, run_id)
        )
        asyncio.run(common.fund_players(args.database_url, [p.user_id for p in players], run_id))
        playing, spare = players[: 2 * args.matches], players[2 * args.matches :]
        bases = [i.base for i in instances]
        n = len(bases)
        placements = {
            "one_instance": [(first.base, first.base)] * args.matches,
            "pairs_spread": [(bases[i % n], bases[i % n]) for i in range(args.matches)],
            "players_split": [(bases[i % n], bases[(i + 1) % n]) for i in range(args.matches)],
        }
        wanted = [PHASES[name] for name in args.phases.split(",")]
        rounds = []
        for round_number in range(args.rounds):
            if args.rounds > 1:
                print(f"round {round_number + 1}/{args.rounds}", flush=True)
            rounds.append(
                {
                    name: play_phase(
                        name.replace("_", " "),
                        pairs_on(playing, placements[name]),
                        args,
                        first,
                        scratch,
                        instances,
                    )
                    for name in wanted
                }
            )
        phases = medians(rounds)
        orphaned = []
        for trial in range(0 if args.skip_failover else args.kills):
            print(f"orphaned match {trial + 1}/{args.kills} …", flush=True)
            a, b = spare[2 * trial], spare[2 * trial + 1]
            orphaned.append(
                asyncio.run(orphaned_match(first, last, (a, b), spare[-1], 500_000 + trial))
            )
            last.start()
        drained = None
        if not args.skip_failover:
            print("drain …", flush=True)
            room = asyncio.run(_open_room(last.base, spare[-1]))
            drained = asyncio.run(drain(last, room, playing, args.drain_streams))
        books = asyncio.run(common.check_books(args.database_url))
    finally:
        for instance in instances:
            if instance.process is not None:
                stop_server(instance.process)
        shutil.rmtree(scratch, ignore_errors=True)
    result = {
        "benchmark": "cluster",
        "at": stamp,
        "instances": args.instances,
        "matches": args.matches,
        "transport": args.transport,
        "duration_s": args.duration,
        "turn_s": args.turn_s,
        "cores": os.cpu_count(),
        "phases": phases,
        "rounds": rounds,
        "orphaned": orphaned,
        "drain": drained,
        "books": books,
    }
    print_report(result)
    out = RESULTS_DIR / f"cluster-{stamp}.json"
    common.write_json(out, result)
    print(f"wrote {out.relative_to(PROJECT_ROOT)}")
    clean = books["ok"] and all(
        p["events_lost"] == 0 and p["events_duplicated"] == 0
        for played in rounds
        for p in played.values()
    )
    return 0 if clean else 1


async def _open_room(base: str, player: common.Player) -> int:
    """A waiting room of `player`'s on `base`, for spectators' streams."""
    import aiohttp

    async with aiohttp.ClientSession() as session:
        room = (await _post(session, f"{base}/games/join", player.token, {"stake": "10.00"}))[
            "room"
        ]
    return int(room["id"])


if __name__ == "__main__":
    raise SystemExit(main())
