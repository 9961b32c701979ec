"""Long-lived SSE streams without a Quart request kept alive: Quart answers (auth, errors, hooks,
headers, logs, metrics), then the connection's own task writes the stream straight to the server.

An idle stream under Quart keeps its request and app contexts, Request and Response objects,
the request's two tasks and their frames alive for as long as the client listens. Here an idle
stream is the connection's task suspended in this wrapper on one future (its feed's), the
feed's own small state, and the server's `receive()` stepped by hand to notice the client
leaving (no task of its own).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol, cast

from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    Scope,
)

from gamehub.observability import request_id_var

AsgiApp = Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]


class Feed(Protocol):
    """A stream's source, pulled by its writer without a frame of its own staying suspended:
    when nothing is ready, `waiter()` gives a future to await; `next()` then gives the bytes to
    send (b"" when there is nothing after all) or None once the stream ends. `close()` lets go
    of whatever the feed holds (e.g. its subscription); it is called however the stream ends."""

    def waiter(self) -> asyncio.Future[None] | None: ...

    async def next(self) -> bytes | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Stream:
    """What a route hands over: `opening` bytes (sent at once), then the feed's bytes."""

    opening: bytes
    feed: Feed


async def feed_bytes(opening: bytes, feed: Feed) -> AsyncIterator[bytes]:
    """The stream as an async iterator of bytes, where nothing writes it outside Quart.
    StreamHandoff runs the same loop inline instead of calling this: a generator would stay
    suspended, one more frame, for every idle listener."""
    try:
        yield opening
        while True:
            waiter = feed.waiter()
            if waiter is not None:
                await waiter
            chunk = await feed.next()
            if chunk is None:
                return
            if chunk:
                yield chunk
    finally:
        feed.close()


class Handoff:
    """Where a route leaves its stream for the wrapper to write once Quart is done."""

    __slots__ = ("disconnected", "ready", "request_id", "stream")

    def __init__(self) -> None:
        self.stream: Stream | None = None
        self.request_id: str | None = None
        self.ready = False  # Quart has sent the response head and reached the end of its body
        self.disconnected = False  # the client left while Quart still handled the request

    def take(self, stream: Stream) -> _Placeholder:
        """Keep `stream`; the returned body is what Quart itself sends (nothing)."""
        self.stream = stream
        return _Placeholder(self)


class _Placeholder:
    """The body Quart iterates: empty; reaching its end marks the stream ready to hand over.
    Marking it here (not on any end of body) means an error response Quart sends instead, e.g.
    from a failing after-request hook, still reaches the client whole."""

    __slots__ = ("handoff",)

    def __init__(self, handoff: Handoff) -> None:
        self.handoff = handoff

    def __aiter__(self) -> _Placeholder:
        return self

    async def __anext__(self) -> bytes:
        self.handoff.ready = True
        raise StopAsyncIteration


# Set by the wrapper for the duration of one GET's handling by Quart; Quart's request tasks copy
# the context, so the route sees the wrapper's slot.
current_handoff: ContextVar[Handoff | None] = ContextVar("sse_handoff", default=None)


class StreamHandoff:
    """The ASGI wrapper around the Quart app (`app.asgi_app`) that writes handed-off streams."""

    def __init__(self, inner: AsgiApp) -> None:
        self.inner = inner

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.inner(scope, receive, send)
            return
        handoff = await self._answer(scope, receive, send)
        stream = handoff.stream
        if stream is None:
            return
        feed = stream.feed
        if not handoff.ready or handoff.disconnected:
            # Quart did not send our head (an error took its place) or the client already left:
            # the stream never started, so closing its feed releases nothing else.
            feed.close()
            if handoff.ready:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if handoff.request_id is not None:
            # Log lines written while streaming carry the request's id, as they did in Quart.
            request_id_var.set(handoff.request_id)
        opening = stream.opening
        # From here on only this frame holds the feed (Quart may still hold the slot a while);
        # the writing is inline rather than in a coroutine of its own, one frame less per listener.
        handoff.stream = None
        del handoff, stream
        writer = asyncio.current_task()
        assert writer is not None
        departure = _Departure(receive, writer)
        try:
            await send({"type": "http.response.body", "body": opening, "more_body": True})
            while True:
                waiter = feed.waiter()
                if waiter is not None:
                    await waiter
                chunk = await feed.next()
                if chunk is None:
                    break
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                del chunk  # not kept while idle (e.g. a snapshot's frame)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if not departure.gone:
                raise  # the server is stopping
            writer.uncancel()  # the client left: a normal end of a stream
        finally:
            departure.stop()
            feed.close()

    async def _answer(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> Handoff:
        """Quart handles the request; a route that hands a stream over leaves it in the slot.
        A method of its own so that these closures are gone before the stream starts."""
        handoff = Handoff()

        async def quart_receive() -> ASGIReceiveEvent:
            message = await receive()
            if message["type"] == "http.disconnect":
                handoff.disconnected = True
            return message

        async def quart_send(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.start" and handoff.stream is not None:
                handoff.request_id = _request_id(message)
                await send(message)
                # The server keeps the response head for as long as the stream lives, to read
                # its status; its headers are on the wire by now, so let their list go.
                cast(dict[str, Any], message)["headers"] = ()
                return
            if handoff.ready and message["type"] == "http.response.body":
                return  # Quart's end of the (empty) body: the stream goes on in __call__
            await send(message)

        token = current_handoff.set(handoff)
        try:
            await self.inner(scope, quart_receive, quart_send)
        finally:
            current_handoff.reset(token)
        return handoff


def _request_id(message: ASGISendEvent) -> str | None:
    for name, value in cast(Any, message).get("headers", ()):
        if name.lower() == b"x-request-id":
            return str(value.decode("latin-1"))
    return None


# What `receive()` gives once awaited by hand: a coroutine, or an awaitable's iterator.
_Steps = Coroutine[Any, None, ASGIReceiveEvent] | Generator[Any, None, ASGIReceiveEvent]


class _Departure:
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
