"""`GET /ws`: one WebSocket for room subscriptions and the same commands as REST.

Client → server: `{"op": "subscribe", "room_id": 7, "last_event_id": 12?}`, `{"op":
"unsubscribe", "room_id": 7}`, and `{"op": "join" | "place-bet" | "pull-trigger" | "leave",
...the REST body..., "ref": "client-id"}`. Replies carry the `ref`: `{"op": "reply", "ref",
"ok": true, "result": {...}}` or `{"op": "reply", "ref", "ok": false, "error": {code, message,
details}}`. Room events arrive as `{"op": "event", "room_id", "id": seq, "event": type, "data"}`.
Authenticate with `?ticket=` (browsers) or the bearer header.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from quart import Blueprint, websocket

from gamehub.auth import service as auth
from gamehub.auth import tickets
from gamehub.auth.tokens import AccessClaims, decode_access_token
from gamehub.errors import ApiError, Unauthorized, validation_details
from gamehub.models import User
from gamehub.rooms import roulette, routes
from gamehub.rooms.broker import Event
from gamehub.rooms.schemas import JoinIn, PlaceBetIn, RoomIn
from gamehub.rooms.streams import channel_events
from gamehub.runtime import runtime

blueprint = Blueprint("ws", __name__)

# A command's handler: (the socket's user, the validated body, the socket's login, from its
# bearer token or its ticket: each room command checks, in its own statements, that this login
# is still live, so a socket outlives neither a logout nor a revoked session).
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
        # The ticket names its login: the socket checks it now and in every room command,
        # as one opened with a bearer token does.
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
    await websocket.accept()
    subscriptions: dict[int, asyncio.Task[None]] = {}
    send_lock = asyncio.Lock()

    async def send(text: str) -> None:
        async with send_lock:
            await websocket.send(text)

    try:
        while True:
            raw = await websocket.receive()
            await _handle(user, login, raw, subscriptions, send)
    finally:
        for task in subscriptions.values():
            task.cancel()
        for task in subscriptions.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _handle(
    user: User,
    login: AccessClaims,
    raw: str | bytes,
    subscriptions: dict[int, asyncio.Task[None]],
    send: Callable[[str], Awaitable[None]],
) -> None:
    ref: Any = None
    try:
        message = json.loads(raw)
        if not isinstance(message, dict):
            raise ApiError("A message is a JSON object.", status=422, code="validation_error")
        ref = message.pop("ref", None)
        op = message.pop("op", None)
        if op == "subscribe":
            room = RoomIn.model_validate({"room_id": message.get("room_id")})
            since = message.get("last_event_id")
            if since is not None and (not isinstance(since, int) or since < 0):
                raise ApiError(
                    "last_event_id is a non-negative integer.", status=422, code="validation_error"
                )
            # The first batch (the snapshot, or the replay) is read before the reply, so that
            # a room that does not exist is refused here; the snapshot is that check when there
            # is one.
            if since is not None:
                await routes.rooms().get(room.room_id)
            batches = channel_events(routes.room_feed(room.room_id, since))
            first = await anext(batches)
            old = subscriptions.pop(room.room_id, None)
            if old is not None:
                old.cancel()
            subscriptions[room.room_id] = asyncio.create_task(
                _forward(room.room_id, first, batches, send)
            )
            result: dict[str, Any] = {"room_id": room.room_id}
        elif op == "unsubscribe":
            room = RoomIn.model_validate({"room_id": message.get("room_id")})
            task = subscriptions.pop(room.room_id, None)
            if task is not None:
                task.cancel()
            result = {"room_id": room.room_id}
        elif op in COMMANDS:
            schema, handler = COMMANDS[op]
            reply = await handler(user, schema.model_validate(message), login)
            result = reply.model_dump(mode="json")
        else:
            raise ApiError(f"Unknown op {op!r}.", status=422, code="unknown_op")
        await send(json.dumps({"op": "reply", "ref": ref, "ok": True, "result": result}))
    except (ApiError, roulette.RuleError, ValidationError, ValueError) as error:
        await send(json.dumps({"op": "reply", "ref": ref, "ok": False, "error": _error(error)}))


async def _forward(
    room_id: int,
    first: list[Event],
    batches: AsyncIterator[list[Event]],
    send: Callable[[str], Awaitable[None]],
) -> None:
    """Send the subscription's first batch after its reply, then every later one."""
    try:
        batch = first
        while True:
            for event in batch:
                # The event's JSON text is embedded as is: no re-encoding per subscriber.
                await send(
                    f'{{"op":"event","room_id":{room_id},"id":{event.seq},'
                    f'"event":"{event.type}","data":{event.data}}}'
                )
            batch = await anext(batches)
    except StopAsyncIteration:
        return
    finally:
        await batches.aclose()  # type: ignore[attr-defined]  # an async generator
