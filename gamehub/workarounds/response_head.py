"""A long-lived response's head without its header list kept: Hypercorn keeps the ASGI
`http.response.start` message until the response ends (`HTTPStream.response`, read again for
the status, the trailers flag and the access log line), so for a stream that lasts hours its
headers stay in memory long after they are on the wire. `send_head` sends the message, then
empties that list in place. The ASGI spec says nothing of an app changing a message it has sent;
this relies on Hypercorn having built its own headers from the list by the time `send` returns.
"""

from __future__ import annotations

from typing import Any, cast

from hypercorn.typing import ASGISendCallable, ASGISendEvent


async def send_head(send: ASGISendCallable, message: ASGISendEvent) -> None:
    """Send a response-start message and let go of its headers once they are written."""
    await send(message)
    cast(dict[str, Any], message)["headers"] = ()
