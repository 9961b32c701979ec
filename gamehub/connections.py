"""The open streams and WebSockets of this process, by user and login: capped per user, closed
on every instance when their login ends (broker channel `logins`), and when the process drains."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub.auth.tokens import AccessClaims
from gamehub.errors import ApiError
from gamehub.models import TokenFamily
from gamehub.rooms.broker import Broker, SubscriberLagged
from gamehub.runtime import runtime

if TYPE_CHECKING:
    from gamehub.rooms.streams import ChannelFeed

log = logging.getLogger(__name__)

CHANNEL = "logins"
# Why a stream or socket is closed from outside: its login ended, or this process is stopping.
Why = Literal["login_ended", "restart"]
RETRY_AFTER_S = 2  # as an SSE stream's `retry`: by then another instance has taken over
# A stream whose login check raced the end (checked before, registered after) is refused too.
REMEMBER_ENDED_S = 300.0
RELISTEN_S = 1.0


class TooManyStreams(ApiError):
    status, code = 429, "too_many_streams"
    message = "Too many open streams and sockets for this account; close some first."


class LoginEnded(ApiError):
    status, code, message = 401, "session_revoked", "This session has ended; log in again."


class Restarting(ApiError):
    status, code = 503, "restarting"
    message = "This server is restarting; connect again shortly."

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": str(RETRY_AFTER_S)})


def current() -> Connections:
    """The app's Connections (request code)."""
    connections = runtime().connections
    assert connections is not None, "create_app sets it"
    return connections


async def logins_ended(broker: Broker, user_id: int, family_ids: Iterable[str]) -> None:
    """Close these logins' streams and sockets on every instance; call it after the
    transaction that ended the logins has committed."""
    families = sorted(set(family_ids))
    if families:
        await broker.publish(CHANNEL, {"type": "ended", "user_id": user_id, "families": families})


@dataclass(eq=False, slots=True)
class Held:
    """One open stream or socket: whose, and how to close it (called at most once, with why)."""

    owner: Connections
    user_id: int
    family_id: str
    close: Callable[[Why], None]
    released: bool = False

    def release(self) -> None:
        """It ended (however): it no longer counts."""
        self.owner.release(self)


class Connections:
    """This process's open streams and sockets by user and login (one per app)."""

    def __init__(self, max_per_user: int) -> None:
        self.max_per_user = max_per_user
        self._by_user: dict[int, set[Held]] = {}
        self._ended: dict[str, float] = {}  # family id → when its end was heard
        self._listener: asyncio.Task[None] | None = None
        self.draining = False

    def count(self, user_id: int) -> int:
        return len(self._by_user.get(user_id, ()))

    def hold(self, login: AccessClaims, close: Callable[[Why], None]) -> Held:
        """Count a stream or socket about to start (429 over the cap, 401 if its login just
        ended, 503 while draining); `close` is called if its login ends or the process drains."""
        if self.draining:
            raise Restarting()
        if self._recently_ended(login.family_id):
            raise LoginEnded()
        held = self._by_user.get(login.user_id)
        if held is not None and len(held) >= self.max_per_user:
            raise TooManyStreams(details={"limit": self.max_per_user})
        entry = Held(self, login.user_id, login.family_id, close)
        self._by_user.setdefault(login.user_id, set()).add(entry)
        return entry

    def release(self, entry: Held) -> None:
        if entry.released:
            return
        entry.released = True
        held = self._by_user.get(entry.user_id)
        if held is not None:
            held.discard(entry)
            if not held:
                del self._by_user[entry.user_id]

    def end(self, user_id: int, family_ids: Iterable[str]) -> int:
        """Close this process's streams and sockets of these logins; how many were closed."""
        families = set(family_ids)
        now = time.monotonic()
        for family in families:
            self._ended[family] = now
        self._forget_old(now)
        closing = [e for e in self._by_user.get(user_id, ()) if e.family_id in families]
        return self._close(closing, "login_ended")

    def drain(self) -> int:
        """Close every open stream and socket (a socket with 1012) and refuse new ones; how many
        were closed. A command a socket already read is finished first (rooms/ws.py)."""
        self.draining = True
        return self._close([e for held in self._by_user.values() for e in held], "restart")

    def _close(self, closing: list[Held], why: Why) -> int:
        for entry in closing:
            self.release(entry)
            try:
                entry.close(why)
            except Exception:
                log.exception("closing a stream (%s) failed", why)
        return len(closing)

    def _recently_ended(self, family_id: str) -> bool:
        heard = self._ended.get(family_id)
        return heard is not None and heard > time.monotonic() - REMEMBER_ENDED_S

    def _forget_old(self, now: float) -> None:
        if len(self._ended) > 10_000:
            horizon = now - REMEMBER_ENDED_S
            self._ended = {family: at for family, at in self._ended.items() if at > horizon}

    def hold_stream(self, login: AccessClaims, feed: ChannelFeed) -> None:
        """Count an SSE stream about to start; its feed ends when its login does."""
        feed.held = self.hold(login, feed.end)

    def start(self, broker: Broker, readers: async_sessionmaker[AsyncSession]) -> None:
        self._listener = asyncio.create_task(self._listen(broker, readers), name="logins-ended")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

    async def _listen(self, broker: Broker, readers: async_sessionmaker[AsyncSession]) -> None:
        first = True
        while True:
            try:
                subscription = await broker.subscribe(CHANNEL)
            except Exception as error:
                log.warning("cannot listen for ended logins yet: %s", error)
                await asyncio.sleep(RELISTEN_S)
                continue
            try:
                if not first:  # whatever ended while we were not listening
                    await self._recheck(readers)
                first = False
                while True:
                    await subscription.wait()
                    for event in subscription.drain():
                        body = event.payload()
                        self.end(int(body["user_id"]), [str(f) for f in body["families"]])
            except SubscriberLagged:
                log.warning("ended logins: the broker cut us off; listening again")
            except Exception:
                log.exception("ended logins: the listener failed; listening again")
            finally:
                broker.unsubscribe(subscription)
            await asyncio.sleep(RELISTEN_S)

    async def _recheck(self, readers: async_sessionmaker[AsyncSession]) -> None:
        open_logins = {e.family_id: e.user_id for held in self._by_user.values() for e in held}
        if not open_logins:
            return
        async with readers() as session:
            ended = await session.scalars(
                select(TokenFamily.id).where(
                    TokenFamily.id.in_(list(open_logins)), TokenFamily.revoked_at.is_not(None)
                )
            )
            for family in ended:
                self.end(open_logins[family], [family])
