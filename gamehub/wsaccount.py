"""The signed-in user's own stream over the WebSocket: `{"op": "subscribe", "stream":
"account", "last_event_id": "<epoch>-<seq>"?}` gets the same events as `GET /events` (a
`snapshot` with the wallet first, unless the id can be honoured exactly; then `wallet`,
`transaction` and `room` events) as `{"op": "event", "stream": "account", "id": "<epoch>-<seq>",
"event": type, "data": {...}}`. A client that reconnects names the last id it received, as an
SSE client does. `{"op": "unsubscribe", "stream": "account"}` stops it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from gamehub.rooms.broker import Event
from gamehub.rooms.streams import RETRY_MS, ChannelFeed
from gamehub.userstream import user_feed

log = logging.getLogger(__name__)

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
