"""The wallet: deposits, withdrawals, transactions, M-Pesa callbacks and reconciliation."""
