"""Who runs which room in this process: the actors by room id, resuming unfinished rooms at
start, a sweeper for overdue timeouts, and what happens after each committed command
(publishing room, lobby and wallet events)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub import ledger_pg, userstream
from gamehub.auth.tokens import AccessClaims
from gamehub.db import iso_utc, utcnow
from gamehub.faults import ROOM_COMMITTED, crash_point
from gamehub.pg import RawPool
from gamehub.rooms import roulette, store
from gamehub.rooms.actor import Applied, Prepare, RoomActor
from gamehub.rooms.broker import Broker
from gamehub.rooms.render import render_room
from gamehub.rooms.store_pg import PgRoomTx
from gamehub.tasks import stop_task
from gamehub.walletnews import WalletNews, wallets_changed

log = logging.getLogger(__name__)

LOBBY = "lobby"
LOBBY_EVENTS = {"player_joined", "match_started", "match_ended", "player_left", "room_cancelled"}


class Registry:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        broker: Broker,
        pg: RawPool,
        config_overrides: dict[str, int] | None = None,
        sweep_interval_s: float = 2.0,
        readers: async_sessionmaker[AsyncSession] | None = None,
        faults: frozenset[str] = frozenset(),
    ) -> None:
        self.pg = pg
        self.faults = faults  # crash points switched on by failure tests (gamehub.faults)
        self.sessions = sessions
        self.readers = readers or sessions
        self.broker = broker
        self.accounts = store.AccountIds()
        self.config_overrides = config_overrides or {}
        self.sweep_interval_s = sweep_interval_s
        self.actors: dict[int, RoomActor] = {}
        # Stakes of the waiting rooms with a free seat, as this process's actors last committed
        # them (oldest first): matchmaking tries these before asking the database.
        self._free_seats: dict[int, int] = {}
        self.wallet_news = WalletNews(broker, pg)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        # Rooms whose broker seq was behind the database at the last sweep: room -> that seq.
        self._behind: dict[int, int] = {}

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[store.RoomTx]:
        """One room command's transaction, on the bare driver (a fifth of SQLAlchemy's CPU).
        An account id it opens is remembered only once it has committed."""
        async with self.pg.connection() as connection:
            async with connection.transaction():
                tx = PgRoomTx(connection, self.accounts)
                yield tx
            for code, account in tx.opened.items():  # committed: now they exist
                self.accounts.remember(code, account)

    async def existing_account(
        self, code: str, _kind: str | None = None, _user_id: int | None = None
    ) -> int:
        """A ledger account's id, remembered or looked up on the bare driver (a store.Resolve
        for one-statement writes); store.AccountNotOpen if it is not open yet."""

        async def find() -> int | None:
            async with self.pg.connection() as connection:
                return await ledger_pg.find_account(connection, code)

        found = await self.accounts.find(code, find)
        if found is None:
            raise store.AccountNotOpen(code)
        return found

    def seat_free(self, room_id: int, stake: int | None, free: bool) -> None:
        """Note whether a room (last committed by this process) has a free seat at `stake`."""
        if free and stake is not None:
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

    async def latest(self, room_id: int) -> tuple[int, roulette.RoomState] | None:
        """The room as this process's actor last committed it, when that is also the last
        state published (the broker's last seq for the room is the same): a snapshot that needs
        no read. None when this process does not know, or something newer may exist."""
        actor = self.actors.get(room_id)
        known = None if actor is None else actor.known
        if known is None or await self.broker.last_seq(store.channel(room_id)) != known[0]:
            return None
        return known

    async def send(
        self,
        room_id: int,
        prepare: Prepare,
        login: AccessClaims | None = None,
        request_ref: str | None = None,
    ) -> Applied:
        """Run one command in the room's actor and return its outcome (see RoomActor._apply
        for `login`, store.plan for `request_ref`)."""
        while True:
            future = self.actor(room_id).post(prepare, login, request_ref)
            if future is not None:
                return await future

    async def timeout(self, room_id: int) -> None:
        """Fire whichever timeout the room is waiting for; a no-op if it is not due yet."""

        async def prepare(
            _tx: store.RoomTx, _room: store.RoomRow, state: roulette.RoomState
        ) -> roulette.Command:
            if state.status == "playing":
                return roulette.TurnTimeout(now=utcnow())
            return roulette.WaitingTimeout(now=utcnow())

        try:
            await self.send(room_id, prepare)
        except Exception:
            log.exception("room %s: timeout failed; the sweeper will retry", room_id)

    def forget(self, actor: RoomActor) -> None:
        if self.actors.get(actor.room_id) is actor:
            del self.actors[actor.room_id]
            self.seat_free(actor.room_id, None, False)

    def keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def after_commit(
        self, room_id: int, transition: roulette.Transition, saved: store.Saved, seq: int
    ) -> None:
        """Publish a committed command's events (room, lobby) and the wallets it changed."""
        crash_point(self.faults, ROOM_COMMITTED)
        for event in saved.events:
            await self.broker.publish_event(event)
        types = {event.type for event in saved.events}
        if types & LOBBY_EVENTS:
            room = render_room(roulette.room_view(transition.state), seq)
            await self.publish_lobby(transition.state, room, opened=_opened(saved))
            await self._tell_players(transition, room)
        self.wallet_news.note(wallets_changed(transition))

    async def publish_lobby(
        self, state: roulette.RoomState, room: dict[str, Any], *, opened: bool
    ) -> None:
        kind = "room_closed" if state.is_closed else ("room_opened" if opened else "room_updated")
        await self.broker.publish(
            LOBBY, {"type": kind, "room_id": state.room_id, "room": room, "at": iso_utc(utcnow())}
        )

    async def _tell_players(self, transition: roulette.Transition, room: dict[str, Any]) -> None:
        """Each player's own stream (`/events`) hears when their room's seats or status change
        (seated, match started, ended, left, cancelled), the player who left included: a client
        learns of its rooms there without listening to the lobby."""
        players = {player.user_id for player in transition.state.players}
        players.update(
            event.user_id for event in transition.events if isinstance(event, roulette.PlayerLeft)
        )
        body = {"room_id": transition.state.room_id, "room": room}
        for user_id in sorted(players):
            await userstream.publish(self.broker, user_id, "room", body)

    async def start(self) -> None:
        """Resume every unfinished room: republish what the broker lost, re-arm its timer."""
        async with self.sessions() as session:
            room_ids = await store.open_room_ids(session)
        for room_id in room_ids:
            await self._republish(room_id)
            found = await store.snapshot(self.sessions, room_id)
            if found is not None:
                self.actor(room_id).arm(found[1])
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
                    overdue = await store.overdue_room_ids(session, utcnow() - timedelta(seconds=1))
                for room_id in overdue:
                    self.keep(asyncio.create_task(self.timeout(room_id)))
                await self.republish_lost()
            except Exception:
                log.exception("rooms sweeper pass failed")

    async def republish_lost(self) -> None:
        """Events committed but missing from the broker (their instance died between commit
        and publish) are published from the database: an open room, or one that ended in
        the last minute, whose broker seq was behind its database seq at the previous pass
        too (one pass apart, a command that is merely being published is not taken for lost).
        Publishing is by seq and skips what the broker has, so a race is harmless anyway."""
        async with self.sessions() as session:
            rooms = await store.live_room_seqs(session, utcnow() - RECENTLY_ENDED)
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


# How long after a room ends the sweeper still checks that its last events were published.
RECENTLY_ENDED = timedelta(minutes=1)


def _opened(saved: store.Saved) -> bool:
    return any(event.type == "player_joined" and event.seq == 1 for event in saved.events)
