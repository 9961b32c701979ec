"""A real NGINX for tests: unprivileged, on a spare loopback port, configured from the shipped
deploy/nginx.conf as `make cluster` runs it (gamehub/nginx.py), in
front of live `gamehub serve` instances. `bash .ci/nginx` installs it from Debian's packages;
without it the tests skip, saying why (in CI they fail, as a missing service does).

Clients can come from any loopback address (127.0.0.2, 127.1.2.3, …: Linux answers the whole
127/8 on `lo`), so a test can be many different clients, each with an address of its own."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from gamehub import nginx
from tests.backends import unavailable
from tests.live import free_port


def binary() -> str:
    """The nginx program, or a skip (a failure in CI) saying how to get it."""
    found = nginx.binary()
    if found is None:
        unavailable("nginx is not installed (`bash .ci/nginx` installs Debian's)", what="NGINX")
    assert found is not None
    return found


@contextlib.asynccontextmanager
async def nginx_in_front_of(upstreams: list[str]) -> AsyncIterator[str]:
    """NGINX with the shipped configuration in front of `upstreams`; yields its base URL."""
    port = free_port()
    async with _nginx([port], lambda: nginx.server_block(port, upstreams)) as (base,):
        yield base


@contextlib.asynccontextmanager
async def nginx_preferring(upstreams: list[str]) -> AsyncIterator[list[str]]:
    """NGINX with the shipped configuration once per upstream (gamehub/nginx.py `preferring`):
    yields one base URL per upstream, which prefers it and fails over to the others."""
    ports = [free_port() for _ in upstreams]
    async with _nginx(ports, lambda: nginx.preferring(ports, upstreams)) as bases:
        yield bases


@contextlib.asynccontextmanager
async def _nginx(ports: list[int], render: Callable[[], str]) -> AsyncIterator[list[str]]:
    program = binary()
    # Outside pytest's private tmp tree: the workers (nobody, under root) must reach it.
    prefix = Path(tempfile.mkdtemp(prefix="gamehub-nginx-"))
    process = nginx.start_with(program, prefix, render())
    try:
        deadline = time.monotonic() + 10
        for port in ports:
            while True:
                assert process.poll() is None, f"nginx stopped: {nginx.error_log(prefix)}"
                try:
                    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"nginx did not listen: {nginx.error_log(prefix)}")
                    await asyncio.sleep(0.05)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        nginx.stop(process)
        shutil.rmtree(prefix, ignore_errors=True)


def client_from(address: str, base: str, **options: object) -> httpx.AsyncClient:
    """An HTTP client whose connections come from `address` (a loopback address)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base, transport=transport, timeout=10, **options)  # type: ignore[arg-type]
