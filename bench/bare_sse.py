"""The bare Quart SSE broadcast that bench.fanout compares Game Hub's room streams with.

One process, the same Hypercorn configuration as `gamehub serve` (hypercorn.toml, uvloop), one
in-memory asyncio.Queue per subscriber, and nothing else: no auth, no broker, no database.
`GET /events` is the stream; `POST /start {rate, count, event_bytes, start_at}` starts an
in-process publisher that broadcasts `count` events at `rate` per second from `start_at` (epoch
seconds), in the same frame format and JSON shape as the Game Hub run publishes.

    python -m bench.bare_sse --port 8100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from quart import Quart, Response, request

from gamehub.cli import _hypercorn_config, _install_event_loop


def event_body(seq: int, room_id: int, event_bytes: int, sent: float) -> dict[str, Any]:
    """The JSON of one benchmark event, padded so that its text is about `event_bytes` long."""
    body: dict[str, Any] = {
        "seq": seq,
        "room_id": room_id,
        "type": "bench_tick",
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sent)),
        "sent": round(sent, 6),
        "pad": "",
    }
    short = len(json.dumps(body, separators=(",", ":")))
    body["pad"] = "x" * max(0, event_bytes - short)
    return body


def create_app() -> Quart:
    app = Quart("bare_sse")
    subscribers: set[asyncio.Queue[bytes]] = set()
    tasks: set[asyncio.Task[None]] = set()

    @app.get("/events")
    async def events() -> Response:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        subscribers.add(queue)

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 2000\n\n"
                while True:
                    yield await queue.get()
            finally:
                subscribers.discard(queue)

        response = Response(stream(), content_type="text/event-stream; charset=utf-8")
        response.headers["Cache-Control"] = "no-cache"
        response.timeout = None
        return response

    @app.get("/subscribers")
    async def count() -> dict[str, int]:
        return {"subscribers": len(subscribers)}

    @app.post("/start")
    async def start() -> dict[str, bool]:
        spec = await request.get_json()

        async def publish() -> None:
            rate, total = float(spec["rate"]), int(spec["count"])
            begin = float(spec["start_at"])
            for index in range(total):
                delay = begin + index / rate - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                seq = index + 2  # as in the room, whose player_joined was seq 1
                body = event_body(seq, 1, int(spec["event_bytes"]), time.time())
                data = json.dumps(body, separators=(",", ":"))
                frame = f"id: {seq}\nevent: bench_tick\ndata: {data}\n\n".encode()
                for queue in tuple(subscribers):
                    queue.put_nowait(frame)

        task = asyncio.get_running_loop().create_task(publish())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return {"ok": True}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_sse")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    from hypercorn.asyncio import serve

    config = _hypercorn_config(args.host, args.port)
    _install_event_loop()

    async def run() -> None:
        import signal

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve(create_app(), config, shutdown_trigger=stop.wait)

    asyncio.run(run())


if __name__ == "__main__":
    main()
