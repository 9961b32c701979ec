"""HTTP endpoints of Russian Roulette: join, bet, pull, leave, rooms, and the room/lobby streams."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from quart import Blueprint, Response, current_app, g
from quart_schema import validate_querystring, validate_request, validate_response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub import connections
from gamehub.auth.guard import (
    current_login,
    current_user,
    login_checked_by_service,
    login_required,
    stream_login,
)
from gamehub.auth.tokens import AccessClaims
from gamehub.errors import error_response
from gamehub.idempotency import idempotency_scope, idempotent
from gamehub.models import User
from gamehub.money import format_cents
from gamehub.responsible.pauses import ensure_may_play
from gamehub.rooms import roulette, store
from gamehub.rooms.broker import Event
from gamehub.rooms.registry import LOBBY
from gamehub.rooms.schemas import (
    JoinIn,
    LeaveOut,
    PlaceBetIn,
    PlacedBetOut,
    PullOut,
    RoomEnvelope,
    RoomIn,
    RoomOut,
    RoomsOut,
    RoomsQuery,
)
from gamehub.rooms.service import Rooms, RoomView
from gamehub.rooms.streams import ChannelFeed, last_event_id, last_position, sse_response
from gamehub.runtime import runtime
from gamehub.userlimits import limited

blueprint = Blueprint("rooms", __name__)
RULE_STATUS = {"conflict": 409, "forbidden": 403, "invalid": 422}


def rooms() -> Rooms:
    return cast(Rooms, current_app.extensions["gamehub_rooms"])


@blueprint.app_errorhandler(roulette.RuleError)
async def _rule_error(error: roulette.RuleError) -> Response:
    return error_response(RULE_STATUS[error.kind], error.code, error.message, error.details)


def _room(view: RoomView) -> RoomOut:
    return RoomOut.model_validate(view.render())


def _event(applied: Any, event_type: type[Any]) -> Any:
    return next(event for event in applied.transition.events if isinstance(event, event_type))


@blueprint.post("/games/join")
@login_required
@limited("play")
@validate_request(JoinIn)
@idempotent
@validate_response(RoomEnvelope)
async def join(data: JoinIn) -> RoomEnvelope:
    """Sit down at a table: that room, an open one with the same stake, or a new one."""
    return await do_join(current_user(), data)


async def do_join(user: User, data: JoinIn, login: AccessClaims | None = None) -> RoomEnvelope:
    # `user` was read when the request (or the WebSocket) authenticated, after any pause:
    # a pause ends every login that was live before it.
    ensure_may_play(user.paused_until)
    view = await rooms().seat(user, data.stake, data.room_id, login, idempotency_scope())
    return RoomEnvelope(room=_room(view))


@blueprint.post("/games/place-bet")
@login_required
@limited("play")
@validate_request(PlaceBetIn)
@idempotent
@validate_response(PlacedBetOut)
async def place_bet(data: PlaceBetIn) -> PlacedBetOut:
    """Bet that the next pull goes bang (elimination) or clicks (survival); anyone may bet."""
    return await do_place_bet(current_user(), data)


async def do_place_bet(
    user: User, data: PlaceBetIn, login: AccessClaims | None = None
) -> PlacedBetOut:
    ensure_may_play(user.paused_until)
    placed, balance = await rooms().place_bet(
        user, data.room_id, data.bet_type, data.bet_amount, login, idempotency_scope()
    )
    return PlacedBetOut(
        bet_id=placed.bet_id,
        bet_type=placed.bet_type,
        pull_number=placed.pull_number,
        odds=placed.odds,
        potential_payout=format_cents(placed.potential_payout),
        new_balance=format_cents(balance.balance),
    )


@blueprint.post("/games/pull-trigger")
@login_checked_by_service
@limited("play")
@validate_request(RoomIn)
@validate_response(PullOut)
async def pull_trigger(data: RoomIn) -> PullOut:
    """Pull the trigger; only the player whose turn it is."""
    login = current_login()
    return await do_pull(login.user_id, data, g.received_at, login)


async def do_pull(
    user_id: int, data: RoomIn, sent_at: datetime, login: AccessClaims | None = None
) -> PullOut:
    applied = await rooms().pull(user_id, data.room_id, sent_at, login)
    pulled = _event(applied, roulette.TriggerPulled)
    return PullOut(
        pull_number=pulled.pull_number,
        shooter=pulled.shooter,
        outcome=pulled.outcome,
        room=_room(RoomView(applied.state, applied.seq)),
    )


@blueprint.post("/games/leave")
@login_required
@limited("play")
@validate_request(RoomIn)
@validate_response(LeaveOut)
async def leave(data: RoomIn) -> LeaveOut:
    """Leave a room: a refund while waiting, a forfeit during a match."""
    return await do_leave(current_user(), data)


async def do_leave(user: User, data: RoomIn, login: AccessClaims | None = None) -> LeaveOut:
    applied = await rooms().leave(user, data.room_id, login)
    left = _event(applied, roulette.PlayerLeft)
    return LeaveOut(
        room=_room(RoomView(applied.state, applied.seq)),
        refunded=None if left.refunded is None else format_cents(left.refunded),
        forfeited=None if left.forfeited is None else format_cents(left.forfeited),
    )


@blueprint.get("/games/rooms")
@login_required
@validate_querystring(RoomsQuery)
@validate_response(RoomsOut)
async def list_rooms(query_args: RoomsQuery) -> RoomsOut:
    """Rooms by status (default: waiting and playing)."""
    views = await rooms().list(query_args.status)
    return RoomsOut(rooms=[_room(view) for view in views])


@blueprint.get("/games/rooms/<int:room_id>")
@login_required
@validate_response(RoomEnvelope)
async def get_room(room_id: int) -> RoomEnvelope:
    """The room's current snapshot; `seq` is its last event id."""
    return RoomEnvelope(room=_room(await rooms().get(room_id)))


class _RoomHistory:
    """A room's events from the database (a stream's Durable). Kept for the stream's life:
    one small object, where a closure would be a function and a cell for each variable."""

    __slots__ = ("readers", "room_id")

    def __init__(self, readers: async_sessionmaker[AsyncSession], room_id: int) -> None:
        self.readers = readers
        self.room_id = room_id

    async def __call__(self, since: int) -> list[Event] | None:
        return await store.durable_replay(self.readers, self.room_id, since)


@blueprint.get("/games/rooms/<int:room_id>/events")
async def room_events(room_id: int) -> Response:
    """SSE for one room (players and spectators), with exact Last-Event-ID replay."""
    login = await stream_login()
    since = last_event_id()  # 422 before anything is looked up
    await rooms().get(room_id)  # 404 before the stream starts
    feed = room_feed(room_id, since)
    connections.current().hold_stream(login, feed)  # 429 over the cap; ends with the login
    return sse_response(feed)


def room_feed(room_id: int, since: int | None) -> ChannelFeed:
    """One subscriber's feed of a room (the SSE stream's and the WebSocket's): its snapshot,
    or the exact replay after `since` from the broker or the database, then live events."""
    service = rooms()
    rt = runtime()

    async def snapshot() -> tuple[int, dict[str, Any]]:
        view = await service.get(room_id)
        return view.seq, {"room_id": room_id, "room": view.render()}

    return ChannelFeed(
        rt.broker,
        store.channel(room_id),
        since,
        snapshot,
        durable=_RoomHistory(rt.readers, room_id),
        keepalive_s=rt.settings.sse_keepalive_s,
    )


@blueprint.get("/games/lobby/events")
async def lobby_events() -> Response:
    """SSE of the live lobby: a `lobby` event listing open and playing rooms, then changes."""
    login = await stream_login()
    epoch, since = last_position()
    service = rooms()
    rt = runtime()

    async def snapshot() -> tuple[None, dict[str, Any]]:
        # As of the broker's last seq, which the feed reads first.
        views = await service.list(None)
        return None, {"rooms": [view.render() for view in views]}

    feed = ChannelFeed(
        rt.broker,
        LOBBY,
        since,
        snapshot,
        epoch=epoch,
        keepalive_s=rt.settings.sse_keepalive_s,
        snapshot_type="lobby",
    )
    connections.current().hold_stream(login, feed)  # 429 over the cap; ends with the login
    return sse_response(feed)
