"""The ledger's one-statement form for PostgreSQL hot paths (see gamehub/pg.py).

A game move that takes a bet and pays its win can be written as one statement of data-modifying
CTEs, which PostgreSQL runs atomically without BEGIN/COMMIT round trips. The CTEs here are that
move's ledger part, the same transfers `ledger.transfer_many` makes for the bet and the payout:
two immutable transfer rows named by the caller's reference, the wallet's balance debited only
if it covers the bet (before the win is paid, as the one-by-one order would require), and the
house's balance credited with the difference. The caller's statement supplies the gate, a CTE
that has a row only when the move may go ahead, and writes its own rows only `FROM debit`, so
that nothing at all is written when the wallet cannot pay.

Lock order: the gate's row (the caller's), then the wallet, then the house sub-account; house
sub-accounts are only ever locked last, so no cycle can form with other money paths.
"""

from __future__ import annotations

from gamehub import ledger
from gamehub.db import utcnow
from gamehub.errors import InsufficientFunds
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


# The batch form of ledger.transfer_many, on a bare connection inside the caller's transaction.
_INSERT_TRANSFERS = Sql(
    """
    INSERT INTO ledger_transfers
        (reference, kind, debit_account_id, credit_account_id, amount, created_at)
    SELECT * FROM unnest(:references::text[], :kinds::text[], :debits::bigint[],
                         :credits::bigint[], :amounts::bigint[], :created::timestamptz[])
    ON CONFLICT (reference) DO NOTHING
    RETURNING reference
    """
)
_EXISTING_TRANSFER = Sql(
    """
    SELECT debit_account_id, credit_account_id, amount FROM ledger_transfers
    WHERE reference = :reference
    """
)
_DEBIT_NET = Sql(
    """
    UPDATE ledger_accounts SET balance = balance + :net
    WHERE id = :account AND (allow_negative OR balance - held >= :dip)
    RETURNING id
    """
)
_CREDIT_NET = Sql(
    "UPDATE ledger_accounts SET balance = balance + :net WHERE id = :account RETURNING id"
)
_ACCOUNT_BY_CODE = Sql("SELECT id FROM ledger_accounts WHERE code = :code")
_OPEN_ACCOUNT = Sql(
    """
    INSERT INTO ledger_accounts (code, kind, user_id, balance, held, allow_negative, created_at)
    VALUES (:code, :kind, :user_id, 0, 0, :allow_negative, :now)
    ON CONFLICT (code) DO NOTHING
    """
)


async def transfer_many(connection: Connection, specs: list[ledger.TransferSpec]) -> bool:
    """ledger.transfer_many on a bare connection: one insert, then one update per account."""
    if not specs:
        return True
    for spec in specs:
        if isinstance(spec.amount, bool) or spec.amount <= 0:
            raise ValueError(f"a ledger amount is a positive integer of cents, got {spec.amount!r}")
    now = utcnow()
    rows = await _INSERT_TRANSFERS.fetch(
        connection,
        references=[s.reference for s in specs],
        kinds=[s.kind for s in specs],
        debits=[s.debit for s in specs],
        credits=[s.credit for s in specs],
        amounts=[s.amount for s in specs],
        created=[now] * len(specs),
    )
    inserted = {row[0] for row in rows}
    if len(inserted) != len(specs):
        existing = await _EXISTING_TRANSFER.fetchrow(connection, reference=specs[0].reference)
        assert existing is not None
        ledger.batch_was_applied(specs, inserted, (existing[0], existing[1], existing[2]))
        return False
    # Rows are locked in id order, as in ledger.transfer_many.
    for account, net, dip in ledger.net_changes(specs):
        if dip < 0:
            changed = await _DEBIT_NET.fetchval(connection, net=net, account=account, dip=-dip)
        else:
            changed = await _CREDIT_NET.fetchval(connection, net=net, account=account)
        if changed is None:
            raise InsufficientFunds()
    return True


async def account_id(
    connection: Connection, code: str, kind: str, *, user_id: int | None = None
) -> int:
    """ledger.account_id on a bare connection: the account's id, opened on first use."""
    found = await _ACCOUNT_BY_CODE.fetchval(connection, code=code)
    if found is not None:
        return int(found)
    await _OPEN_ACCOUNT.execute(
        connection,
        code=code,
        kind=kind,
        user_id=user_id,
        allow_negative=kind in ledger.OUTWARD_KINDS,
        now=utcnow(),
    )
    created = await _ACCOUNT_BY_CODE.fetchval(connection, code=code)
    assert created is not None
    return int(created)
