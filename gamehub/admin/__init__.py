"""The back office: operators with a second factor, player support, money corrections, the
payments queue and the append-only audit trail (CONTRACT.md, "Operators")."""
