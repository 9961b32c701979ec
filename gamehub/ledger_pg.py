"""The ledger's one-statement forms for PostgreSQL hot paths (see gamehub/pg.py): CTEs that a
game's statement includes, so that its money moves in the same statement as its own rows and
PostgreSQL applies both atomically, without BEGIN/COMMIT round trips.

bet_and_payout: a bet and its payout as if one after the other. Two immutable transfer rows
named by the caller's reference, the wallet's balance debited only if it covers the bet (before
the win is paid, as the one-by-one order would require), and the house's balance credited with
the difference. The caller's statement supplies the gate, a CTE that has a
row only when the move may go ahead, and writes its own rows only `FROM debit`, so that nothing
at all is written when the wallet cannot pay. Lock order: the gate's row (the caller's), then the
wallet, then the house sub-account; house sub-accounts are only ever locked last, so no cycle
can form with other money paths.

batch: any batch of transfers (room commands), inside the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from gamehub import ledger
from gamehub.db import utcnow
from gamehub.pg import Connection, Sql


def bet_and_payout(gate: str) -> str:
    """CTEs `debit` (RETURNING the wallet's balance and held), `house` and `moved`.

    Parameters: :wallet, :house (account ids), :bet (> 0), :win (>= 0), :reference (the
    transfers are `<reference>:bet` and `<reference>:payout`) and :now.
    """
    # Only constant text is spliced in (the gate's CTE name); values travel as parameters.
    return f"""
    debit AS (
        UPDATE ledger_accounts SET balance = balance - :bet::bigint + :win::bigint
        WHERE id = :wallet::bigint AND balance - held >= :bet::bigint
          AND EXISTS (SELECT FROM {gate})
        RETURNING balance, held
    ),
    house AS (
        UPDATE ledger_accounts SET balance = balance + :bet::bigint - :win::bigint
        WHERE id = :house::bigint AND EXISTS (SELECT FROM debit)
        RETURNING id
    ),
    moved AS (
        INSERT INTO ledger_transfers
            (reference, kind, debit_account_id, credit_account_id, amount, created_at)
        SELECT :reference::text || ':bet', 'bet', :wallet::bigint, :house::bigint,
               :bet::bigint, :now::timestamptz
        FROM debit
        UNION ALL
        SELECT :reference::text || ':payout', 'payout', :house::bigint, :wallet::bigint,
               :win::bigint, :now::timestamptz
        FROM debit WHERE :win::bigint > 0
    )"""  # noqa: S608


def batch(gate: str) -> str:
    """CTEs `locked`, `moved` and `transfers`: several transfers as if one after another, as
    part of one statement, applied only when the CTE named `gate` has a row. The accounts are
    locked in id order first; each is updated once with its net change, guarded by the lowest
    point its balance reaches along the batch (ledger.net_changes), so that `moved` returns
    exactly the accounts that could pay: the caller compares its count with the accounts given
    and rolls back when fewer paid. The transfer rows are inserted plainly: a reference used
    twice aborts the statement. Parameters are those of batch_params, and :now."""
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
