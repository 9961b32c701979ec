"""Fixtures: the Daraja sandbox and a callback receiver, both really served over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest

from gamehub.mpesa.client import DarajaClient, DarajaConfig
from gamehub.mpesa.sandbox import (
    DarajaSandbox,
    SandboxConfig,
    SandboxKeys,
    SandboxTimings,
    create_sandbox_app,
)
from tests.mpesa.servers import CallbackReceiver, serving

# Scaled-down Daraja: 07's 30 s is 0.3 s, 05's 0.5 s spacing is 0.1 s.
FAST = SandboxTimings(
    result_delay_s=0.05,
    slow_delay_s=0.3,
    repeat_interval_s=0.1,
    prompt_timeout_s=2.0,
    callback_timeout_s=2.0,
)
LOOPBACK = frozenset({"127.0.0.1"})


@pytest.fixture(scope="session")
def sandbox_keys() -> SandboxKeys:
    return SandboxKeys.generate()


@pytest.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    callbacks = CallbackReceiver()
    async with serving(callbacks.app) as base_url:
        callbacks.base_url = base_url
        yield callbacks


class RunningSandbox:
    def __init__(self, sandbox: DarajaSandbox, base_url: str) -> None:
        self.sandbox = sandbox
        self.base_url = base_url

    def client_config(self, **changes: Any) -> DarajaConfig:
        config = DarajaConfig(
            base_url=self.base_url,
            consumer_key=self.sandbox.config.consumer_key,
            consumer_secret=self.sandbox.config.consumer_secret,
            certificate=self.sandbox.keys.certificate_pem,
            timeout_s=5.0,
            backoff_s=0.01,
        )
        return config.with_overrides(**changes)

    def client(self, **changes: Any) -> DarajaClient:
        return DarajaClient(self.client_config(**changes))


StartSandbox = Callable[..., AbstractAsyncContextManager[RunningSandbox]]


@pytest.fixture
def start_sandbox(sandbox_keys: SandboxKeys) -> StartSandbox:
    @asynccontextmanager
    async def start(**changes: Any) -> AsyncIterator[RunningSandbox]:
        config = SandboxConfig(**{"timings": FAST, "callback_hosts": LOOPBACK, **changes})
        sandbox = DarajaSandbox(config, sandbox_keys)
        async with serving(create_sandbox_app(sandbox=sandbox)) as base_url:
            yield RunningSandbox(sandbox, base_url)

    return start


@pytest.fixture
async def daraja(start_sandbox: StartSandbox) -> AsyncIterator[RunningSandbox]:
    async with start_sandbox() as running:
        yield running


@pytest.fixture
async def client(daraja: RunningSandbox) -> AsyncIterator[DarajaClient]:
    async with daraja.client() as daraja_client:
        yield daraja_client
