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
"""

from __future__ import annotations

import gc

# Young collections after 5 000 net new objects instead of 700: a request's objects are
# usually freed by reference counting before one runs. Middle generation as before. A full
# pass needs 100 middle passes instead of 10 (Python also waits until the objects pending
# promotion are a quarter of the old generation, so the full pass stays proportional to
# the heap, only rarer).
THRESHOLDS = (5_000, 10, 100)


def tune_for_serving() -> None:
    """Freeze what start-up built and set the thresholds; call once the app is created."""
    # Everything built so far (modules, the app, its routes and schemas) lives as long as the
    # process: keep it out of the full passes, which would otherwise walk it every time.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
