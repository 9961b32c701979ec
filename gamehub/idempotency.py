"""Idempotency-Key for money-moving POSTs (Stripe / IETF draft semantics), scoped per user, and
the hourly purge of keys past their retention.

Route order: login_required → validate_request → idempotent → validate_response, so a malformed
body is a 422 before any key is recorded."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from functools import wraps
from typing import Any, ParamSpec, cast

from quart import Response, current_app, g, request
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub.db import transaction, utcnow
from gamehub.errors import ApiError, Conflict, error_response
from gamehub.models import IdempotencyRecord
from gamehub.runtime import runtime
from gamehub.tasks import Periodic

log = logging.getLogger(__name__)

P = ParamSpec("P")
HEADER = "Idempotency-Key"
RETENTION = timedelta(hours=24)


class KeyReused(ApiError):
    status, code = 422, "idempotency_key_reused"
    message = "This Idempotency-Key was used with a different request."


class InProgress(Conflict):
    code, message = "idempotency_in_progress", "A request with this Idempotency-Key is running."


class InvalidKey(ApiError):
    status, code, message = 422, "invalid_idempotency_key", "Idempotency-Key must be 1-255 chars."


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request a key stands for; JSON bodies are compared by meaning, not by spacing."""
    try:
        canonical = json.dumps(
            json.loads(body, parse_float=Decimal), sort_keys=True, default=str
        ).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + canonical).hexdigest()


async def _claim(
    sessions: async_sessionmaker[AsyncSession],
    user_id: int,
    key: str,
    print_: str,
    abandoned_after: timedelta,
) -> tuple[int, Response | None]:
    """Record the key as in progress, or answer from the earlier request that holds it."""
    async with transaction(sessions) as session:
        stmt = (
            postgresql.insert(IdempotencyRecord)
            .values(user_id=user_id, key=key, request_fingerprint=print_, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["user_id", "key"])
            .returning(IdempotencyRecord.id)
        )
        record_id = (await session.execute(stmt)).scalar_one_or_none()
        if record_id is not None:
            return record_id, None
        existing = await session.scalar(
            select(IdempotencyRecord).where(
                IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
            )
        )
        assert existing is not None
        if existing.request_fingerprint != print_:
            raise KeyReused()
        if existing.status_code is not None and existing.response_body is not None:
            replay = Response(
                existing.response_body,
                status=existing.status_code,
                content_type="application/json",
            )
            replay.headers["Idempotent-Replayed"] = "true"
            return existing.id, replay
        if existing.created_at > utcnow() - abandoned_after:
            raise InProgress()
        # Taken over from a request that died: its effects are named after scope_of.
        await session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == existing.id)
            .values(created_at=utcnow())
        )
        return existing.id, None


async def _finish(
    sessions: async_sessionmaker[AsyncSession], record_id: int, response: Response | None
) -> None:
    async with transaction(sessions) as session:
        if response is None:
            # No final answer (a 5xx, or a 401): the client may retry with the same key, and
            # money that did move is named after scope_of, so the retry finds it.
            await session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id)
            )
            return
        await session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == record_id)
            .values(
                status_code=response.status_code,
                response_body=await response.get_data(as_text=True),
                completed_at=utcnow(),
            )
        )


def scope_of(user_id: int, key: str, print_: str) -> str:
    """The name a keyed request gives its effects (references, rows, provider ids): from the
    user, key and request, not the record, which a 5xx or a crash may forget or take over."""
    digest = hashlib.sha256(f"{user_id}\n{key}\n{print_}".encode()).hexdigest()
    return f"idem:{digest[:40]}"


def idempotency_scope() -> str | None:
    """A stable name for this request across retries with the same key (None without a key)."""
    scope: str | None = getattr(g, "idempotency_scope", None)
    return scope


def idempotent(func: Callable[P, Awaitable[Any]]) -> Callable[P, Awaitable[Response]]:
    @wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return cast(Response, await current_app.make_response(await func(*args, **kwargs)))
        if not 1 <= len(key) <= 255 or not key.isprintable():
            raise InvalidKey()
        rt = runtime()
        body = await request.get_data(as_text=False)
        print_ = fingerprint(
            request.method, request.path, body if isinstance(body, bytes) else body.encode()
        )
        abandoned_after = timedelta(seconds=rt.settings.idempotency_abandoned_after_s)
        record_id, replay = await _claim(rt.sessions, g.user_id, key, print_, abandoned_after)
        if replay is not None:
            return replay
        g.idempotency_scope = scope_of(g.user_id, key, print_)
        response: Response | None = None
        keep = False
        try:
            try:
                response = cast(
                    Response, await current_app.make_response(await func(*args, **kwargs))
                )
                keep = response.status_code < 500
            except ApiError as error:
                # A refused request (e.g. 409 insufficient funds) is an answer too: replay it.
                response = error_response(
                    error.status, error.code, error.message, error.details, error.headers
                )
                keep = error.final
        finally:
            await _finish(rt.sessions, record_id, response if keep else None)
        assert response is not None
        return response

    return wrapper


async def purge_expired(sessions: async_sessionmaker[AsyncSession]) -> int:
    """Forget keys older than the retention period; returns how many were removed."""
    async with transaction(sessions) as session:
        result = await session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - RETENTION)
        )
    return int(getattr(result, "rowcount", 0) or 0)


class Housekeeping(Periodic):
    """Purges expired keys every `interval_s` on each instance (instances may race: idempotent)."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], interval_s: float = 3600.0
    ) -> None:
        super().__init__("housekeeping", interval_s, self.run_once)
        self.sessions = sessions

    async def run_once(self) -> int:
        removed = await purge_expired(self.sessions)
        if removed:
            log.info("housekeeping: forgot %d expired idempotency keys", removed)
        return removed
