"""Long-lived SSE streams without a Quart request kept alive: Quart answers (auth, errors, hooks,
headers, logs, metrics), then the connection's own task writes the stream straight to the server.

An idle stream under Quart keeps its request and app contexts, Request and Response objects,
the request's two tasks and their frames alive for as long as the client listens; here only the
stream's own state and one small task that notices the client leaving remain.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    Scope,
)

from gamehub.observability import request_id_var

T = TypeVar("T")
AsgiApp = Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Stream(Generic[T]):
    """What a route hands over: `opening` bytes, then `encode(item)` for each of `items`.
    Encoding here, rather than in a generator of bytes around `items`, saves one suspended
    generator frame per listener."""

    opening: bytes
    items: AsyncIterator[T]
    encode: Callable[[T], bytes]


class Handoff:
    """Where a route leaves its stream for the wrapper to write once Quart is done."""

    __slots__ = ("disconnected", "ready", "request_id", "stream")

    def __init__(self) -> None:
        self.stream: Stream[Any] | None = None
        self.request_id: str | None = None
        self.ready = False  # Quart has sent the response head and reached the end of its body
        self.disconnected = False  # the client left while Quart still handled the request

    def take(self, stream: Stream[Any]) -> _Placeholder:
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
        if not handoff.ready or handoff.disconnected:
            # Quart did not send our head (an error took its place) or the client already left:
            # the stream never started, so closing it releases nothing but the generator.
            await _close(stream.items)
            if handoff.ready:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        handoff.stream = None  # from here on only this frame holds the stream
        if handoff.request_id is not None:
            # Log lines written while streaming carry the request's id, as they did in Quart.
            request_id_var.set(handoff.request_id)
        await write_stream(stream, receive, send)

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
                message = _shared_headers(message)
            if handoff.ready and message["type"] == "http.response.body":
                return  # Quart's end of the (empty) body: the stream goes on in __call__
            await send(message)

        token = current_handoff.set(handoff)
        try:
            await self.inner(scope, quart_receive, quart_send)
        finally:
            current_handoff.reset(token)
        return handoff


# The server keeps a stream's response head for as long as the stream lives; these pairs are
# the same for every stream, so every stream can point at one copy of each.
_STATIC_HEADERS = {
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
}
_SHARED = {pair: pair for pair in _STATIC_HEADERS}


def _shared_headers(message: ASGISendEvent) -> ASGISendEvent:
    head = cast(dict[str, Any], message)
    headers = [_SHARED.get(pair, pair) for pair in head.get("headers", ())]
    return cast(ASGISendEvent, {**head, "headers": headers})


def _request_id(message: ASGISendEvent) -> str | None:
    for name, value in cast(Any, message).get("headers", ()):
        if name.lower() == b"x-request-id":
            return str(value.decode("latin-1"))
    return None


class _Departure:
    """Watches the client's side of the connection; when it leaves, stops the writing task.
    One future on the server's receive queue per stream, rather than a reader coroutine."""

    __slots__ = ("gone", "listening", "receive", "stopped", "writer")

    def __init__(self, receive: ASGIReceiveCallable, writer: asyncio.Task[Any]) -> None:
        self.receive = receive
        self.writer = writer
        self.gone = False
        self.stopped = False
        self.listening = self._listen()

    def _listen(self) -> asyncio.Future[ASGIReceiveEvent]:
        listening = asyncio.ensure_future(self.receive())
        listening.add_done_callback(self._heard)
        return listening

    def _heard(self, done: asyncio.Future[ASGIReceiveEvent]) -> None:
        if self.stopped or done.cancelled():
            return
        if done.exception() is None and done.result()["type"] != "http.disconnect":
            self.listening = self._listen()  # a request body part: nothing to do for a GET
            return
        self.gone = True
        self.writer.cancel()

    def stop(self) -> None:
        self.stopped = True
        self.listening.cancel()


async def _close(items: AsyncIterator[Any]) -> None:
    aclose = getattr(items, "aclose", None)
    if aclose is not None:
        await aclose()


async def write_stream(
    stream: Stream[Any], receive: ASGIReceiveCallable, send: ASGISendCallable
) -> None:
    """Send the stream until it ends or the client leaves."""
    writer = asyncio.current_task()
    assert writer is not None
    departure = _Departure(receive, writer)
    encode = stream.encode
    try:
        await send({"type": "http.response.body", "body": stream.opening, "more_body": True})
        async for item in stream.items:
            await send({"type": "http.response.body", "body": encode(item), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except asyncio.CancelledError:
        if not departure.gone:
            raise  # the server is stopping
        writer.uncancel()  # the client left: a normal end of a stream
    finally:
        departure.stop()
        with contextlib.suppress(Exception):
            await _close(stream.items)
