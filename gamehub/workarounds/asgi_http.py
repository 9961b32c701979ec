"""Quart's ASGI handling of one HTTP request, run in the server's own task for the request.

Quart starts two tasks per request, plus one per `wait_for`; ours are small JSON bodies, so this
reads the body, handles the request and sends the response in Hypercorn's task: four tasks fewer.
A client that leaves mid-request no longer cancels the handler (money requests are idempotent)."""

from __future__ import annotations

import asyncio
from typing import cast

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable
from quart import Response
from quart.asgi import ASGIHTTPConnection, _handle_exception
from quart.wrappers import Request


class InlineHTTPConnection(ASGIHTTPConnection):
    """`Quart.asgi_http_class`: one request handled in the caller's task (see the module)."""

    async def __call__(self, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        request = self._create_request_from_scope(send)
        body_timeout = request.body_timeout
        try:
            async with asyncio.timeout(body_timeout):
                if not await _read_body(request, receive):
                    return  # the client left before its request arrived whole
            # The body is whole (or over the size limit, which the request raises as 413).
            request.body_timeout = None
        except TimeoutError:
            # Too slow: the route's first read of the body answers 408 at once.
            request.body_timeout = 0
        await self.handle_request(request, send)

    async def handle_request(self, request: Request, send: ASGISendCallable) -> None:
        try:
            response = await self.app.handle_request(request)
        except Exception as error:
            response = await _handle_exception(self.app, error)
        if isinstance(response, Response) and response.timeout != Ellipsis:
            timeout = cast(float | None, response.timeout)
        else:
            timeout = self.app.config["RESPONSE_TIMEOUT"]
        try:
            async with asyncio.timeout(timeout):
                await self._send_response(send, response)
        except TimeoutError:
            pass  # as Quart does: a client too slow to take its response loses it


async def _read_body(request: Request, receive: ASGIReceiveCallable) -> bool:
    """Feed the request's body until its end; False if the client disconnected first."""
    body = request.body
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return False
        if message["type"] == "http.request":
            body.append(message.get("body", b""))
            if not message.get("more_body", False):
                body.set_complete()
                return True
