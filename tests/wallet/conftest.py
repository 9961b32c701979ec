"""Wallet fixtures: the app served over real HTTP at the address its M-Pesa callbacks name (the
built-in sandbox, mounted in-process, calls back over loopback), scaled-down sandbox delays,
and the ledger's invariants checked after every test (in `live`'s teardown)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from quart import Quart

from gamehub import ledger
from gamehub.runtime import Runtime
from gamehub.settings import Settings
from tests.helpers import bearer, register
from tests.live import free_port, serve_at

# Sandbox delays times 0.02: "within 1 s" is 10 ms, scenario 07's 30 s is 0.6 s.
TIME_SCALE = 0.02


@pytest.fixture
def own_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, own_port: int) -> Settings:
    return settings.with_overrides(
        mpesa_callback_base_url=f"http://127.0.0.1:{own_port}",
        mpesa_sandbox_time_scale=TIME_SCALE,
        # The background reconciler stays out of the way; tests run passes themselves.
        reconcile_interval_s=3600.0,
        reconcile_after_s=3600.0,
    )


@dataclass
class Live:
    app: Quart
    rt: Runtime
    base: str
    http: httpx.AsyncClient

    @property
    def sandbox(self) -> Any:
        assert self.rt.gateway is not None and self.rt.gateway.sandbox is not None
        return self.rt.gateway.sandbox

    def callback_url(self, kind: str) -> str:
        return f"/payments/callbacks/{self.rt.settings.mpesa_callback_secret}/{kind}"


@pytest.fixture
async def live(app: Quart, runtime: Runtime, own_port: int) -> AsyncIterator[Live]:
    async with (
        serve_at(app, own_port) as base,
        httpx.AsyncClient(base_url=base, timeout=30) as http,
    ):
        yield Live(app, runtime, base, http)
    # Every wallet test ends with books that balance (checked while the app still runs).
    async with runtime.sessions() as session:
        assert await ledger.check_invariants(session) == []


@dataclass
class Player:
    id: int
    token: str
    headers: dict[str, str]


async def new_player(live: Live, **fields: Any) -> Player:
    data = await register(live.app.test_client(), **fields)
    return Player(data["user"]["id"], data["access_token"], bearer(data["access_token"]))
