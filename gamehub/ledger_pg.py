"""The ledger's one-statement forms for PostgreSQL hot paths (gamehub/pg.py): CTEs that a game's
statement includes, so its money moves atomically with its own rows, without BEGIN/COMMIT."""

from __future__ import annotations

from typing import Any

import asyncpg

from gamehub import ledger, taxes
from gamehub.db import utcnow
from gamehub.pg import Connection, Sql


def bet_and_payout(gate: str, *, withholding: bool = False) -> str:
    """CTEs `debit` (RETURNING the wallet's balance and held), `house` and `moved`: a bet and
    its payout as if one after the other, applied only when the CTE `gate` has a row.

    The wallet is debited only if it covers the bet before the win is paid; the caller writes
    its own rows only `FROM debit`. Parameters: :wallet, :house, :bet (> 0), :win (>= 0),
    :reference (`<reference>:bet`, `<reference>:payout`) and :now; with `withholding` also :tax
    and :tax_account (transfer `<reference>:payout:withholding`, CTE `withheld`). Lock order:
    the gate's row, the wallet, the house sub-account, the tax account; house and tax rows are
    only ever locked last, so no cycle can form with other money paths.
    """
    # Only constant text is spliced in (the gate's CTE name); values travel as parameters.
    tax = " - :tax::bigint" if withholding else ""
    withheld = (
        """
    withheld AS (
        UPDATE ledger_accounts SET balance = balance + :tax::bigint
        WHERE id = :tax_account::bigint AND EXISTS (SELECT FROM house)
        RETURNING id
    ),"""
        if withholding
        else ""
    )
    withheld_row = (
        f"""
        UNION ALL
        SELECT :reference::text || ':payout{taxes.WITHHOLDING_SUFFIX}', 'withholding',
               :wallet::bigint, :tax_account::bigint, :tax::bigint, :now::timestamptz
        FROM withheld"""  # noqa: S608  (constant SQL only)
        if withholding
        else ""
    )
    return f"""
    debit AS (
        UPDATE ledger_accounts SET balance = balance - :bet::bigint + :win::bigint{tax}
        WHERE id = :wallet::bigint AND balance - held >= :bet::bigint
          AND EXISTS (SELECT FROM {gate})
        RETURNING balance, held
    ),
    house AS (
        UPDATE ledger_accounts SET balance = balance + :bet::bigint - :win::bigint
        WHERE id = :house::bigint AND EXISTS (SELECT FROM debit)
        RETURNING id
    ),{withheld}
    moved AS (
        INSERT INTO ledger_transfers
            (reference, kind, debit_account_id, credit_account_id, amount, created_at)
        SELECT :reference::text || ':bet', 'bet', :wallet::bigint, :house::bigint,
               :bet::bigint, :now::timestamptz
        FROM debit
        UNION ALL
        SELECT :reference::text || ':payout', 'payout', :house::bigint, :wallet::bigint,
               :win::bigint, :now::timestamptz
        FROM debit WHERE :win::bigint > 0{withheld_row}
    )"""  # noqa: S608


def batch(gate: str) -> str:
    """CTEs `locked`, `moved` and `transfers`: transfers as if one after another, applied only
    when the CTE `gate` has a row. Accounts are locked in id order, each updated once with its
    net change guarded by its lowest point (ledger.net_changes): the caller rolls back when
    `moved` has fewer rows than accounts. A reference used twice aborts the statement.
    Parameters: batch_params' and :now."""
    return f"""
    locked AS (
        SELECT id FROM ledger_accounts
        WHERE id = ANY(:account_ids::bigint[]) AND EXISTS (SELECT FROM {gate})
        ORDER BY id
        FOR NO KEY UPDATE
    ), moved AS (
        UPDATE ledger_accounts a SET balance = a.balance + u.net
        FROM unnest(:account_ids::bigint[], :nets::bigint[], :dips::bigint[]) AS u(id, net, dip)
        WHERE a.id = u.id AND (SELECT count(*) FROM locked) = cardinality(:account_ids::bigint[])
          AND (u.dip >= 0 OR a.allow_negative OR a.balance - a.held >= -u.dip)
        RETURNING a.id
    ), transfers AS (
        INSERT INTO ledger_transfers
            (reference, kind, debit_account_id, credit_account_id, amount, created_at)
        SELECT t.*, :now::timestamptz
        FROM unnest(:references::text[], :kinds::text[], :debits::bigint[], :credits::bigint[],
                    :amounts::bigint[]) AS t
        WHERE EXISTS (SELECT FROM {gate})
    )"""  # noqa: S608


def batch_params(moves: list[ledger.TransferSpec]) -> dict[str, list[Any]]:
    for move in moves:
        ledger.check_amount(move.amount)
    changes = ledger.net_changes(moves)
    return {
        "account_ids": [account for account, _, _ in changes],
        "nets": [net for _, net, _ in changes],
        "dips": [dip for _, _, dip in changes],
        "references": [m.reference for m in moves],
        "kinds": [m.kind for m in moves],
        "debits": [m.debit for m in moves],
        "credits": [m.credit for m in moves],
        "amounts": [m.amount for m in moves],
    }


def open_empty_escrow(gate: str, prefix_param: str) -> str:
    """CTE `opened`: an empty escrow account coded `:<prefix_param>` plus the gate's id,
    RETURNING its id (parameters: the prefix, :now); a code already open aborts the statement."""
    return f"""
    opened AS (
        INSERT INTO ledger_accounts
            (code, kind, user_id, balance, held, allow_negative, created_at)
        SELECT :{prefix_param} || {gate}.id, 'escrow', NULL, 0, 0, false, :now FROM {gate}
        RETURNING id
    )"""  # noqa: S608


def into_new_account(gate: str) -> str:
    """CTEs `paid`, `opened` and `transfer`: one transfer into an escrow this statement opens
    holding it (a room's first stake), applied only when the gate has a row. `paid` is empty
    when the debit account cannot cover it (the caller refuses then); `opened` RETURNING the
    new id. Only the debit account is locked. Parameters: into_new_account_params' and :now."""
    return f"""
    paid AS (
        UPDATE ledger_accounts SET balance = balance - :move_amount
        WHERE id = :move_debit AND balance - held >= :move_amount
          AND EXISTS (SELECT FROM {gate})
        RETURNING id
    ), opened AS (
        INSERT INTO ledger_accounts
            (code, kind, user_id, balance, held, allow_negative, created_at)
        SELECT :new_account_code, 'escrow', NULL, :move_amount, 0, false, :now FROM {gate}
        RETURNING id
    ), transfer AS (
        INSERT INTO ledger_transfers
            (reference, kind, debit_account_id, credit_account_id, amount, created_at)
        SELECT :move_reference, :move_kind, :move_debit, opened.id, :move_amount, :now
        FROM opened
    )"""  # noqa: S608


def into_new_account_params(move: ledger.TransferSpec, new_account_code: str) -> dict[str, Any]:
    """into_new_account's parameters; `move.credit` is ignored (the statement opens it)."""
    ledger.check_amount(move.amount)
    return {
        "move_amount": move.amount,
        "move_debit": move.debit,
        "move_reference": move.reference,
        "move_kind": move.kind,
        "new_account_code": new_account_code,
    }


# The constraint a reference used again violates (migration 0001's naming convention).
TRANSFER_REFERENCE = "uq_ledger_transfers_reference"
_TRANSFERS_BY_REFERENCE = Sql(
    """
    SELECT reference, debit_account_id, credit_account_id, kind, amount
    FROM ledger_transfers WHERE reference = ANY(:references::text[])
    """
)


def reference_used(error: BaseException) -> bool:
    """Whether a statement failed because one of its transfers' references was taken."""
    return (
        isinstance(error, asyncpg.UniqueViolationError)
        and error.constraint_name == TRANSFER_REFERENCE
    )


async def already_done(connection: Connection, moves: list[ledger.TransferSpec]) -> bool:
    """After reference_used: True when every move was done before (ledger.same_operation),
    ReferenceReused when any reference names another or only some were done, False when none
    exists (another unique constraint failed)."""
    rows = await _TRANSFERS_BY_REFERENCE.fetch(connection, references=[m.reference for m in moves])
    found = {row["reference"]: row for row in rows}
    if not found:
        return False
    for move in moves:
        row = found.get(move.reference)
        if row is None:
            raise ledger.ReferenceReused(details={"reference": move.reference})
        ledger.same_operation(
            (row["debit_account_id"], row["credit_account_id"], row["kind"], row["amount"]),
            (move.debit, move.credit, move.kind, move.amount),
            move.reference,
        )
    return True


_ACCOUNT_BY_CODE = Sql("SELECT id FROM ledger_accounts WHERE code = :code")
_OPEN_ACCOUNT = Sql(
    """
    INSERT INTO ledger_accounts (code, kind, user_id, balance, held, allow_negative, created_at)
    VALUES (:code, :kind, :user_id, 0, 0, :allow_negative, :now)
    ON CONFLICT (code) DO NOTHING
    """
)


async def account_id(
    connection: Connection, code: str, kind: str, *, user_id: int | None = None
) -> int:
    """ledger.account_id on a bare connection: the account's id, opened on first use."""
    found = await find_account(connection, code)
    if found is not None:
        return found
    await _OPEN_ACCOUNT.execute(
        connection,
        code=code,
        kind=kind,
        user_id=user_id,
        allow_negative=kind in ledger.OUTWARD_KINDS,
        now=utcnow(),
    )
    created = await find_account(connection, code)
    assert created is not None
    return created


async def find_account(connection: Connection, code: str) -> int | None:
    """ledger.find_account on a bare connection."""
    found = await _ACCOUNT_BY_CODE.fetchval(connection, code=code)
    return None if found is None else int(found)
