"""Every failure is the contract's JSON error: 400, 404, 405, 413, 422, never HTML, never 500."""

from __future__ import annotations

import contextlib

import pytest
from pydantic import BaseModel, ConfigDict
from quart import Quart
from quart.typing import TestClientProtocol
from quart_schema import validate_request

from gamehub.money import Cents, WholeShillingCents
from tests.helpers import bearer, error_of, register


class AmountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Cents


class ShillingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: WholeShillingCents


@pytest.fixture
def echo_app(app: Quart) -> Quart:
    """The real app plus two probe routes that run the real JSON parsing and amount validation."""

    @app.post("/test-probe/amount")
    @validate_request(AmountIn)
    async def amount_probe(data: AmountIn) -> dict[str, int]:
        return {"cents": data.amount}

    @app.post("/test-probe/shillings")
    @validate_request(ShillingsIn)
    async def shillings_probe(data: ShillingsIn) -> dict[str, int]:
        return {"cents": data.amount}

    return app


@pytest.mark.parametrize(
    ("raw", "cents"),
    [
        ('{"amount": 100}', 10_000),
        ('{"amount": "99.50"}', 9_950),
        ('{"amount": 99.5}', 9_950),
        ('{"amount": 0.01}', 1),
        ('{"amount": "0.1"}', 10),
        ('{"amount": 1.10}', 110),
        ('{"amount": 1e2}', 10_000),
    ],
)
async def test_valid_amounts_become_exact_cents(echo_app: Quart, raw: str, cents: int) -> None:
    client = echo_app.test_client()
    response = await client.post(
        "/test-probe/amount", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert (await response.get_json())["cents"] == cents


@pytest.mark.parametrize(
    "raw",
    [
        '{"amount": NaN}',
        '{"amount": Infinity}',
        '{"amount": -Infinity}',
        '{"amount": "NaN"}',
        '{"amount": "Infinity"}',
        '{"amount": 1e309}',
        '{"amount": -5}',
        '{"amount": "-5"}',
        '{"amount": 0}',
        '{"amount": "0.00"}',
        '{"amount": 10.001}',
        '{"amount": "10.001"}',
        '{"amount": true}',
        '{"amount": false}',
        '{"amount": null}',
        '{"amount": "abc"}',
        '{"amount": "1,000"}',
        '{"amount": " "}',
        '{"amount": [1]}',
        '{"amount": {"value": 1}}',
        '{"amount": 1e-7}',
        '{"amount": 123456789012345678901234567890}',
        "{}",
        "[]",
        '"just a string"',
        '{"amount": 1, "extra": 2}',
    ],
)
async def test_bad_amounts_are_422(echo_app: Quart, raw: str) -> None:
    client = echo_app.test_client()
    response = await client.post(
        "/test-probe/amount", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, await response.get_data(as_text=True)
    assert (await error_of(response))["code"] == "validation_error"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ('{"amount": 100}', 200),
        ('{"amount": "100.00"}', 200),
        ('{"amount": "100.50"}', 422),
        ('{"amount": 1.5}', 422),
    ],
)
async def test_mpesa_amounts_are_whole_shillings(echo_app: Quart, raw: str, status: int) -> None:
    client = echo_app.test_client()
    response = await client.post(
        "/test-probe/shillings", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == status


@pytest.mark.parametrize(
    "raw",
    ["{bad", '{"amount": }', "", "\x00\x01", '{"a": "\\ud800"', "nul\u0000l"],
)
async def test_malformed_json_is_400(echo_app: Quart, raw: str) -> None:
    client = echo_app.test_client()
    response = await client.post(
        "/test-probe/amount", data=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert (await error_of(response))["code"] == "malformed_json"


async def test_body_without_json_content_type_is_still_parsed(echo_app: Quart) -> None:
    client = echo_app.test_client()
    response = await client.post(
        "/test-probe/amount", data='{"amount": 5}', headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200


async def test_oversize_body_is_413(client: TestClientProtocol) -> None:
    body = '{"username": "' + "a" * (1024 * 1024) + '"}'
    response = await client.post(
        "/register", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert (await error_of(response))["code"] == "payload_too_large"


async def test_not_found_and_method_not_allowed_are_json(client: TestClientProtocol) -> None:
    missing = await client.get("/no/such/thing")
    assert missing.status_code == 404
    assert (await error_of(missing))["code"] == "not_found"
    wrong_method = await client.delete("/register")
    assert wrong_method.status_code == 405
    assert (await error_of(wrong_method))["code"] == "method_not_allowed"
    assert "POST" in wrong_method.headers.get("Allow", "")


@pytest.mark.parametrize(
    "body",
    [
        {
            "username": "名前",
            "email": "a@example.com",
            "password": "password1",
            "date_of_birth": "1990-01-01",
        },
        {
            "username": "emoji😀",
            "email": "b@example.com",
            "password": "password1",
            "date_of_birth": "1990-01-01",
        },
        {
            "username": "ok_name",
            "email": "ü@例え.jp",
            "password": "pässwörd🔑🔑",
            "date_of_birth": "1990-01-01",
        },
    ],
)
async def test_unicode_input_is_handled(client: TestClientProtocol, body: dict[str, str]) -> None:
    response = await client.post("/register", json=body)
    assert response.status_code in {201, 422}
    if response.status_code == 422:
        assert (await error_of(response))["code"] == "validation_error"


async def test_unicode_passwords_longer_than_72_bytes_all_count(client: TestClientProtocol) -> None:
    """bcrypt truncates at 72 bytes; ours must not: a difference past byte 72 still counts."""
    base = "ü" * 40  # 80 bytes in UTF-8
    body = {
        "username": "longpass",
        "email": "long@example.com",
        "password": base + "A",
        "date_of_birth": "1990-01-01",
    }
    assert (await client.post("/register", json=body)).status_code == 201
    wrong = await client.post("/login", json={"username": "longpass", "password": base + "B"})
    assert wrong.status_code == 401
    right = await client.post("/login", json={"username": "longpass", "password": base + "A"})
    assert right.status_code == 200


async def test_every_response_has_a_request_id(client: TestClientProtocol) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["X-Request-ID"] not in {"", "bad id with spaces"}


async def test_health_ready_metrics_docs(client: TestClientProtocol) -> None:
    assert await (await client.get("/healthz")).get_json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert (await ready.get_json())["status"] == "ok"
    await client.get("/no/such/thing")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    text = await metrics.get_data(as_text=True)
    assert "gamehub_http_requests_total" in text
    assert 'route="/healthz"' in text
    spec = await (await client.get("/openapi.json")).get_json()
    assert spec["openapi"].startswith("3.")
    assert "/register" in spec["paths"] and "/profile" in spec["paths"]
    docs = await client.get("/docs")
    assert docs.status_code == 200


async def test_readyz_is_503_when_the_database_is_gone(
    app: Quart, client: TestClientProtocol
) -> None:
    from gamehub.db import create_engine
    from gamehub.runtime import EXTENSION

    runtime = app.extensions[EXTENSION]
    real = runtime.engine
    runtime.engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        response = await client.get("/readyz")
    finally:
        await runtime.engine.dispose()
        runtime.engine = real
    assert response.status_code == 503
    assert (await response.get_json())["checks"]["database"] == "unreachable"


async def test_login_is_rate_limited(app: Quart) -> None:
    from gamehub.ratelimit import Rule
    from gamehub.runtime import EXTENSION

    runtime = app.extensions[EXTENSION]
    runtime.settings = runtime.settings.with_overrides(rate_login_account=Rule(3, 60))
    client = app.test_client()
    statuses = [
        (await client.post("/login", json={"username": "x", "password": "wrong-pass"})).status_code
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]
    limited = await client.post("/login", json={"username": "x", "password": "wrong-pass"})
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await error_of(limited))["code"] == "rate_limited"


async def test_callback_secret_and_tickets_never_reach_the_access_log(
    client: TestClientProtocol, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "not-the-real-one-but-still-a-secret"
    with caplog.at_level("INFO", logger="gamehub.access"):
        await client.post(f"/payments/callbacks/{secret}/stk", json={})
        await client.get("/events?ticket=sensitive-ticket-value")
    logged = " ".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert "/payments/callbacks/<secret>/stk" in logged
    assert secret not in logged and "sensitive-ticket-value" not in logged


async def test_an_exhausted_database_pool_is_503_with_retry_after(app: Quart) -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    @app.get("/test-probe/busy")
    async def busy() -> dict[str, str]:
        raise PoolTimeout("QueuePool limit of size 20 overflow 20 reached")

    response = await app.test_client().get("/test-probe/busy")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert (await error_of(response))["code"] == "overloaded"


async def test_an_exhausted_raw_pool_is_503_too(
    app: Quart, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hot paths' bare pool overloads like SQLAlchemy's: 503, nothing done."""
    from gamehub import pg
    from gamehub.runtime import EXTENSION, Runtime

    runtime: Runtime = app.extensions[EXTENSION]
    client = app.test_client()
    data = await register(client)
    monkeypatch.setattr(pg, "ACQUIRE_TIMEOUT_S", 0.2)
    async with contextlib.AsyncExitStack() as held:
        for _ in range(runtime.settings.db_raw_pool_size):
            await held.enter_async_context(runtime.pg.connection())
        busy = await client.get("/profile", headers=bearer(data["access_token"]))
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "2"
        assert (await error_of(busy))["code"] == "overloaded"
    ok = await client.get("/profile", headers=bearer(data["access_token"]))
    assert ok.status_code == 200
