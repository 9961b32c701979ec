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
