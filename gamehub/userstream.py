"""The signed-in user's own stream: wallet and transaction changes, their rooms; over SSE
(`/events`) and over the WebSocket (`"stream": "account"`, resumed from `last_event_id` too)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from quart import Blueprint, Response
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub import connections
from gamehub.auth.guard import stream_login
from gamehub.balances import Balance, player_balance, player_balance_pg
from gamehub.db import utcnow
from gamehub.rooms.broker import Broker, Event
from gamehub.rooms.streams import RETRY_MS, ChannelFeed, last_position, sse_response
from gamehub.runtime import runtime

log = logging.getLogger(__name__)
blueprint = Blueprint("userstream", __name__)


def channel(user_id: int) -> str:
    return f"user:{user_id}"


async def publish(broker: Broker, user_id: int, event_type: str, body: dict[str, Any]) -> None:
    """Tell the user's open streams (on any instance) that something of theirs changed."""
    await broker.publish(
        channel(user_id), {"type": event_type, "user_id": user_id, "at": utcnow(), **body}
    )


async def publish_wallet(
    broker: Broker, sessions: async_sessionmaker[AsyncSession], user_id: int
) -> None:
    """Publish the wallet as it is now; call after the transaction that changed it committed."""
    async with sessions() as session:
        balance = await player_balance(session, user_id)
    await publish_wallet_balance(broker, user_id, balance)


async def publish_wallet_balance(broker: Broker, user_id: int, balance: Balance) -> None:
    """Publish the balance a committed statement returned (no read needed)."""
    await publish(broker, user_id, "wallet", {"wallet": balance.render()})


@blueprint.get("/events")
@blueprint.get("/events/connect")
async def user_events() -> Response:
    """SSE: this user's wallet, transactions and rooms (`?ticket=` or the bearer header)."""
    login = await stream_login()
    epoch, since = last_position()
    feed = user_feed(login.user_id, epoch, since)
    connections.current().hold_stream(login, feed)  # 429 over the cap; ends with the login
    return sse_response(feed)


def user_feed(user_id: int, epoch: str, since: int | None) -> ChannelFeed:
    """One subscriber's feed of the user's own channel (the SSE stream's and the WebSocket's):
    a snapshot with the wallet, or the exact replay after `<epoch>-<since>`, then live events."""
    rt = runtime()

    async def snapshot() -> tuple[None, dict[str, Any]]:
        # As of the broker's last seq, which the feed reads first.
        balance = await player_balance_pg(rt.pg, user_id)
        return None, {"user_id": user_id, "wallet": balance.render()}

    return ChannelFeed(
        rt.broker,
        channel(user_id),
        since,
        snapshot,
        epoch=epoch,
        keepalive_s=rt.settings.sse_keepalive_s,
    )


ACCOUNT = "account"


def _frame(event: Event) -> str:
    # The event's JSON text is embedded as is, as for room events.
    return (
        f'{{"op":"event","stream":"{ACCOUNT}","id":"{event.epoch}-{event.seq}",'
        f'"event":"{event.type}","data":{event.data}}}'
    )


async def account_subscription(
    user_id: int,
    since: tuple[str, int | None],
    ref: Any,
    send: Callable[[str], Awaitable[None]],
    refuse: Callable[[Exception], Awaitable[None]],
) -> None:
    """Open the user's feed from `since` (epoch, seq), reply, then send every batch. A feed that
    ends (the broker lost the channel, or this socket fell behind) is reopened from the last
    event sent: a snapshot first when that cannot be exact, never silence."""
    feed: ChannelFeed = user_feed(user_id, *since)
    try:
        batch = await feed.open()
    except Exception as error:
        feed.close()
        log.exception("user %s: the WebSocket's account stream failed to open", user_id)
        await refuse(error)
        return
    try:
        await send(
            json.dumps({"op": "reply", "ref": ref, "ok": True, "result": {"stream": ACCOUNT}})
        )
        while True:
            for event in batch:
                await send(_frame(event))
            waiter = feed.waiter()
            if waiter is not None:
                await waiter
            later = await feed.next_batch()
            while later is None:
                epoch, last = feed.epoch or "", feed.last
                feed.close()
                feed = user_feed(user_id, epoch, last)
                try:
                    later = await feed.open()
                except Exception as error:
                    log.warning("user %s: the account stream cannot go on yet: %s", user_id, error)
                    await asyncio.sleep(RETRY_MS / 1000)
            batch = later
    finally:
        feed.close()
