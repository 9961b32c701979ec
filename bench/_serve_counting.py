"""`gamehub serve` that counts the SQL it sends, for a benchmark variant only (bench.roulette
--count-sql): statements by verb and table, and transactions. Each SIGUSR1 appends a snapshot
of the running totals as one JSON line to the file named by BENCH_SQL_COUNTS, so a benchmark can
take the difference over its measured window. The listener costs CPU: do not quote throughput
from such a run."""

from __future__ import annotations

import json
import os
import re
import signal
from collections import Counter
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from gamehub.cli import main

counts: Counter[str] = Counter()
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


@event.listens_for(Engine, "before_cursor_execute")
def _statement(
    _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
) -> None:
    verb = statement.lstrip().split(None, 1)[0].upper()
    table = _TABLE.search(statement)
    counts[f"{verb} {table.group(1) if table else ''}".strip()] += 1
    counts["statements"] += 1


@event.listens_for(Engine, "begin")
def _begin(_conn: Any) -> None:
    counts["BEGIN"] += 1


@event.listens_for(Engine, "commit")
def _commit(_conn: Any) -> None:
    counts["COMMIT"] += 1


@event.listens_for(Engine, "rollback")
def _rollback(_conn: Any) -> None:
    counts["ROLLBACK"] += 1


def _dump(_signum: int, _frame: Any) -> None:
    with open(os.environ["BENCH_SQL_COUNTS"], "a", encoding="utf-8") as out:
        out.write(json.dumps(dict(counts)) + "\n")


if __name__ == "__main__":
    signal.signal(signal.SIGUSR1, _dump)
    main()
