"""Fixtures: the backend (both for every app test), the app, its client, a database session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from quart import Quart
from quart.typing import TestClientProtocol
from sqlalchemy.ext.asyncio import AsyncSession

from gamehub.app import create_app
from gamehub.mpesa.sandbox_keys import SandboxKeys
from gamehub.ratelimit import Rule
from gamehub.runtime import EXTENSION, Runtime
from gamehub.settings import Settings
from tests.backends import Backend, clean_services, embedded_backend, services_backend

TEST_JWT_SECRET = "test-only-secret-that-is-long-enough-0123456789"
GENEROUS_LIMITS = {
    name: Rule(1_000_000, 1)
    for name in (
        "rate_login_account",
        "rate_login_known",
        "rate_login_address",
        "rate_register_address",
        "rate_payments_user",
        "rate_play_user",
    )
}


@pytest.fixture(scope="session", params=["embedded", "services"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    if request.param == "embedded":
        return embedded_backend(tmp_path_factory.mktemp("embedded"))
    return services_backend()


@pytest.fixture(scope="session", autouse=True)
def shared_sandbox_keys() -> Iterator[None]:
    """Each app makes its Daraja sandbox a 2048-bit key pair, most of an app's making
    (docs/BENCHMARKS.md); the suite makes over a thousand apps, so they share one."""
    keys = SandboxKeys.generate()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SandboxKeys, "generate", classmethod(lambda cls: keys))
        yield


@pytest.fixture
def settings(backend: Backend, tmp_path: Path) -> Settings:
    # The suite registers and logs in thousands of times from one address; the limits
    # themselves are tested in tests/test_rate_limits.py.
    return Settings(
        env="test",
        data_dir=tmp_path,
        database_url=backend.database_url,
        redis_url=backend.redis_url,
        jwt_secret=TEST_JWT_SECRET,
        bcrypt_rounds=4,  # production refuses < 12; one test checks the default is 12
        log_json=False,
        mpesa_callback_secret="test-callback-secret",
    ).with_overrides(**GENEROUS_LIMITS)


@pytest.fixture
async def app(settings: Settings, backend: Backend) -> AsyncIterator[Quart]:
    await clean_services(settings.database_url, backend.redis_url)
    application = create_app(settings)
    async with application.test_app():
        yield application


@pytest.fixture
def client(app: Quart) -> TestClientProtocol:
    return app.test_client()


@pytest.fixture
def runtime(app: Quart) -> Runtime:
    runtime: Runtime = app.extensions[EXTENSION]
    return runtime


@pytest.fixture
async def session(runtime: Runtime) -> AsyncIterator[AsyncSession]:
    async with runtime.sessions() as db_session:
        yield db_session
