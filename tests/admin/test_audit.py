"""The audit trail (migration 0011, gamehub/admin/audit*.py): append-only in the database,
chained by hashes, and `gamehub audit verify` names the entry that was edited or is missing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from quart import Quart
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gamehub.admin import audit
from gamehub.admin.audit_verify import Report, verify
from gamehub.admin.money_trail import record_money
from gamehub.db import transaction
from gamehub.runtime import EXTENSION, Runtime
from tests.admin.operators import operator
from tests.conftest import TEST_JWT_SECRET
from tests.funding import fund
from tests.helpers import error_of, register


def _runtime(app: Quart) -> Runtime:
    runtime: Runtime = app.extensions[EXTENSION]
    return runtime


def _audit_verify(runtime: Runtime, *options: str) -> subprocess.CompletedProcess[str]:
    """`gamehub audit verify` against the test database, as an operator would run it."""
    return subprocess.run(
        [sys.executable, "-m", "gamehub.cli", "audit", "verify", *options],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "GAMEHUB_DATABASE_URL": runtime.settings.database_url,
            "GAMEHUB_JWT_SECRET": TEST_JWT_SECRET,
        },
        timeout=60,
    )


async def _entries(runtime: Runtime, count: int) -> list[int]:
    ids = []
    for n in range(count):
        async with transaction(runtime.sessions) as session:
            ids.append(
                await audit.record(
                    session, actor="system", action="test.step", subject=f"n:{n}", details={"n": n}
                )
            )
    return ids


async def _as_superuser(runtime: Runtime, *statements: str) -> None:
    """What someone with the database's keys could do: switch the guard off, change, switch on."""
    async with runtime.engine.begin() as connection:
        for statement in statements:
            await connection.execute(text(statement))


async def test_the_database_refuses_to_update_or_delete_an_entry(app: Quart) -> None:
    runtime = _runtime(app)
    [first, *_] = await _entries(runtime, 2)
    for statement in (
        f"UPDATE audit_log SET details = '{{\"n\": 7}}' WHERE id = {first}",
        f"DELETE FROM audit_log WHERE id = {first}",
        "DELETE FROM audit_log",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            await _as_superuser(runtime, statement)
    report = await _verify(runtime)
    assert report.ok and report.entries == 2


async def _verify(runtime: Runtime) -> Report:
    async with runtime.sessions() as session:
        return await verify(session)


async def test_entries_are_chained_in_commit_order_even_when_written_at_once(app: Quart) -> None:
    runtime = _runtime(app)

    async def one(n: int) -> None:
        async with transaction(runtime.sessions) as session:
            await audit.record(session, actor="system", action="test.race", subject=f"n:{n}")
            await asyncio.sleep(0.01)  # hold the transaction open a moment

    await asyncio.gather(*(one(n) for n in range(12)))
    async with runtime.sessions() as session:
        report = await verify(session)
    assert report.ok, report.problems
    assert report.entries == 12


async def test_verify_names_an_edited_entry_and_a_missing_one(app: Quart) -> None:
    runtime = _runtime(app)
    ids = await _entries(runtime, 5)
    intact = _audit_verify(runtime)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert f"audit trail intact: 5 entries, head entry {ids[-1]}" in intact.stdout

    edited, deleted = ids[1], ids[3]
    await _as_superuser(
        runtime,
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        f"UPDATE audit_log SET details = '{{\"n\": 100}}' WHERE id = {edited}",
        f"DELETE FROM audit_log WHERE id = {deleted}",
        "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only",
    )
    damaged = _audit_verify(runtime)
    assert damaged.returncode == 1, damaged.stdout + damaged.stderr
    lines = damaged.stdout.splitlines()
    assert f"gamehub: audit entry {edited}: edited: its content does not match its hash" in lines
    assert any(
        line.startswith(f"gamehub: audit entry {ids[4]}: does not follow entry {ids[2]}")
        for line in lines
    ), lines
    assert lines[-1] == "audit trail damaged: 2 problem(s) in 4 entries"


async def test_a_head_noted_earlier_reveals_a_cut_tail(app: Quart) -> None:
    runtime = _runtime(app)
    ids = await _entries(runtime, 3)
    intact = _audit_verify(runtime)
    head = intact.stdout.split("head entry ")[1].split()
    assert head[0] == str(ids[-1])
    noted = f"{head[0]}:{head[1]}"
    assert _audit_verify(runtime, "--expect", noted).returncode == 0
    # The newest entry deleted: the chain left is valid, only the noted head reveals it.
    await _as_superuser(
        runtime,
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        f"DELETE FROM audit_log WHERE id = {ids[-1]}",
        "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only",
    )
    assert _audit_verify(runtime).returncode == 0
    cut = _audit_verify(runtime, "--expect", noted)
    assert cut.returncode == 1
    assert (
        f"gamehub: audit entry {ids[-1]}: noted earlier, is gone: the trail was cut or rewritten"
        in cut.stdout
    )
    assert _audit_verify(runtime, "--expect", "nonsense").returncode == 2


async def test_a_rewritten_hash_breaks_the_link_to_the_next_entry(app: Quart) -> None:
    runtime = _runtime(app)
    ids = await _entries(runtime, 3)
    # An editor who also recomputes the edited entry's own hash is found at the next entry.
    await _as_superuser(
        runtime,
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        f"UPDATE audit_log SET subject = 'n:forged' WHERE id = {ids[1]}",
        f"""UPDATE audit_log SET hash = gamehub_audit_hash(prev_hash, id, at, actor, action,
            subject, details, address, transfer_id) WHERE id = {ids[1]}""",
        "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only",
    )
    damaged = _audit_verify(runtime)
    assert damaged.returncode == 1
    assert f"gamehub: audit entry {ids[2]}: does not follow entry {ids[1]}" in damaged.stdout


async def test_every_money_movement_gets_an_entry_and_an_edited_transfer_is_found(
    app: Quart,
) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    player = await register(client)
    await fund(runtime, player["user"]["id"], 5_000)
    await fund(runtime, player["user"]["id"], 7_000)
    assert await record_money(runtime.sessions) == 2
    assert await record_money(runtime.sessions) == 0  # each transfer once
    async with runtime.sessions() as session:
        report = await verify(session)
        money = (
            await session.execute(
                text(
                    "SELECT id, transfer_id, action, details ->> 'amount' FROM audit_log "
                    "WHERE actor = 'ledger' ORDER BY id"
                )
            )
        ).all()
    assert report.ok, report.problems
    assert [(row[2], row[3]) for row in money] == [
        ("money.deposit", "5000"),
        ("money.deposit", "7000"),
    ]
    entry_id, transfer_id = money[0][0], money[0][1]
    await _as_superuser(
        runtime, f"UPDATE ledger_transfers SET amount = 50000 WHERE id = {transfer_id}"
    )
    damaged = _audit_verify(runtime)
    assert damaged.returncode == 1
    assert (
        f"gamehub: audit entry {entry_id}: ledger transfer {transfer_id} is missing or no "
        "longer matches it" in damaged.stdout
    )


async def test_operators_read_the_trail_newest_first_in_pages(app: Quart) -> None:
    runtime = _runtime(app)
    client = app.test_client()
    staff = await operator(client, runtime)
    await _entries(runtime, 3)
    first = await client.get("/admin/audit?limit=2", headers=staff.headers)
    assert first.status_code == 200, await first.get_data(as_text=True)
    page = await first.get_json()
    assert [entry["action"] for entry in page["entries"]] == ["test.step", "test.step"]
    assert page["next_before"] == page["entries"][-1]["id"]
    rest = await (
        await client.get(f"/admin/audit?before={page['next_before']}", headers=staff.headers)
    ).get_json()
    actions = [entry["action"] for entry in rest["entries"]]
    # The operator's enrolment and sign-in were recorded before.
    assert actions == ["test.step", "operator.signed_in", "operator.enrolled"]
    signed_in = rest["entries"][1]
    assert signed_in["actor"] == f"operator:{staff.user_id}"
    assert set(signed_in) == {
        "id",
        "at",
        "actor",
        "action",
        "subject",
        "details",
        "address",
        "prev_hash",
        "hash",
    }
    assert rest["next_before"] is None
    for bad in ("limit=0", "limit=201", "before=0", "before=x"):
        refused = await client.get(f"/admin/audit?{bad}", headers=staff.headers)
        assert refused.status_code == 422, bad
        assert (await error_of(refused))["code"] == "validation_error"
