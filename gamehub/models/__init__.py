"""Every table, grouped by area; importing this package registers them all on Base.metadata."""

from gamehub.models.audit import AuditEntry
from gamehub.models.auth import RefreshToken, TokenFamily, User
from gamehub.models.fairness import SeedPair
from gamehub.models.games import (
    BetHistory,
    Game,
    GameSession,
    Multiplayer,
    RussianRoulette,
    SpinAndWin,
)
from gamehub.models.idempotency import IdempotencyRecord
from gamehub.models.ledger import Account, Hold, Transfer
from gamehub.models.operators import Adjustment, Operator, Suspension
from gamehub.models.payments import Transaction
from gamehub.models.responsible import DepositLimit
from gamehub.models.rooms import ActiveSeat, RoomEvent

__all__ = [
    "Account",
    "ActiveSeat",
    "Adjustment",
    "AuditEntry",
    "BetHistory",
    "DepositLimit",
    "Game",
    "GameSession",
    "Hold",
    "IdempotencyRecord",
    "Multiplayer",
    "Operator",
    "RefreshToken",
    "RoomEvent",
    "RussianRoulette",
    "SeedPair",
    "SpinAndWin",
    "Suspension",
    "TokenFamily",
    "Transaction",
    "Transfer",
    "User",
]
