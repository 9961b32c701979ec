"""Which web pages may open a WebSocket: `Origin` is the app's own, listed in
GAMEHUB_ALLOWED_ORIGINS, or absent (not a browser); anything else gets 403 before the upgrade."""

from __future__ import annotations

from urllib.parse import urlsplit

from quart import websocket

from gamehub.errors import ApiError

DEFAULT_PORTS = {"http": "80", "https": "443"}


def normalise_origin(value: str) -> str:
    """`scheme://host[:port]`, lower-case, without a default port; ValueError unless `value` is
    an http(s) origin (no path, query or credentials)."""
    parts = urlsplit(value.strip().lower())
    if (
        parts.scheme not in DEFAULT_PORTS
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError(value)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(value) from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is None or str(port) == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def _authority(origin: str) -> str:
    """An origin's `host[:port]` without its default port, as a `Host` header would name it."""
    return origin.split("://", 1)[1]


def _host(header: str) -> str:
    host = header.strip().lower()
    for port in DEFAULT_PORTS.values():
        host = host.removesuffix(f":{port}")
    return host


def origin_allowed(origin: str | None, host: str, allowed: tuple[str, ...]) -> bool:
    if origin is None:
        return True
    try:
        normal = normalise_origin(origin)
    except ValueError:
        return False  # "null" (sandboxed pages, files) and anything that is not an origin
    return normal in allowed or (bool(host) and _authority(normal) == _host(host))


class ForeignOrigin(ApiError):
    status, code = 403, "origin_not_allowed"
    message = "WebSockets are accepted only from this site's own pages and the allowed origins."


async def refuse_foreign_origin() -> None:
    """A `before_websocket` hook: a foreign Origin gets its 403 JSON before the socket is
    accepted (the server sends it as the upgrade's HTTP answer)."""
    from gamehub.runtime import runtime  # not at the top: settings imports this module

    allowed = runtime().settings.allowed_origins
    headers = websocket.headers
    if not origin_allowed(headers.get("Origin"), headers.get("Host", ""), allowed):
        raise ForeignOrigin()
