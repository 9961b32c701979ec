"""The cyclic garbage collector tuned for a server that keeps thousands of connections open.

Python's defaults (700, 10, 10) suit short scripts. Here every open connection (an SSE stream,
a WebSocket, an idle keep-alive) is about a hundred tracked objects that live for minutes, and
every request makes a few hundred that live for milliseconds. With the default first threshold
those short-lived objects are still alive at most young collections, so they are promoted and
pile up as "pending" in the oldest generation, and a full collection (which walks every
tracked object, hundreds of thousands with a thousand matches) runs every few seconds and
pauses the server long enough to be the p99 of a pull.

What a middle pass walks is everything that survived the young passes since the last one, and
under this load that is mostly state that lives for a match: the streams and connections opened
in the meantime. Middle passes after every second young one walk less each, for about the same
collector CPU in total. Measurements of both steps: docs/BENCHMARKS.md, "Where the time goes".
"""

from __future__ import annotations

import gc

from gamehub.workarounds import collector_tuning_applies

# Young collections after 5 000 net new objects instead of 700: a request's objects are
# usually freed by reference counting before one runs. A middle pass once more than one young
# pass has run since the last (every second one), so that each walks little. A full pass once
# more than 1 000 middle passes have run: about every 2 000 young passes, where (5 000, 10, 100)
# made it every 1 100 (Python also waits until the objects pending promotion are a quarter of
# the old generation, so the full pass stays proportional to the heap, only rarer).
THRESHOLDS = (5_000, 1, 1_000)


def tune_for_serving() -> None:
    """Freeze what start-up built and set the thresholds; call once the app is created."""
    # Everything built so far (modules, the app, its routes and schemas) lives as long as the
    # process: keep it out of the full passes, which would otherwise walk it every time.
    gc.collect()
    gc.freeze()
    if collector_tuning_applies():
        gc.set_threshold(*THRESHOLDS)
    # On CPython 3.14 and later (an incremental collector) the thresholds mean something else:
    # Python's own are kept there until they are measured anew.
