"""One asyncio actor per live room: a mailbox whose messages the game judges one at a time, each
committed by one statement guarded by the room's seq, then published; the room's one timer.

Several instances may hold an actor for one room: the seq guard (or the row lock) applies their
messages one at a time. An actor whose room moved on elsewhere catches up by an unlocked read.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from gamehub.auth.service import SessionRevoked
from gamehub.auth.tokens import AccessClaims
from gamehub.db import utcnow
from gamehub.errors import NotFound
from gamehub.rooms import store, store_pg
from gamehub.rooms.game import RoomGame, RuleError

if TYPE_CHECKING:
    from gamehub.rooms.registry import Registry


@dataclass(frozen=True)
class Message:
    """One message to a room for the game's handler of its `kind`: `body` is the joiner or
    command, `user_id` who joins or leaves, `login` is checked live by the message's statement,
    `request_ref` names a keyed request's effects."""

    kind: Literal["join", "command", "leave", "timer"]
    body: Any = None
    user_id: int | None = None
    login: AccessClaims | None = None
    request_ref: str | None = None

    @property
    def seat(self) -> int | None:
        """The user whose one active seat this message claims."""
        return self.user_id if self.kind == "join" else None


@dataclass(frozen=True)
class Applied:
    """The outcome of one message: the room after it, its seq, and the game's transition."""

    state: Any
    seq: int
    transition: Any


def handle(game: RoomGame[Any], state: Any, message: Message, now: datetime) -> Any:
    """The game's handler's answer to `message` (its Transition); a RuleError refuses."""
    if message.kind == "join":
        return game.join(state, message.body, now)
    if message.kind == "command":
        return game.command(state, message.body, now)
    if message.kind == "leave":
        assert message.user_id is not None
        return game.leave(state, message.user_id, now)
    return game.timer(state, now)


class RoomActor:
    def __init__(self, room_id: int, registry: Registry) -> None:
        self.room_id = room_id
        self.registry = registry
        self.game = registry.game
        self.mailbox: asyncio.Queue[tuple[Message, asyncio.Future[Applied]]] = asyncio.Queue()
        self._timer: asyncio.TimerHandle | None = None
        # The room as this actor last committed it; None: read it (and lock it) from the database.
        self._known: tuple[store.RoomRow, Any] | None = None
        self._task = asyncio.create_task(self._run(), name=f"room-{room_id}")
        self.closed = False

    def post(self, message: Message) -> asyncio.Future[Applied] | None:
        """Queue a message; its future gives the outcome or the refusal. None once stopped."""
        if self.closed:
            return None
        future: asyncio.Future[Applied] = asyncio.get_running_loop().create_future()
        # No await between the check and the put.
        self.mailbox.put_nowait((message, future))
        return future

    async def _run(self) -> None:
        while not (self.closed and self.mailbox.empty()):
            message, future = await self.mailbox.get()
            try:
                applied = await self._apply(message)
            except Exception as error:
                if not future.done():
                    future.set_exception(error)
                continue
            if not future.done():
                future.set_result(applied)
            if self.game.is_closed(applied.state) and not self.closed:
                # Messages already queued still run (the rules answer them: the room is closed).
                self._stop()

    async def _apply(self, message: Message) -> Applied:
        now = utcnow()
        known = self._known
        refusal: RuleError | None = None
        if known is not None:
            try:
                applied = await self._apply_remembered(message, known, now)
            except RuleError as error:
                applied, refusal = None, error
            if applied is not None:
                return applied
        # This actor may never have known the room, or another instance moved it on: judge the
        # message against the room read unlocked and send the same guarded statement (two round
        # trips instead of a transaction's four or five, no lock held).
        stored = await store_pg.read_room(self.registry.pg, self.room_id)
        if stored is not None and (known is None or stored[0].seq != known[0].seq):
            read = (stored[0], self.game.load(stored[1]))
            self._remember(read)
            try:
                applied = await self._apply_remembered(message, read, now, as_stored=True)
            except RuleError as error:
                applied, refusal = None, error
            else:
                refusal = None
            if applied is not None:
                return applied
        if refusal is not None and stored is not None and message.seat is None:
            # The rules refused it against the room as last committed (the memory the read
            # confirmed, or the read): the lock would find the same room and the same refusal.
            async with self.registry.pg.connection() as connection:
                await store_pg.check_login(connection, message.login)
            raise refusal
        self._remember(None)
        return await self._apply_locked(message, now)

    async def _apply_remembered(
        self,
        message: Message,
        known: tuple[store.RoomRow, Any],
        now: datetime,
        as_stored: bool = False,
    ) -> Applied | None:
        """The message judged against the room as last committed here (or, `as_stored`, as just
        read) and saved by one statement guarded by its seq; RuleError is the rules' refusal.
        None sends it on: the statement refused (explained from the locked room), an account
        is not open yet, or the room moved on. A message that changes nothing in the room as
        just read (a timer another instance handled) is answered here."""
        room, state = known
        transition = handle(self.game, state, message, now)
        if not transition.events:
            quiet = message.login is None and message.seat is None
            if as_stored and quiet and not transition.postings:
                self.arm(transition.state)
                return Applied(transition.state, room.seq, transition)
            return None
        game = self.game
        writes = store.plan(game, room, state, transition, now, message.request_ref)
        try:
            moves = await store.transfer_specs(
                self.room_id, writes.postings, game.kind_prefix, self.registry.existing_account
            )
            saved, live = await store_pg.save_guarded(
                self.registry.pg, game, writes, message.login, moves, message.seat
            )
        except (store.AccountNotOpen, store_pg.Refused):
            return None
        if not live:
            raise SessionRevoked()  # nothing was written
        if not saved:
            return None
        saved_as = store.Saved(writes.events, writes.seq)
        return await self.committed(writes, transition, saved_as)

    async def _apply_locked(self, message: Message, now: datetime) -> Applied:
        """The transactional way: the room's row locked, the message judged against it, the
        same statement, COMMIT."""
        game = self.game
        async with self.registry.transaction() as tx:
            await store_pg.check_login(tx.connection, message.login)
            locked = await tx.lock_room(self.room_id)
            if locked is None:
                raise NotFound("No such room.", code="room_not_found")
            room, state = locked[0], game.load(locked[1])
            await tx.claim_seat(room.id, message.seat, now)
            transition = handle(self.game, state, message, now)
            if not transition.events and not transition.postings:
                self.arm(transition.state)
                return Applied(transition.state, room.seq, transition)
            writes = store.plan(game, room, state, transition, now, message.request_ref)
            saved = await tx.save(game, writes)
        return await self.committed(writes, transition, saved)

    async def committed(self, writes: store.Writes, transition: Any, saved: store.Saved) -> Applied:
        """After a message (or the room's opening) committed: remember, publish, re-arm."""
        self._remember((writes.room_after(), transition.state))
        await self.registry.after_commit(self.room_id, writes.room.seq == 0, transition, saved)
        self.arm(transition.state)
        return Applied(transition.state, saved.seq, transition)

    def _remember(self, known: tuple[store.RoomRow, Any] | None) -> None:
        """Keep the room as last committed here; matchmaking hears whether a seat is free."""
        self._known = known
        stake = None if known is None else self.game.free_seat_at(known[1])
        self.registry.seat_free(self.room_id, stake)

    @property
    def known(self) -> tuple[int, Any] | None:
        """(seq, state) of the room as this actor last committed it, if it remembers it."""
        if self._known is None:
            return None
        return self._known[0].seq, self._known[1]

    def arm(self, state: Any) -> None:
        """(Re)arm the one timer the room needs, from the game's deadline for the state."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.game.deadline(state)
        if deadline is None or self.closed:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, (deadline - utcnow()).total_seconds())
        self._timer = loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        task = asyncio.get_running_loop().create_task(self.registry.timeout(self.room_id))
        self.registry.keep(task)

    def _stop(self) -> None:
        """Take no more messages (those queued still run) and leave the registry."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        self.registry.forget(self)

    async def close(self) -> None:
        self._stop()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
