"""A room's event stream as a reconnecting client reads it, over SSE or over the WebSocket, for
tests across instances: each comes back with the last id it was sent whenever its connection
ends or breaks (SSE: `Last-Event-ID`; WebSocket: `subscribe` with `last_event_id`), records
every refusal and broken connection with the time it happened, and keeps every event it got,
in order, so that a test can compare them with the room's full list."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import httpx

from tests.helpers import bearer
from tests.sse import Reader


@dataclass(frozen=True)
class RoomEvent:
    id: int
    type: str
    data: dict[str, Any]


class RoomStream(Protocol):
    """What a test reads of either transport."""

    name: str
    changed: asyncio.Event

    @property
    def events(self) -> list[RoomEvent]: ...

    def failures(self) -> list[tuple[float, str]]: ...

    def connections(self) -> int: ...

    async def stop(self) -> None: ...


async def wait_for(stream: RoomStream, count: int, timeout: float) -> list[RoomEvent]:
    """The stream's events once it has more than `count` of them."""
    async with asyncio.timeout(timeout):
        while len(stream.events) <= count:
            stream.changed.clear()
            await stream.changed.wait()
    return stream.events


class SseRoom:
    """`GET /games/rooms/{id}/events` from the first event (`Last-Event-ID: 0`), reconnecting."""

    def __init__(
        self, name: str, http: httpx.AsyncClient, token: str, room_id: int, retry_s: float
    ) -> None:
        self.name = name
        self._events: list[RoomEvent] = []
        self._reader = Reader(
            http,
            f"/games/rooms/{room_id}/events",
            {**bearer(token), "Last-Event-ID": "0"},
            reconnect=True,
            retry_s=retry_s,
        )
        self.changed = self._reader.changed

    @property
    def events(self) -> list[RoomEvent]:
        # Reader keeps ServerSentEvents; RoomEvent is what both transports are compared as.
        for event in self._reader.events[len(self._events) :]:
            self._events.append(RoomEvent(int(event.id), event.event, json.loads(event.data)))
        return self._events

    def failures(self) -> list[tuple[float, str]]:
        return list(self._reader.failures)

    def connections(self) -> int:
        return len(self._reader.starts)

    async def stop(self) -> None:
        await self._reader.stop()


@dataclass
class SocketRoom:
    """`GET /ws` subscribed to one room from the first event (`last_event_id: 0`), reconnecting
    and subscribing again with the last id after a close (1012 on a drain) or a broken
    connection; its room commands go over the socket too (`call`)."""

    name: str
    session: aiohttp.ClientSession
    base: str
    token: str
    room_id: int
    retry_s: float
    events: list[RoomEvent] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    close_codes: list[int | None] = field(default_factory=list)
    _failures: list[tuple[float, str]] = field(default_factory=list)
    _opened: int = 0
    _socket: aiohttp.ClientWebSocketResponse | None = None
    # A reply, or why there is none (the socket closed first).
    _replies: dict[int, asyncio.Future[dict[str, Any] | str]] = field(default_factory=dict)
    _refs: int = 0
    _task: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self._task = asyncio.create_task(self._run())

    def failures(self) -> list[tuple[float, str]]:
        return list(self._failures)

    def connections(self) -> int:
        return self._opened

    async def call(self, op: str, body: dict[str, Any]) -> dict[str, Any] | str:
        """The reply to a command sent over the socket, or why there is none: "no socket"
        (between connections: not sent) or "closed before replying (<close code>)"."""
        socket = self._socket
        if socket is None:
            return "no socket"
        self._refs += 1
        ref = self._refs
        reply: asyncio.Future[dict[str, Any] | str] = asyncio.get_running_loop().create_future()
        self._replies[ref] = reply
        try:
            try:
                await socket.send_str(json.dumps({"op": op, "ref": ref, **body}))
            except (aiohttp.ClientError, ConnectionError):
                return "no socket"
            async with asyncio.timeout(15):
                return await reply
        finally:
            self._replies.pop(ref, None)

    async def _run(self) -> None:
        while True:
            try:
                await self._connected()
            except aiohttp.WSServerHandshakeError as error:
                self._failures.append((time.monotonic(), f"status {error.status}"))
            except (aiohttp.ClientError, ConnectionError) as error:
                self._failures.append((time.monotonic(), type(error).__name__))
            finally:
                self._socket = None
                self._unanswered("closed before replying (broken)")
            await asyncio.sleep(self.retry_s)

    async def _connected(self) -> None:
        last = self.events[-1].id if self.events else 0
        async with self.session.ws_connect(f"{self.base}/ws", headers=bearer(self.token)) as ws:
            self._opened += 1
            self._socket = ws
            subscribe = {"op": "subscribe", "room_id": self.room_id, "last_event_id": last}
            await ws.send_str(json.dumps({**subscribe, "ref": "subscribe"}))
            async for message in ws:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                body = json.loads(message.data)
                if body.get("op") == "event" and body.get("room_id") == self.room_id:
                    self.events.append(RoomEvent(int(body["id"]), body["event"], body["data"]))
                    self.changed.set()
                elif body.get("op") == "reply" and body.get("ref") == "subscribe":
                    assert body["ok"], body
                elif body.get("op") == "reply":
                    reply = self._replies.get(body.get("ref"))
                    if reply is not None and not reply.done():
                        reply.set_result(body)
            self.close_codes.append(ws.close_code)
            self._unanswered(f"closed before replying ({ws.close_code})")
            if ws.close_code not in (1000, 1012):
                self._failures.append((time.monotonic(), f"closed {ws.close_code}"))

    def _unanswered(self, why: str) -> None:
        for reply in self._replies.values():
            if not reply.done():
                reply.set_result(why)

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
