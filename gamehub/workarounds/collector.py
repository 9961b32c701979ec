"""The cyclic garbage collector tuned for a server that keeps thousands of connections open.

Python's defaults (700, 10, 10) suit short scripts. Here every open connection (an SSE stream,
a WebSocket, an idle keep-alive) is about a hundred tracked objects that live for minutes, and
every request makes a few hundred that live for milliseconds. With the default first threshold
those short-lived objects are still alive at most young collections, so they are promoted and
pile up as "pending" in the oldest generation, and a full collection (which walks every
tracked object: ~500 000 with 1 000 matches of 2 players each) runs every few seconds.

Measured with `bench/roulette.py --matches 1000 --transport sse --think-ms 8000`, 30 s: the
defaults spent 12 % of the server's CPU in the collector with full passes of 0.4-0.5 s every
5-10 s (pull-to-event p50 220 ms, p99 1.56 s); (5 000, 10, 100) spent 3 %, with young passes
of at most ~50 ms and no full pass in the window (p50 87 ms, p99 505 ms). Over WebSockets
with 2-6 s per pull, the same day: p99 1.97 s with the defaults, 149-312 ms with these.

What a middle pass walks is everything that survived the young passes since the last one, and
under this load that is mostly state that lives for a match: the streams and connections opened
in the meantime. With 10 young passes between middle ones, a middle pass came every 7-8 s and
took 90-111 ms, the largest pause left and the p99 of the roulette benchmark at 1 000 matches
over HTTP + SSE, 2-6 s per pull (p99 102-117 ms). Middle passes after every second young one
walk less each: 31-34 ms at most, p99 44-55 ms in alternated runs (3 young passes: 49-54 ms,
p99 60-72 ms), for about the same collector CPU in total (0.9 s against 0.8 s per run).
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
