"""One asyncio actor per live room: a mailbox whose commands are applied one at a time, each in
one database transaction (room state, ledger postings, events), then published, with the room's
timers armed from its stored deadlines.

Several instances may hold an actor for the same room: each command locks the room row first, so
the database serialises them, and a timeout that another instance already handled is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from gamehub.auth.service import SessionRevoked
from gamehub.auth.tokens import AccessClaims
from gamehub.db import utcnow
from gamehub.errors import NotFound
from gamehub.rooms import roulette, store, store_pg

if TYPE_CHECKING:
    from gamehub.rooms.registry import Registry

log = logging.getLogger(__name__)

# Builds the command inside the transaction, from the current state (e.g. to insert a bet row).
Prepare = Callable[[store.RoomTx, store.RoomRow, roulette.RoomState], Awaitable[roulette.Command]]


@dataclass(frozen=True)
class Applied:
    """The outcome of one command: the room after it, its seq, and what happened."""

    state: roulette.RoomState
    seq: int
    transition: roulette.Transition


class _NeedsTransaction(Exception):
    """The command's preparation needs the database: take the transactional path."""


class _InMemory:
    """The RoomTx of the one-statement path: it has no database. A seat to take is noted for
    the statement (which refuses itself if the seat is someone's); anything else that needs
    the database sends the command the transactional way."""

    def __init__(self) -> None:
        self.seat: int | None = None

    async def lock_room(self, room_id: int) -> store.RoomRow | None:
        raise _NeedsTransaction()

    async def open_room(
        self, game_id: int, stake: int, config: roulette.RouletteConfig, now: datetime
    ) -> tuple[store.RoomRow, roulette.RoomState]:
        raise _NeedsTransaction()

    async def take_seat(self, room_id: int, user_id: int, now: datetime) -> bool:
        if self.seat is not None:
            raise _NeedsTransaction()
        self.seat = user_id
        return True

    async def seated_room(self, user_id: int) -> int | None:
        raise _NeedsTransaction()

    async def login_live(self, user_id: int, family_id: str) -> bool:
        raise _NeedsTransaction()

    async def new_side_bet(
        self,
        room: store.RoomRow,
        user_id: int,
        bet_type: str,
        amount: int,
        now: datetime,
        request_ref: str | None,
    ) -> int:
        raise _NeedsTransaction()

    async def write(self, writes: store.Writes) -> store.Saved:
        raise _NeedsTransaction()


class RoomActor:
    def __init__(self, room_id: int, registry: Registry) -> None:
        self.room_id = room_id
        self.registry = registry
        self.mailbox: asyncio.Queue[
            tuple[Prepare, AccessClaims | None, str | None, asyncio.Future[Applied]]
        ] = asyncio.Queue()
        self._timer: asyncio.TimerHandle | None = None
        # The room as this actor last wrote it (for the one-statement path); None: read it.
        self._known: tuple[store.RoomRow, roulette.RoomState] | None = None
        self._task = asyncio.create_task(self._run(), name=f"room-{room_id}")
        self.closed = False

    def post(
        self,
        prepare: Prepare,
        login: AccessClaims | None = None,
        request_ref: str | None = None,
    ) -> asyncio.Future[Applied] | None:
        """Queue a command; its future resolves to the outcome (or raises its RuleError /
        ApiError). None once this actor has stopped: the registry then starts a fresh one.
        `request_ref` is the scope of the keyed request that sent it (see store.plan)."""
        if self.closed:
            return None
        future: asyncio.Future[Applied] = asyncio.get_running_loop().create_future()
        # No await between the check and the put.
        self.mailbox.put_nowait((prepare, login, request_ref, future))
        return future

    async def _run(self) -> None:
        while not (self.closed and self.mailbox.empty()):
            prepare, login, request_ref, future = await self.mailbox.get()
            try:
                applied = await self._apply(prepare, login, request_ref)
            except Exception as error:
                if not future.done():
                    future.set_exception(error)
                continue
            if not future.done():
                future.set_result(applied)
            if applied.state.is_closed and not self.closed:
                # Commands already queued still run (the rules answer them: the room is closed).
                self._stop()

    async def _apply(
        self, prepare: Prepare, login: AccessClaims | None, request_ref: str | None
    ) -> Applied:
        """Apply one command; with `login` (a request that checked only its token) the command
        also checks, in its own statements, that the login is still live."""
        now = utcnow()
        if self._known is not None:
            applied = await self._apply_alone(prepare, self._known, now, login, request_ref)
            if applied is not None:
                return applied
        self._remember(None)
        async with self.registry.transaction() as tx:
            if login is not None and not await tx.login_live(login.user_id, login.family_id):
                raise SessionRevoked()
            room = await tx.lock_room(self.room_id)
            if room is None or room.state is None:
                raise NotFound("No such room.", code="room_not_found")
            state = roulette.from_dict(room.state)
            command = await prepare(tx, room, state)
            transition = roulette.apply(state, command)
            if not transition.events and not transition.postings:
                self.arm(transition.state)
                return Applied(transition.state, room.seq, transition)
            writes = store.plan(room, state, transition, now, request_ref)
            saved = await tx.write(writes)
        return await self._committed(writes, transition, saved)

    async def _apply_alone(
        self,
        prepare: Prepare,
        known: tuple[store.RoomRow, roulette.RoomState],
        now: datetime,
        login: AccessClaims | None,
        request_ref: str | None,
    ) -> Applied | None:
        """The one-statement path: a command judged against the room as this actor
        last wrote it is saved by one statement, guarded by the room's seq, that writes all of
        it (money, seat, history, events) or nothing. None sends the command the transactional
        way: it needs the database to prepare (a side bet's row), an account is not known yet,
        it was refused (a refusal, by the rules or by the statement, is only ever judged
        against the stored room), or the room moved on elsewhere."""
        room, state = known
        tx = _InMemory()
        try:
            command = await prepare(tx, room, state)
            transition = roulette.apply(state, command)
        except (_NeedsTransaction, roulette.RuleError):
            return None
        if not transition.events:
            return None
        writes = store.plan(room, state, transition, now, request_ref)
        try:
            moves, touched = await store.transfer_specs(
                self.room_id, writes.postings, self.registry.existing_account
            )
            saved_alone, live = await store_pg.write_alone(
                self.registry.pg, writes, login, moves, tx.seat
            )
        except (store.AccountNotOpen, store_pg.Refused):
            return None
        if not live:
            raise SessionRevoked()  # nothing was written
        if not saved_alone:
            return None
        return await self._committed(
            writes, transition, store.Saved(writes.events, touched, writes.seq)
        )

    async def _committed(
        self, writes: store.Writes, transition: roulette.Transition, saved: store.Saved
    ) -> Applied:
        """After either path committed a command: remember the room, publish, re-arm."""
        self._remember((writes.room_after(), transition.state))
        await self.registry.after_commit(self.room_id, transition, saved, saved.seq)
        self.arm(transition.state)
        return Applied(transition.state, saved.seq, transition)

    def _remember(self, known: tuple[store.RoomRow, roulette.RoomState] | None) -> None:
        """Keep the room as last committed here; the registry's matchmaking hears whether it
        has a free seat."""
        self._known = known
        state = None if known is None else known[1]
        seat_free = (
            state is not None and state.status == "waiting" and len(state.players) < roulette.SEATS
        )
        self.registry.seat_free(self.room_id, None if state is None else state.stake, seat_free)

    @property
    def known(self) -> tuple[int, roulette.RoomState] | None:
        """(seq, state) of the room as this actor last committed it, if it remembers it."""
        if self._known is None:
            return None
        return self._known[0].seq, self._known[1]

    def opened(self, room: store.RoomRow, state: roulette.RoomState) -> None:
        """The room as its opening transaction (committed) left it: the next command, the
        second player's join, can take the one-statement path."""
        self._remember((room, state))
        self.arm(state)

    def arm(self, state: roulette.RoomState) -> None:
        """(Re)arm the one timer the room needs, from the state's stored deadline."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = roulette.next_deadline(state)
        if deadline is None or self.closed:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, (deadline.at - utcnow()).total_seconds())
        self._timer = loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        task = asyncio.get_running_loop().create_task(self.registry.timeout(self.room_id))
        self.registry.keep(task)

    def _stop(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        self.registry.forget(self)

    async def close(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
