"""Work-arounds inside the frameworks we run on, each fenced to the releases it was written for.

Each has its reason (docs/ARCHITECTURE.md, "Why the unusual choices") and a test under
tests/workarounds/; `check_versions` refuses to serve outside a fence (pyproject bounds the same).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from importlib import metadata


@dataclass(frozen=True)
class Fence:
    """`module` reaches into `distribution`, and was written for releases in [low, high)."""

    module: str
    distribution: str
    low: tuple[int, ...]
    high: tuple[int, ...]
    why: str


FENCES = (
    Fence(
        "asgi_http",
        "quart",
        (0, 20),
        (0, 23),
        "subclasses ASGIHTTPConnection and calls quart.asgi._handle_exception (private)",
    ),
    Fence(
        "receive_watch",
        "hypercorn",
        (0, 17),
        (0, 19),
        "steps the server's receive() by hand to notice a client leaving",
    ),
    Fence(
        "response_head",
        "hypercorn",
        (0, 17),
        (0, 19),
        "empties a sent response-start message's headers, which Hypercorn keeps (HTTPStream)",
    ),
    Fence(
        "worker_events",
        "hypercorn",
        (0, 17),
        (0, 19),
        "replaces WorkerContext.event_class (an undocumented class attribute)",
    ),
    Fence(
        "routing",
        "werkzeug",
        (3, 0),
        (3, 2),
        "subclasses QuartMap and werkzeug's StateMachineMatcher",
    ),
    Fence(
        "fair_gate",
        "asyncpg",
        (0, 29),
        (0, 33),
        "acquires from asyncpg's pool without its timeout, behind a gate of ours",
    ),
)


class UnfencedVersion(RuntimeError):
    """An installed release is outside what a work-around was written for."""


def _release(version: str) -> tuple[int, ...]:
    """The numeric release of a version string: "0.22.0" -> (0, 22, 0), "3.2.0rc1" -> (3, 2, 0)."""
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def problems() -> list[str]:
    """One line per work-around whose dependency is installed outside its fence."""
    found = []
    for fence in FENCES:
        installed = metadata.version(fence.distribution)
        if not fence.low <= _release(installed) < fence.high:
            low = ".".join(map(str, fence.low))
            high = ".".join(map(str, fence.high))
            found.append(
                f"gamehub.workarounds.{fence.module} {fence.why}: written for "
                f"{fence.distribution} >={low},<{high}, installed {installed}"
            )
    return found


def check_versions() -> None:
    """Refuse to start where a work-around would run against code it was not written for."""
    found = problems()
    if found:
        raise UnfencedVersion("; ".join(found))


# CPython 3.14's incremental collector gives the thresholds other meanings (collector.py).
COLLECTOR_TUNED_BELOW = (3, 14)


def collector_tuning_applies(version: tuple[int, ...] = tuple(sys.version_info[:2])) -> bool:
    return version < COLLECTOR_TUNED_BELOW
