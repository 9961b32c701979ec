"""Long-lived SSE streams without a Quart request kept alive: Quart answers (auth, errors, hooks,
headers, logs, metrics), then ASGI middleware around the app writes the stream itself, so an
idle stream is one suspended task and its feed (docs/ARCHITECTURE.md, "rooms/handoff.py")."""

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
    """A stream's source: `waiter()` gives a future to await when nothing is ready; `next()` the
    bytes to send (b"": nothing after all) or None at the end; `close()` is called however the
    stream ends."""

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
    """The body of the current request's streaming response, handed to the middleware."""
    handoff = cast("Handoff | None", request.scope.get(SCOPE_KEY))
    if handoff is None:
        feed.close()
        raise RuntimeError("a stream needs StreamHandoff around the app (create_app)")
    return handoff.take(opening, feed)


class _Placeholder:
    """The (empty) body Quart iterates; its end marks the stream ready to hand over (so an error
    response Quart sends instead still reaches the client whole)."""

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
            # An error took our head's place, or the client already left: the stream never began.
            feed.close()
            if handoff.ready:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if handoff.request_id is not None:
            # Log lines written while streaming carry the request's id, as they did in Quart.
            request_id_var.set(handoff.request_id)
        opening = handoff.opening
        # Only this frame holds the feed now; writing inline saves a frame per listener.
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
        """Quart handles the request (a method of its own, so that these closures and the
        scope's copy are gone before the stream starts)."""
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
