"""A long-lived response's head without its header list kept: Hypercorn keeps the sent
`http.response.start` message until the response ends, so `send_head` empties its headers once
`send` returns (Hypercorn has built its own from them by then; ASGI says nothing of this)."""

from __future__ import annotations

from typing import Any, cast

from hypercorn.typing import ASGISendCallable, ASGISendEvent


async def send_head(send: ASGISendCallable, message: ASGISendEvent) -> None:
    """Send a response-start message and let go of its headers once they are written."""
    await send(message)
    cast(dict[str, Any], message)["headers"] = ()
