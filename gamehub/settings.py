"""One Settings object built from GAMEHUB_* environment (and a .env file), validated at start."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gamehub.origins import normalise_origin
from gamehub.proxies import trusts_everyone
from gamehub.ratelimit import Rule
from gamehub.taxes import TaxRate, parse_rates

PREFIX = "GAMEHUB_"
MIN_JWT_SECRET_LENGTH = 32
DEFAULT_DATA_DIR = "data"
Reader = Callable[[str, str], Any]  # (the value, its name without the prefix) -> the setting


class SettingsError(ValueError):
    """A setting is missing, malformed or unsafe; the message is one line for the operator."""


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a simple KEY=VALUE .env file (comments, blank lines, optional quotes)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[key] = value
    return values


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{PREFIX}{name} must be true or false, got {value!r}")


def _at_least(minimum: float) -> Reader:
    def number(value: str, name: str) -> float:
        try:
            found = float(value)
        except ValueError:
            raise SettingsError(f"{PREFIX}{name} must be a number, got {value!r}") from None
        if not found >= minimum or found == float("inf"):
            raise SettingsError(
                f"{PREFIX}{name} must be a finite number >= {minimum}, got {value!r}"
            )
        return found

    return number


def _int(value: str, name: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{PREFIX}{name} must be at least {minimum}, got {number}")
    return number


def _count(value: str, name: str) -> int:
    return _int(value, name, minimum=1)


def _list(value: str, _name: str = "") -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _text(value: str, name: str) -> str:
    """As given, a URL without its trailing slash."""
    return value.rstrip("/") if name.endswith("_URL") else value


def _as_is(value: str, _name: str) -> str:
    return value


def _path(value: str, _name: str) -> Path:
    return Path(value)


def _environment_name(value: str, name: str) -> str:
    if value.lower() not in {"development", "production", "test"}:
        raise SettingsError(
            f"{PREFIX}{name} must be development, test or production, got {value!r}"
        )
    return value.lower()


def _rule(value: str, name: str) -> Rule:
    try:
        return Rule.parse(value)
    except ValueError:
        raise SettingsError(
            f"{PREFIX}{name} is a count per period such as 10/15m (s, m, h, d), got {value!r}"
        ) from None


def _origins(value: str, name: str) -> tuple[str, ...]:
    try:
        return tuple(normalise_origin(item) for item in _list(value))
    except ValueError as error:
        raise SettingsError(
            f"{PREFIX}{name} takes origins such as https://play.example.com, got {error.args[0]!r}"
        ) from None


def _rates(value: str, name: str) -> tuple[TaxRate, ...]:
    try:
        return parse_rates(value)
    except ValueError as error:
        raise SettingsError(f"{PREFIX}{name}: {error}") from None


def normalise_database_url(url: str) -> str:
    """Accept plain postgres:// URLs and pick the async driver for them."""
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain) :]
    return url


def _database_url(value: str, _name: str) -> str:
    return normalise_database_url(value)


def _read(read: Reader) -> dict[str, Reader]:
    """A field's metadata: the setting is read from GAMEHUB_<NAME> with `read(value, NAME)`."""
    return {"read": read}


def _seconds(value: str, name: str) -> float:
    return float(_count(value, name))


def _names(value: str, _name: str) -> frozenset[str]:
    return frozenset(_list(value))


@dataclass(frozen=True)
class Settings:
    env: str = field(default="development", metadata=_read(_environment_name))
    data_dir: Path = field(default=Path(DEFAULT_DATA_DIR), metadata=_read(_path))
    # Unset: the embedded default's own PostgreSQL (migrate.ensure_database starts it).
    database_url: str = field(default="", metadata=_read(_database_url))
    redis_url: str | None = field(default=None, metadata=_read(_as_is))
    # Per process: SQLAlchemy's pool (as many again in overflow) and the raw hot-path pool.
    db_pool_size: int = field(default=20, metadata=_read(_count))
    db_raw_pool_size: int = field(default=20, metadata=_read(_count))
    jwt_secret: str = field(default="", metadata=_read(_as_is))
    jwt_issuer: str = "gamehub"
    jwt_audience: str = "gamehub-api"
    access_token_ttl_s: int = field(default=900, metadata=_read(_count))
    refresh_token_ttl_s: int = field(default=30 * 24 * 3600, metadata=_read(_count))
    stream_ticket_ttl_s: int = field(default=60, metadata=_read(_count))
    bcrypt_rounds: int = field(default=12, metadata=_read(_count))
    max_body_bytes: int = field(default=1024 * 1024, metadata=_read(_count))
    # Abuse limits (off is refused in production); why these numbers: docs/OPERATIONS.md.
    rate_limits: bool = field(default=True, metadata=_read(_bool))
    rate_login_account: Rule = field(default=Rule(10, 15 * 60), metadata=_read(_rule))
    rate_login_known: Rule = field(default=Rule(20, 15 * 60), metadata=_read(_rule))
    rate_login_address: Rule = field(default=Rule(120, 60), metadata=_read(_rule))
    rate_register_address: Rule = field(default=Rule(500, 3600), metadata=_read(_rule))
    rate_payments_user: Rule = field(default=Rule(10, 60), metadata=_read(_rule))
    rate_play_user: Rule = field(default=Rule(20, 1), metadata=_read(_rule))
    sse_keepalive_s: float = field(default=15.0, metadata=_read(_seconds))
    # Open SSE streams and WebSockets of one user on one instance.
    max_streams_per_user: int = field(default=20, metadata=_read(_count))
    # Room timeouts; unset = the games catalogue's (20 s per turn, 120 s waiting).
    roulette_turn_timeout_s: int | None = field(default=None, metadata=_read(_count))
    roulette_waiting_timeout_s: int | None = field(default=None, metadata=_read(_count))
    rooms_sweep_interval_s: float = 1.0
    log_json: bool = field(default=True, metadata=_read(_bool))
    # Both refused in production; faults: gamehub.faults.
    bench_endpoints: bool = field(default=False, metadata=_read(_bool))
    faults: frozenset[str] = field(default=frozenset(), metadata=_read(_names))
    mpesa_base_url: str | None = field(default=None, metadata=_read(_text))
    mpesa_consumer_key: str = field(default="sandbox-key", metadata=_read(_text))
    mpesa_consumer_secret: str = field(default="sandbox-secret", metadata=_read(_text))
    mpesa_shortcode: str = field(default="174379", metadata=_read(_text))
    mpesa_passkey: str = field(
        default="bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
        metadata=_read(_text),
    )
    mpesa_b2c_shortcode: str = field(default="600000", metadata=_read(_text))
    mpesa_initiator_name: str = field(default="testapi", metadata=_read(_text))
    mpesa_initiator_password: str = field(default="Safaricom999!*!", metadata=_read(_text))
    mpesa_certificate: Path | None = field(default=None, metadata=_read(_path))
    mpesa_callback_base_url: str | None = field(default=None, metadata=_read(_text))
    # Unset: outside production a random one kept in the data folder (see ensure_secrets).
    mpesa_callback_secret: str = field(default="", metadata=_read(_text))
    mpesa_callback_allowlist: tuple[str, ...] = field(default=(), metadata=_read(_list))
    # Addresses or CIDRs whose X-Forwarded-For is believed (gamehub/proxies.py).
    trusted_proxies: tuple[str, ...] = field(default=(), metadata=_read(_list))
    allowed_origins: tuple[str, ...] = field(default=(), metadata=_read(_origins))
    mpesa_sandbox_time_scale: float = field(default=1.0, metadata=_read(_at_least(0.0001)))
    # The reconciler looks at payments pending longer than reconcile_after_s, every interval.
    reconcile_interval_s: float = field(default=30.0, metadata=_read(_at_least(0.05)))
    reconcile_after_s: float = field(default=120.0, metadata=_read(_at_least(0.0)))
    # A keyed request still "in progress" after this long died: a retry with its key takes over.
    idempotency_abandoned_after_s: float = field(default=120.0, metadata=_read(_at_least(1.0)))
    deposit_min_kes: int = field(default=1, metadata=_read(_count))
    deposit_max_kes: int = field(default=250_000, metadata=_read(_count))
    withdraw_min_kes: int = field(default=10, metadata=_read(_count))
    withdraw_max_kes: int = field(default=250_000, metadata=_read(_count))
    daily_deposit_cap_kes: int = field(default=500_000, metadata=_read(_count))
    # Operators' tokens' life, and the adjustment from which a second operator must approve.
    admin_token_ttl_s: int = field(default=600, metadata=_read(_count))
    adjustment_approval_kes: int = field(default=10_000, metadata=_read(_count))
    # Taxes (gamehub/taxes.py): rates with the day each comes into force; none = off.
    tax_deposit_excise: tuple[TaxRate, ...] = field(default=(), metadata=_read(_rates))
    tax_winnings_withholding: tuple[TaxRate, ...] = field(default=(), metadata=_read(_rates))
    tax_withdrawal_withholding: tuple[TaxRate, ...] = field(default=(), metadata=_read(_rates))

    def roulette_overrides(self) -> dict[str, int]:
        overrides = {
            "turn_timeout_s": self.roulette_turn_timeout_s,
            "waiting_timeout_s": self.roulette_waiting_timeout_s,
        }
        return {key: value for key, value in overrides.items() if value is not None}

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def uses_embedded_database(self) -> bool:
        """No database configured: the process runs a PostgreSQL of its own under data_dir."""
        return not self.database_url

    @property
    def embedded_database_dir(self) -> Path:
        return self.data_dir / "postgres"

    @property
    def uses_mpesa_sandbox(self) -> bool:
        return self.mpesa_base_url is None

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def gamehub_environment(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | None = None
) -> dict[str, str]:
    """The GAMEHUB_* variables set (non-empty), without the prefix: the environment (which
    wins) over a .env file."""
    merged = {**read_dotenv(dotenv_path or Path(".env"))}
    merged.update(os.environ if environ is None else environ)
    return {k[len(PREFIX) :]: v for k, v in merged.items() if k.startswith(PREFIX) and v}


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | None = None
) -> Settings:
    """Build Settings from the environment (which wins) over a .env file, then validate them."""
    given = gamehub_environment(environ, dotenv_path)
    settings = Settings(
        **{
            spec.name: spec.metadata["read"](given[name], name)
            for spec in fields(Settings)
            if "read" in spec.metadata and (name := spec.name.upper()) in given
        }
    )
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    """Refuse unsafe or inconsistent settings with a one-line reason."""
    if settings.bcrypt_rounds < 4 or settings.bcrypt_rounds > 16:
        raise SettingsError(f"{PREFIX}BCRYPT_ROUNDS must be between 4 and 16")
    if settings.database_url and not settings.database_url.startswith("postgresql+asyncpg://"):
        raise SettingsError(
            f"{PREFIX}DATABASE_URL must be a postgresql:// URL, "
            f"got {settings.database_url.split('://')[0]}://…"
        )
    if settings.redis_url is not None and not settings.redis_url.startswith(
        ("redis://", "rediss://", "unix://")
    ):
        raise SettingsError(f"{PREFIX}REDIS_URL must be a redis:// or rediss:// URL")
    if settings.deposit_min_kes > settings.deposit_max_kes:
        raise SettingsError(f"{PREFIX}DEPOSIT_MIN_KES must not exceed {PREFIX}DEPOSIT_MAX_KES")
    if settings.withdraw_min_kes > settings.withdraw_max_kes:
        raise SettingsError(f"{PREFIX}WITHDRAW_MIN_KES must not exceed {PREFIX}WITHDRAW_MAX_KES")
    base = settings.mpesa_callback_base_url
    if base is not None and not base.startswith(("http://", "https://")):
        raise SettingsError(f"{PREFIX}MPESA_CALLBACK_BASE_URL must be an http:// or https:// URL")
    if "mpesa" in (base or "").lower():
        # Daraja refuses callback URLs that contain the word.
        raise SettingsError(f'{PREFIX}MPESA_CALLBACK_BASE_URL must not contain "mpesa"')
    try:
        everyone = trusts_everyone(settings.trusted_proxies)
    except ValueError as error:
        raise SettingsError(
            f"{PREFIX}TRUSTED_PROXIES takes addresses or CIDRs, got {error.args[0]!r}"
        ) from None
    if not settings.is_production:
        return
    refusals = (
        (
            everyone,
            f"{PREFIX}TRUSTED_PROXIES trusts every address, so any client could name its own "
            "address; list the proxies",
        ),
        (not settings.rate_limits, f"{PREFIX}RATE_LIMITS=false leaves logins open to guessing"),
        (settings.bench_endpoints, f"{PREFIX}BENCH_ENDPOINTS exposes load-test endpoints"),
        (settings.faults, f"{PREFIX}FAULTS crashes the process"),
        (
            len(settings.jwt_secret) < MIN_JWT_SECRET_LENGTH,
            f"{PREFIX}JWT_SECRET must be set to at least {MIN_JWT_SECRET_LENGTH} random characters",
        ),
        (
            settings.uses_embedded_database,
            f"the embedded database is for development; set {PREFIX}DATABASE_URL to PostgreSQL",
        ),
        (
            settings.uses_mpesa_sandbox,
            f"M-Pesa would be the built-in sandbox; set {PREFIX}MPESA_BASE_URL to Daraja",
        ),
        (settings.bcrypt_rounds < 12, f"{PREFIX}BCRYPT_ROUNDS must be >= 12"),
        (
            settings.mpesa_consumer_key == "sandbox-key" or settings.mpesa_certificate is None,
            f"set {PREFIX}MPESA_CONSUMER_KEY, {PREFIX}MPESA_CONSUMER_SECRET and "
            f"{PREFIX}MPESA_CERTIFICATE for Daraja",
        ),
        (
            settings.redis_url is None,
            f"{PREFIX}REDIS_URL is needed to share rooms between instances",
        ),
        (
            len(settings.mpesa_callback_secret) < 24,
            f"{PREFIX}MPESA_CALLBACK_SECRET must be set to at least 24 random characters, the "
            "same on every instance",
        ),
    )
    for refused, reason in refusals:
        if refused:
            raise SettingsError(f"refusing to start in production: {reason}")


def _kept_secret(settings: Settings, name: str) -> str:
    path = settings.data_dir / name
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret, encoding="utf-8")
    path.chmod(0o600)
    return secret


def ensure_secrets(settings: Settings) -> Settings:
    """Outside production, unset secrets are random and kept in the data folder: a restart
    keeps sessions valid, and callbacks sent before it their URL."""
    changes: dict[str, object] = {}
    if not settings.jwt_secret:
        changes["jwt_secret"] = _kept_secret(settings, "jwt-secret")
    if not settings.mpesa_callback_secret:
        changes["mpesa_callback_secret"] = _kept_secret(settings, "mpesa-callback-secret")
    return settings.with_overrides(**changes) if changes else settings
