"""The client's address behind reverse proxies: X-Forwarded-For / -Proto believed only from
GAMEHUB_TRUSTED_PROXIES, through uvicorn's middleware (docs/OPERATIONS.md)."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any, cast

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

AsgiApp = Callable[[Scope, ASGIReceiveCallable, ASGISendCallable], Awaitable[None]]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: tuple[str, ...]) -> tuple[Network, ...]:
    """Addresses and CIDRs as networks (a lone address is its /32 or /128); ValueError names
    the first entry that is neither."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(value) from None
    return tuple(networks)


def trusts_everyone(values: tuple[str, ...]) -> bool:
    """True when some entry spans every IPv4 or IPv6 address: then any client names itself."""
    return any(network.prefixlen == 0 for network in parse_networks(values))


def behind_proxies(app: AsgiApp, trusted: tuple[str, ...]) -> AsgiApp:
    """`app` reading the client's address from trusted proxies' headers (as is when none)."""
    if not trusted:
        return app
    # Normalised CIDRs only: uvicorn would take a malformed entry as a literal host name.
    hosts = [str(network) for network in parse_networks(trusted)]
    return cast(AsgiApp, ProxyHeadersMiddleware(cast(Any, app), trusted_hosts=hosts))
