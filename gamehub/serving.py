"""What a serving process sets up once its app is built, whichever way it is started
(`gamehub serve`, or `hypercorn gamehub.asgi:app`)."""

from __future__ import annotations

from gamehub.workarounds import collector, worker_events


def prepare_process() -> None:
    """The collector tuned for thousands of connections; Hypercorn's events in sets."""
    collector.tune_for_serving()
    worker_events.install()
