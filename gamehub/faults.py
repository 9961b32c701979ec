"""Crash points for failure tests: a named point kills its own process, as a power cut or an
OOM kill would, when GAMEHUB_FAULTS names it (never in production: settings refuse it)."""

from __future__ import annotations

import logging
import os
import signal

from gamehub.settings import Settings

log = logging.getLogger(__name__)

# After a withdrawal's hold committed and before its B2C payment is sent.
WITHDRAWAL_HELD = "withdrawal_held"


def crash_point(settings: Settings, name: str) -> None:
    """Die here, at once and without cleaning up, if the settings switch this point on."""
    if name in settings.faults:
        log.warning("fault %s: killing this process", name)
        os.kill(os.getpid(), signal.SIGKILL)
