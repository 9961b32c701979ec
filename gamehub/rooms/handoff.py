"""Long-lived SSE streams without a Quart request kept alive: Quart answers (auth, errors, hooks,
headers, logs, metrics), then an ASGI middleware around the app writes the stream itself.

An idle stream under Quart keeps its request and app contexts, Request and Response objects,
the request's tasks and their frames alive for as long as the client listens. Here an idle
stream is the connection's task suspended in this middleware on one future (its feed's), the
feed's own small state, and the server's `receive()` awaited to notice the client leaving.

It relies on documented interfaces: the middleware wraps `app.asgi_app` (Quart's way to add ASGI
middleware); the route finds its slot in the ASGI scope (`request.scope`), which the
middleware passes on as a copy with one key more, as ASGI middleware does; Quart streams an
async-iterable body between the response start and its `more_body: False` (ASGI's HTTP
messages); the client leaving is the `http.disconnect` that `receive()` returns. Two helpers
rely on more, and are fenced in gamehub/workarounds/ because a documented form costs memory per
idle stream: `receive_watch` awaits `receive()` without a task of its own, and `response_head`
empties the response head's header list, which Hypercorn keeps while the stream lives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast

from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGIReceiveEvent,
    ASGISendCallable,
    ASGISendEvent,
    Scope,
)
from quart import request

from gamehub.observability import request_id_var
from gamehub.workarounds.receive_watch import Departure
from gamehub.workarounds.response_head import send_head

AsgiApp = Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]

# The scope key under which the middleware leaves a GET's (or HEAD's) slot for its route.
SCOPE_KEY = "gamehub.stream_handoff"


class Feed(Protocol):
    """A stream's source, pulled by its writer without a frame of its own staying suspended:
    when nothing is ready, `waiter()` gives a future to await; `next()` then gives the bytes to
    send (b"" when there is nothing after all) or None once the stream ends. `close()` lets go
    of whatever the feed holds (e.g. its subscription); it is called however the stream ends."""

    def waiter(self) -> asyncio.Future[None] | None: ...

    async def next(self) -> bytes | None: ...

    def close(self) -> None: ...


class Handoff:
    """Where a route leaves its stream for the middleware to write once Quart is done:
    `opening` bytes (sent at once), then the feed's bytes."""

    __slots__ = ("disconnected", "feed", "opening", "ready", "request_id")

    def __init__(self) -> None:
        self.feed: Feed | None = None
        self.opening = b""
        self.request_id: str | None = None
        self.ready = False  # Quart has sent the response head and reached the end of its body
        self.disconnected = False  # the client left while Quart still handled the request

    def take(self, opening: bytes, feed: Feed) -> _Placeholder:
        """Keep the stream; the returned body is what Quart itself sends (nothing)."""
        self.opening, self.feed = opening, feed
        return _Placeholder(self)


def stream_body(opening: bytes, feed: Feed) -> _Placeholder:
    """The body of the current request's streaming response, handed to the middleware (which
    create_app always puts around the app) to write once Quart has answered."""
    handoff = cast("Handoff | None", request.scope.get(SCOPE_KEY))
    if handoff is None:
        feed.close()
        raise RuntimeError("a stream needs StreamHandoff around the app (create_app)")
    return handoff.take(opening, feed)


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


class StreamHandoff:
    """The ASGI middleware around the Quart app (`app.asgi_app`) that writes handed-off streams."""

    def __init__(self, inner: AsgiApp) -> None:
        self.inner = inner

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.inner(scope, receive, send)
            return
        handoff = await self._answer(scope, receive, send)
        feed = handoff.feed
        if feed is None:
            return
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
        opening = handoff.opening
        # From here on only this frame holds the feed; the writing is inline rather than in a
        # coroutine of its own, one frame less per listener.
        handoff.feed, handoff.opening = None, b""
        del handoff
        writer = asyncio.current_task()
        assert writer is not None
        departure = Departure(receive, writer)
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
        A method of its own so that these closures (and the scope's copy) are gone before the
        stream starts."""
        handoff = Handoff()

        async def quart_receive() -> ASGIReceiveEvent:
            message = await receive()
            if message["type"] == "http.disconnect":
                handoff.disconnected = True
            return message

        async def quart_send(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.start" and handoff.feed is not None:
                handoff.request_id = _request_id(message)
                # The server may keep this message as long as the stream lives (it does).
                await send_head(send, message)
                return
            if handoff.ready and message["type"] == "http.response.body":
                return  # Quart's end of the (empty) body: the stream goes on in __call__
            await send(message)

        await self.inner(cast(Scope, {**scope, SCOPE_KEY: handoff}), quart_receive, quart_send)
        return handoff


def _request_id(message: ASGISendEvent) -> str | None:
    for name, value in cast(Any, message).get("headers", ()):
        if name.lower() == b"x-request-id":
            return str(value.decode("latin-1"))
    return None
