"""send_head against Hypercorn's own HTTP stream: Hypercorn keeps the response-start message
(the reason for the work-around), has written the headers before `send` returns, and finishes
the response without them."""

from __future__ import annotations

from typing import Any

from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.protocol.events import Body, EndBody, Event, Request, Response, StreamClosed
from hypercorn.protocol.http_stream import HTTPStream
from hypercorn.typing import ASGIReceiveEvent, ConnectionState

from gamehub.workarounds.response_head import send_head


class _Apps:
    """Hypercorn's task group as far as a stream uses it: spawning the app gives its queue."""

    async def spawn_app(self, *_args: Any) -> Any:
        async def put(_message: ASGIReceiveEvent) -> None:
            return None

        return put


async def test_the_head_is_written_before_its_headers_are_let_go() -> None:
    written: list[Event] = []

    async def write(event: Event) -> None:
        written.append(event)

    stream = HTTPStream(None, Config(), WorkerContext(None), _Apps(), False, None, None, write, 1)  # type: ignore[arg-type]
    request = Request(
        stream_id=1,
        http_version="1.1",
        headers=[],
        raw_path=b"/events",
        method="GET",
        state=ConnectionState({}),
    )
    await stream.handle(request)
    head: Any = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/event-stream"), (b"x-request-id", b"r-1")],
    }
    await send_head(stream.app_send, head)

    assert stream.response is head, "Hypercorn no longer keeps the message: drop send_head"
    assert head["headers"] == ()
    (response,) = written
    assert isinstance(response, Response) and response.status_code == 200
    assert (b"x-request-id", b"r-1") in response.headers

    await stream.app_send({"type": "http.response.body", "body": b"data", "more_body": True})
    await stream.app_send({"type": "http.response.body", "body": b"", "more_body": False})
    assert [type(event) for event in written] == [Response, Body, EndBody, StreamClosed]
