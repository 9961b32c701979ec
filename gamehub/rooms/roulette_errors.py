"""Rule errors of a Russian Roulette room: each has a stable `code` and a neutral `kind` that the
HTTP layer maps to a status (conflict → 409, forbidden → 403, invalid → 422)."""

from __future__ import annotations

# The base of every refusal is the room runtime's.
from gamehub.rooms.game import RuleError as RuleError


class StakeLimits(RuleError):
    code, kind = "stake_limits", "invalid"


class BetLimits(RuleError):
    code, kind = "bet_limits", "invalid"


class InvalidBetType(RuleError):
    code, kind = "invalid_bet_type", "invalid"


class NotAPlayer(RuleError):
    code, kind = "not_a_player", "forbidden"


class RoomFull(RuleError):
    code = "room_full"


class RoomClosed(RuleError):
    """The room is finished or cancelled: nothing more can happen in it."""

    code = "room_closed"


class AlreadySeated(RuleError):
    code = "already_seated"


class StakeMismatch(RuleError):
    code = "stake_mismatch"


class RoomNotPlaying(RuleError):
    code = "room_not_playing"


class NotYourTurn(RuleError):
    code = "not_your_turn"


class BetsClosed(RuleError):
    code = "bets_closed"


class DuplicateBet(RuleError):
    code = "duplicate_bet"
