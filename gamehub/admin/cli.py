"""The back office's part of the `gamehub` command: `admin create` and `audit verify`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gamehub.settings import Settings

SettingsLoader = Callable[[], Settings]
Job = Callable[[async_sessionmaker[AsyncSession]], Awaitable[int]]


def add_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], settings: SettingsLoader
) -> None:
    admin = commands.add_parser("admin", help="operator accounts")
    admin_commands = admin.add_subparsers(dest="admin_command", required=True)
    create = admin_commands.add_parser(
        "create", help="make an existing account an operator; prints its otpauth:// URI"
    )
    create.add_argument("username")
    create.set_defaults(handler=lambda args: _run(settings, _create_operator(args.username)))
    audit = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify", help="check the audit trail's chain; names every edited entry and every gap"
    )
    verify.add_argument(
        "--expect",
        metavar="ID:HASH",
        help="a head noted by an earlier run ('head entry ID HASH') that must still be there",
    )
    verify.set_defaults(handler=lambda args: _run(settings, _verify_audit(args.expect)))


def _run(load: SettingsLoader, job: Job) -> None:
    """Run `job` against the configured database (the embedded one is started if it is that)."""
    from gamehub.migrate import ensure_database

    settings = ensure_database(load())

    async def main() -> int:
        from gamehub.db import create_engine, session_factory

        engine = create_engine(settings.database_url, pool_size=1, max_overflow=0)
        try:
            return await job(session_factory(engine))
        finally:
            await engine.dispose()

    raise SystemExit(asyncio.run(main()))


def _create_operator(username: str) -> Job:
    async def job(sessions: async_sessionmaker[AsyncSession]) -> int:
        from gamehub.admin import accounts

        try:
            made = await accounts.make_operator(sessions, username)
        except accounts.NoSuchAccount:
            print(f"gamehub: no account named {username!r}; register it first", file=sys.stderr)
            return 1
        print(made.otpauth_uri, flush=True)
        print(
            "Add this to the operator's authenticator app now (it is shown only once); "
            "they sign in with POST /admin/login.",
            file=sys.stderr,
        )
        return 0

    return job


def _verify_audit(expect: str | None) -> Job:
    noted: tuple[int, str] | None = None
    if expect is not None:
        entry, _, digest = expect.partition(":")
        if not entry.isdigit() or len(digest) != 64:
            print("gamehub: --expect takes ID:HASH (64 hex digits)", file=sys.stderr)
            raise SystemExit(2)
        noted = (int(entry), digest.lower())

    async def job(sessions: async_sessionmaker[AsyncSession]) -> int:
        from gamehub.admin.audit_verify import verify

        async with sessions() as session:
            report = await verify(session, noted)
        for problem in report.problems:
            print(f"gamehub: audit {problem}", flush=True)
        head = f"head entry {report.head_id} {report.head_hash}" if report.head_id else "empty"
        if report.ok:
            print(f"audit trail intact: {report.entries} entries, {head}", flush=True)
            return 0
        print(f"audit trail damaged: {len(report.problems)} problem(s) in {report.entries} entries")
        return 1

    return job
