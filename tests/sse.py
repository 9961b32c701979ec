"""An SSE client for tests over real HTTP: reads a stream in the background like a browser's
EventSource, and, when asked, comes back with the last id it was sent whenever the stream ends.
Also the ids no stream may accept (422), as the bytes a client could send."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse


class Reader:
    """Reads one SSE stream in the background. `events` are those with data (a block with no
    data, such as the leading `retry:`, dispatches nothing in a browser); `starts` is where
    each opened stream's events begin in it. With `reconnect`, a stream that ends or cannot be
    opened is opened again after `retry_s` with `Last-Event-ID` set to the last id received,
    as EventSource does; `refused` counts the attempts answered with another status than 200,
    and `failures` says when each attempt was refused or broke off, and how."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        url: str,
        headers: dict[str, str] | None = None,
        *,
        reconnect: bool = False,
        retry_s: float = 0.2,
    ) -> None:
        self.events: list[ServerSentEvent] = []
        self.starts: list[int] = []
        self.refused: list[int] = []
        self.failures: list[tuple[float, str]] = []  # (time.monotonic(), "status 502" | error)
        self.changed = asyncio.Event()
        self.headers = dict(headers or {})
        self.last_id: str | None = self.headers.pop("Last-Event-ID", None)
        self.reconnect = reconnect
        self.retry_s = retry_s
        self.task = asyncio.create_task(self._run(http, url))

    async def _run(self, http: httpx.AsyncClient, url: str) -> None:
        while True:
            headers = dict(self.headers)
            if self.last_id is not None:
                headers["Last-Event-ID"] = self.last_id
            try:
                await self._read(http, url, headers)
            except httpx.HTTPError as error:
                self.failures.append((time.monotonic(), type(error).__name__))
                if not self.reconnect:
                    raise
            if not self.reconnect:
                return
            await asyncio.sleep(self.retry_s)

    async def _read(self, http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        async with aconnect_sse(http, "GET", url, headers=headers) as source:
            if source.response.status_code != 200:
                self.refused.append(source.response.status_code)
                self.failures.append((time.monotonic(), f"status {source.response.status_code}"))
                self.changed.set()
                return
            self.starts.append(len(self.events))
            async for event in source.aiter_sse():
                if event.id:
                    self.last_id = event.id
                if event.data:
                    self.events.append(event)
                    self.changed.set()

    async def until(
        self, predicate: Callable[[list[ServerSentEvent]], bool], timeout: float = 30
    ) -> None:
        async with asyncio.timeout(timeout):
            while not predicate(self.events):
                self.changed.clear()
                await self.changed.wait()

    async def count(self, number: int, timeout: float = 30) -> list[ServerSentEvent]:
        """The first `number` events, once they have come."""
        await self.until(lambda events: len(events) >= number, timeout)
        return self.events[:number]

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await self.task


# Digits that str.isdigit() (and, for other scripts' digits, int()) accept but an id never has.
SUPERSCRIPT_TWO, CIRCLED_ONE, ARABIC_INDIC_ONE = "\u00b2", "\u2460", "\u0661"
MALFORMED_IDS: list[str | bytes] = [
    "abc",
    "-5",
    "5-",
    "Ab-5",  # epochs are lowercase
    "a b-5",
    "x" * 33 + "-5",
    "1" * 19,
    "e-1" + "0" * 18,
    "e-5-5",
    "e-+5",
    "e-5.0",
    SUPERSCRIPT_TWO,
    f"e-{SUPERSCRIPT_TWO}",
    CIRCLED_ONE,
    ARABIC_INDIC_ONE,
    f"e-{ARABIC_INDIC_ONE}",
    f"{ARABIC_INDIC_ONE}-3",
    SUPERSCRIPT_TWO.encode(),
    ARABIC_INDIC_ONE.encode(),
    b"\xb2",  # a raw byte: read as Latin-1, the superscript two
    b"e-\xb2",
]


def with_last_event_id(headers: dict[str, str], last_id: str | bytes) -> dict[bytes, bytes]:
    """`headers` and a Last-Event-ID as the bytes on the wire (UTF-8 for text)."""
    raw = {name.encode(): value.encode() for name, value in headers.items()}
    raw[b"Last-Event-ID"] = last_id if isinstance(last_id, bytes) else last_id.encode()
    return raw
