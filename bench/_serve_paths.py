"""`gamehub serve` that counts and times the ways a room's actor applies messages, for a
benchmark variant only (bench.cluster --count-paths): the one-statement way taken and saved,
left because the rules refused against the remembered room, because the seq guard found the
room moved on, or for another reason; the room read without a lock (and the message judged
against it); the transactional way.
Each SIGUSR1 appends the running totals (counts, and summed and largest milliseconds per way)
as one JSON line to the file named by BENCH_PATH_COUNTS, so that a benchmark can take the
difference over its measured window. The wrappers cost CPU: do not quote latency from such a
run."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections import Counter
from typing import Any

from gamehub.cli import main
from gamehub.rooms import actor, store_pg
from gamehub.rooms.game import RuleError

counts: Counter[str] = Counter()
spent_ms: dict[str, float] = {}
longest_ms: dict[str, float] = {}


def _took(way: str, started: float) -> None:
    ms = (time.perf_counter() - started) * 1000
    counts[way] += 1
    spent_ms[way] = spent_ms.get(way, 0.0) + ms
    longest_ms[way] = max(longest_ms.get(way, 0.0), ms)


def _wrap_handle() -> None:
    handle = actor.handle

    def counted(game: Any, state: Any, message: Any, now: Any) -> Any:
        try:
            return handle(game, state, message, now)
        except RuleError:
            counts[f"refused {message.kind}"] += 1
            raise

    actor.handle = counted


def _wrap_guarded() -> None:
    save_guarded = store_pg.save_guarded

    async def counted(*args: Any, **kwargs: Any) -> tuple[bool, bool]:
        started = time.perf_counter()
        saved, live = await save_guarded(*args, **kwargs)
        _took("statement saved" if saved else "statement found the room moved on", started)
        return saved, live

    store_pg.save_guarded = counted


def _wrap_method(name: str, way: str) -> None:
    method = getattr(actor.RoomActor, name)

    async def timed(self: Any, message: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = await method(self, message, *args, **kwargs)
        read = " as read" if kwargs.get("as_stored") else ""
        _took(f"{way}{read} {message.kind}" + (" (left)" if result is None else ""), started)
        return result

    setattr(actor.RoomActor, name, timed)


def _wrap_read() -> None:
    read_room = getattr(store_pg, "read_room", None)
    if read_room is None:  # a release without it
        return

    async def timed(*args: Any) -> Any:
        started = time.perf_counter()
        found = await read_room(*args)
        _took("room read", started)
        return found

    setattr(store_pg, "read_room", timed)  # noqa: B010  (a release without it has none)


def _dump(_signum: int, _frame: Any) -> None:
    line = {
        "counts": dict(counts),
        "spent_ms": {k: round(v, 3) for k, v in spent_ms.items()},
        "longest_ms": {k: round(v, 3) for k, v in longest_ms.items()},
    }
    with open(os.environ["BENCH_PATH_COUNTS"], "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    logging.getLogger("gamehub.access").setLevel(logging.WARNING)  # as bench._serve_quiet
    _wrap_handle()
    _wrap_guarded()
    _wrap_read()
    _wrap_method("_apply_remembered", "remembered")
    _wrap_method("_apply_locked", "transactional")
    signal.signal(signal.SIGUSR1, _dump)
    main()
