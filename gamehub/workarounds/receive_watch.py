"""Noticing a client leave without a task per connection: `receive()` stepped by hand.

An SSE stream must stop when its client leaves, and ASGI says so through `http.disconnect`
from `receive()`. Awaiting that in a task of its own costs a task (and its registration) per
idle stream, about half a kilobyte each. `Departure` does what the task would do itself: it
sends the `receive()` coroutine None, and when it yields the future it waits on (the server's
queue getter), resumes it once that future is done. That relies on two things no one documents:
that the server's `receive()` yields asyncio futures (Hypercorn's is `asyncio.Queue.get`), and
asyncio's own protocol between a task and the futures it awaits (`_asyncio_future_blocking`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

from hypercorn.typing import ASGIReceiveCallable, ASGIReceiveEvent

# What `receive()` gives once awaited by hand: a coroutine, or an awaitable's iterator.
_Steps = Coroutine[Any, None, ASGIReceiveEvent] | Generator[Any, None, ASGIReceiveEvent]


class Departure:
    """Watches the client's side of the connection; when it leaves, stops the writing task.

    Rather than a task (and its coroutine) per stream reading `receive()`, this steps the
    `receive()` awaitable by hand, which is all a task would do for it: send it None, and when
    it yields the future it waits on (the server's queue getter), resume it once that future
    is done. While the client stays, what is kept is that awaitable and this object, which is
    itself the callback (no bound method per wait)."""

    __slots__ = ("gone", "receive", "receiving", "stopped", "waiting_on", "writer")

    def __init__(self, receive: ASGIReceiveCallable, writer: asyncio.Task[Any]) -> None:
        self.receive = receive
        self.writer = writer
        self.gone = False
        self.stopped = False
        self.receiving: _Steps | None = None
        self.waiting_on: asyncio.Future[Any] | None = None
        self._listen()

    def _listen(self) -> None:
        awaitable = self.receive()
        self.receiving = awaitable if isinstance(awaitable, Coroutine) else awaitable.__await__()
        self(None)

    def __call__(self, _done: object) -> None:
        """Step `receive()` once more (the future it waited on is done)."""
        self.waiting_on = None
        receiving = self.receiving
        if self.stopped or receiving is None:
            return
        try:
            yielded = receiving.send(None)
        except StopIteration as finished:
            self.receiving = None
            message: ASGIReceiveEvent = finished.value
            if message["type"] != "http.disconnect":
                self._listen()  # a request body part: nothing to do for a GET
                return
            self._leave()
        except Exception:
            self.receiving = None
            self._leave()  # the server cannot tell us more: treat it as the client leaving
        else:
            if asyncio.isfuture(yielded):
                # What a task does with a future its coroutine awaits: resume on completion.
                yielded._asyncio_future_blocking = False
                yielded.add_done_callback(self)
                self.waiting_on = yielded
            else:
                asyncio.get_running_loop().call_soon(self, None)  # a bare yield: step again

    def _leave(self) -> None:
        self.gone = True
        self.writer.cancel()

    def stop(self) -> None:
        self.stopped = True
        if self.waiting_on is not None:
            self.waiting_on.remove_done_callback(self)
            self.waiting_on = None
        if self.receiving is not None:
            receiving, self.receiving = self.receiving, None
            receiving.close()  # the server's receive() cleans up after itself (its getter)
