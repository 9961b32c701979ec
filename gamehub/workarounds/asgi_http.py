"""Quart's ASGI handling of one HTTP request, run in the server's own task for the request.

Quart's ASGIHTTPConnection starts two tasks per request (one reads the body and then waits for
the client to leave, one handles the request), waits for the first to finish and cancels the
other; reading the body and sending the response each go through `asyncio.wait_for`, which in
Python 3.11 is one more task apiece. Our requests are small JSON bodies answered in
milliseconds, and a long-lived stream is written outside Quart (handoff.py), which watches for
the client leaving itself. So this reads the body first, under the same BODY_TIMEOUT, then
handles the request and sends the response (under RESPONSE_TIMEOUT) in the task Hypercorn
already gave the request: the same hooks, handlers and errors, four tasks fewer.

What changes: a client that leaves while its request is being handled no longer cancels the
handler. A command then completes as it would have for a slow network, and its reply is
dropped; every money-moving request is idempotent, so a retry gets that same answer.
"""

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
