"""The rules of Russian Roulette as a pure state machine: `apply(state, command)` returns the next
state, its events and its money postings. No IO, no clock, no randomness (the time and the server
seed arrive in the commands), so every game can be replayed exactly.

Each room has one escrow (roulette_types.POSTING_ROUTES: what moves in and out of it). A
command's postings are ordered so that the escrow never goes below zero, and a closed room's
escrow is exactly zero; hence, for every closed room:

    stakes + bets == payouts + refunds + bet_payouts + bet_refunds + house_gain
    house_gain    == rake + house_win - house_cover
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Literal, NamedTuple

from gamehub.fairness import commitment, roulette_client_seed, roulette_draw
from gamehub.rooms.odds import BET_TYPES, CHAMBERS, chambers_left_before, odds, payout
from gamehub.rooms.roulette_errors import (
    AlreadySeated,
    BetLimits,
    BetsClosed,
    DuplicateBet,
    InvalidBetType,
    NotAPlayer,
    NotYourTurn,
    RoomClosed,
    RoomFull,
    RoomNotPlaying,
    RuleError,
    StakeLimits,
    StakeMismatch,
)
from gamehub.rooms.roulette_state import (
    Player,
    RoomState,
    SideBet,
    from_dict,
    new_room,
    next_deadline,
    room_view,
    to_dict,
)
from gamehub.rooms.roulette_types import (
    BetOutcome,
    BetPlaced,
    BetsSettled,
    Command,
    Event,
    Join,
    Leave,
    MatchEnded,
    MatchStarted,
    PlaceBet,
    PlayerJoined,
    PlayerLeft,
    Posting,
    PostingKind,
    Pull,
    RoomCancelled,
    RouletteConfig,
    SettledBet,
    TriggerPulled,
    Turn,
    TurnTimeout,
    WaitingTimeout,
    as_utc,
)
from gamehub.taxes import WITHHOLDING_SUFFIX, withholding_on

__all__ = [
    "AlreadySeated",
    "BetLimits",
    "BetOutcome",
    "BetPlaced",
    "BetsClosed",
    "BetsSettled",
    "Command",
    "DuplicateBet",
    "Event",
    "InvalidBetType",
    "Join",
    "Leave",
    "MatchEnded",
    "MatchStarted",
    "NotAPlayer",
    "NotYourTurn",
    "PlaceBet",
    "PlayerJoined",
    "PlayerLeft",
    "Posting",
    "Pull",
    "RoomCancelled",
    "RoomClosed",
    "RoomFull",
    "RoomNotPlaying",
    "RoomState",
    "RouletteConfig",
    "RuleError",
    "SettledBet",
    "StakeLimits",
    "StakeMismatch",
    "Transition",
    "TriggerPulled",
    "Turn",
    "TurnTimeout",
    "WaitingTimeout",
    "apply",
    "from_dict",
    "new_room",
    "next_deadline",
    "room_view",
    "to_dict",
]

SEATS = 2
_SERVER_SEED = re.compile(r"[0-9a-f]{64}")


class Transition(NamedTuple):
    """One command's result: the next state, what to publish, the money to move, and the state
    it started from."""

    state: RoomState
    events: tuple[Event, ...]
    postings: tuple[Posting, ...]
    before: RoomState


class _Step:
    """Collects one command's events and postings and keeps the escrow balance they imply."""

    def __init__(self, state: RoomState) -> None:
        self.before = state
        self.room_id = state.room_id
        self.escrow = state.escrow
        self.events: list[Event] = []
        self.postings: list[Posting] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)

    def post(self, kind: PostingKind, user_id: int | None, amount: int, suffix: str) -> None:
        if amount == 0:
            return  # the ledger only moves positive amounts; a zero rake moves nothing
        posting = Posting(kind, user_id, amount, f"room:{self.room_id}:{suffix}")
        self.escrow += posting.escrow_delta()
        if self.escrow < 0:
            raise AssertionError(f"escrow of room {self.room_id} would go negative")
        self.postings.append(posting)

    def done(self, state: RoomState) -> Transition:
        if state.is_closed and self.escrow != 0:
            raise AssertionError(f"closed room {self.room_id} left {self.escrow} in escrow")
        return Transition(
            replace(state, escrow=self.escrow),
            tuple(self.events),
            tuple(self.postings),
            self.before,
        )


def apply(state: RoomState, command: Command) -> Transition:
    """Apply one command. Raises a RuleError (state untouched) when the rules refuse it."""
    now = as_utc(command.now)
    if isinstance(command, Join):
        return _sit_down(state, command, now)
    if isinstance(command, PlaceBet):
        return _place_bet(state, command)
    if isinstance(command, Pull):
        return _pull(state, command, now)
    if isinstance(command, TurnTimeout):
        return _turn_timeout(state, now)
    if isinstance(command, WaitingTimeout):
        return _waiting_timeout(state, now)
    return _leave(state, command, now)


def _unchanged(state: RoomState) -> Transition:
    return Transition(state, (), (), state)


def _sit_down(state: RoomState, command: Join, now: datetime) -> Transition:
    if state.is_closed:
        raise RoomClosed("The room is closed.")
    if state.seat_of(command.user_id) is not None:
        raise AlreadySeated("You are already seated in this room.")
    if state.status != "waiting" or len(state.players) >= SEATS:
        raise RoomFull("The room is full.")
    if command.stake != state.stake:
        raise StakeMismatch("The room plays for another stake.", room_stake=state.stake)
    seat = len(state.players)
    starts_match = seat == SEATS - 1
    if starts_match and (
        command.server_seed is None or not _SERVER_SEED.fullmatch(command.server_seed)
    ):
        # A caller bug, not a player's mistake: the match cannot start without a fair seed.
        raise ValueError("the join that starts a match needs a 64-hex server seed")

    step = _Step(state)
    step.post("stake", command.user_id, state.stake, f"stake:{command.user_id}")
    step.emit(PlayerJoined(command.user_id, command.username, seat, state.stake))
    player = Player(command.user_id, command.username, command.client_seed)
    state = replace(state, players=(*state.players, player))
    if not starts_match:
        waiting_deadline = now + timedelta(seconds=state.config.waiting_timeout_s)
        return step.done(replace(state, waiting_deadline=waiting_deadline))
    assert command.server_seed is not None
    return _start_match(step, state, command.server_seed, now)


def _start_match(step: _Step, state: RoomState, server_seed: str, now: datetime) -> Transition:
    client_seed = roulette_client_seed(state.players[0].client_seed, state.players[1].client_seed)
    # nonce = the room id, so that anyone can recompute the draw from the revealed seed.
    draw = roulette_draw(server_seed, client_seed, state.room_id)
    deadline = now + timedelta(seconds=state.config.turn_timeout_s)
    state = replace(
        state,
        status="playing",
        waiting_deadline=None,
        server_seed=server_seed,
        server_seed_hash=commitment(server_seed),
        client_seed=client_seed,
        bullet=draw.bullet,
        first_shooter_seat=draw.first_shooter_seat,
        turn_seat=draw.first_shooter_seat,
        turn_deadline=deadline,
    )
    shooter = state.players[draw.first_shooter_seat].user_id
    assert state.server_seed_hash is not None
    step.emit(
        MatchStarted(state.server_seed_hash, shooter, client_seed, state.room_id, 2 * state.stake)
    )
    step.emit(Turn(shooter, 1, deadline))
    return step.done(state)


def _place_bet(state: RoomState, command: PlaceBet) -> Transition:
    config = state.config
    # Validation before state, as the contract asks: a malformed bet is refused whatever the room.
    if command.bet_type not in BET_TYPES:
        raise InvalidBetType("bet_type must be survival or elimination.")
    if not config.min_side_bet <= command.amount <= config.max_side_bet:
        raise BetLimits(
            "The bet is outside the side bet limits.",
            min_bet=config.min_side_bet,
            max_bet=config.max_side_bet,
        )
    if state.status != "playing":
        raise RoomNotPlaying("Side bets are taken only while the match is playing.")
    pull_number = state.pull_number + 1
    chambers_left = chambers_left_before(pull_number)
    if chambers_left < 2:
        # With one chamber left the outcome is certain: nothing to bet on.
        raise BetsClosed("Side bets are closed: the last chamber holds the bullet.")
    if any(bet.bet_id == command.bet_id for bet in state.pending_bets):
        raise DuplicateBet("A bet with this id is already placed.")

    edge = config.side_bet_edge_percent
    bet = SideBet(
        bet_id=command.bet_id,
        user_id=command.user_id,
        bet_type=command.bet_type,
        amount=command.amount,
        pull_number=pull_number,
        odds=odds(command.bet_type, chambers_left, edge),
        potential_payout=payout(command.amount, command.bet_type, chambers_left, edge),
    )
    step = _Step(state)
    step.post("bet", bet.user_id, bet.amount, f"bet:{bet.bet_id}")
    step.emit(
        BetPlaced(
            bet.bet_id,
            bet.user_id,
            bet.bet_type,
            bet.amount,
            bet.pull_number,
            bet.odds,
            bet.potential_payout,
        )
    )
    return step.done(replace(state, pending_bets=(*state.pending_bets, bet)))


def _pull(state: RoomState, command: Pull, now: datetime) -> Transition:
    if command.sent_at and state.status == "playing" and state.turn_deadline is not None:
        turn_began = state.turn_deadline - timedelta(seconds=state.config.turn_timeout_s)
        if command.sent_at < turn_began:
            raise NotYourTurn("It was not your turn when you pulled.")
    seat = state.seat_of(command.user_id)
    if seat is None:
        raise NotAPlayer("Only the room's players pull the trigger.")
    if state.status != "playing":
        raise RoomNotPlaying("The match is not playing.")
    if seat != state.turn_seat:
        raise NotYourTurn("It is not your turn.")
    return _fire(state, now, auto=False)


def _turn_timeout(state: RoomState, now: datetime) -> Transition:
    # A timer armed for an earlier turn arrives stale: only a passed, current deadline counts.
    if state.status != "playing" or state.turn_deadline is None or now < state.turn_deadline:
        return _unchanged(state)
    return _fire(state, now, auto=True)


def _fire(state: RoomState, now: datetime, *, auto: bool) -> Transition:
    """The shooter pulls: chamber p - 1 fires or clicks, side bets settle, then turn or end."""
    assert state.turn_seat is not None and state.bullet is not None
    step = _Step(state)
    pull_number = state.pull_number + 1
    bang = pull_number - 1 == state.bullet
    shooter_seat = state.turn_seat
    shooter = state.players[shooter_seat].user_id
    step.emit(TriggerPulled(shooter, "bang" if bang else "click", pull_number, auto))
    _settle_bets(step, state, bang, now)
    state = replace(state, pull_number=pull_number, pending_bets=())
    if bang:
        return _end_match(step, state, now, loser_seat=shooter_seat, reason="bang")
    if pull_number >= CHAMBERS:
        raise AssertionError("the bullet sits in one of the six chambers")
    next_seat = 1 - shooter_seat
    deadline = now + timedelta(seconds=state.config.turn_timeout_s)
    step.emit(Turn(state.players[next_seat].user_id, pull_number + 1, deadline))
    return step.done(replace(state, turn_seat=next_seat, turn_deadline=deadline))


def _withhold(
    step: _Step, state: RoomState, now: datetime, user_id: int, paid: int, stake: int, ref: str
) -> int:
    """Post the withholding tax on a payout's winnings (`paid` - `stake`) at the rate in force
    `now`, right after the payout; the tax (0: none)."""
    tax = withholding_on(paid, stake, state.config.winnings_tax_at(now))
    step.post("withholding", user_id, tax, f"{ref}{WITHHOLDING_SUFFIX}")
    return tax


def _settle_bets(step: _Step, state: RoomState, bang: bool | None, now: datetime) -> None:
    """Settle every pending bet on the pull just made (`bang`), or refund them (None: no pull)."""
    if not state.pending_bets:
        return
    settled: list[SettledBet] = []
    for bet in state.pending_bets:
        ref = f"bet:{bet.bet_id}"
        if bang is None:
            step.post("bet_refund", bet.user_id, bet.amount, f"{ref}:refund")
            settled.append(_settled(bet, bet.amount, "refunded"))
        elif (bet.bet_type == "elimination") == bang:
            # The house tops the escrow up first so that the payout never overdraws it.
            step.post(
                "house_cover", None, max(bet.potential_payout - bet.amount, 0), f"{ref}:cover"
            )
            step.post("bet_payout", bet.user_id, bet.potential_payout, f"{ref}:payout")
            tax = _withhold(
                step, state, now, bet.user_id, bet.potential_payout, bet.amount, f"{ref}:payout"
            )
            step.post("house_win", None, max(bet.amount - bet.potential_payout, 0), f"{ref}:house")
            settled.append(_settled(bet, bet.potential_payout, "won", tax))
        else:
            step.post("house_win", None, bet.amount, f"{ref}:house")
            settled.append(_settled(bet, 0, "lost"))
    step.emit(BetsSettled(state.pending_bets[0].pull_number, tuple(settled)))


def _settled(bet: SideBet, paid: int, outcome: BetOutcome, tax: int = 0) -> SettledBet:
    return SettledBet(bet.bet_id, bet.user_id, bet.bet_type, bet.amount, paid, outcome, tax)


def _end_match(
    step: _Step,
    state: RoomState,
    now: datetime,
    *,
    loser_seat: int,
    reason: Literal["bang", "forfeit"],
) -> Transition:
    winner_seat = 1 - loser_seat
    pot = state.stake * SEATS
    rake = pot * state.config.rake_percent // 100
    winner = state.players[winner_seat].user_id
    loser = state.players[loser_seat].user_id
    step.post("payout", winner, pot - rake, "payout")
    tax = _withhold(step, state, now, winner, pot - rake, state.stake, "payout")
    step.post("rake", None, rake, "rake")
    assert state.server_seed is not None
    step.emit(MatchEnded(winner, loser, pot - rake, rake, state.server_seed, reason, tax))
    players = tuple(
        replace(player, alive=False) if seat == loser_seat else player
        for seat, player in enumerate(state.players)
    )
    return step.done(
        replace(
            state,
            status="finished",
            players=players,
            winner_seat=winner_seat,
            turn_seat=None,
            turn_deadline=None,
        )
    )


def _leave(state: RoomState, command: Leave, now: datetime) -> Transition:
    seat = state.seat_of(command.user_id)
    if seat is None:
        raise NotAPlayer("You are not seated in this room.")
    if state.is_closed:
        raise RoomClosed("The room is closed.")
    step = _Step(state)
    if state.status == "playing":
        # Leaving a match forfeits it: the opponent wins as on a bang; the pull bets were
        # waiting for never happens, so they are refunded.
        step.emit(PlayerLeft(command.user_id, seat, refunded=None, forfeited=state.stake))
        _settle_bets(step, state, None, now)
        state = replace(state, pending_bets=())
        return _end_match(step, state, now, loser_seat=seat, reason="forfeit")

    step.post("refund", command.user_id, state.stake, f"refund:{command.user_id}")
    step.emit(PlayerLeft(command.user_id, seat, refunded=state.stake, forfeited=None))
    remaining = tuple(player for player in state.players if player.user_id != command.user_id)
    state = replace(state, players=remaining)
    if remaining:
        return step.done(state)
    step.emit(RoomCancelled("left"))
    return step.done(replace(state, status="cancelled", waiting_deadline=None))


def _waiting_timeout(state: RoomState, now: datetime) -> Transition:
    if state.status != "waiting" or state.waiting_deadline is None or now < state.waiting_deadline:
        return _unchanged(state)
    step = _Step(state)
    for player in state.players:
        step.post("refund", player.user_id, state.stake, f"refund:{player.user_id}")
    step.emit(RoomCancelled("waiting_timeout"))
    return step.done(replace(state, status="cancelled", waiting_deadline=None))
