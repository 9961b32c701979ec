"""Liveness, readiness and metrics endpoints for operators and load balancers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Literal

from pydantic import BaseModel
from quart import Blueprint, Response, current_app
from quart_schema import hide, validate_response
from sqlalchemy import text

from gamehub.runtime import runtime

blueprint = Blueprint("health", __name__)
log = logging.getLogger(__name__)


class HealthOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "unreachable"]]  # database, broker


@blueprint.get("/healthz")
@validate_response(HealthOut)
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@blueprint.get("/readyz")
@validate_response(ReadyOut, 200)
@validate_response(ReadyOut, 503)
async def readyz() -> tuple[dict[str, object], int]:
    """The database and the broker answer; 503 otherwise."""
    rt = runtime()

    async def database() -> None:
        async with rt.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    checks = {
        "database": await _check("database", database()),
        "broker": await _check("broker", rt.broker.ping()),
    }
    ready = all(value == "ok" for value in checks.values())
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


async def _check(name: str, probe: Awaitable[object]) -> str:
    try:
        async with asyncio.timeout(2):
            await probe
        return "ok"
    except Exception as error:  # any failure means not ready
        log.warning("readiness: %s unreachable: %s", name, error)
        return "unreachable"


@blueprint.get("/metrics")
@hide
async def metrics() -> Response:
    """Prometheus text exposition."""
    body = current_app.extensions["gamehub_metrics"].render()
    return Response(body, content_type="text/plain; version=0.0.4; charset=utf-8")
