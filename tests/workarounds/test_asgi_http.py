"""One HTTP request handled in the server's task for it (gamehub/asgi_http.py), driven at the
ASGI level so that the body can arrive slowly, in pieces, or never."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from quart import Quart, request

from gamehub.errors import register_error_handlers
from gamehub.workarounds.asgi_http import InlineHTTPConnection


def _app(body_timeout: float = 5.0, max_body: int = 1000) -> tuple[Quart, list[Any]]:
    app = Quart("inline")
    app.asgi_http_class = InlineHTTPConnection
    app.config["BODY_TIMEOUT"] = body_timeout
    app.config["MAX_CONTENT_LENGTH"] = max_body
    register_error_handlers(app)
    handled: list[Any] = []

    @app.post("/echo")
    async def echo() -> dict[str, Any]:
        got = await request.get_json()
        handled.append(asyncio.current_task())
        return {"got": got}

    return app, handled


def _scope(length: int | None = None) -> dict[str, Any]:
    headers = [(b"host", b"test"), (b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/echo",
        "raw_path": b"/echo",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "extensions": {},
    }


async def _call(app: Quart, messages: list[dict[str, Any]], scope: dict[str, Any]) -> Any:
    """Run one request; `messages` are what receive() gives, then it waits forever."""
    sent: list[dict[str, Any]] = []
    queue = list(messages)

    async def receive() -> Any:
        if queue:
            return queue.pop(0)
        await asyncio.Event().wait()

    async def send(message: Any) -> None:
        sent.append(message)

    async with asyncio.timeout(5):  # not wait_for: that would run the app in a task of its own
        await app.asgi_app(scope, receive, send)  # type: ignore[arg-type]
    if not sent:
        return None
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


async def test_the_route_runs_in_the_servers_task_with_a_body_in_pieces() -> None:
    app, handled = _app()
    async with app.test_app():
        caller = asyncio.current_task()
        pieces = [
            {"type": "http.request", "body": b'{"room', "more_body": True},
            {"type": "http.request", "body": b'_id": 7}', "more_body": False},
        ]
        assert await _call(app, pieces, _scope()) == (200, {"got": {"room_id": 7}})
        assert handled == [caller]  # no task of its own (nor one for reading the body)


async def test_a_body_too_slow_gets_408_and_too_big_gets_413() -> None:
    app, handled = _app(body_timeout=0.2, max_body=10)
    async with app.test_app():
        slow = [{"type": "http.request", "body": b'{"a"', "more_body": True}]
        status, body = await _call(app, slow, _scope())
        assert status == 408 and set(body) == {"error"}
        big = [{"type": "http.request", "body": b'{"a": "' + b"x" * 50 + b'"}'}]
        status, body = await _call(app, big, _scope())
        assert status == 413 and set(body) == {"error"}
        declared = await _call(app, [{"type": "http.request", "body": b"{}"}], _scope(10_000))
        assert declared[0] == 413
        assert handled == []  # the route never got past reading the body


async def test_a_client_gone_before_its_body_arrived_is_not_handled() -> None:
    app, handled = _app()
    async with app.test_app():
        gone: list[dict[str, Any]] = [
            {"type": "http.request", "body": b'{"a"', "more_body": True},
            {"type": "http.disconnect"},
        ]
        assert await _call(app, gone, _scope()) is None
        assert handled == []
