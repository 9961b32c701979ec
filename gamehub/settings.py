"""One Settings object built from GAMEHUB_* environment (and a .env file), validated at start."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from gamehub.origins import normalise_origin
from gamehub.proxies import trusts_everyone
from gamehub.ratelimit import Rule
from gamehub.taxes import TaxRate, parse_rates

PREFIX = "GAMEHUB_"
MIN_JWT_SECRET_LENGTH = 32
DEFAULT_DATA_DIR = "data"


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


def _float(value: str, name: str, minimum: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a number, got {value!r}") from None
    if not number >= minimum or number == float("inf"):
        raise SettingsError(f"{PREFIX}{name} must be a finite number >= {minimum}, got {value!r}")
    return number


def _int(value: str, name: str, minimum: int = 0) -> int:
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{PREFIX}{name} must be at least {minimum}, got {number}")
    return number


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def normalise_database_url(url: str) -> str:
    """Accept plain postgres:// URLs and pick the async driver for them."""
    for plain in ("postgres://", "postgresql://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url[len(plain) :]
    return url


# The rate limits' defaults (see docs/OPERATIONS.md for why these numbers).
_RULES = {
    "login_account": Rule(10, 15 * 60),
    "login_known": Rule(20, 15 * 60),
    "login_address": Rule(120, 60),
    "register_address": Rule(500, 3600),
    "payments_user": Rule(10, 60),
    "play_user": Rule(20, 1),
}


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str = ""
    redis_url: str | None = None
    # Connections per process: SQLAlchemy's pool (plus as many again in overflow) and the raw
    # asyncpg pool of the hot paths (gamehub/pg.py). Mind max_connections.
    db_pool_size: int = 20
    db_raw_pool_size: int = 20
    jwt_secret: str = ""
    jwt_issuer: str = "gamehub"
    jwt_audience: str = "gamehub-api"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    stream_ticket_ttl_s: int = 60
    bcrypt_rounds: int = 12
    max_body_bytes: int = 1024 * 1024
    # Abuse limits (gamehub/ratelimit.py, auth/throttle.py, userlimits.py); off is refused in
    # production. Logins: strict per account from unknown places, looser from a known device or
    # address, generous per client address (a carrier's address is thousands of players).
    rate_limits: bool = True
    rate_login_account: Rule = _RULES["login_account"]
    rate_login_known: Rule = _RULES["login_known"]
    rate_login_address: Rule = _RULES["login_address"]
    rate_register_address: Rule = _RULES["register_address"]
    rate_payments_user: Rule = _RULES["payments_user"]
    rate_play_user: Rule = _RULES["play_user"]
    sse_keepalive_s: float = 15.0
    # Open SSE streams and WebSockets of one user on one instance (gamehub/connections.py).
    max_streams_per_user: int = 20
    # Room timeouts; unset = the games catalogue's (20 s per turn, 120 s waiting).
    roulette_turn_timeout_s: int | None = None
    roulette_waiting_timeout_s: int | None = None
    rooms_sweep_interval_s: float = 1.0
    log_json: bool = True
    # Load-benchmark-only endpoints (bench/); refused in production.
    bench_endpoints: bool = False
    # Crash points that failure tests switch on (gamehub.faults); refused in production.
    faults: frozenset[str] = frozenset()
    mpesa_base_url: str | None = None
    mpesa_consumer_key: str = "sandbox-key"
    mpesa_consumer_secret: str = "sandbox-secret"
    mpesa_shortcode: str = "174379"
    mpesa_passkey: str = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
    mpesa_b2c_shortcode: str = "600000"
    mpesa_initiator_name: str = "testapi"
    mpesa_initiator_password: str = "Safaricom999!*!"
    mpesa_certificate: Path | None = None
    mpesa_callback_base_url: str | None = None
    # Unset: outside production a random one kept in the data folder (see ensure_secrets).
    mpesa_callback_secret: str = ""
    mpesa_callback_allowlist: tuple[str, ...] = ()
    # Peers (addresses or CIDRs) whose X-Forwarded-For / -Proto are believed (gamehub/proxies.py).
    trusted_proxies: tuple[str, ...] = ()
    # Origins (besides the app's own) whose pages may open WebSockets (gamehub/origins.py).
    allowed_origins: tuple[str, ...] = ()
    # The built-in sandbox's delays are multiplied by this (tests shrink them; 1 = Daraja-like).
    mpesa_sandbox_time_scale: float = 1.0
    # The reconciler looks at payments pending longer than reconcile_after_s, every interval.
    reconcile_interval_s: float = 30.0
    reconcile_after_s: float = 120.0
    # A keyed request still "in progress" after this long died with its process: a retry with
    # its Idempotency-Key takes it over (and finds what it did, see idempotency.scope_of).
    idempotency_abandoned_after_s: float = 120.0
    deposit_min_kes: int = 1
    deposit_max_kes: int = 250_000
    withdraw_min_kes: int = 10
    withdraw_max_kes: int = 250_000
    daily_deposit_cap_kes: int = 500_000
    # Operators (gamehub/admin): their tokens' life, and the size of an adjustment from which a
    # second operator must approve it (four eyes).
    admin_token_ttl_s: int = 600
    adjustment_approval_kes: int = 10_000
    # Excise on deposits (gamehub/taxes.py): rates with the day each comes into force; none = off.
    tax_deposit_excise: tuple[TaxRate, ...] = ()
    # Withholding on winnings (gamehub/taxes.py), in the same form; none = off.
    tax_winnings_withholding: tuple[TaxRate, ...] = ()
    # Withholding on withdrawals (gamehub/taxes.py), in the same form; none = off.
    tax_withdrawal_withholding: tuple[TaxRate, ...] = ()

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


# Optional settings by how they are read; each lands in the Settings field of its lower-case name.
_INTS = (
    "ACCESS_TOKEN_TTL_S",
    "REFRESH_TOKEN_TTL_S",
    "STREAM_TICKET_TTL_S",
    "BCRYPT_ROUNDS",
    "MAX_BODY_BYTES",
    "ROULETTE_TURN_TIMEOUT_S",
    "ROULETTE_WAITING_TIMEOUT_S",
    "DB_POOL_SIZE",
    "DB_RAW_POOL_SIZE",
    "ADMIN_TOKEN_TTL_S",
    "ADJUSTMENT_APPROVAL_KES",
    "MAX_STREAMS_PER_USER",
    "DEPOSIT_MIN_KES",
    "DEPOSIT_MAX_KES",
    "WITHDRAW_MIN_KES",
    "WITHDRAW_MAX_KES",
    "DAILY_DEPOSIT_CAP_KES",
)
_BOOLS = ("LOG_JSON", "RATE_LIMITS", "BENCH_ENDPOINTS")
_RATES = tuple(f"RATE_{name.upper()}" for name in _RULES)
_TEXTS = (
    "MPESA_BASE_URL",
    "MPESA_CONSUMER_KEY",
    "MPESA_CONSUMER_SECRET",
    "MPESA_SHORTCODE",
    "MPESA_PASSKEY",
    "MPESA_B2C_SHORTCODE",
    "MPESA_INITIATOR_NAME",
    "MPESA_INITIATOR_PASSWORD",
    "MPESA_CALLBACK_BASE_URL",
    "MPESA_CALLBACK_SECRET",
)
_LISTS = ("MPESA_CALLBACK_ALLOWLIST", "TRUSTED_PROXIES")
_FLOATS = {
    "MPESA_SANDBOX_TIME_SCALE": 0.0001,
    "RECONCILE_INTERVAL_S": 0.05,
    "RECONCILE_AFTER_S": 0.0,
    "IDEMPOTENCY_ABANDONED_AFTER_S": 1.0,
}
_TAXES = ("TAX_DEPOSIT_EXCISE", "TAX_WINNINGS_WITHHOLDING", "TAX_WITHDRAWAL_WITHHOLDING")


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: Path | None = None
) -> Settings:
    """Build Settings from the environment (which wins) over a .env file, then validate them."""
    merged: dict[str, str] = {}
    merged.update(read_dotenv(dotenv_path if dotenv_path is not None else Path(".env")))
    merged.update(os.environ if environ is None else environ)
    env = {k[len(PREFIX) :]: v for k, v in merged.items() if k.startswith(PREFIX)}
    given = {name: value for name, value in env.items() if value != ""}

    data_dir = Path(given.get("DATA_DIR", DEFAULT_DATA_DIR))
    kwargs: dict[str, object] = {
        "env": given.get("ENV", "development").lower(),
        "data_dir": data_dir,
    }
    if kwargs["env"] not in {"development", "production", "test"}:
        raise SettingsError(
            f"{PREFIX}ENV must be development, test or production, got {env['ENV']!r}"
        )
    # Unset: the embedded default's own PostgreSQL (migrate.ensure_database starts it).
    kwargs["database_url"] = normalise_database_url(given.get("DATABASE_URL", ""))
    kwargs["redis_url"] = given.get("REDIS_URL")
    kwargs["jwt_secret"] = given.get("JWT_SECRET", "")
    for name in _INTS:
        if name in given:
            kwargs[name.lower()] = _int(given[name], name, minimum=1)
    if "SSE_KEEPALIVE_S" in given:
        kwargs["sse_keepalive_s"] = float(_int(given["SSE_KEEPALIVE_S"], "SSE_KEEPALIVE_S", 1))
    for name in _BOOLS:
        if name in given:
            kwargs[name.lower()] = _bool(given[name], name)
    for name in _RATES:
        if name in given:
            try:
                kwargs[name.lower()] = Rule.parse(given[name])
            except ValueError:
                raise SettingsError(
                    f"{PREFIX}{name} is a count per period such as 10/15m (s, m, h, d), "
                    f"got {given[name]!r}"
                ) from None
    for name in _TEXTS:
        if name in given:
            kwargs[name.lower()] = given[name].rstrip("/") if name.endswith("_URL") else given[name]
    if "MPESA_CERTIFICATE" in given:
        kwargs["mpesa_certificate"] = Path(given["MPESA_CERTIFICATE"])
    if "FAULTS" in given:
        kwargs["faults"] = frozenset(_list(given["FAULTS"]))
    for name in _LISTS:
        if name in given:
            kwargs[name.lower()] = _list(given[name])
    if "ALLOWED_ORIGINS" in given:
        try:
            kwargs["allowed_origins"] = tuple(
                map(normalise_origin, _list(given["ALLOWED_ORIGINS"]))
            )
        except ValueError as error:
            raise SettingsError(
                f"{PREFIX}ALLOWED_ORIGINS takes origins such as https://play.example.com, "
                f"got {error.args[0]!r}"
            ) from None
    for name, minimum in _FLOATS.items():
        if name in given:
            kwargs[name.lower()] = _float(given[name], name, minimum)
    for name in _TAXES:
        if name in given:
            try:
                kwargs[name.lower()] = parse_rates(given[name])
            except ValueError as error:
                raise SettingsError(f"{PREFIX}{name}: {error}") from None
    settings = Settings(**kwargs)  # type: ignore[arg-type]
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
    """Outside production, unset secrets are random and kept in the data folder, so that a
    restart keeps sessions valid and M-Pesa callbacks sent before it still find their URL."""
    changes: dict[str, object] = {}
    if not settings.jwt_secret:
        changes["jwt_secret"] = _kept_secret(settings, "jwt-secret")
    if not settings.mpesa_callback_secret:
        changes["mpesa_callback_secret"] = _kept_secret(settings, "mpesa-callback-secret")
    return settings.with_overrides(**changes) if changes else settings
