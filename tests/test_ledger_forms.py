"""The ledger's forms side by side on PostgreSQL: ledger.py (SQLAlchemy, as the wallet moves
money), ledger_pg.batch and into_new_account (as the rooms' statements include them) and
ledger_pg.bet_and_payout (as the spin's statement includes it).
The same scripted operations go through each form and must leave the same rows, balances and
answers; random batches go through both and must keep the ledger's invariants."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gamehub import ledger, ledger_pg, taxes
from gamehub.db import transaction, utcnow
from gamehub.errors import InsufficientFunds
from gamehub.models import Account, Transfer
from gamehub.pg import Connection, Sql
from gamehub.runtime import Runtime


@dataclass(frozen=True)
class Move:
    """A transfer between accounts named by their codes (each form resolves them)."""

    reference: str
    kind: str
    debit: str
    credit: str
    amount: int


class Form(Protocol):
    """One way production writes ledger rows. Answers: moved, done (the same operation had
    been done), reused (the reference names another operation), insufficient."""

    async def open(self, code: str, kind: str) -> None: ...
    async def batch(self, moves: list[Move]) -> str: ...
    async def open_funded(self, code: str, move: Move) -> str: ...


class OrmForm:
    """ledger.py: one transaction per operation, its transfers one after another."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.ids: dict[str, int] = {}

    async def open(self, code: str, kind: str) -> None:
        async with transaction(self.runtime.sessions) as session:
            self.ids[code] = await ledger.account_id(session, code, kind)

    async def batch(self, moves: list[Move]) -> str:
        try:
            async with transaction(self.runtime.sessions) as session:
                created = [await self._transfer(session, move) for move in moves]
        except InsufficientFunds:
            return "insufficient"
        except ledger.ReferenceReused:
            return "reused"
        assert all(created) or not any(created), "the script never reuses part of a batch"
        return "moved" if all(created) else "done"

    async def open_funded(self, code: str, move: Move) -> str:
        try:
            async with transaction(self.runtime.sessions) as session:
                account = await ledger.account_id(session, code, "escrow")
                self.ids[code] = account
                await self._transfer(session, move)
        except InsufficientFunds:
            self.ids.pop(code)  # rolled back with the transfer
            return "insufficient"
        return "moved"

    async def _transfer(self, session: AsyncSession, move: Move) -> bool:
        result = await ledger.transfer(
            session,
            reference=move.reference,
            kind=move.kind,
            debit=self.ids[move.debit],
            credit=self.ids[move.credit],
            amount=move.amount,
        )
        return result.created


_BATCH = Sql(
    f"WITH gate AS (SELECT 1), {ledger_pg.batch(gate='gate')} "
    "SELECT (SELECT count(*) FROM moved) AS moved"
)
_OPEN_FUNDED = Sql(
    f"WITH gate AS (SELECT 1), {ledger_pg.into_new_account(gate='gate')} "
    "SELECT (SELECT id FROM opened) AS opened, EXISTS (SELECT FROM paid) AS paid"
)


class PgForm:
    """ledger_pg.py: each operation one statement of its fragments, in a transaction that is
    rolled back when an account could not pay (as store_pg's gamehub_refuse() does). A failed
    statement is classified by ledger_pg.already_done, as the spin's statement does; a room's
    statements never meet a reference again, since the room's seq guard stops a command done
    before ahead of its transfers."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.ids: dict[str, int] = {}

    async def open(self, code: str, kind: str) -> None:
        async with self.runtime.pg.connection() as connection:
            self.ids[code] = await ledger_pg.account_id(connection, code, kind)

    def _specs(self, moves: list[Move]) -> list[ledger.TransferSpec]:
        return [
            ledger.TransferSpec(
                m.reference, m.kind, self.ids[m.debit], self.ids[m.credit], m.amount
            )
            for m in moves
        ]

    async def batch(self, moves: list[Move]) -> str:
        specs = self._specs(moves)
        params = ledger_pg.batch_params(specs)
        async with self.runtime.pg.connection() as connection:
            try:
                async with connection.transaction():
                    moved = await _BATCH.fetchval(connection, **params, now=utcnow())
                    if moved != len(params["account_ids"]):
                        raise InsufficientFunds()
            except InsufficientFunds:
                return await _classify(connection, specs, refused=True)
            except asyncpg.UniqueViolationError as error:
                assert ledger_pg.reference_used(error)
                return await _classify(connection, specs)
        return "moved"

    async def open_funded(self, code: str, move: Move) -> str:
        spec = ledger.TransferSpec(move.reference, move.kind, self.ids[move.debit], 0, move.amount)
        async with self.runtime.pg.connection() as connection:
            try:
                async with connection.transaction():
                    row = await _OPEN_FUNDED.fetchrow(
                        connection, **ledger_pg.into_new_account_params(spec, code), now=utcnow()
                    )
                    assert row is not None
                    if not row["paid"]:
                        raise InsufficientFunds()
            except InsufficientFunds:
                return "insufficient"
        self.ids[code] = int(row["opened"])
        return "moved"


_BET_AND_PAYOUT = Sql(
    f"WITH gate AS (SELECT 1), {ledger_pg.bet_and_payout(gate='gate')} "
    "SELECT EXISTS (SELECT FROM debit) AS paid"
)
_BET_AND_PAYOUT_WITHHOLDING = Sql(
    f"WITH gate AS (SELECT 1), {ledger_pg.bet_and_payout(gate='gate', withholding=True)} "
    "SELECT EXISTS (SELECT FROM debit) AS paid"
)


class SpinForm(PgForm):
    """ledger_pg.bet_and_payout for what it can express (a bet from a wallet to the house
    under `<reference>:bet`, its payout back under `<reference>:payout`, and the tax withheld
    from it to a tax account under `<reference>:payout:withholding`), as the spin's one
    statement runs it: no transaction, nothing written when the wallet cannot pay, a reference
    used before classified as gamehub.games.spin_pg does. Any other batch goes through
    PgForm."""

    async def batch(self, moves: list[Move]) -> str:
        shape = _bet_and_payout(moves)
        if shape is None:
            return await super().batch(moves)
        reference, bet, win, withheld = shape
        specs = self._specs(moves)
        params: dict[str, Any] = {}
        if withheld is not None:
            params = {"tax": withheld.amount, "tax_account": self.ids[withheld.credit]}
        statement = _BET_AND_PAYOUT if withheld is None else _BET_AND_PAYOUT_WITHHOLDING
        async with self.runtime.pg.connection() as connection:
            try:
                paid = await statement.fetchval(
                    connection,
                    wallet=specs[0].debit,
                    house=specs[0].credit,
                    bet=bet,
                    win=win,
                    reference=reference,
                    now=utcnow(),
                    **params,
                )
            except asyncpg.UniqueViolationError as error:
                assert ledger_pg.reference_used(error)
                return await _classify(connection, specs)
            if not paid:
                return await _classify(connection, specs, refused=True)
        return "moved"


def _bet_and_payout(moves: list[Move]) -> tuple[str, int, int, Move | None] | None:
    """(reference, bet, win, withholding) when `moves` is a bet, at most its payout and at most
    the tax withheld from that payout, as a spin moves."""
    bet, *rest = moves
    reference = bet.reference.removesuffix(":bet")
    if bet.kind != "bet" or reference == bet.reference or len(rest) > 2:
        return None
    if not rest:
        return reference, bet.amount, 0, None
    payout, *withheld = rest
    if (payout.reference, payout.kind) != (f"{reference}:payout", "payout") or (
        payout.debit,
        payout.credit,
    ) != (bet.credit, bet.debit):
        return None
    if not withheld:
        return reference, bet.amount, payout.amount, None
    tax = withheld[0]
    if (tax.reference, tax.kind, tax.debit) != (
        f"{reference}:payout{taxes.WITHHOLDING_SUFFIX}",
        "withholding",
        bet.debit,
    ):
        return None
    return reference, bet.amount, payout.amount, tax


async def _classify(
    connection: Connection, specs: list[ledger.TransferSpec], *, refused: bool = False
) -> str:
    """What ledger.transfer answers, after a statement failed on a reference used before or
    (`refused`) could not pay: an operation done before is "done" even when the wallet could
    not pay it again, as ledger.transfer finds the reference before it looks at the balance."""
    try:
        done = await ledger_pg.already_done(connection, specs)
    except ledger.ReferenceReused:
        return "reused"
    if refused and not done:
        return "insufficient"
    assert done
    return "done"


def _script(p: str) -> list[tuple[str, Any]]:
    """Operations on accounts and references prefixed by `p` (each form gets its own)."""
    a, b, house, clearing, e1, e2 = (f"{p}{n}" for n in ("a", "b", "house", "clr", "e1", "e2"))
    return [
        ("open", (a, "wallet")),
        ("open", (b, "wallet")),
        ("open", (house, "house")),
        ("open", (clearing, "clearing")),
        ("batch", [Move(f"{p}fund", "deposit", clearing, a, 10_000)]),
        (
            "batch",
            [
                Move(f"{p}r1:bet", "bet", a, house, 3_000),
                Move(f"{p}r1:payout", "payout", house, a, 1_000),
            ],
        ),
        # The same operation again: already done, nothing moves.
        (
            "batch",
            [
                Move(f"{p}r1:bet", "bet", a, house, 3_000),
                Move(f"{p}r1:payout", "payout", house, a, 1_000),
            ],
        ),
        # The reference of another amount, then of another kind: a conflict.
        ("batch", [Move(f"{p}r1:bet", "bet", a, house, 2_000)]),
        ("batch", [Move(f"{p}fund", "refund", clearing, a, 10_000)]),
        # Overdraft: a has 8 000.
        ("batch", [Move(f"{p}over", "transfer", a, b, 8_001)]),
        # Exactly what is available, the win after the bet.
        (
            "batch",
            [
                Move(f"{p}r2:bet", "bet", a, house, 8_000),
                Move(f"{p}r2:payout", "payout", house, a, 9_000),
            ],
        ),
        ("batch", [Move(f"{p}empty:bet", "bet", b, house, 1)]),
        ("open_funded", (e1, Move(f"{p}stake:a", "roulette_stake", a, e1, 2_500))),
        ("open_funded", (e2, Move(f"{p}stake:b", "roulette_stake", b, e2, 100))),
        ("batch", [Move(f"{p}refund:a", "roulette_refund", e1, b, 2_500)]),
    ]


async def _run(form: Form, p: str) -> list[str]:
    answers: list[str] = []
    for op, args in _script(p):
        if op == "open":
            await form.open(*args)
        elif op == "batch":
            answers.append(await form.batch(args))
        else:
            answers.append(await form.open_funded(*args))
    return answers


Rows = set[tuple[Any, ...]]


async def _rows(runtime: Runtime, p: str) -> tuple[Rows, Rows]:
    """The accounts and transfers named under prefix `p`, with the prefix taken off."""
    debit, credit = aliased(Account), aliased(Account)
    async with runtime.sessions() as session:
        accounts = await session.execute(
            select(
                Account.code, Account.kind, Account.balance, Account.held, Account.allow_negative
            ).where(Account.code.startswith(p))
        )
        transfers = await session.execute(
            select(Transfer.reference, Transfer.kind, debit.code, credit.code, Transfer.amount)
            .join(debit, debit.id == Transfer.debit_account_id)
            .join(credit, credit.id == Transfer.credit_account_id)
            .where(or_(debit.code.startswith(p), credit.code.startswith(p)))
        )
        return (
            {(r[0].removeprefix(p), *r[1:]) for r in accounts},
            {tuple(v.removeprefix(p) if isinstance(v, str) else v for v in r) for r in transfers},
        )


async def _invariants(runtime: Runtime) -> list[str]:
    async with runtime.sessions() as session:
        return await ledger.check_invariants(session)


async def test_each_form_does_the_same_script_alike(runtime: Runtime) -> None:
    run = uuid.uuid4().hex[:8]
    forms: dict[str, Form] = {
        "orm": OrmForm(runtime),
        "pg": PgForm(runtime),
        "spin": SpinForm(runtime),
    }
    answers = {name: await _run(form, f"t:{run}:{name}:") for name, form in forms.items()}
    expected = ["moved", "moved", "done", "reused", "reused", "insufficient", "moved"]
    expected += ["insufficient", "moved", "insufficient", "moved"]
    assert answers == {name: expected for name in forms}

    orm = await _rows(runtime, f"t:{run}:orm:")
    assert await _rows(runtime, f"t:{run}:pg:") == orm
    assert await _rows(runtime, f"t:{run}:spin:") == orm
    accounts, transfers = orm
    balances = {code: balance for code, _, balance, _, _ in accounts}
    # e2 was never opened: its statement could not pay and wrote nothing.
    assert balances == {"a": 6_500, "b": 2_500, "house": 1_000, "clr": -10_000, "e1": 0}
    assert len(transfers) == 7
    assert await _invariants(runtime) == []


# Account 0 faces the outside world (it may go negative); the others are wallets.
_ACCOUNTS = [("clr", "clearing"), ("w1", "wallet"), ("w2", "wallet"), ("w3", "wallet")]
_moves = st.tuples(
    st.integers(0, len(_ACCOUNTS) - 1),
    st.integers(0, len(_ACCOUNTS) - 1),
    st.integers(1, 5_000),
).filter(lambda m: m[0] != m[1])
_batches = st.lists(st.lists(_moves, min_size=1, max_size=4), min_size=1, max_size=8)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=_batches)
async def test_random_batches_keep_the_invariants_in_every_form(
    runtime: Runtime, batches: list[list[tuple[int, int, int]]]
) -> None:
    """ledger_pg.batch (what room commands run) and ledger.transfer (what the wallet runs)
    agree batch by batch on what may move, and leave balances that sum to zero, wallets never
    below zero and each balance equal to its transfers (ledger.check_invariants)."""
    run = uuid.uuid4().hex[:8]
    results: dict[str, tuple[list[str], tuple[Rows, Rows]]] = {}
    forms: dict[str, Form] = {"orm": OrmForm(runtime), "pg": PgForm(runtime)}
    for name, form in forms.items():
        p = f"h:{run}:{name}:"
        for code, kind in _ACCOUNTS:
            await form.open(f"{p}{code}", kind)
        answers = []
        for i, batch in enumerate(batches):
            moves = [
                Move(f"{p}{i}:{j}", "bet", f"{p}{_ACCOUNTS[d][0]}", f"{p}{_ACCOUNTS[c][0]}", amount)
                for j, (d, c, amount) in enumerate(batch)
            ]
            answers.append(await form.batch(moves))
        results[name] = (answers, await _rows(runtime, p))
    assert results["orm"] == results["pg"]
    accounts, _ = results["pg"][1]
    assert sum(balance for _, _, balance, _, _ in accounts) == 0
    assert all(balance >= 0 for _, kind, balance, _, _ in accounts if kind == "wallet")
    assert await _invariants(runtime) == []


_spins = st.lists(
    st.tuples(
        st.integers(1, len(_ACCOUNTS) - 1),  # the wallet that spins
        st.integers(1, 4_000),  # its bet
        st.sampled_from([0, 0, 1, 50, 100, 250, 1_000]),  # the payout, in % of the bet
        st.booleans(),  # whether the spin is retried as it was
    ),
    min_size=1,
    max_size=10,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spins=_spins)
@example(spins=[(1, 1, 50, False)])  # a payout that rounds down to 0 cents
async def test_random_spins_move_alike_in_every_form(
    runtime: Runtime, spins: list[tuple[int, int, int, bool]]
) -> None:
    """Spins (a bet, its payout and the tax withheld from its winnings) through bet_and_payout,
    as the spin's statement runs them, and through the other forms: the same answers (a retry
    is "done"), rows and balances, and the invariants hold."""
    run = uuid.uuid4().hex[:8]
    results: dict[str, tuple[list[str], tuple[Rows, Rows]]] = {}
    forms: dict[str, Form] = {
        "orm": OrmForm(runtime),
        "pg": PgForm(runtime),
        "spin": SpinForm(runtime),
    }
    for name, form in forms.items():
        p = f"w:{run}:{name}:"
        for code, kind in [*_ACCOUNTS, ("house", "house"), ("tax", "tax")]:
            await form.open(f"{p}{code}", kind)
        answers = [
            await form.batch([Move(f"{p}fund:{c}", "deposit", f"{p}clr", f"{p}{c}", 3_000)])
            for c, _ in _ACCOUNTS[1:]
        ]
        for i, (wallet, bet, percent, retried) in enumerate(spins):
            w, house = f"{p}{_ACCOUNTS[wallet][0]}", f"{p}house"
            moves = [Move(f"{p}s{i}:bet", "bet", w, house, bet)]
            # A payout that rounds down to nothing is no transfer (a spin moves none).
            if win := bet * percent // 100:
                moves.append(Move(f"{p}s{i}:payout", "payout", house, w, win))
                # 20 % of the winnings withheld, as a spin does when the tax is on.
                if tax := taxes.withholding_on(win, bet, 2000):
                    moves.append(
                        Move(f"{p}s{i}:payout:withholding", "withholding", w, f"{p}tax", tax)
                    )
            for _ in range(2 if retried else 1):
                answers.append(await form.batch(moves))
        results[name] = (answers, await _rows(runtime, p))
    assert results["orm"] == results["pg"] == results["spin"]
    accounts, _ = results["spin"][1]
    assert sum(balance for _, _, balance, _, _ in accounts) == 0
    assert all(balance >= 0 for _, kind, balance, _, _ in accounts if kind == "wallet")
    assert await _invariants(runtime) == []


@pytest.mark.parametrize("amount", [1, 7_000])
async def test_a_stake_into_a_new_escrow_is_one_statement_or_nothing(
    runtime: Runtime, amount: int
) -> None:
    """ledger_pg.into_new_account (a room's first stake) writes its three rows together: all
    when the wallet pays, none when it cannot."""
    run = uuid.uuid4().hex[:8]
    form = PgForm(runtime)
    p = f"s:{run}:"
    await form.open(f"{p}w", "wallet")
    await form.open(f"{p}clr", "clearing")
    assert await form.batch([Move(f"{p}fund", "deposit", f"{p}clr", f"{p}w", 5_000)]) == "moved"
    answer = await form.open_funded(f"{p}e", Move(f"{p}stake", "stake", f"{p}w", f"{p}e", amount))
    accounts, transfers = await _rows(runtime, p)
    if amount <= 5_000:
        assert answer == "moved"
        assert ("e", "escrow", amount, 0, False) in accounts
        assert ("stake", "stake", "w", "e", amount) in transfers
    else:
        assert answer == "insufficient"
        assert {code for code, *_ in accounts} == {"w", "clr"}
        assert len(transfers) == 1
    assert await _invariants(runtime) == []
