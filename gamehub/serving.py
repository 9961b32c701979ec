"""What a serving process sets up once its app is built, whichever way it is started
(`gamehub serve`, or `hypercorn gamehub.asgi:app`), and how `gamehub serve` drains it."""

from __future__ import annotations

import logging
from typing import cast

from quart import Quart

from gamehub.runtime import EXTENSION, Runtime
from gamehub.workarounds import collector, worker_events

log = logging.getLogger(__name__)


def prepare_process() -> None:
    """The collector tuned for thousands of connections; Hypercorn's events in sets."""
    collector.tune_for_serving()
    worker_events.install()


def drain(app: Quart) -> None:
    """The process is told to stop (a rolling restart): end every open SSE stream and close
    every WebSocket (1012) now, and refuse new ones (503, Retry-After), so that their clients
    reconnect with their last ids to another instance instead of waiting for Hypercorn's
    graceful timeout to cut them. Requests in flight, commands included, go on to their
    answer; Hypercorn stops listening and waits for them (graceful_timeout at most)."""
    connections = cast(Runtime, app.extensions[EXTENSION]).connections
    if connections is not None and not connections.draining:
        closed = connections.drain()
        log.info("draining: closed %d open streams and sockets", closed)
