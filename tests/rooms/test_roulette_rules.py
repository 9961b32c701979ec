"""The rules of a Russian Roulette room: seating, the match, every pull, timeouts, leaving,
the public view and persistence. No app, no database, no clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from gamehub.fairness import commitment, matches_commitment, roulette_client_seed, roulette_draw
from gamehub.rooms.roulette import (
    AlreadySeated,
    Leave,
    MatchEnded,
    MatchStarted,
    NotAPlayer,
    NotYourTurn,
    PlayerJoined,
    PlayerLeft,
    Posting,
    Pull,
    RoomCancelled,
    RoomClosed,
    RoomFull,
    RoomNotPlaying,
    RouletteConfig,
    RuleError,
    StakeLimits,
    StakeMismatch,
    TriggerPulled,
    Turn,
    TurnTimeout,
    WaitingTimeout,
    apply,
    from_dict,
    new_room,
    next_deadline,
    room_view,
    to_dict,
)
from tests.rooms.roulette_helpers import (
    ALICE,
    BOB,
    CAROL,
    ROOM_ID,
    SEEDS,
    STAKE,
    T0,
    Game,
    at,
    escrow_balance,
    house_gain,
    join,
    money_in,
    money_out,
    playing_game,
    seed_for,
    types,
    waiting_game,
)

RAKE = 2 * STAKE * 5 // 100


def shooter_of(game: Game) -> int:
    user_id = room_view(game.state)["turn_user_id"]
    assert isinstance(user_id, int)
    return user_id


def assert_closed_and_balanced(game: Game) -> None:
    """The conservation law of a closed room: escrow empty, every cent accounted for."""
    assert game.state.status in ("finished", "cancelled")
    assert game.state.escrow == 0
    assert escrow_balance(game.postings) == 0
    assert money_in(game.postings) == money_out(game.postings) + house_gain(game.postings)


# --- Opening and seating


def test_new_room_checks_stake_limits() -> None:
    config = RouletteConfig()
    assert new_room(1, config.min_stake, T0).stake == config.min_stake
    assert new_room(1, config.max_stake, T0).stake == config.max_stake
    for stake in (config.min_stake - 1, config.max_stake + 1, 0, -5):
        with pytest.raises(StakeLimits) as caught:
            new_room(1, stake, T0)
        assert caught.value.code == "stake_limits" and caught.value.kind == "invalid"


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RouletteConfig(min_stake=10, max_stake=5)
    with pytest.raises(ValueError):
        RouletteConfig(side_bet_edge_percent=100)
    with pytest.raises(ValueError):
        RouletteConfig(turn_timeout_s=0)


def test_first_join_takes_the_stake_and_waits() -> None:
    game = Game(new_room(ROOM_ID, STAKE, T0))
    result = game.do(join(ALICE, at(5)))
    assert result.events == (PlayerJoined(ALICE, "alice", 0, STAKE),)
    assert result.postings == (Posting("stake", ALICE, STAKE, f"room:{ROOM_ID}:stake:{ALICE}"),)
    assert result.state.escrow == STAKE
    assert result.state.waiting_deadline == at(125)
    assert next_deadline(result.state) == ("waiting", at(125))
    view = room_view(result.state)
    assert view == {
        "id": ROOM_ID,
        "status": "waiting",
        "stake": STAKE,
        "pot": STAKE,
        "players": [{"user_id": ALICE, "username": "alice", "seat": 0, "alive": True}],
        "turn_user_id": None,
        "pull_number": 0,
        "chambers_left": 6,
        "turn_deadline": None,
        "winner_user_id": None,
        "fairness": {
            "server_seed_hash": None,
            "server_seed": None,
            "client_seed": None,
            "nonce": ROOM_ID,
        },
    }


@pytest.mark.parametrize("first_seat", [0, 1])
def test_second_join_starts_the_match_with_the_committed_draw(first_seat: int) -> None:
    seed = seed_for(3, first_seat)
    game = waiting_game()
    result = game.do(join(BOB, at(10), seed=seed))
    client_seed = roulette_client_seed(SEEDS[ALICE], SEEDS[BOB])
    first_shooter = (ALICE, BOB)[first_seat]
    assert result.events == (
        PlayerJoined(BOB, "bob", 1, STAKE),
        MatchStarted(commitment(seed), first_shooter, client_seed, ROOM_ID, 2 * STAKE),
        Turn(first_shooter, 1, at(30)),
    )
    assert [p.kind for p in result.postings] == ["stake"]
    state = result.state
    assert state.escrow == 2 * STAKE
    assert (state.bullet, state.first_shooter_seat) == (3, first_seat)
    draw = roulette_draw(seed, client_seed, ROOM_ID)
    assert (state.bullet, state.first_shooter_seat) == (draw.bullet, draw.first_shooter_seat)
    view = room_view(state)
    assert view["status"] == "playing"
    assert view["pot"] == 2 * STAKE
    assert view["turn_user_id"] == first_shooter
    assert view["turn_deadline"] == at(30)
    # The seed stays secret while playing: only its commitment is shown.
    assert view["fairness"] == {
        "server_seed_hash": commitment(seed),
        "server_seed": None,
        "client_seed": f"{SEEDS[ALICE]}:{SEEDS[BOB]}",
        "nonce": ROOM_ID,
    }
    assert seed not in json.dumps(view, default=str)
    assert next_deadline(state) == ("turn", at(30))


def test_join_refusals() -> None:
    game = waiting_game()
    with pytest.raises(AlreadySeated):
        apply(game.state, join(ALICE, at(1)))
    with pytest.raises(StakeMismatch) as mismatch:
        apply(game.state, join(BOB, at(1), seed=seed_for(0, 0), stake=STAKE + 100))
    assert mismatch.value.details == {"room_stake": STAKE}
    with pytest.raises(ValueError):  # the caller must bring a fair seed to start the match
        apply(game.state, join(BOB, at(1)))
    with pytest.raises(ValueError):
        apply(game.state, join(BOB, at(1), seed="not-hex"))

    game.do(join(BOB, at(1), seed=seed_for(0, 0)))
    with pytest.raises(AlreadySeated):
        apply(game.state, join(BOB, at(2)))
    with pytest.raises(RoomFull) as full:
        apply(game.state, join(CAROL, at(2), seed=seed_for(0, 0)))
    assert (full.value.code, full.value.kind) == ("room_full", "conflict")

    game.do(Pull(ALICE, at(3)))  # bullet 0, alice first: bang, finished
    assert game.state.status == "finished"
    with pytest.raises(RoomClosed):
        apply(game.state, join(CAROL, at(4), seed=seed_for(0, 0)))


def test_time_must_be_timezone_aware() -> None:
    game = waiting_game()
    with pytest.raises(ValueError):
        apply(game.state, join(BOB, datetime(2025, 1, 1), seed=seed_for(0, 0)))
    # Any offset is accepted and normalised to UTC.
    plus_three = timezone(timedelta(hours=3))
    result = apply(game.state, join(BOB, at(1).astimezone(plus_three), seed=seed_for(0, 0)))
    assert result.state.turn_deadline == at(21)
    assert result.state.turn_deadline.tzinfo is not None


# --- The match: every pull, both outcomes


@pytest.mark.parametrize("first_seat", [0, 1])
@pytest.mark.parametrize("bullet", range(6))
def test_every_pull_clicks_until_the_bullet_then_bangs(bullet: int, first_seat: int) -> None:
    game = playing_game(bullet, first_seat)
    shooters = []
    for pull_number in range(1, bullet + 2):
        shooter = shooter_of(game)
        shooters.append(shooter)
        now = at(1 + pull_number)
        result = game.do(Pull(shooter, now))
        bang = pull_number == bullet + 1
        assert result.events[0] == TriggerPulled(
            shooter, "bang" if bang else "click", pull_number, False
        )
        assert game.state.pull_number == pull_number
        if not bang:
            assert types(result.events) == ["trigger_pulled", "turn"]
            assert result.postings == ()
            assert room_view(game.state)["chambers_left"] == 6 - pull_number
            assert game.state.turn_deadline == now + timedelta(seconds=20)
    # Shooters alternate, starting with the drawn seat.
    first = (ALICE, BOB)[first_seat]
    other = BOB if first == ALICE else ALICE
    assert shooters == [first if i % 2 == 0 else other for i in range(bullet + 1)]

    loser = shooters[-1]
    winner = BOB if loser == ALICE else ALICE
    last = game.events[-2:]
    assert types(last) == ["trigger_pulled", "match_ended"]
    assert last[1] == MatchEnded(
        winner, loser, 2 * STAKE - RAKE, RAKE, seed_for(bullet, first_seat), "bang"
    )
    assert [(p.kind, p.user_id, p.amount) for p in game.postings[-2:]] == [
        ("payout", winner, 2 * STAKE - RAKE),
        ("rake", None, RAKE),
    ]
    view = room_view(game.state)
    assert view["status"] == "finished"
    assert view["winner_user_id"] == winner
    assert view["turn_user_id"] is None and view["turn_deadline"] is None
    assert {p["user_id"]: p["alive"] for p in view["players"]} == {winner: True, loser: False}
    assert view["fairness"]["server_seed"] == seed_for(bullet, first_seat)
    assert matches_commitment(view["fairness"]["server_seed"], view["fairness"]["server_seed_hash"])
    assert next_deadline(game.state) is None
    assert_closed_and_balanced(game)


def test_pull_refusals() -> None:
    game = waiting_game()
    with pytest.raises(RoomNotPlaying):
        apply(game.state, Pull(ALICE, at(1)))
    with pytest.raises(NotAPlayer) as stranger:
        apply(game.state, Pull(CAROL, at(1)))
    assert (stranger.value.code, stranger.value.kind) == ("not_a_player", "forbidden")

    game = playing_game(2, first_seat=0)
    with pytest.raises(NotYourTurn) as wrong:
        apply(game.state, Pull(BOB, at(2)))
    assert (wrong.value.code, wrong.value.kind) == ("not_your_turn", "conflict")
    with pytest.raises(NotAPlayer):
        apply(game.state, Pull(CAROL, at(2)))
    game.do(Pull(ALICE, at(2)))
    with pytest.raises(NotYourTurn):
        apply(game.state, Pull(ALICE, at(3)))
    game.do(Pull(BOB, at(3)))
    game.do(Pull(ALICE, at(4)))  # bang on pull 3
    with pytest.raises(RoomNotPlaying):
        apply(game.state, Pull(BOB, at(5)))
    with pytest.raises(NotAPlayer):
        apply(game.state, Pull(CAROL, at(5)))


def test_rule_errors_leave_the_state_untouched() -> None:
    game = playing_game(4)
    before = to_dict(game.state)
    with pytest.raises(RuleError):
        apply(game.state, Pull(BOB, at(2)))
    assert to_dict(game.state) == before


# --- Timeouts


def test_turn_timeout_pulls_for_the_shooter() -> None:
    game = playing_game(1, first_seat=1)  # bob first, bang on pull 2 (alice)
    assert apply(game.state, TurnTimeout(at(20.999))).events == ()  # deadline is at(21)
    result = game.do(TurnTimeout(at(21)))
    assert result.events == (TriggerPulled(BOB, "click", 1, True), Turn(ALICE, 2, at(41)))
    result = game.do(TurnTimeout(at(60)))
    assert types(result.events) == ["trigger_pulled", "match_ended"]
    assert result.events[0] == TriggerPulled(ALICE, "bang", 2, True)
    assert room_view(game.state)["winner_user_id"] == BOB
    assert_closed_and_balanced(game)


def test_stale_turn_timeout_is_a_no_op() -> None:
    game = playing_game(5, first_seat=0)
    game.do(Pull(ALICE, at(15)))  # pulled in time: the timer armed for at(21) is now stale
    state = game.state
    result = apply(state, TurnTimeout(at(21)))
    assert result.state is state and result.events == () and result.postings == ()
    # A timeout in a waiting or closed room does nothing either.
    assert apply(waiting_game().state, TurnTimeout(at(999))).events == ()
    finished = playing_game(0)
    finished.do(Pull(ALICE, at(2)))
    assert apply(finished.state, TurnTimeout(at(999))).events == ()


def test_waiting_timeout_cancels_and_refunds() -> None:
    game = waiting_game()
    assert apply(game.state, WaitingTimeout(at(119))).events == ()
    result = game.do(WaitingTimeout(at(120)))
    assert result.events == (RoomCancelled("waiting_timeout"),)
    assert result.postings == (Posting("refund", ALICE, STAKE, f"room:{ROOM_ID}:refund:{ALICE}"),)
    view = room_view(game.state)
    assert view["status"] == "cancelled" and view["pot"] == 0
    assert next_deadline(game.state) is None
    assert_closed_and_balanced(game)
    with pytest.raises(RoomClosed):
        apply(game.state, join(BOB, at(121), seed=seed_for(0, 0)))
    assert apply(game.state, WaitingTimeout(at(999))).events == ()


def test_waiting_timeout_after_the_match_started_is_a_no_op() -> None:
    game = playing_game(2)
    result = apply(game.state, WaitingTimeout(at(500)))
    assert result.state is game.state and result.events == ()


def test_empty_new_room_expires_without_refunds() -> None:
    game = Game(new_room(ROOM_ID, STAKE, T0))
    result = game.do(WaitingTimeout(at(120)))
    assert result.events == (RoomCancelled("waiting_timeout"),) and result.postings == ()
    assert_closed_and_balanced(game)


# --- Leaving


def test_leave_while_waiting_refunds_and_cancels() -> None:
    game = waiting_game()
    result = game.do(Leave(ALICE, at(30)))
    assert result.events == (
        PlayerLeft(ALICE, 0, refunded=STAKE, forfeited=None),
        RoomCancelled("left"),
    )
    assert result.postings == (Posting("refund", ALICE, STAKE, f"room:{ROOM_ID}:refund:{ALICE}"),)
    view = room_view(game.state)
    assert (view["status"], view["players"], view["pot"]) == ("cancelled", [], 0)
    assert_closed_and_balanced(game)
    with pytest.raises(NotAPlayer):
        apply(game.state, Leave(ALICE, at(31)))


def test_leave_refusals() -> None:
    game = waiting_game()
    with pytest.raises(NotAPlayer):
        apply(game.state, Leave(CAROL, at(1)))
    game = playing_game(0)
    with pytest.raises(NotAPlayer):
        apply(game.state, Leave(CAROL, at(2)))
    game.do(Pull(ALICE, at(2)))
    with pytest.raises(RoomClosed):
        apply(game.state, Leave(BOB, at(3)))


@pytest.mark.parametrize("leaver", [ALICE, BOB])
def test_leave_during_the_match_forfeits(leaver: int) -> None:
    game = playing_game(5, first_seat=0)
    game.do(Pull(ALICE, at(2)))
    result = game.do(Leave(leaver, at(3)))
    winner = BOB if leaver == ALICE else ALICE
    seat = 0 if leaver == ALICE else 1
    assert result.events == (
        PlayerLeft(leaver, seat, refunded=None, forfeited=STAKE),
        MatchEnded(winner, leaver, 2 * STAKE - RAKE, RAKE, seed_for(5, 0), "forfeit"),
    )
    assert [(p.kind, p.user_id) for p in result.postings] == [("payout", winner), ("rake", None)]
    view = room_view(game.state)
    assert view["winner_user_id"] == winner and view["pull_number"] == 1
    assert view["fairness"]["server_seed"] == seed_for(5, 0)
    assert_closed_and_balanced(game)


def test_zero_rake_moves_nothing_to_the_house() -> None:
    game = playing_game(0, config=RouletteConfig(rake_percent=0))
    result = game.do(Pull(ALICE, at(2)))
    assert [(p.kind, p.amount) for p in result.postings] == [("payout", 2 * STAKE)]
    assert result.events[-1] == MatchEnded(BOB, ALICE, 2 * STAKE, 0, seed_for(0, 0), "bang")
    assert_closed_and_balanced(game)


# --- Events and persistence


def test_event_payloads_are_flat_json_ready_dicts() -> None:
    game = playing_game(0, first_seat=0)
    assert game.events[3].payload() == {
        "type": "turn",
        "shooter": ALICE,
        "pull_number": 1,
        "deadline": at(21),
    }
    game.do(Pull(ALICE, at(2)))
    ended = game.events[-1].payload()
    assert ended["type"] == "match_ended" and ended["server_seed"] == seed_for(0, 0)


def test_references_are_unique_and_deterministic() -> None:
    def play() -> list[str]:
        game = playing_game(5, first_seat=1)
        game.do(Leave(ALICE, at(2)))
        return [p.reference for p in game.postings]

    references = play()
    assert references == play()
    assert len(set(references)) == len(references)
    assert all(ref.startswith(f"room:{ROOM_ID}:") for ref in references)


def test_state_survives_a_json_round_trip_at_every_step() -> None:
    game = Game(new_room(ROOM_ID, STAKE, T0))
    states = [game.state]
    game.do(join(ALICE, at(1)))
    states.append(game.state)
    game.do(join(BOB, at(2), seed=seed_for(3, 1)))
    states.append(game.state)
    for i in range(4):
        game.do(Pull(shooter_of(game), at(3 + i)))
        states.append(game.state)
    assert game.state.status == "finished"
    for state in states:
        restored = from_dict(json.loads(json.dumps(to_dict(state))))
        assert restored == state
        assert room_view(restored) == room_view(state)


def test_from_dict_refuses_an_unknown_version() -> None:
    data = to_dict(new_room(ROOM_ID, STAKE, T0))
    data["version"] = 99
    with pytest.raises(ValueError):
        from_dict(data)
