"""The app's link to M-Pesa: one Daraja client, our callback URLs, the built-in sandbox when no
Daraja is configured, and the background jobs that talk to Daraja outside a request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from quart import Blueprint, Response, redirect

from gamehub.mpesa.client import DarajaClient, DarajaConfig
from gamehub.mpesa.sandbox import DarajaSandbox, SandboxConfig, SandboxTimings, sandbox_blueprint
from gamehub.settings import Settings

log = logging.getLogger(__name__)

CALLBACK_PREFIX = "/payments/callbacks"
SANDBOX_PREFIX = "/sandbox/daraja"
# Where `gamehub serve` listens by default; it passes its real bind address into the settings.
DEFAULT_OWN_URL = "http://127.0.0.1:8000"


@dataclass
class Gateway:
    """Everything a payment flow needs to reach Daraja and to be reached by it."""

    client: DarajaClient
    callback_base: str
    secret: str
    sandbox: DarajaSandbox | None = None
    _jobs: set[asyncio.Task[None]] = field(default_factory=set)

    def callback_url(self, kind: str) -> str:
        """`kind` is stk, b2c/result, b2c/timeout or b2c/status (Transaction Status results)."""
        return f"{self.callback_base}{CALLBACK_PREFIX}/{self.secret}/{kind}"

    def spawn(self, job: Coroutine[Any, Any, None]) -> None:
        """Run `job` in the background; cancelled at shutdown, the reconciler redoes it."""
        task = asyncio.get_running_loop().create_task(job)
        self._jobs.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._jobs.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("payment job failed", exc_info=task.exception())

    async def close(self) -> None:
        jobs = list(self._jobs)
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)
        await self.client.aclose()


def build_gateway(settings: Settings) -> tuple[Gateway, list[tuple[Blueprint, str | None]]]:
    """The gateway, and the blueprints to mount for it (the sandbox only in the embedded mode)."""
    own_url = (settings.mpesa_callback_base_url or DEFAULT_OWN_URL).rstrip("/")
    if not settings.uses_mpesa_sandbox:
        config = DarajaConfig.from_settings(settings)
        return Gateway(DarajaClient(config), own_url, settings.mpesa_callback_secret), []
    sandbox = DarajaSandbox(
        SandboxConfig(
            consumer_key=settings.mpesa_consumer_key,
            consumer_secret=settings.mpesa_consumer_secret,
            passkeys={settings.mpesa_shortcode: settings.mpesa_passkey},
            initiators={settings.mpesa_initiator_name: settings.mpesa_initiator_password},
            timings=SandboxTimings.scaled(settings.mpesa_sandbox_time_scale),
        )
    )
    # The client reaches the in-process sandbox over real HTTP at the app's own address, so
    # the embedded default exercises exactly the code paths that production uses with Daraja.
    config = DarajaConfig.from_settings(
        settings, base_url=own_url + SANDBOX_PREFIX, certificate=sandbox.keys.certificate_pem
    )
    gateway = Gateway(DarajaClient(config), own_url, settings.mpesa_callback_secret, sandbox)
    return gateway, [(sandbox_blueprint(sandbox), SANDBOX_PREFIX), (_phone_shortcut(), None)]


def _phone_shortcut() -> Blueprint:
    shortcut = Blueprint("sandbox_phone_shortcut", __name__)

    @shortcut.get("/sandbox/phone")
    async def phone() -> Response:
        """The emulated phone (approve or cancel STK prompts); embedded sandbox only."""
        return redirect(f"{SANDBOX_PREFIX}/sandbox/phone")  # type: ignore[return-value]

    return shortcut
