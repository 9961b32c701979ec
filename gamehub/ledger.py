"""The only code that moves money: accounts, transfers, holds and the ledger's invariants.

Every function runs in the caller's transaction; each transfer and hold carries a unique
caller-chosen reference, so a repeated operation finds what the first did (as in TigerBeetle)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from gamehub import taxes
from gamehub.balances import Balance
from gamehub.db import utcnow
from gamehub.errors import ApiError, InsufficientFunds
from gamehub.models import Account, Hold, Transfer

HOUSE = "house"
MPESA_CLEARING = "mpesa:clearing"
# Operators' corrections of balances (gamehub/admin/adjustments.py) come from and go to here,
# so that they are never mistaken for the house's game results.
ADJUSTMENTS = "adjustments"

# Accounts that face the outside world; their balances may go negative (the others never do).
SYSTEM_ACCOUNTS: dict[str, str] = {
    HOUSE: "house",
    MPESA_CLEARING: "clearing",
    ADJUSTMENTS: "adjustment",
}
# Kinds that face the outside world, so that sub-accounts of the house (e.g. one per shard of
# players, which keeps one hot row from serialising every bet) may go negative too.
OUTWARD_KINDS = frozenset(SYSTEM_ACCOUNTS.values())
HOUSE_SHARDS = 64


def house_shard(key: int) -> str:
    """The code of the house sub-account (kind "house") that `key` (a player, a room) uses:
    with one house row, every game's settlement in the land would queue on its lock."""
    return f"{HOUSE}:{key % HOUSE_SHARDS:02d}"


class ReferenceReused(ApiError):
    """A reference already names a different transfer or hold: a bug in the caller, never money."""

    status, code, message = 409, "reference_reused", "That reference names another operation."


def same_operation(
    found: tuple[int, int, str, int], wanted: tuple[int, int, str, int], reference: str
) -> None:
    """The one meaning of a reference seen again, in every form of the ledger: "already done"
    (returns) when it names the same (debit, credit, kind, amount), else ReferenceReused."""
    if found != wanted:
        raise ReferenceReused(details={"reference": reference})


class HoldNotPending(ApiError):
    status, code, message = 409, "hold_not_pending", "That hold has already ended."


@dataclass(frozen=True)
class TransferResult:
    transfer_id: int
    created: bool  # False when the reference had already moved the money


@dataclass(frozen=True)
class HoldResult:
    hold_id: int
    created: bool


def wallet_code(user_id: int) -> str:
    return f"wallet:{user_id}"


# Built once: building an expression and its cache key costs more CPU than the database
# spends running it.
_ACCOUNT_BY_CODE = select(Account.id).where(Account.code == bindparam("code"))


async def account_id(
    session: AsyncSession,
    code: str,
    kind: str | None = None,
    *,
    user_id: int | None = None,
) -> int:
    """The id of the account named `code`, opened on first use (race-free)."""
    found = await find_account(session, code)
    if found is not None:
        return found
    if kind is None:
        kind = SYSTEM_ACCOUNTS.get(code)
        if kind is None:
            raise LookupError(f"no ledger account {code!r}")
    stmt = (
        postgresql.insert(Account)
        .values(
            code=code,
            kind=kind,
            user_id=user_id,
            balance=0,
            held=0,
            allow_negative=kind in OUTWARD_KINDS,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["code"])
    )
    await session.execute(stmt)
    created = await session.scalar(select(Account.id).where(Account.code == code))
    assert created is not None
    return created


async def find_account(session: AsyncSession, code: str) -> int | None:
    """The id of the account named `code`, None if it was never opened."""
    return await session.scalar(_ACCOUNT_BY_CODE, {"code": code})


async def open_wallet(session: AsyncSession, user_id: int) -> int:
    return await account_id(session, wallet_code(user_id), "wallet", user_id=user_id)


async def wallet_balance(session: AsyncSession, user_id: int) -> Balance:
    row = (
        await session.execute(
            select(Account.balance, Account.held).where(Account.code == wallet_code(user_id))
        )
    ).one_or_none()
    return Balance(0, 0) if row is None else Balance(row.balance, row.held)


async def _debit(session: AsyncSession, account: int, amount: int, *, from_held: bool) -> None:
    """Take `amount` off an account; plain debits may only spend what is not held."""
    if from_held:
        stmt = (
            update(Account)
            .where(Account.id == account, Account.held >= amount)
            .values(balance=Account.balance - amount, held=Account.held - amount)
        )
    else:
        stmt = (
            update(Account)
            .where(
                Account.id == account,
                Account.allow_negative | (Account.balance - Account.held >= amount),
            )
            .values(balance=Account.balance - amount)
        )
    changed = (await session.execute(stmt.returning(Account.id))).scalar_one_or_none()
    if changed is None:
        raise InsufficientFunds()


async def _credit(session: AsyncSession, account: int, amount: int) -> None:
    await session.execute(
        update(Account).where(Account.id == account).values(balance=Account.balance + amount)
    )


async def _move(
    session: AsyncSession, debit: int, credit: int, amount: int, *, from_held: bool = False
) -> None:
    # Rows are locked in id order so that two opposite transfers can never deadlock.
    for account in sorted((debit, credit)):
        if account == debit:
            await _debit(session, debit, amount, from_held=from_held)
        else:
            await _credit(session, credit, amount)


def check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError(f"a ledger amount is a positive integer of cents, got {amount!r}")


async def transfer(
    session: AsyncSession,
    *,
    reference: str,
    kind: str,
    debit: int,
    credit: int,
    amount: int,
) -> TransferResult:
    """Move `amount` cents from `debit` to `credit` once per reference; InsufficientFunds (the
    caller rolls back) when `debit` cannot cover it from what is available."""
    check_amount(amount)
    transfer_id, created = await _record_once(
        session, Transfer, reference, kind, debit, credit, amount
    )
    if created:
        await _move(session, debit, credit, amount)
    return TransferResult(transfer_id, created=created)


async def _record_once(
    session: AsyncSession,
    table: type[Transfer] | type[Hold],
    reference: str,
    kind: str,
    debit: int,
    credit: int,
    amount: int,
    **columns: Any,
) -> tuple[int, bool]:
    """Insert a transfer or hold under its unique reference: (its id, True), or (the existing
    row's id, False) when that row is the same operation (same_operation)."""
    inserted: int | None = await session.scalar(
        postgresql.insert(table)
        .values(
            reference=reference,
            kind=kind,
            debit_account_id=debit,
            credit_account_id=credit,
            amount=amount,
            created_at=utcnow(),
            **columns,
        )
        .on_conflict_do_nothing(index_elements=["reference"])
        .returning(table.id)
    )
    if inserted is not None:
        return inserted, True
    existing: Transfer | Hold | None = await session.scalar(
        select(table).where(table.reference == reference)
    )
    assert existing is not None, "a conflicting reference must exist once its insert waited"
    same_operation(
        (existing.debit_account_id, existing.credit_account_id, existing.kind, existing.amount),
        (debit, credit, kind, amount),
        reference,
    )
    return existing.id, False


@dataclass(frozen=True)
class TransferSpec:
    """One transfer of a batch that ledger_pg.batch writes within a room command's statement."""

    reference: str
    kind: str
    debit: int
    credit: int
    amount: int


def net_changes(specs: list[TransferSpec]) -> list[tuple[int, int, int]]:
    """(account, net change, lowest point along the batch) in account id order: an account's
    update is guarded by that lowest point, so a batch is refused exactly when applying its
    transfers one by one would be."""
    running: dict[int, int] = {}
    lowest: dict[int, int] = {}
    for spec in specs:
        for account, delta in ((spec.debit, -spec.amount), (spec.credit, spec.amount)):
            running[account] = running.get(account, 0) + delta
            lowest[account] = min(lowest.get(account, 0), running[account])
    return [(account, running[account], lowest[account]) for account in sorted(running)]


async def hold(
    session: AsyncSession,
    *,
    reference: str,
    kind: str,
    debit: int,
    credit: int,
    amount: int,
) -> HoldResult:
    """Reserve `amount` on `debit` for a later transfer to `credit`, once per reference."""
    check_amount(amount)
    hold_id, created = await _record_once(
        session, Hold, reference, kind, debit, credit, amount, status="pending"
    )
    if not created:
        return HoldResult(hold_id, created=False)
    reserved = (
        await session.execute(
            update(Account)
            .where(
                Account.id == debit,
                Account.allow_negative | (Account.balance - Account.held >= amount),
            )
            .values(held=Account.held + amount)
            .returning(Account.id)
        )
    ).scalar_one_or_none()
    if reserved is None:
        raise InsufficientFunds()
    return HoldResult(hold_id, created=True)


async def _end_hold(session: AsyncSession, hold_id: int, status: str) -> Hold | None:
    """Mark a pending hold ended as `status`; None when it had already ended so (the
    exactly-once gate), HoldNotPending when it had ended the other way."""
    row = (
        await session.execute(
            update(Hold)
            .where(Hold.id == hold_id, Hold.status == "pending")
            .values(status=status, ended_at=utcnow())
            .returning(Hold.debit_account_id, Hold.credit_account_id, Hold.amount, Hold.kind)
        )
    ).one_or_none()
    if row is None:
        ended = await session.scalar(select(Hold.status).where(Hold.id == hold_id))
        if ended == status:
            return None
        raise HoldNotPending(details={"hold_id": hold_id, "status": ended})
    return Hold(
        id=hold_id,
        debit_account_id=row.debit_account_id,
        credit_account_id=row.credit_account_id,
        amount=row.amount,
        kind=row.kind,
    )


@dataclass(frozen=True)
class Withheld:
    """A share of a hold that its posting sends to a tax account instead of the hold's credit
    account (a withdrawal's withholding tax): transfer `hold:<id>:withholding` of `kind`."""

    kind: str
    account: int
    amount: int


def withheld_reference(hold_id: int) -> str:
    return f"hold:{hold_id}{taxes.WITHHOLDING_SUFFIX}"


async def post_hold(
    session: AsyncSession,
    hold_id: int,
    *,
    kind: str | None = None,
    withheld: Withheld | None = None,
) -> bool:
    """Turn a pending hold into its transfer (less `withheld`, a second transfer from the same
    account to its tax account). False if already posted; HoldNotPending if it was released
    (money must never move after a release)."""
    ended = await _end_hold(session, hold_id, "posted")
    if ended is None:
        return False
    tax = 0 if withheld is None else withheld.amount
    if not 0 <= tax < ended.amount:
        raise ValueError(f"hold {hold_id}: cannot withhold {tax} of {ended.amount}")
    transfer_id = (
        await session.execute(
            postgresql.insert(Transfer)
            .values(
                reference=f"hold:{hold_id}:post",
                kind=kind or ended.kind,
                debit_account_id=ended.debit_account_id,
                credit_account_id=ended.credit_account_id,
                amount=ended.amount - tax,
                hold_id=hold_id,
                created_at=utcnow(),
            )
            .returning(Transfer.id)
        )
    ).scalar_one()
    assert transfer_id is not None
    if withheld is None or not tax:
        await _move(
            session, ended.debit_account_id, ended.credit_account_id, ended.amount, from_held=True
        )
        return True
    await session.execute(
        postgresql.insert(Transfer).values(
            reference=withheld_reference(hold_id),
            kind=withheld.kind,
            debit_account_id=ended.debit_account_id,
            credit_account_id=withheld.account,
            amount=tax,
            created_at=utcnow(),
        )
    )
    credits = {ended.credit_account_id: ended.amount - tax, withheld.account: tax}
    # Rows locked in id order, as _move does.
    for account in sorted({ended.debit_account_id, *credits}):
        if account == ended.debit_account_id:
            await _debit(session, account, ended.amount, from_held=True)
        else:
            await _credit(session, account, credits[account])
    return True


async def release_hold(session: AsyncSession, hold_id: int) -> bool:
    """Give held money back to its account. False if the hold had already been released;
    HoldNotPending if it had been posted."""
    ended = await _end_hold(session, hold_id, "released")
    if ended is None:
        return False
    await session.execute(
        update(Account)
        .where(Account.id == ended.debit_account_id)
        .values(held=Account.held - ended.amount)
    )
    return True


async def check_invariants(session: AsyncSession) -> list[str]:
    """Every broken ledger invariant, described; an empty list means the books balance."""
    problems: list[str] = []
    total = await session.scalar(select(func.coalesce(func.sum(Account.balance), 0)))
    if total != 0:
        problems.append(f"balances sum to {total}, not 0")

    credits = (
        select(Transfer.credit_account_id.label("account"), func.sum(Transfer.amount).label("t"))
        .group_by(Transfer.credit_account_id)
        .subquery()
    )
    debits = (
        select(Transfer.debit_account_id.label("account"), func.sum(Transfer.amount).label("t"))
        .group_by(Transfer.debit_account_id)
        .subquery()
    )
    pending = (
        select(Hold.debit_account_id.label("account"), func.sum(Hold.amount).label("t"))
        .where(Hold.status == "pending")
        .group_by(Hold.debit_account_id)
        .subquery()
    )
    rows = await session.execute(
        select(
            Account.code,
            Account.balance,
            Account.held,
            Account.allow_negative,
            (func.coalesce(credits.c.t, 0) - func.coalesce(debits.c.t, 0)).label("computed"),
            func.coalesce(pending.c.t, 0).label("computed_held"),
        )
        .outerjoin(credits, credits.c.account == Account.id)
        .outerjoin(debits, debits.c.account == Account.id)
        .outerjoin(pending, pending.c.account == Account.id)
    )
    for row in rows:
        if row.balance != row.computed:
            problems.append(
                f"{row.code}: balance {row.balance} but transfers sum to {row.computed}"
            )
        if row.held != row.computed_held:
            problems.append(
                f"{row.code}: held {row.held} but pending holds sum to {row.computed_held}"
            )
        if not row.allow_negative and row.balance < row.held:
            problems.append(f"{row.code}: balance {row.balance} below held {row.held}")

    posted_without_transfer = await session.scalar(
        select(func.count())
        .select_from(Hold)
        .outerjoin(Transfer, Transfer.hold_id == Hold.id)
        .where(Hold.status == "posted", Transfer.id.is_(None))
    )
    if posted_without_transfer:
        problems.append(f"{posted_without_transfer} posted holds have no transfer")
    transfers_of_open_holds = await session.scalar(
        select(func.count())
        .select_from(Transfer)
        .join(Hold, Transfer.hold_id == Hold.id)
        .where(Hold.status != "posted")
    )
    if transfers_of_open_holds:
        problems.append(f"{transfers_of_open_holds} transfers belong to holds that are not posted")
    stray = await session.scalar(
        _STRAY_WITHHOLDING,
        {"kinds": list(taxes.WITHHOLDING_KINDS), "suffix": taxes.WITHHOLDING_SUFFIX},
    )
    if stray:
        problems.append(
            f"{stray} withholding transfers do not follow a larger payout to the same wallet"
            " into a tax account"
        )
    unbalanced = await session.scalar(
        _UNBALANCED_POSTS,
        {"suffix": taxes.WITHHOLDING_SUFFIX, "kind": taxes.WITHDRAWAL_WITHHOLDING_KIND},
    )
    if unbalanced:
        problems.append(
            f"{unbalanced} posted holds whose transfer and withholding do not make their"
            " amount, or whose withholding is not from the held account into a tax account"
        )
    return problems


# A posted hold's transfer is its whole amount, or its amount less the withholding posted with
# it (`hold:<id>:withholding`, from the held account to a tax account); a hold's withholding
# exists only once the hold is posted, and a withdrawal's withholding names a hold.
_UNBALANCED_POSTS = text(
    """
    SELECT (
        SELECT count(*) FROM ledger_transfers w
        LEFT JOIN ledger_holds h ON h.id = CASE
            WHEN w.reference ~ ('^hold:[0-9]{1,18}' || CAST(:suffix AS text) || '$')
            THEN CAST(split_part(w.reference, ':', 2) AS bigint) END
        WHERE w.kind = :kind AND h.id IS NULL
    ) + (
        SELECT count(*) FROM ledger_holds h
        LEFT JOIN ledger_transfers p ON p.hold_id = h.id
        LEFT JOIN ledger_transfers w ON w.reference = 'hold:' || h.id || CAST(:suffix AS text)
        LEFT JOIN ledger_accounts tax ON tax.id = w.credit_account_id
        WHERE (h.status = 'posted' AND p.amount + coalesce(w.amount, 0) <> h.amount)
            OR (w.id IS NOT NULL AND (h.status <> 'posted' OR tax.kind <> 'tax'
                                      OR w.debit_account_id <> h.debit_account_id))
    )
    """
)


# A withholding on winnings (taxes.py) is taken from a payout just made, in the same statement:
# its reference is the payout's plus the suffix, it leaves the wallet the payout credited, it is
# less than the payout (it is a share of the winnings only) and it goes to a tax account.
_STRAY_WITHHOLDING = text(
    """
    SELECT count(*) FROM ledger_transfers w
    JOIN ledger_accounts tax ON tax.id = w.credit_account_id
    LEFT JOIN ledger_transfers p
        ON p.reference = left(w.reference, -length(CAST(:suffix AS text)))
    WHERE w.kind = ANY(:kinds)
        AND (p.id IS NULL OR p.credit_account_id <> w.debit_account_id
             OR p.amount <= w.amount OR tax.kind <> 'tax'
             OR right(w.reference, length(CAST(:suffix AS text))) <> :suffix)
    """
)
