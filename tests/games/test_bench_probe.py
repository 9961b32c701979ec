"""The load benchmark's bare probe exists only when enabled, and never in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from quart.typing import TestClientProtocol

from gamehub.app import create_app
from gamehub.settings import Settings, SettingsError, load_settings


async def test_the_probe_is_absent_by_default(client: TestClientProtocol) -> None:
    assert (await client.post("/bench/probe")).status_code == 404


async def test_the_probe_runs_one_transaction_when_enabled(settings: Settings) -> None:
    app = create_app(settings.with_overrides(bench_endpoints=True))
    async with app.test_app():
        client = app.test_client()
        first = await (await client.post("/bench/probe")).get_json()
        second = await (await client.post("/bench/probe")).get_json()
    assert first["ok"] is True and second["ok"] is True
    assert isinstance(first["balance"], int)


def test_production_refuses_the_probe(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="BENCH_ENDPOINTS"):
        load_settings(
            {"GAMEHUB_ENV": "production", "GAMEHUB_BENCH_ENDPOINTS": "true"},
            dotenv_path=tmp_path / "absent.env",
        )
    # Even settings built without validation cannot install it in production.
    unsafe = Settings(
        env="production",
        bench_endpoints=True,
        jwt_secret="x" * 40,
        database_url="postgresql+asyncpg://app@db.internal/gamehub",
    )
    with pytest.raises(SettingsError):
        create_app(unsafe)
