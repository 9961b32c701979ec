"""Withholding tax on winnings in the pure rules (roulette.py, taxes.py): a room whose terms
carry the tax withholds it from each payout's winnings (payout - stake) right after the payout,
rounded down to the cent, at the rate in force at the payout; never from a loss or a refund."""

from __future__ import annotations

import pytest

from gamehub.rooms.render import render
from gamehub.rooms.roulette import (
    BetsSettled,
    Leave,
    MatchEnded,
    PlaceBet,
    Pull,
    RouletteConfig,
    SettledBet,
    from_dict,
    to_dict,
)
from tests.rooms.roulette_helpers import (
    ALICE,
    BOB,
    CAROL,
    ROOM_ID,
    STAKE,
    T0,
    at,
    escrow_balance,
    playing_game,
)

# 12.5 % makes the rounding visible: 4 500 x 12.5 % = 562.5 cents.
TAXED = RouletteConfig(winnings_tax="12.5%@2025-01-01")
NOT_YET = RouletteConfig(winnings_tax="12.5%@2025-01-02")  # the rooms' clock is 2025-01-01
BET = 2_345


def test_the_survivor_pays_the_tax_on_the_winnings_right_after_the_payout() -> None:
    game = playing_game(0, first_seat=0, config=TAXED)
    result = game.do(Pull(ALICE, at(2)))
    payout = 2 * STAKE - 500  # the pot less the 5 % rake
    tax = (payout - STAKE) * 1250 // 10_000  # rounded down
    assert tax == 562
    assert [(p.kind, p.user_id, p.amount, p.reference) for p in result.postings] == [
        ("payout", BOB, payout, f"room:{ROOM_ID}:payout"),
        ("withholding", BOB, tax, f"room:{ROOM_ID}:payout:withholding"),
        ("rake", None, 500, f"room:{ROOM_ID}:rake"),
    ]
    ended = result.events[-1]
    assert isinstance(ended, MatchEnded) and ended.tax_withheld == tax
    assert render(ended.payload())["tax_withheld"] == "5.62"
    assert result.postings[1].source == "wallet" and result.postings[1].destination == "tax"
    assert escrow_balance(game.postings) == 0 and game.state.escrow == 0


def test_a_forfeit_is_taxed_as_a_bang_and_refunded_bets_are_not() -> None:
    game = playing_game(4, first_seat=0, config=TAXED)
    game.do(Pull(ALICE, at(1)))
    game.do(PlaceBet(1, CAROL, "survival", BET, at(2)))
    result = game.do(Leave(BOB, at(3)))
    assert [(p.kind, p.user_id, p.amount) for p in result.postings] == [
        ("bet_refund", CAROL, BET),
        ("payout", ALICE, 9_500),
        ("withholding", ALICE, 562),
        ("rake", None, 500),
    ]
    settled = result.events[1]
    assert isinstance(settled, BetsSettled)
    assert settled.bets == (SettledBet(1, CAROL, "survival", BET, BET, "refunded", 0),)


def test_winning_side_bets_pay_the_tax_and_losing_ones_do_not() -> None:
    game = playing_game(0, first_seat=0, config=TAXED)
    game.do(PlaceBet(1, CAROL, "elimination", BET, at(1)))
    game.do(PlaceBet(2, ALICE, "survival", BET, at(1)))
    result = game.do(Pull(ALICE, at(2)))
    paid = BET * 6 * 95 // 100  # elimination at 6 chambers left
    tax = (paid - BET) * 1250 // 10_000
    assert (paid, tax) == (13_366, 1_377)
    kinds = [(p.kind, p.user_id, p.amount, p.reference) for p in result.postings]
    assert kinds[:4] == [
        ("house_cover", None, paid - BET, f"room:{ROOM_ID}:bet:1:cover"),
        ("bet_payout", CAROL, paid, f"room:{ROOM_ID}:bet:1:payout"),
        ("withholding", CAROL, tax, f"room:{ROOM_ID}:bet:1:payout:withholding"),
        ("house_win", None, BET, f"room:{ROOM_ID}:bet:2:house"),
    ]
    settled = result.events[1]
    assert isinstance(settled, BetsSettled)
    assert settled.bets == (
        SettledBet(1, CAROL, "elimination", BET, paid, "won", tax),
        SettledBet(2, ALICE, "survival", BET, 0, "lost", 0),
    )
    assert render(settled.payload())["bets"][0]["tax_withheld"] == "13.77"


def test_a_surviving_bet_on_a_click_is_taxed_too() -> None:
    game = playing_game(5, first_seat=0, config=TAXED)
    game.do(PlaceBet(1, CAROL, "survival", 10_000, at(1)))
    result = game.do(Pull(ALICE, at(2)))
    paid = 10_000 * 6 * 95 // (100 * 5)
    assert [(p.kind, p.amount) for p in result.postings] == [
        ("house_cover", paid - 10_000),
        ("bet_payout", paid),
        ("withholding", (paid - 10_000) * 1250 // 10_000),
    ]


def test_nothing_is_withheld_before_the_rate_comes_into_force_or_without_a_rate() -> None:
    for config in (NOT_YET, RouletteConfig()):
        game = playing_game(0, first_seat=0, config=config)
        game.do(PlaceBet(1, CAROL, "elimination", BET, at(1)))
        result = game.do(Pull(ALICE, at(2)))
        assert "withholding" not in {p.kind for p in result.postings}
        ended = result.events[-1]
        assert isinstance(ended, MatchEnded) and ended.tax_withheld == 0
    assert NOT_YET.winnings_tax_at(T0) == 0
    assert NOT_YET.winnings_tax_at(at(12 * 3600)) == 1250  # midnight UTC, 2 January


def test_the_terms_keep_the_tax_through_the_stored_state() -> None:
    game = playing_game(0, first_seat=0, config=TAXED)
    assert from_dict(to_dict(game.state)).config == TAXED
    with pytest.raises(ValueError, match="RATE%@YYYY-MM-DD"):
        RouletteConfig(winnings_tax="twenty percent")
