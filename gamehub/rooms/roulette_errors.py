"""Rule errors of a Russian Roulette room, each with its stable `code` (`kind`: see RuleError)."""

from __future__ import annotations

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
