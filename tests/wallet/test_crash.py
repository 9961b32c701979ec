"""A crash between paying out and hearing the result: `gamehub serve` is SIGKILLed after its B2C
was accepted and before the result callback; restarted, its reconciler finishes the withdrawal
exactly once. The app runs as a real subprocess on the backend's PostgreSQL; the Daraja sandbox
runs in this test process, so it outlives the app."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from gamehub import ledger
from gamehub.db import create_engine, session_factory
from gamehub.models import Transfer
from gamehub.mpesa.sandbox import DarajaSandbox, SandboxConfig, SandboxTimings, create_sandbox_app
from tests.backends import Backend, clean_services
from tests.conftest import TEST_JWT_SECRET
from tests.live import App, free_port, until
from tests.mpesa.servers import serving

# The B2C result comes 3 s after the request (scenario 07): time enough to kill the app first.
TIMINGS = SandboxTimings(
    result_delay_s=0.05, slow_delay_s=3.0, repeat_interval_s=0.05, callback_timeout_s=2.0
)
SECRET = "crash-test-callback-secret"


@pytest.fixture
async def database_url(backend: Backend) -> AsyncIterator[str]:
    await clean_services(backend.database_url, backend.redis_url)
    yield backend.database_url


@pytest.fixture
async def daraja(tmp_path: Path) -> AsyncIterator[tuple[DarajaSandbox, str]]:
    """The Daraja sandbox served by this test process (it outlives the app), and its URL."""
    sandbox = DarajaSandbox(SandboxConfig(timings=TIMINGS))
    async with serving(create_sandbox_app(sandbox=sandbox)) as daraja_url:
        yield sandbox, daraja_url


def app_env(
    backend: Backend, database_url: str, tmp_path: Path, daraja: tuple[DarajaSandbox, str]
) -> dict[str, str]:
    """The environment of `gamehub serve` against the backend and the test's sandbox, with a
    reconciler quick enough for a test."""
    sandbox, daraja_url = daraja
    certificate = tmp_path / "daraja-cert.pem"
    certificate.write_bytes(sandbox.keys.certificate_pem)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAMEHUB_")}
    env.update(
        GAMEHUB_DATABASE_URL=database_url,
        GAMEHUB_DATA_DIR=str(tmp_path / "data"),
        GAMEHUB_JWT_SECRET=TEST_JWT_SECRET,
        GAMEHUB_BCRYPT_ROUNDS="4",
        GAMEHUB_LOG_JSON="false",
        GAMEHUB_MPESA_BASE_URL=daraja_url,
        GAMEHUB_MPESA_CERTIFICATE=str(certificate),
        GAMEHUB_MPESA_CALLBACK_SECRET=SECRET,
        GAMEHUB_RECONCILE_AFTER_S="1",
        GAMEHUB_RECONCILE_INTERVAL_S="0.3",
        GAMEHUB_IDEMPOTENCY_ABANDONED_AFTER_S="1",
    )
    if backend.redis_url is not None:
        env["GAMEHUB_REDIS_URL"] = backend.redis_url
    return env


async def test_sigkill_after_b2c_then_restart_completes_exactly_once(
    backend: Backend,
    database_url: str,
    tmp_path: Path,
    daraja: tuple[DarajaSandbox, str],
) -> None:
    app = App(app_env(backend, database_url, tmp_path, daraja), tmp_path, free_port())
    try:
        await _crash_and_recover(app, daraja[0])
    finally:
        app.stop()
    await _books_balance(database_url)


async def _crash_and_recover(app: App, sandbox: DarajaSandbox) -> None:
    await app.start()
    async with httpx.AsyncClient(base_url=app.base, timeout=30) as http:
        registered = await http.post(
            "/register",
            json={
                "username": "crashtest",
                "email": "crash@example.com",
                "password": "long enough password",
                "date_of_birth": "1990-01-01",
            },
        )
        headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}

        async def balance() -> dict[str, Any]:
            body: dict[str, Any] = (await http.get("/wallet", headers=headers)).json()
            return body

        # Money in through the real flow: STK push, the sandbox's callback to the app.
        deposit = await http.post(
            "/deposit", json={"amount": 1000, "phone": "254712345600"}, headers=headers
        )
        assert deposit.status_code == 202, deposit.text

        async def funded() -> bool:
            return bool((await balance())["balance"] == "1000.00")

        await until(funded, 15, "the deposit")

        response = await http.post(
            "/withdraw", json={"amount": 300, "phone": "254712345607"}, headers=headers
        )
        assert response.status_code == 202, response.text
        withdrawal = response.json()["transaction"]
        ref = withdrawal["provider_ref"]
        payment = sandbox.state.payments[ref]  # Daraja accepted the B2C before we answered
        assert payment.status == "processing"
        assert (await balance())["held"] == "300.00"

    app.kill()

    async def result_lost() -> bool:
        # The attempt is logged before it is sent: wait until it has failed.
        attempts = payment.callbacks
        return payment.status == "completed" and len(attempts) == 1 and bool(attempts[0].error)

    await until(result_lost, 15, "the B2C result to be sent to the dead app")
    assert payment.callbacks[0].error is not None  # nobody was listening

    await app.start()
    async with httpx.AsyncClient(base_url=app.base, timeout=30) as http:
        headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}

        async def completed() -> bool:
            found = await http.get(f"/transactions/{withdrawal['id']}", headers=headers)
            return bool(found.json()["status"] == "completed")

        await until(completed, 30, "the reconciler to finish the withdrawal")
        await asyncio.sleep(1.5)  # a few more reconcile passes must not pay it twice
        found = (await http.get(f"/transactions/{withdrawal['id']}", headers=headers)).json()
        assert found["receipt"] == payment.transaction_id
        wallet = (await http.get("/wallet", headers=headers)).json()
        assert (wallet["balance"], wallet["held"]) == ("700.00", "0.00")
    assert list(sandbox.state.payments) == [ref]  # one payout, however often it was asked about
    assert sandbox.state.status_queries, "the restarted app asked Daraja what happened"


async def _books_balance(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)
    try:
        async with session_factory(engine)() as session:
            assert await ledger.check_invariants(session) == []
            withdrawals = await session.scalar(
                select(func.count()).select_from(Transfer).where(Transfer.kind == "withdrawal")
            )
            assert withdrawals == 1
    finally:
        await engine.dispose()


async def test_sigkill_after_a_keyed_withdrawal_is_held_then_retry_pays_once(
    backend: Backend,
    database_url: str,
    tmp_path: Path,
    daraja: tuple[DarajaSandbox, str],
) -> None:
    """The process dies right after the hold commits, before the B2C is sent (a crash point);
    restarted, the client's retry with the same Idempotency-Key answers with that withdrawal
    once the dead attempt is taken over, and the payment is sent once (by the reconciler)."""
    env = app_env(backend, database_url, tmp_path, daraja)
    port = free_port()
    doomed = App({**env, "GAMEHUB_FAULTS": "withdrawal_held"}, tmp_path, port)
    app = App(env, tmp_path, port)
    try:
        await _kill_after_hold_and_retry(doomed, app, daraja[0])
    finally:
        doomed.stop()
        app.stop()
    await _books_balance(database_url)


async def _kill_after_hold_and_retry(doomed: App, app: App, sandbox: DarajaSandbox) -> None:
    await doomed.start()
    async with httpx.AsyncClient(base_url=doomed.base, timeout=30) as http:
        registered = await http.post(
            "/register",
            json={
                "username": "keyedcrash",
                "email": "keyedcrash@example.com",
                "password": "long enough password",
                "date_of_birth": "1990-01-01",
            },
        )
        headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
        deposit = await http.post(
            "/deposit", json={"amount": 1000, "phone": "254712345600"}, headers=headers
        )
        assert deposit.status_code == 202, deposit.text

        async def funded() -> bool:
            wallet = (await http.get("/wallet", headers=headers)).json()
            return bool(wallet["balance"] == "1000.00")

        await until(funded, 15, "the deposit")
        keyed = {**headers, "Idempotency-Key": "withdraw-once"}
        body = {"amount": 300, "phone": "254712345600"}
        with pytest.raises(httpx.TransportError):
            await http.post("/withdraw", json=body, headers=keyed)
    assert doomed.process is not None and doomed.process.wait(10) == -signal.SIGKILL
    assert sandbox.state.payments == {}, "the process died before sending the payment"

    await app.start()
    async with httpx.AsyncClient(base_url=app.base, timeout=30) as http:
        answers: list[int] = []

        async def answered() -> bool:
            retry = await http.post("/withdraw", json=body, headers=keyed)
            answers.append(retry.status_code)
            return retry.status_code == 202

        await until(answered, 15, "the retry to take the dead attempt over")
        assert set(answers) <= {409, 202}  # in progress until it was abandoned
        withdrawal = (await http.post("/withdraw", json=body, headers=keyed)).json()["transaction"]

        async def completed() -> bool:
            found = await http.get(f"/transactions/{withdrawal['id']}", headers=headers)
            return bool(found.json()["status"] == "completed")

        await until(completed, 30, "the reconciler to pay the withdrawal")
        await asyncio.sleep(1.0)  # more reconcile passes and retries must not pay it again
        again = await http.post("/withdraw", json=body, headers=keyed)
        assert again.json()["transaction"]["id"] == withdrawal["id"]
        wallet = (await http.get("/wallet", headers=headers)).json()
        assert (wallet["balance"], wallet["held"]) == ("700.00", "0.00")
        listed = (await http.get("/transactions", headers=headers)).json()["transactions"]
        assert [row["type"] for row in listed] == ["withdrawal", "deposit"]
    assert list(sandbox.state.payments) == [withdrawal["provider_ref"]]  # one B2C payment
