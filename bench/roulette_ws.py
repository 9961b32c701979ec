"""The WebSocket bots of bench.roulette (`--transport ws`): each bot keeps one `GET /ws` open for
the whole run, sends its commands on it (join, pull-trigger, leave, with a `ref`) and reads its
room's events there (`subscribe`), as a game client does; the peer's figures were measured the
same way. The events are checked exactly as on SSE (bench.roulette.Watch)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from bench.roulette import Driver, DriverStats, MatchFailed, Pair, Watch

# A room event, or None when the socket has closed.
EventSink = Callable[[dict[str, Any] | None, float], None]


class WsBot:
    """One bot's socket: commands matched to their replies by `ref`, room events to `on_event`."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse, stats: DriverStats) -> None:
        self.socket = socket
        self.stats = stats
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.on_event: EventSink | None = None
        self._refs = 0
        self.reader = asyncio.create_task(self._read())

    @property
    def closed(self) -> bool:
        return self.reader.done()

    async def call(self, op: str, body: dict[str, Any]) -> Any:
        """Send a command and return its result; MatchFailed (counted) on an error reply."""
        self._refs += 1
        ref = self._refs
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[ref] = future
        self.stats.requests += 1
        try:
            await self.socket.send_str(json.dumps({"op": op, "ref": ref, **body}))
            reply = await future
        except MatchFailed:
            self.stats.errors[f"{op} socket closed"] += 1
            raise
        except Exception as error:
            self.replies.pop(ref, None)
            self.stats.errors[f"{op} {type(error).__name__}"] += 1
            raise MatchFailed(op) from error
        if not reply.get("ok"):
            self.stats.errors[f"{op} {reply.get('error', {}).get('code')}"] += 1
            raise MatchFailed(op)
        return reply["result"]

    async def tell(self, op: str, body: dict[str, Any]) -> None:
        """Send a command whose reply nobody waits for (its ref is null: the reply is dropped)."""
        self.stats.requests += 1
        await self.socket.send_str(json.dumps({"op": op, "ref": None, **body}))

    async def _read(self) -> None:
        try:
            async for message in self.socket:
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                now = time.time()
                decoded = json.loads(message.data)
                op = decoded.get("op")
                if op == "event":
                    if self.on_event is not None:
                        self.on_event(decoded, now)
                elif op == "reply":
                    future = self.replies.pop(decoded.get("ref"), None)
                    if future is not None and not future.done():
                        future.set_result(decoded)
                elif op == "error":
                    self.stats.errors[f"ws {decoded.get('error', {}).get('code')}"] += 1
        finally:
            for future in self.replies.values():
                if not future.done():
                    future.set_exception(MatchFailed("socket closed"))
            self.replies.clear()
            if self.on_event is not None:
                self.on_event(None, time.time())


class WsDriver(Driver):
    """Commands and events over one WebSocket per bot, opened once and kept across matches."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bots: dict[int, WsBot] = {}

    async def bot(self, pair: Pair, seat: int) -> WsBot:
        user_id, token = pair.bots[seat]
        bot = self.bots.get(user_id)
        if bot is None or bot.closed:
            self.stats.requests += 1
            try:
                socket = await self.session.ws_connect(
                    self.base_of(pair, seat) + "/ws",
                    headers={"Authorization": f"Bearer {token}"},
                    autoping=True,
                    max_msg_size=0,
                )
            except Exception as error:
                self.stats.errors[f"ws connect {type(error).__name__}"] += 1
                raise MatchFailed("ws connect") from error
            bot = self.bots[user_id] = WsBot(socket, self.stats)
        return bot

    async def command(self, pair: Pair, seat: int, op: str, body: dict[str, Any]) -> Any:
        return await (await self.bot(pair, seat)).call(op, body)

    async def watch_room(self, pair: Pair, seat: int, watch: Watch) -> None:
        bot = await self.bot(pair, seat)
        over: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_event(event: dict[str, Any] | None, now: float) -> None:
            if over.done():
                return
            if event is None:
                over.set_exception(MatchFailed("socket closed"))
                return
            if event.get("room_id") != watch.room_id:
                return  # a late event of the bot's previous room
            try:
                if watch.see(int(event["id"]), event["event"], event["data"], now):
                    over.set_result(None)
            except MatchFailed as failure:
                over.set_exception(failure)

        bot.on_event = on_event
        try:
            # Events may arrive before the reply: the sink is in place before asking.
            await bot.call("subscribe", {"room_id": watch.room_id})
            await over
        finally:
            bot.on_event = None
            if not bot.closed:
                with contextlib.suppress(Exception):
                    await bot.tell("unsubscribe", {"room_id": watch.room_id})

    async def close(self) -> None:
        for bot in self.bots.values():
            with contextlib.suppress(Exception):
                await bot.socket.close()
