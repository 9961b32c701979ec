"""Noticing a client leave without a task per connection: `receive()` stepped by hand.

A task per idle stream awaiting `http.disconnect` costs about half a kilobyte. This relies on
Hypercorn's `receive()` yielding asyncio futures and on asyncio's task-future protocol
(`_asyncio_future_blocking`), neither documented."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

from hypercorn.typing import ASGIReceiveCallable, ASGIReceiveEvent

# What `receive()` gives once awaited by hand: a coroutine, or an awaitable's iterator.
_Steps = Coroutine[Any, None, ASGIReceiveEvent] | Generator[Any, None, ASGIReceiveEvent]


class Departure:
    """Watches the client's side of the connection; when it leaves, stops the writing task.

    It steps `receive()` as a task would: send None, and resume once the future it yields is
    done. This object is itself that future's callback (no bound method per wait)."""

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
