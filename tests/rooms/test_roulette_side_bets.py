"""Survival / elimination side bets: pricing at every chamber count, limits, when bets close,
settlement after their pull, refunds on forfeit, and where every cent goes."""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from itertools import accumulate

import pytest

from gamehub.rooms.odds import BetType, chambers_left_before, odds, payout
from gamehub.rooms.roulette import (
    BetLimits,
    BetOutcome,
    BetPlaced,
    BetsClosed,
    BetsSettled,
    DuplicateBet,
    InvalidBetType,
    Leave,
    PlaceBet,
    PlayerLeft,
    Pull,
    RoomNotPlaying,
    RouletteConfig,
    SettledBet,
    TurnTimeout,
    WaitingTimeout,
    apply,
    room_view,
)
from tests.rooms.roulette_helpers import (
    ALICE,
    BOB,
    CAROL,
    ROOM_ID,
    Game,
    at,
    escrow_balance,
    house_gain,
    money_in,
    money_out,
    playing_game,
    totals,
    types,
    waiting_game,
)

EDGE = 5
BET = 2_345  # an amount that makes the flooring visible


def expected_multiplier(bet_type: BetType, k: int, edge: int = EDGE) -> Fraction:
    """RULES.md, written out independently of the code under test."""
    if bet_type == "elimination":
        return Fraction(k * (100 - edge), 100)
    return Fraction(k * (100 - edge), 100 * (k - 1))


def expected_odds(bet_type: BetType, k: int, edge: int = EDGE) -> str:
    m = expected_multiplier(bet_type, k, edge)
    exact = Decimal(m.numerator) / Decimal(m.denominator)
    return str(exact.quantize(Decimal("0.0001"), rounding=ROUND_DOWN))


def expected_payout(amount: int, bet_type: BetType, k: int, edge: int = EDGE) -> int:
    return math.floor(amount * expected_multiplier(bet_type, k, edge))


def shooter(game: Game) -> int:
    user_id = room_view(game.state)["turn_user_id"]
    assert isinstance(user_id, int)
    return user_id


# --- Pricing


@pytest.mark.parametrize(
    ("k", "elimination", "survival"),
    [
        (6, "5.7000", "1.1400"),
        (5, "4.7500", "1.1875"),
        (4, "3.8000", "1.2666"),  # 1.26666… rounded down, not up
        (3, "2.8500", "1.4250"),
        (2, "1.9000", "1.9000"),
    ],
)
def test_odds_strings(k: int, elimination: str, survival: str) -> None:
    assert odds("elimination", k, EDGE) == elimination == expected_odds("elimination", k)
    assert odds("survival", k, EDGE) == survival == expected_odds("survival", k)


@pytest.mark.parametrize("edge", [0, 5, 13, 50])
@pytest.mark.parametrize("k", range(2, 7))
@pytest.mark.parametrize("bet_type", ["survival", "elimination"])
def test_payouts_floor_the_exact_multiplier(bet_type: BetType, k: int, edge: int) -> None:
    for amount in (1_000, 1_001, BET, 99_999, 1_000_000):
        assert payout(amount, bet_type, k, edge) == expected_payout(amount, bet_type, k, edge)
    assert odds(bet_type, k, edge) == expected_odds(bet_type, k, edge)


def test_pricing_refuses_a_certain_outcome() -> None:
    with pytest.raises(ValueError):
        odds("survival", 1, EDGE)
    assert [chambers_left_before(p) for p in range(1, 7)] == [6, 5, 4, 3, 2, 1]
    with pytest.raises(ValueError):
        chambers_left_before(7)


# --- Placing


def test_bet_limits_and_type_are_checked_before_the_room_state() -> None:
    config = RouletteConfig()
    game = waiting_game()  # bets are not open here, yet a malformed bet hears about its form
    with pytest.raises(BetLimits) as low:
        apply(game.state, PlaceBet(1, CAROL, "survival", config.min_side_bet - 1, at(1)))
    assert (low.value.code, low.value.kind) == ("bet_limits", "invalid")
    assert low.value.details == {"min_bet": 1_000, "max_bet": 1_000_000}
    with pytest.raises(InvalidBetType):
        apply(game.state, PlaceBet(1, CAROL, "jam", 5_000, at(1)))  # type: ignore[arg-type]
    with pytest.raises(RoomNotPlaying):
        apply(game.state, PlaceBet(1, CAROL, "survival", 5_000, at(1)))

    game = playing_game(5)
    with pytest.raises(BetLimits):
        apply(game.state, PlaceBet(1, CAROL, "survival", config.max_side_bet + 1, at(2)))
    for amount in (config.min_side_bet, config.max_side_bet):
        apply(game.state, PlaceBet(1, CAROL, "survival", amount, at(2)))


def test_players_and_spectators_may_bet_and_each_bet_is_escrowed() -> None:
    game = playing_game(5)
    for bet_id, user_id in ((1, ALICE), (2, BOB), (3, CAROL)):
        result = game.do(PlaceBet(bet_id, user_id, "elimination", BET, at(2)))
        assert [(p.kind, p.user_id, p.amount, p.reference) for p in result.postings] == [
            ("bet", user_id, BET, f"room:{ROOM_ID}:bet:{bet_id}")
        ]
    assert game.state.escrow == 10_000 + 3 * BET
    with pytest.raises(DuplicateBet):
        apply(game.state, PlaceBet(2, CAROL, "survival", BET, at(2)))


def test_bets_close_when_one_chamber_is_left() -> None:
    game = playing_game(5, first_seat=0)
    for pull_number in range(1, 6):
        game.do(PlaceBet(pull_number, CAROL, "survival", BET, at(pull_number)))
        game.do(Pull(shooter(game), at(pull_number)))
    assert room_view(game.state)["chambers_left"] == 1
    with pytest.raises(BetsClosed) as closed:
        apply(game.state, PlaceBet(99, CAROL, "elimination", BET, at(9)))
    assert (closed.value.code, closed.value.kind) == ("bets_closed", "conflict")
    game.do(Pull(shooter(game), at(10)))
    assert types(game.events[-2:]) == ["trigger_pulled", "match_ended"]  # no bets on pull 6
    with pytest.raises(RoomNotPlaying):
        apply(game.state, PlaceBet(100, CAROL, "elimination", BET, at(11)))


def test_no_bets_on_a_cancelled_room() -> None:
    game = waiting_game()
    game.do(WaitingTimeout(at(500)))
    with pytest.raises(RoomNotPlaying):
        apply(game.state, PlaceBet(1, CAROL, "survival", BET, at(501)))


# --- Settling


@pytest.mark.parametrize("pull_number", range(1, 6))
def test_quotes_and_settlement_at_every_pull(pull_number: int) -> None:
    """Bullet in chamber p - 1: survival wins on every earlier pull, elimination on pull p."""
    bullet = pull_number - 1
    game = playing_game(bullet, first_seat=1)
    for p in range(1, pull_number + 1):
        k = 7 - p
        bets: list[tuple[int, int, BetType]] = [
            (10 * p, CAROL, "survival"),
            (10 * p + 1, CAROL, "elimination"),
            (10 * p + 2, ALICE, "survival"),
        ]
        for bet_id, user_id, bet_type in bets:
            placed = game.do(PlaceBet(bet_id, user_id, bet_type, BET, at(p))).events
            assert placed == (
                BetPlaced(
                    bet_id,
                    user_id,
                    bet_type,
                    BET,
                    p,
                    expected_odds(bet_type, k),
                    expected_payout(BET, bet_type, k),
                ),
            )
        result = game.do(Pull(shooter(game), at(p)))
        bang = p == pull_number
        assert types(result.events) == [
            "trigger_pulled",
            "bets_settled",
            "match_ended" if bang else "turn",
        ]
        survival_paid = 0 if bang else expected_payout(BET, "survival", k)
        elimination_paid = expected_payout(BET, "elimination", k) if bang else 0
        won: BetOutcome = "lost" if bang else "won"
        lost: BetOutcome = "won" if bang else "lost"
        assert result.events[1] == BetsSettled(
            p,
            (
                SettledBet(10 * p, CAROL, "survival", BET, survival_paid, won),
                SettledBet(10 * p + 1, CAROL, "elimination", BET, elimination_paid, lost),
                SettledBet(10 * p + 2, ALICE, "survival", BET, survival_paid, won),
            ),
        )
        assert game.state.pending_bets == ()
    assert game.state.status == "finished"
    assert_balanced(game)


def test_a_bet_applies_to_the_next_pull_only() -> None:
    game = playing_game(2, first_seat=0)
    game.do(Pull(ALICE, at(1)))  # pull 1 clicks with no bets: no bets_settled
    assert types(game.events[-2:]) == ["trigger_pulled", "turn"]
    placed = game.do(PlaceBet(1, CAROL, "elimination", BET, at(2))).events[0]
    assert isinstance(placed, BetPlaced) and placed.pull_number == 2
    result = game.do(Pull(BOB, at(3)))  # pull 2 clicks: the elimination bet loses
    assert result.events[1] == BetsSettled(
        2, (SettledBet(1, CAROL, "elimination", BET, 0, "lost"),)
    )
    result = game.do(Pull(ALICE, at(4)))  # pull 3 bangs; the settled bet is not settled again
    assert types(result.events) == ["trigger_pulled", "match_ended"]
    assert_balanced(game)


def test_auto_pull_settles_bets_too() -> None:
    game = playing_game(0, first_seat=0)
    game.do(PlaceBet(1, BOB, "elimination", BET, at(5)))
    result = game.do(TurnTimeout(at(21)))
    assert types(result.events) == ["trigger_pulled", "bets_settled", "match_ended"]
    paid = expected_payout(BET, "elimination", 6)
    assert result.events[1] == BetsSettled(
        1, (SettledBet(1, BOB, "elimination", BET, paid, "won"),)
    )
    assert_balanced(game)


def test_winning_bet_is_topped_up_by_the_house_before_it_is_paid() -> None:
    game = playing_game(0, first_seat=0)
    game.do(PlaceBet(1, CAROL, "elimination", BET, at(1)))
    game.do(PlaceBet(2, ALICE, "survival", BET, at(1)))
    result = game.do(Pull(ALICE, at(2)))
    paid = expected_payout(BET, "elimination", 6)
    assert [(p.kind, p.user_id, p.amount, p.reference) for p in result.postings] == [
        ("house_cover", None, paid - BET, f"room:{ROOM_ID}:bet:1:cover"),
        ("bet_payout", CAROL, paid, f"room:{ROOM_ID}:bet:1:payout"),
        ("house_win", None, BET, f"room:{ROOM_ID}:bet:2:house"),
        ("payout", BOB, 9_500, f"room:{ROOM_ID}:payout"),
        ("rake", None, 500, f"room:{ROOM_ID}:rake"),
    ]
    assert_balanced(game)


def test_a_winning_bet_that_pays_less_than_its_stake_leaves_the_rest_to_the_house() -> None:
    # With a 50% edge, survival at 6 chambers pays 0.6x: the house keeps 40% of the stake.
    game = playing_game(5, first_seat=0, config=RouletteConfig(side_bet_edge_percent=50))
    game.do(PlaceBet(1, CAROL, "survival", 10_000, at(1)))
    result = game.do(Pull(ALICE, at(2)))
    assert [(p.kind, p.amount) for p in result.postings] == [
        ("bet_payout", 6_000),
        ("house_win", 4_000),
    ]
    assert result.events[1] == BetsSettled(
        1, (SettledBet(1, CAROL, "survival", 10_000, 6_000, "won"),)
    )


def test_forfeit_refunds_the_bets_on_the_pull_that_never_happens() -> None:
    game = playing_game(4, first_seat=0)
    game.do(Pull(ALICE, at(1)))
    game.do(PlaceBet(1, CAROL, "survival", BET, at(2)))
    game.do(PlaceBet(2, ALICE, "elimination", 3_000, at(2)))
    result = game.do(Leave(BOB, at(3)))
    assert types(result.events) == ["player_left", "bets_settled", "match_ended"]
    assert result.events[0] == PlayerLeft(BOB, 1, refunded=None, forfeited=10_000 // 2)
    assert result.events[1] == BetsSettled(
        2,
        (
            SettledBet(1, CAROL, "survival", BET, BET, "refunded"),
            SettledBet(2, ALICE, "elimination", 3_000, 3_000, "refunded"),
        ),
    )
    assert [(p.kind, p.user_id, p.amount) for p in result.postings] == [
        ("bet_refund", CAROL, BET),
        ("bet_refund", ALICE, 3_000),
        ("payout", ALICE, 9_500),
        ("rake", None, 500),
    ]
    assert_balanced(game)
    assert house_gain(game.postings) == 500


def assert_balanced(game: Game) -> None:
    """Escrow never dips below zero, ends empty, and the house gains exactly
    rake + losing bets - (winning payouts - their stakes)."""
    assert game.state.status in ("finished", "cancelled")
    assert min(accumulate(p.escrow_delta() for p in game.postings)) >= 0
    assert escrow_balance(game.postings) == 0 == game.state.escrow
    assert money_in(game.postings) == money_out(game.postings) + house_gain(game.postings)
    settled = [bet for event in game.events if isinstance(event, BetsSettled) for bet in event.bets]
    losing = sum(bet.bet_amount for bet in settled if bet.outcome == "lost")
    winning_margin = sum(bet.payout - bet.bet_amount for bet in settled if bet.outcome == "won")
    assert (
        house_gain(game.postings) == totals(game.postings).get("rake", 0) + losing - winning_margin
    )
