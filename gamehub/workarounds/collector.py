"""The cyclic garbage collector tuned for a server that keeps thousands of connections open.

With Python's defaults (700, 10, 10) short-lived request objects were promoted and full passes
walked the whole heap every few seconds, pausing the loop (docs/BENCHMARKS.md, "Where the time
goes")."""

from __future__ import annotations

import gc

from gamehub.workarounds import collector_tuning_applies

# Young passes after 5 000 new objects (a request's are usually freed by reference counting
# first), a middle pass after every second young one so that each walks little, and a full pass
# after 1 000 middle ones (Python also waits for a quarter of the old generation to be pending).
THRESHOLDS = (5_000, 1, 1_000)


def tune_for_serving() -> None:
    """Freeze what start-up built and set the thresholds; call once the app is created."""
    # Everything built so far (modules, the app, its routes and schemas) lives as long as the
    # process: keep it out of the full passes, which would otherwise walk it every time.
    gc.collect()
    gc.freeze()
    if collector_tuning_applies():  # 3.14's incremental collector: Python's own until measured
        gc.set_threshold(*THRESHOLDS)
