"""`GET /ws`: one WebSocket for room subscriptions and the same commands as REST.

Client → server: `{"op": "subscribe" | "unsubscribe", "room_id", "last_event_id"?}` and
`{"op": "join" | "place-bet" | "pull-trigger" | "leave", ...the REST body..., "ref"}`; replies
`{"op": "reply", "ref", "ok", "result" | "error"}`, room events `{"op": "event", "room_id", "id",
"event", "data"}` (the contract has the rest). A subscription opens in a task of its own, so
replies may come in another order than their commands (match them by `ref`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from quart import Blueprint, websocket

from gamehub import connections
from gamehub.auth import service as auth
from gamehub.auth import tickets
from gamehub.auth.tokens import AccessClaims, decode_access_token
from gamehub.errors import ApiError, Unauthorized, validation_details
from gamehub.jsonio import client_json
from gamehub.models import User
from gamehub.origins import refuse_foreign_origin
from gamehub.rooms import frames, roulette, routes
from gamehub.rooms.broker import Event
from gamehub.rooms.schemas import JoinIn, PlaceBetIn, RoomIn
from gamehub.rooms.streams import RETRY_MS, ChannelFeed, position
from gamehub.runtime import runtime
from gamehub.userlimits import check_user
from gamehub.userstream import ACCOUNT, account_subscription

log = logging.getLogger(__name__)
blueprint = Blueprint("ws", __name__)
# A foreign Origin is refused (403) before the socket is accepted.
blueprint.before_websocket(refuse_foreign_origin)

# The close code of a socket whose server is restarting (RFC 6455 registry: Service Restart).
SERVICE_RESTART = 1012
# The largest seq a client may name (as the SSE streams allow: 18 digits).
MAX_SEQ = 10**18 - 1

# A command's handler: (user, validated body, the socket's login, which each room command
# checks is still live, so a socket outlives neither a logout nor a revoked login).
Handler = Callable[[User, Any, AccessClaims | None], Awaitable[BaseModel]]
COMMANDS: dict[str, tuple[type[BaseModel], Handler]] = {
    "join": (JoinIn, routes.do_join),
    "place-bet": (PlaceBetIn, routes.do_place_bet),
    "pull-trigger": (
        RoomIn,
        lambda user, data, login: routes.do_pull(user.id, data, datetime.now(UTC), login),
    ),
    "leave": (RoomIn, routes.do_leave),
}


async def _user() -> tuple[User, AccessClaims]:
    rt = runtime()
    ticket = websocket.args.get("ticket")
    if ticket:
        claims = await tickets.redeem(rt.settings.jwt_secret, rt.broker, ticket)
    else:
        header = websocket.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Send ?ticket= or `Authorization: Bearer <access_token>`.")
        claims = decode_access_token(rt.settings, token.strip())
    return (await auth.check_login(rt, claims)).user, claims


def _error(error: Exception) -> dict[str, Any]:
    if isinstance(error, ApiError | roulette.RuleError):
        return {"code": error.code, "message": error.message, "details": error.details}
    if isinstance(error, ValidationError):
        return {
            "code": "validation_error",
            "message": "The command is not valid.",
            "details": validation_details(error),
        }
    return {"code": "internal_error", "message": "Something went wrong on our side.", "details": {}}


@blueprint.websocket("/ws")
async def ws() -> None:
    """Room subscriptions and commands over one WebSocket."""
    try:
        user, login = await _user()
    except ApiError as error:
        await websocket.accept()
        await websocket.send(json.dumps({"op": "error", "error": _error(error)}))
        await websocket.close(4401)
        return
    # Over the user's cap: 429 instead of the upgrade. The socket is closed if its login ends.
    ending = _Ending()
    held = connections.current().hold(login, ending)
    subscriptions: dict[int | str, asyncio.Task[None]] = {}
    send_lock = asyncio.Lock()

    async def send(text: str) -> None:
        async with send_lock:
            await websocket.send(text)

    try:
        await websocket.accept()
        with ending.receiving():
            while not ending.ended:
                raw = await ending.receive()
                await _handle(user, login, raw, subscriptions, send)
        if ending.why == "restart":
            # Draining: the client comes back with its last ids to another instance.
            await websocket.close(SERVICE_RESTART, "service restart")
        else:
            ended = {"op": "error", "error": _error(connections.LoginEnded())}
            await websocket.send(json.dumps(ended))
            await websocket.close(4401)
    finally:
        held.release()
        for task in subscriptions.values():
            task.cancel()
        for task in subscriptions.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task


class _Ending:
    """Called when the socket's login ends or the process drains: the socket stops reading (a
    command already read is finished) and closes, 4401 or 1012 for a restart."""

    __slots__ = ("ended", "task", "waiting", "why")

    def __init__(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.task = task
        self.ended = False
        self.why: connections.Why = "login_ended"
        self.waiting = False  # in `receive`: the only place where the task may be cancelled

    def __call__(self, why: connections.Why) -> None:
        self.ended, self.why = True, why
        if self.waiting:
            self.task.cancel()

    async def receive(self) -> str | bytes:
        self.waiting = True
        try:
            return await websocket.receive()
        finally:
            self.waiting = False

    @contextlib.contextmanager
    def receiving(self) -> Iterator[None]:
        """Where the cancel of an ended login is expected, and taken back."""
        try:
            yield
        except asyncio.CancelledError:
            if not self.ended or self.task.uncancel() > 0:
                raise


async def _handle(
    user: User,
    login: AccessClaims,
    raw: str | bytes,
    subscriptions: dict[int | str, asyncio.Task[None]],
    send: Callable[[str], Awaitable[None]],
) -> None:
    ref: Any = None
    try:
        message = client_json(raw)
        if not isinstance(message, dict):
            raise ApiError("A message is a JSON object.", status=422, code="validation_error")
        op, ref = frames.envelope(message)
        if op in ("subscribe", "unsubscribe") and message.get("stream") == ACCOUNT:
            _account(user.id, op, message.get("last_event_id"), ref, subscriptions, send)
            if op == "subscribe":
                return  # the subscription replies once it is open
            result: dict[str, Any] = {"stream": ACCOUNT}
        elif op == "subscribe":
            room = RoomIn.model_validate({"room_id": message.get("room_id")})
            since = message.get("last_event_id")
            # A bool is an int to Python, not to a client.
            if since is not None and (type(since) is not int or not 0 <= since <= MAX_SEQ):
                raise ApiError(
                    "last_event_id is a non-negative integer.", status=422, code="validation_error"
                )
            _cancel(subscriptions, room.room_id)
            subscriptions[room.room_id] = asyncio.create_task(
                _subscription(room.room_id, since, ref, send)
            )
            return  # the subscription replies once it is open
        elif op == "unsubscribe":
            room = RoomIn.model_validate({"room_id": message.get("room_id")})
            _cancel(subscriptions, room.room_id)
            result = {"room_id": room.room_id}
        elif type(op) is str and op in COMMANDS:
            await check_user(user.id, "play")  # the same per-user limit as the REST commands
            schema, handler = COMMANDS[op]
            reply = await handler(user, schema.model_validate(message), login)
            result = reply.model_dump(mode="json")
        else:
            raise frames.unknown_op(op)
        await send(json.dumps({"op": "reply", "ref": ref, "ok": True, "result": result}))
    except (ApiError, roulette.RuleError, ValidationError, ValueError) as error:
        await send(_refusal(ref, error))
    except Exception as error:  # a fault of ours: answered, and the socket stays usable
        log.exception("WebSocket command failed")
        await send(_refusal(ref, error))


def _refusal(ref: Any, error: Exception) -> str:
    return json.dumps({"op": "reply", "ref": ref, "ok": False, "error": _error(error)})


def _cancel(subscriptions: dict[int | str, asyncio.Task[None]], key: int | str) -> None:
    task = subscriptions.pop(key, None)
    if task is not None:
        task.cancel()


def _account(
    user_id: int,
    op: str,
    since: Any,
    ref: Any,
    subscriptions: dict[int | str, asyncio.Task[None]],
    send: Callable[[str], Awaitable[None]],
) -> None:
    """(Un)subscribe the socket to its user's own stream; a malformed id is refused (422)."""
    if since is not None and not isinstance(since, str):
        raise ApiError(
            "last_event_id is an id the stream sent.", status=422, code="validation_error"
        )
    position_ = ("", None) if since is None else position(since)
    _cancel(subscriptions, ACCOUNT)
    if op != "subscribe":
        return

    async def refuse(error: Exception) -> None:
        await send(_refusal(ref, error))

    subscriptions[ACCOUNT] = asyncio.create_task(
        account_subscription(user_id, position_, ref, send, refuse)
    )


async def _subscription(
    room_id: int, since: int | None, ref: Any, send: Callable[[str], Awaitable[None]]
) -> None:
    """One room subscription of a socket: open it (an unknown room is refused in the reply),
    reply, then send the first batch (the snapshot, or the replay) and every later one."""
    feed: ChannelFeed | None = None
    try:
        if since is not None:
            await routes.rooms().get(room_id)
        feed = routes.room_feed(room_id, since)
        batch = await feed.open()
    except BaseException as error:
        if feed is not None:
            feed.close()
        if not isinstance(error, Exception):
            raise  # cancelled: unsubscribed, subscribed again, or the socket closed
        if not isinstance(error, ApiError | roulette.RuleError):
            log.exception("room %s: a WebSocket subscription failed to open", room_id)
        await send(_refusal(ref, error))
        return
    try:
        reply = {"op": "reply", "ref": ref, "ok": True, "result": {"room_id": room_id}}
        await send(json.dumps(reply))
        while True:
            for event in batch:
                # The event's JSON text is embedded as is: no re-encoding per subscriber.
                await send(
                    f'{{"op":"event","room_id":{room_id},"id":{event.seq},'
                    f'"event":"{event.type}","data":{event.data}}}'
                )
            waiter = feed.waiter()
            if waiter is not None:
                await waiter
            later = await feed.next_batch()
            if later is None:
                # Exactness could not be kept: go on from the last event sent, as SSE would.
                feed.close()
                feed, later = await _reopen(room_id, feed.last)
            batch = later
    finally:
        feed.close()


async def _reopen(room_id: int, since: int) -> tuple[ChannelFeed, list[Event]]:
    """A room's feed again from `since`, retried until it opens (the broker may be restarting)."""
    while True:
        feed = routes.room_feed(room_id, since)
        try:
            return feed, await feed.open()
        except BaseException as error:
            feed.close()
            if not isinstance(error, Exception):
                raise
            log.warning("room %s: a WebSocket subscription cannot go on yet: %s", room_id, error)
        await asyncio.sleep(RETRY_MS / 1000)
