"""The room runtime of one process for one game: the actors by room id, opening rooms, publishing
after each commit, resuming rooms at start, and a sweeper for overdue timers and lost events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub import ledger_pg, userstream
from gamehub.auth.service import SessionRevoked
from gamehub.auth.tokens import AccessClaims
from gamehub.db import iso_utc, utcnow
from gamehub.faults import ROOM_COMMITTED, crash_point
from gamehub.pg import RawPool
from gamehub.rooms import store, store_pg
from gamehub.rooms.actor import Applied, Message, RoomActor, handle
from gamehub.rooms.broker import Broker
from gamehub.rooms.game import RoomGame
from gamehub.tasks import stop_task
from gamehub.walletnews import WalletNews

log = logging.getLogger(__name__)

LOBBY = "lobby"


class Registry:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        broker: Broker,
        pg: RawPool,
        game: RoomGame[Any],
        config_overrides: dict[str, int] | None = None,
        sweep_interval_s: float = 1.0,
        readers: async_sessionmaker[AsyncSession] | None = None,
        faults: frozenset[str] = frozenset(),
    ) -> None:
        self.pg = pg
        self.game = game
        self.faults = faults  # crash points switched on by failure tests (gamehub.faults)
        self.sessions = sessions
        self.readers = readers or sessions
        self.broker = broker
        self.accounts = store.AccountIds()
        self.config_overrides = config_overrides or {}
        self.sweep_interval_s = sweep_interval_s
        self.actors: dict[int, RoomActor] = {}
        self._room_ids = store_pg.SequenceIds("multiplayer")
        # Stakes of waiting rooms with a free seat as this process last committed them (oldest
        # first): matchmaking tries these before asking the database.
        self._free_seats: dict[int, int] = {}
        self.wallet_news = WalletNews(broker, pg)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        # Rooms whose broker seq was behind the database at the last sweep: room -> that seq.
        self._behind: dict[int, int] = {}

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[store_pg.PgRoomTx]:
        """One room message's transaction on the bare driver (a fifth of SQLAlchemy's CPU); an
        account id it opens is remembered once committed."""
        async with self.pg.connection() as connection:
            async with connection.transaction():
                tx = store_pg.PgRoomTx(connection, self.accounts)
                yield tx
            for code, account in tx.opened.items():  # committed: now they exist
                self.accounts.remember(code, account)

    async def existing_account(
        self, code: str, _kind: str | None = None, _user_id: int | None = None
    ) -> int:
        """A ledger account's id, remembered or looked up (a store.Resolve for one-statement
        writes); store.AccountNotOpen if it is not open yet."""

        async def find() -> int | None:
            async with self.pg.connection() as connection:
                return await ledger_pg.find_account(connection, code)

        found = await self.accounts.find(code, find)
        if found is None:
            raise store.AccountNotOpen(code)
        return found

    def seat_free(self, room_id: int, stake: int | None) -> None:
        """Note at which stake a room has a free seat (None: it takes no one)."""
        if stake is not None:
            self._free_seats.setdefault(room_id, stake)
        else:
            self._free_seats.pop(room_id, None)

    def rooms_with_a_free_seat(self, stake: int) -> list[int]:
        """Rooms this process knows to wait for a player at `stake`, oldest first."""
        return [room for room, at in self._free_seats.items() if at == stake]

    def actor(self, room_id: int) -> RoomActor:
        actor = self.actors.get(room_id)
        if actor is None or actor.closed:
            actor = self.actors[room_id] = RoomActor(room_id, self)
        return actor

    async def latest(self, room_id: int) -> tuple[int, Any] | None:
        """(seq, state) as this process's actor last committed it, when that is also the last
        published (the broker's last seq); None when something newer may exist."""
        actor = self.actors.get(room_id)
        known = None if actor is None else actor.known
        if known is None or await self.broker.last_seq(store.channel(room_id)) != known[0]:
            return None
        return known

    async def send(self, room_id: int, message: Message) -> Applied:
        """Run one message in the room's actor and return its outcome."""
        while True:
            future = self.actor(room_id).post(message)
            if future is not None:
                return await future

    async def open_seated(
        self,
        game_id: int,
        stake: int,
        config: Any,
        joiner: Any,
        user_id: int,
        login: AccessClaims | None = None,
        request_ref: str | None = None,
    ) -> Applied:
        """Open a room and seat its first player, then hand it to its actor: one statement
        when it can; when that refuses or an account is not open yet, nothing was written and
        a transaction opens the room or explains why not."""
        game = self.game
        room_id = await self._room_ids.take(self.pg)
        now = utcnow()
        room = store.RoomRow(room_id, game_id, 0, None)
        state = game.init(room_id, stake, now, config)
        message = Message("join", joiner, user_id, login, request_ref)
        transition = handle(game, state, message, now)
        writes = store.plan(game, room, state, transition, now, request_ref)
        escrow = store.escrow_code(room_id)

        async def resolve(code: str, kind: str | None, owner: int | None) -> int:
            # The escrow is opened by the statement itself: 0 stands in for its id.
            return 0 if code == escrow else await self.existing_account(code, kind, owner)

        escrow_id, live = None, True
        try:
            moves = await store.transfer_specs(room_id, writes.postings, game.kind_prefix, resolve)
            if len(moves) == 1 and moves[0].credit == 0:  # the statement's shape: one stake
                escrow_id, live = await store_pg.open_seated(
                    self.pg, game, writes, stake, moves[0], user_id, login
                )
        except (store.AccountNotOpen, store_pg.Refused):
            pass  # nothing was written
        if not live:
            raise SessionRevoked()  # nothing was written
        if escrow_id is None:
            return await self._open_locked(game_id, stake, config, message, now)
        self.accounts.remember(escrow, escrow_id)  # committed: it exists
        saved = store.Saved(writes.events, writes.seq)
        return await self.actor(room_id).committed(writes, transition, saved)

    async def _open_locked(
        self, game_id: int, stake: int, config: Any, message: Message, now: datetime
    ) -> Applied:
        """A room opened and its first player seated in one transaction."""
        game = self.game
        async with self.transaction() as tx:
            await store_pg.check_login(tx.connection, message.login)
            room = await tx.open_room(game, game_id, stake, now)
            await tx.claim_seat(room.id, message.seat, now)
            state = game.init(room.id, stake, now, config)
            transition = handle(game, state, message, now)
            writes = store.plan(game, room, state, transition, now, message.request_ref)
            saved = await tx.save(game, writes)
        return await self.actor(room.id).committed(writes, transition, saved)

    async def timeout(self, room_id: int) -> None:
        """Fire the room's timer; a no-op if its deadline has not come."""
        try:
            await self.send(room_id, Message("timer"))
        except Exception:
            log.exception("room %s: timeout failed; the sweeper will retry", room_id)

    def forget(self, actor: RoomActor) -> None:
        if self.actors.get(actor.room_id) is actor:
            del self.actors[actor.room_id]
            self.seat_free(actor.room_id, None)

    def keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def after_commit(
        self, room_id: int, opened: bool, transition: Any, saved: store.Saved
    ) -> None:
        """Publish a committed message's events; the lobby and the users the game names hear of
        a change of seats or status, the wallets it changed of their balances."""
        crash_point(self.faults, ROOM_COMMITTED)
        for event in saved.events:
            await self.broker.publish_event(event)
        told = self.game.told(transition)
        if told is not None:
            state = transition.state
            room = self.game.render(state, saved.seq)
            kind = "room_opened" if opened else "room_updated"
            if self.game.is_closed(state):
                kind = "room_closed"
            lobby = {"type": kind, "room_id": room_id, "room": room, "at": iso_utc(utcnow())}
            await self.broker.publish(LOBBY, lobby)
            for user_id in sorted(told):
                await userstream.publish(
                    self.broker, user_id, "room", {"room_id": room_id, "room": room}
                )
        self.wallet_news.note(self.game.wallets(transition))

    async def start(self) -> None:
        """Resume every unfinished room: republish what the broker lost, re-arm its timer."""
        async with self.sessions() as session:
            room_ids = await store.open_room_ids(session, self.game.slug)
        for room_id in room_ids:
            await self._republish(room_id)
            found = await store_pg.snapshot(self.pg, room_id)
            if found is not None:
                self.actor(room_id).arm(self.game.load(found[1]))
        self._sweeper = asyncio.create_task(self._sweep(), name="rooms-sweeper")

    async def _republish(self, room_id: int, published: int | None = None) -> None:
        """Publish the room's stored events after `published` (default: the broker's last)."""
        if published is None:
            published = await self.broker.last_seq(store.channel(room_id))
        missing = await store.durable_history(self.sessions, room_id, published)
        for event in missing or []:
            await self.broker.publish_event(event)

    async def _sweep(self) -> None:
        # Timers live in memory; if the instance that armed one died, another fires it from here.
        while True:
            await asyncio.sleep(self.sweep_interval_s)
            try:
                async with self.sessions() as session:
                    before = utcnow() - OVERDUE_BY
                    overdue = await store.overdue_room_ids(session, self.game.slug, before)
                for room_id in overdue:
                    self.keep(asyncio.create_task(self.timeout(room_id)))
                await self.republish_lost()
            except Exception:
                log.exception("rooms sweeper pass failed")

    async def republish_lost(self) -> None:
        """Publish from the database the events of rooms (open, or ended in the last minute)
        whose broker seq was behind at this pass and the one before (one pass apart, an event
        merely being published is not taken for lost); publishing by seq makes a race
        harmless."""
        async with self.sessions() as session:
            rooms = await store.live_room_seqs(session, self.game.slug, utcnow() - RECENTLY_ENDED)
        published = await self.broker.last_seqs([store.channel(room_id) for room_id, _ in rooms])
        behind = {
            room_id: last
            for (room_id, seq), last in zip(rooms, published, strict=True)
            if last < seq
        }
        for room_id, last in behind.items():
            if room_id in self._behind and self._behind[room_id] >= last:
                log.warning(
                    "room %s: events after %s were never published; republishing", room_id, last
                )
                await self._republish(room_id, last)
        self._behind = behind

    async def stop(self) -> None:
        sweeper, self._sweeper = self._sweeper, None
        await stop_task(sweeper)
        for actor in list(self.actors.values()):
            await actor.close()
        for task in list(self._tasks):
            task.cancel()
        self.actors.clear()
        await self.wallet_news.stop()


# How far past its deadline a sweeper fires a room's timer: the margin keeps it from racing the
# instance that armed it (harmless, but a wasted statement); with the sweep's interval it bounds
# how late an orphaned room's timeout is (at most 5 s from an instance's death).
OVERDUE_BY = timedelta(seconds=0.5)

# How long after a room ends the sweeper still checks that its last events were published.
RECENTLY_ENDED = timedelta(minutes=1)
