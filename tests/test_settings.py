"""Settings come from GAMEHUB_* (over a .env file) and unsafe production settings are refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gamehub.auth.passwords import hash_password
from gamehub.settings import Settings, SettingsError, load_settings

SAFE_PRODUCTION = {
    "GAMEHUB_ENV": "production",
    "GAMEHUB_JWT_SECRET": "x" * 48,
    "GAMEHUB_DATABASE_URL": "postgresql://app@db.internal/gamehub",
    "GAMEHUB_REDIS_URL": "redis://cache.internal:6379/0",
    "GAMEHUB_MPESA_BASE_URL": "https://api.safaricom.co.ke",
    "GAMEHUB_MPESA_CONSUMER_KEY": "live-key",
    "GAMEHUB_MPESA_CONSUMER_SECRET": "live-secret",
    "GAMEHUB_MPESA_CERTIFICATE": "/etc/gamehub/ProductionCertificate.cer",
    "GAMEHUB_MPESA_CALLBACK_SECRET": "c" * 32,
}


def test_defaults_are_the_embedded_default(tmp_path: Path) -> None:
    settings = load_settings({}, dotenv_path=tmp_path / "none")
    assert settings.env == "development"
    assert settings.uses_embedded_database
    assert settings.embedded_database_dir == Path("data") / "postgres"
    assert settings.redis_url is None
    assert settings.uses_mpesa_sandbox
    assert settings.bcrypt_rounds == 12


def test_plain_postgres_urls_get_the_async_driver(tmp_path: Path) -> None:
    settings = load_settings(
        {"GAMEHUB_DATABASE_URL": "postgres://u@h/db"}, dotenv_path=tmp_path / "none"
    )
    assert settings.database_url == "postgresql+asyncpg://u@h/db"


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\nGAMEHUB_REDIS_URL=redis://from-file:6379/0\n"
        "export GAMEHUB_ACCESS_TOKEN_TTL_S='600'\nGAMEHUB_BCRYPT_ROUNDS=13\n",
        encoding="utf-8",
    )
    settings = load_settings({"GAMEHUB_BCRYPT_ROUNDS": "14"}, dotenv_path=dotenv)
    assert settings.redis_url == "redis://from-file:6379/0"
    assert settings.access_token_ttl_s == 600
    assert settings.bcrypt_rounds == 14


def test_a_safe_production_configuration_starts(tmp_path: Path) -> None:
    settings = load_settings(SAFE_PRODUCTION, dotenv_path=tmp_path / "none")
    assert settings.is_production


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"GAMEHUB_JWT_SECRET": ""}, "JWT_SECRET"),
        ({"GAMEHUB_JWT_SECRET": "short-secret"}, "JWT_SECRET"),
        ({"GAMEHUB_DATABASE_URL": ""}, "embedded database"),
        ({"GAMEHUB_MPESA_BASE_URL": ""}, "sandbox"),
        ({"GAMEHUB_MPESA_CONSUMER_KEY": ""}, "MPESA_CONSUMER_KEY"),
        ({"GAMEHUB_BCRYPT_ROUNDS": "10"}, "BCRYPT_ROUNDS"),
        ({"GAMEHUB_REDIS_URL": ""}, "REDIS_URL"),
        ({"GAMEHUB_MPESA_CALLBACK_SECRET": ""}, "CALLBACK_SECRET"),
    ],
)
def test_unsafe_production_settings_are_refused(
    tmp_path: Path, change: dict[str, str], reason: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({**SAFE_PRODUCTION, **change}, dotenv_path=tmp_path / "none")
    message = str(refused.value)
    assert reason in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "environ",
    [
        {"GAMEHUB_ENV": "staging"},
        {"GAMEHUB_BCRYPT_ROUNDS": "many"},
        {"GAMEHUB_DATABASE_URL": "mysql://x/y"},
        {"GAMEHUB_REDIS_URL": "http://x"},
    ],
)
def test_malformed_settings_are_refused(tmp_path: Path, environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        load_settings(environ, dotenv_path=tmp_path / "none")


@pytest.mark.parametrize("url", ["sqlite:///data/gamehub.db", "sqlite+aiosqlite:///x.db"])
def test_a_database_other_than_postgresql_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({"GAMEHUB_DATABASE_URL": url}, dotenv_path=tmp_path / "none")
    assert str(refused.value).startswith("GAMEHUB_DATABASE_URL must be a postgresql:// URL")


def test_gamehub_serve_refuses_unsafe_production_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gamehub.cli", "serve"],
        env={"GAMEHUB_ENV": "production", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gamehub: refusing to start in production")


async def test_default_password_hash_cost_is_at_least_12() -> None:
    hashed = await hash_password("a password", Settings().bcrypt_rounds)
    assert hashed.startswith("$2b$12$")
