"""What a serving process sets up once its app is built (`gamehub serve` or gamehub.asgi), and how
`gamehub serve` drains it."""

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
    """A rolling restart: end every stream and socket now (their clients reconnect elsewhere
    with their last ids) and refuse new ones; requests in flight still get their answer."""
    connections = cast(Runtime, app.extensions[EXTENSION]).connections
    if connections is not None and not connections.draining:
        closed = connections.drain()
        log.info("draining: closed %d open streams and sockets", closed)
