"""The ledger under concurrency on the real databases: no overdraft, no double move, invariants."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from gamehub import ledger, ledger_pg, taxes
from gamehub.db import transaction, utcnow
from gamehub.errors import InsufficientFunds
from gamehub.models import Transfer, User
from gamehub.pg import Sql
from gamehub.runtime import Runtime
from tests.helpers import register


async def _user_wallet(runtime: Runtime, client: object, balance: int) -> int:
    data = await register(client)  # type: ignore[arg-type]
    async with transaction(runtime.sessions) as session:
        wallet = await ledger.open_wallet(session, data["user"]["id"])
        clearing = await ledger.account_id(session, ledger.MPESA_CLEARING)
        await ledger.transfer(
            session,
            reference=f"test:fund:{wallet}",
            kind="deposit",
            debit=clearing,
            credit=wallet,
            amount=balance,
        )
    return wallet


async def _balance(runtime: Runtime, wallet: int) -> tuple[int, int]:
    async with runtime.sessions() as session:
        from gamehub.models import Account

        row = (
            await session.execute(select(Account.balance, Account.held).where(Account.id == wallet))
        ).one()
        return row.balance, row.held


async def _invariants(runtime: Runtime) -> list[str]:
    async with runtime.sessions() as session:
        return await ledger.check_invariants(session)


async def _debit(runtime: Runtime, wallet: int, amount: int, reference: str) -> bool:
    try:
        async with transaction(runtime.sessions) as session:
            house = await ledger.account_id(session, ledger.HOUSE)
            await ledger.transfer(
                session, reference=reference, kind="bet", debit=wallet, credit=house, amount=amount
            )
        return True
    except InsufficientFunds:
        return False


@pytest.mark.parametrize(("balance", "amount"), [(100_000, 50_001), (100_000, 1_499)])
async def test_concurrent_debits_succeed_exactly_as_often_as_money_allows(
    runtime: Runtime, client: object, balance: int, amount: int
) -> None:
    wallet = await _user_wallet(runtime, client, balance)
    results = await asyncio.gather(
        *(_debit(runtime, wallet, amount, f"test:debit:{i}") for i in range(100))
    )
    expected = min(100, balance // amount)
    assert sum(results) == expected
    assert await _balance(runtime, wallet) == (balance - expected * amount, 0)
    assert await _invariants(runtime) == []


async def test_each_debit_more_than_half_of_what_is_left(runtime: Runtime, client: object) -> None:
    """100 at once, each asking for more than half of the balance as it stands: one wins."""
    wallet = await _user_wallet(runtime, client, 1_000_000)
    results = await asyncio.gather(
        *(_debit(runtime, wallet, 500_001 + i, f"test:half:{i}") for i in range(100))
    )
    assert sum(results) == 1
    balance, _ = await _balance(runtime, wallet)
    assert 0 <= balance < 500_000
    assert await _invariants(runtime) == []


async def test_same_reference_fifty_times_moves_money_once(
    runtime: Runtime, client: object
) -> None:
    wallet = await _user_wallet(runtime, client, 10_000)
    results = await asyncio.gather(
        *(_debit(runtime, wallet, 2_500, "test:same-reference") for _ in range(50))
    )
    assert all(results)
    assert await _balance(runtime, wallet) == (7_500, 0)
    async with runtime.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Transfer)
            .where(Transfer.reference == "test:same-reference")
        )
    assert count == 1
    assert await _invariants(runtime) == []


async def test_reference_reused_for_other_amount_is_refused(
    runtime: Runtime, client: object
) -> None:
    wallet = await _user_wallet(runtime, client, 10_000)
    assert await _debit(runtime, wallet, 1_000, "test:ref")
    with pytest.raises(ledger.ReferenceReused):
        await _debit(runtime, wallet, 2_000, "test:ref")
    assert await _balance(runtime, wallet) == (9_000, 0)


async def test_holds_end_exactly_once(runtime: Runtime, client: object) -> None:
    wallet = await _user_wallet(runtime, client, 10_000)

    async def place(reference: str, amount: int) -> int:
        async with transaction(runtime.sessions) as session:
            clearing = await ledger.account_id(session, ledger.MPESA_CLEARING)
            result = await ledger.hold(
                session,
                reference=reference,
                kind="withdrawal",
                debit=wallet,
                credit=clearing,
                amount=amount,
            )
            return result.hold_id

    first = await place("test:hold:1", 6_000)
    assert await place("test:hold:1", 6_000) == first  # idempotent by reference
    assert await _balance(runtime, wallet) == (10_000, 6_000)
    with pytest.raises(InsufficientFunds):
        await place("test:hold:2", 4_001)  # only 4 000 is available
    # A plain debit cannot spend held money either.
    assert not await _debit(runtime, wallet, 4_001, "test:over-hold")

    async def post() -> bool:
        async with transaction(runtime.sessions) as session:
            return await ledger.post_hold(session, first)

    posted = await asyncio.gather(*(post() for _ in range(20)))
    assert sum(posted) == 1
    assert await _balance(runtime, wallet) == (4_000, 0)
    with pytest.raises(ledger.HoldNotPending):
        async with transaction(runtime.sessions) as session:
            await ledger.release_hold(session, first)

    second = await place("test:hold:3", 3_000)

    async def release() -> bool:
        async with transaction(runtime.sessions) as session:
            return await ledger.release_hold(session, second)

    released = await asyncio.gather(*(release() for _ in range(20)))
    assert sum(released) == 1
    assert await _balance(runtime, wallet) == (4_000, 0)
    with pytest.raises(ledger.HoldNotPending):
        async with transaction(runtime.sessions) as session:
            await ledger.post_hold(session, second)
    assert await _invariants(runtime) == []


async def test_a_hold_posted_with_a_withholding_moves_both_once(
    runtime: Runtime, client: object
) -> None:
    """A withdrawal's hold is posted as its payout plus its withholding tax (to a tax account),
    once; the invariants see a withholding that does not add up or names no hold."""
    wallet = await _user_wallet(runtime, client, 10_000)
    async with transaction(runtime.sessions) as session:
        clearing = await ledger.account_id(session, ledger.MPESA_CLEARING)
        tax = await ledger.account_id(session, taxes.WITHDRAWAL_WITHHOLDING_ACCOUNT, "tax")
        hold_id = (
            await ledger.hold(
                session,
                reference="test:withheld",
                kind="withdrawal",
                debit=wallet,
                credit=clearing,
                amount=6_000,
            )
        ).hold_id
    withheld = ledger.Withheld(taxes.WITHDRAWAL_WITHHOLDING_KIND, tax, 300)

    async def post() -> bool:
        async with transaction(runtime.sessions) as session:
            return await ledger.post_hold(session, hold_id, withheld=withheld)

    assert sum(await asyncio.gather(*(post() for _ in range(10)))) == 1
    assert await _balance(runtime, wallet) == (4_000, 0)
    assert await _balance(runtime, tax) == (300, 0)
    async with runtime.sessions() as session:
        moved = (
            await session.execute(
                select(Transfer.reference, Transfer.amount, Transfer.credit_account_id)
                .where(Transfer.debit_account_id == wallet)
                .order_by(Transfer.id)
            )
        ).all()
    assert [tuple(row) for row in moved] == [
        (f"hold:{hold_id}:post", 5_700, clearing),
        (f"hold:{hold_id}:withholding", 300, tax),
    ]
    assert await _invariants(runtime) == []
    with pytest.raises(ValueError):
        async with transaction(runtime.sessions) as session:
            second = await ledger.hold(
                session,
                reference="test:withheld:all",
                kind="withdrawal",
                debit=wallet,
                credit=clearing,
                amount=1_000,
            )
            await ledger.post_hold(
                session, second.hold_id, withheld=ledger.Withheld("x", tax, 1_000)
            )
    # A withholding that names no hold is reported.
    async with transaction(runtime.sessions) as session:
        await ledger.transfer(
            session,
            reference="test:stray:withholding",
            kind=taxes.WITHDRAWAL_WITHHOLDING_KIND,
            debit=wallet,
            credit=tax,
            amount=100,
        )
    [problem] = await _invariants(runtime)
    assert "withholding" in problem


async def test_database_refuses_a_negative_wallet(runtime: Runtime, client: object) -> None:
    """The CHECK constraint is the last line of defence, even against code that skips the ledger."""
    from sqlalchemy import update
    from sqlalchemy.exc import IntegrityError

    from gamehub.models import Account

    wallet = await _user_wallet(runtime, client, 1_000)
    with pytest.raises(IntegrityError):
        async with transaction(runtime.sessions) as session:
            await session.execute(
                update(Account).where(Account.id == wallet).values(balance=Account.balance - 1_001)
            )
    with pytest.raises(IntegrityError):
        async with transaction(runtime.sessions) as session:
            clearing = await ledger.account_id(session, ledger.MPESA_CLEARING)
            session.add(
                Transfer(
                    reference="test:zero",
                    kind="bet",
                    debit_account_id=wallet,
                    credit_account_id=clearing,
                    amount=0,
                )
            )
    assert await _balance(runtime, wallet) == (1_000, 0)


async def test_invariant_check_finds_a_tampered_balance(runtime: Runtime, client: object) -> None:
    from sqlalchemy import update

    from gamehub.models import Account

    wallet = await _user_wallet(runtime, client, 1_000)
    async with transaction(runtime.sessions) as session:
        await session.execute(update(Account).where(Account.id == wallet).values(balance=999))
    problems = await _invariants(runtime)
    assert any("sum to" in problem for problem in problems)
    assert any("wallet:" in problem for problem in problems)


async def test_registration_opens_a_wallet(runtime: Runtime, client: object) -> None:
    data = await register(client)  # type: ignore[arg-type]
    async with runtime.sessions() as session:
        assert await session.get(User, data["user"]["id"]) is not None
        balance = await ledger.wallet_balance(session, data["user"]["id"])
    assert (balance.balance, balance.held, balance.available) == (0, 0, 0)


# ledger_pg.batch as a room command's statement holds it, gated by a row that always exists.
_BATCH = Sql(
    f"WITH gate AS (SELECT 1), {ledger_pg.batch(gate='gate')} "
    "SELECT (SELECT count(*) FROM moved) AS moved"
)


async def test_a_batch_moves_as_if_one_by_one(runtime: Runtime, client: object) -> None:
    """A win cannot pay for the bet before it: a batch (ledger_pg.batch, as room commands move
    money) moves an account only when its lowest point along the batch is covered."""
    wallet = await _user_wallet(runtime, client, 1_000)
    async with transaction(runtime.sessions) as session:
        house = await ledger.account_id(session, ledger.HOUSE)

    async def batch(tag: str, bet: int, win: int) -> None:
        moves = [ledger.TransferSpec(f"{tag}:bet", "bet", wallet, house, bet)]
        if win:
            moves.append(ledger.TransferSpec(f"{tag}:win", "payout", house, wallet, win))
        params = ledger_pg.batch_params(moves)
        async with runtime.pg.connection() as connection, connection.transaction():
            moved = await _BATCH.fetchval(connection, **params, now=utcnow())
            if moved != len(params["account_ids"]):
                raise InsufficientFunds()  # rolls the transaction back, as PgRoomTx's does

    with pytest.raises(InsufficientFunds):
        await batch("t1", 1_001, 5_000)
    assert await _balance(runtime, wallet) == (1_000, 0)
    await batch("t2", 1_000, 2_000)
    assert await _balance(runtime, wallet) == (2_000, 0)
    results = await asyncio.gather(
        *(batch(f"c{i}", 700, 0 if i % 2 else 100) for i in range(20)), return_exceptions=True
    )
    successes = [r for r in results if r is None]
    assert all(r is None or isinstance(r, InsufficientFunds) for r in results), results
    balance, _ = await _balance(runtime, wallet)
    assert balance >= 0 and len(successes) >= 2
    assert await _invariants(runtime) == []
