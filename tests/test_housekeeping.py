"""Idempotency-Key records are kept 24 h, then forgotten by housekeeping."""

from __future__ import annotations

from datetime import timedelta

from quart.typing import TestClientProtocol
from sqlalchemy import select

from gamehub.db import transaction, utcnow
from gamehub.idempotency import Housekeeping
from gamehub.models import IdempotencyRecord
from gamehub.runtime import Runtime
from tests.helpers import register


async def test_expired_idempotency_keys_are_purged(
    client: TestClientProtocol, runtime: Runtime
) -> None:
    user = (await register(client))["user"]["id"]
    async with transaction(runtime.sessions) as session:
        for key, age in (("old", timedelta(hours=25)), ("recent", timedelta(hours=23))):
            session.add(
                IdempotencyRecord(
                    user_id=user, key=key, request_fingerprint="f", created_at=utcnow() - age
                )
            )
    assert await Housekeeping(runtime.sessions).run_once() == 1
    async with runtime.sessions() as session:
        kept = set(await session.scalars(select(IdempotencyRecord.key)))
    assert kept == {"recent"}
