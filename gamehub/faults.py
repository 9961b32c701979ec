"""Crash points for failure tests: a named point SIGKILLs its own process when GAMEHUB_FAULTS names
it (refused in production)."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Collection

log = logging.getLogger(__name__)

# After a withdrawal's hold committed and before its B2C payment is sent.
WITHDRAWAL_HELD = "withdrawal_held"
# After a room command committed and before its events reach the broker.
ROOM_COMMITTED = "room_committed"


def crash_point(switched_on: Collection[str], name: str) -> None:
    """Die here, at once and without cleaning up, if `name` is among the switched-on faults."""
    if name in switched_on:
        log.warning("fault %s: killing this process", name)
        os.kill(os.getpid(), signal.SIGKILL)
