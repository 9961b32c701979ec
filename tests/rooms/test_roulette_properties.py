"""Property test: random command sequences (joins, bets by players and spectators, pulls by the
right and wrong users, timeouts on an advancing clock, leaves) never break the room's money or
its order of events, and every room ends once its timers have run."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from typing import cast

from hypothesis import event, given, settings
from hypothesis import strategies as st

from gamehub.rooms.odds import BetType
from gamehub.rooms.roulette import (
    BetsSettled,
    Command,
    Event,
    Join,
    Leave,
    PlaceBet,
    Posting,
    Pull,
    RoomState,
    RouletteConfig,
    RuleError,
    TriggerPulled,
    Turn,
    TurnTimeout,
    WaitingTimeout,
    apply,
    from_dict,
    new_room,
    room_view,
    to_dict,
)
from tests.rooms.roulette_helpers import T0, escrow_balance, house_gain, money_in, money_out

USERS = (1, 2, 3, 4)  # anyone may try anything; whoever sits first plays
ROOM_ID = 42

# The event types one command may produce, in order (CONTRACT.md "Streams").
PULL = r"trigger_pulled( bets_settled)? (turn|match_ended)"
ALLOWED = {
    Join: r"player_joined( match_started turn)?",
    PlaceBet: r"bet_placed",
    Pull: PULL,
    TurnTimeout: rf"({PULL})?",
    WaitingTimeout: r"(room_cancelled)?",
    Leave: r"player_left( room_cancelled| (bets_settled )?match_ended)?",
}

joins = st.tuples(st.just("join"), st.sampled_from(USERS), st.sampled_from([True, True, False]))
# Two good joins by different users: the match starts at once.
match_starts = st.permutations(USERS).map(
    lambda users: [("join", users[0], True), ("join", users[1], True)]
)
# Most games should get past the lobby, so a script usually opens with a started match.
openings = st.one_of(st.lists(joins, max_size=3), match_starts, match_starts, match_starts)
actions = st.one_of(
    joins,
    st.tuples(
        st.just("bet"),
        st.sampled_from(USERS),
        st.sampled_from(["survival", "elimination"]),
        st.one_of(st.integers(1, 1_100_000), st.sampled_from([999, 1_000, 1_000_000])),
    ),
    st.tuples(st.just("pull"), st.sampled_from(["shooter", "shooter", "other", "spectator"])),
    st.tuples(st.just("pull"), st.just("shooter")),
    st.tuples(st.just("advance"), st.integers(0, 150)),
    st.tuples(st.just("turn_timeout")),
    st.tuples(st.just("waiting_timeout")),
    st.tuples(st.just("leave"), st.sampled_from(USERS)),
)


def passed(deadline: datetime | None, now: datetime) -> bool:
    return deadline is not None and now >= deadline


@dataclass
class Run:
    state: RoomState
    now: datetime = T0
    next_bet_id: int = 0
    events: list[Event] = field(default_factory=list)
    postings: list[Posting] = field(default_factory=list)

    def command(self, action: tuple[object, ...], server_seed: str) -> Command | None:
        kind = action[0]
        if kind == "advance":
            assert isinstance(action[1], int)
            self.now += timedelta(seconds=action[1])
            return None
        if kind == "join":
            user, right_stake = action[1], action[2]
            assert isinstance(user, int)
            stake = self.state.stake if right_stake else self.state.stake + 1
            return Join(user, f"user{user}", f"seed-{user}", stake, self.now, server_seed)
        if kind == "bet":
            user, bet_type, amount = action[1:]
            assert isinstance(user, int) and isinstance(amount, int)
            self.next_bet_id += 1
            return PlaceBet(self.next_bet_id, user, cast(BetType, bet_type), amount, self.now)
        if kind == "pull":
            return Pull(self.puller(str(action[1])), self.now)
        if kind == "turn_timeout":
            return TurnTimeout(self.now)
        if kind == "waiting_timeout":
            return WaitingTimeout(self.now)
        assert isinstance(action[1], int)
        return Leave(action[1], self.now)

    def puller(self, who: str) -> int:
        view = room_view(self.state)
        players = [p["user_id"] for p in view["players"]]
        turn = view["turn_user_id"]
        if who == "shooter" and turn is not None:
            return int(turn)
        if who == "other" and players:
            return int(next((p for p in players if p != turn), players[0]))
        return next(u for u in USERS if u not in players)

    def step(self, command: Command) -> None:
        before = to_dict(self.state)
        try:
            result = apply(self.state, command)
        except RuleError:
            assert to_dict(self.state) == before  # refused: nothing changed
            return
        self.check_step(command, result.events)
        self.state = result.state
        self.events.extend(result.events)
        self.postings.extend(result.postings)
        self.check_invariants()

    def check_step(self, command: Command, events: tuple[Event, ...]) -> None:
        names = " ".join(event.type for event in events)
        assert re.fullmatch(ALLOWED[type(command)], names), (type(command).__name__, names)
        if self.state.is_closed:
            assert not events, "a closed room says nothing more"
        # A timer acts exactly when its deadline has passed, and is a no-op otherwise.
        state = self.state
        if isinstance(command, TurnTimeout):
            due = state.status == "playing" and passed(state.turn_deadline, command.now)
            assert bool(events) == due
        if isinstance(command, WaitingTimeout):
            due = state.status == "waiting" and passed(state.waiting_deadline, command.now)
            assert bool(events) == due
        pulled = [e for e in events if isinstance(e, TriggerPulled)]
        for trigger in pulled:
            assert trigger.pull_number == self.state.pull_number + 1
            assert trigger.auto == isinstance(command, TurnTimeout)
            assert trigger.shooter == room_view(self.state)["turn_user_id"]
            for item in events:
                if isinstance(item, Turn):  # shooters alternate
                    assert item.shooter != trigger.shooter
                    assert item.pull_number == trigger.pull_number + 1
        for item in events:
            if isinstance(item, BetsSettled):
                assert item.pull_number == self.state.pull_number + 1
                assert {b.bet_id for b in item.bets} == {b.bet_id for b in self.state.pending_bets}

    def check_invariants(self) -> None:
        state = self.state
        assert 0 <= state.pull_number <= 6
        assert all(p.amount > 0 for p in self.postings)
        references = [p.reference for p in self.postings]
        assert len(references) == len(set(references))
        # Escrow never goes negative, even between the postings of one command.
        assert min(accumulate((p.escrow_delta() for p in self.postings), initial=0)) >= 0
        assert state.escrow == escrow_balance(self.postings)
        # Conservation: each cent taken from wallets is in escrow, back in a wallet, or the house's.
        assert money_in(self.postings) == (
            money_out(self.postings) + house_gain(self.postings) + state.escrow
        )
        pending = sum(bet.amount for bet in state.pending_bets)
        assert state.escrow == state.stake * len(state.players) * (not state.is_closed) + pending
        # Whose money the escrow holds (what wallet events go by) adds up to all of it.
        assert sum(state.escrow_shares().values()) == state.escrow
        assert all(bet.pull_number == state.pull_number + 1 for bet in state.pending_bets)
        assert from_dict(json.loads(json.dumps(to_dict(state)))) == state

    def check_closed(self) -> None:
        assert self.state.is_closed
        assert self.state.escrow == 0 == escrow_balance(self.postings)
        settled = [b for e in self.events if isinstance(e, BetsSettled) for b in e.bets]
        rake = sum(p.amount for p in self.postings if p.kind == "rake")
        losing = sum(b.bet_amount for b in settled if b.outcome == "lost")
        margin = sum(b.payout - b.bet_amount for b in settled if b.outcome == "won")
        assert house_gain(self.postings) == rake + losing - margin
        names = [e.type for e in self.events]
        assert names[-1] in ("match_ended", "room_cancelled")
        assert names.count("match_started") <= 1 and names.count("match_ended") <= 1
        pulls = [e.pull_number for e in self.events if isinstance(e, TriggerPulled)]
        assert pulls == list(range(1, len(pulls) + 1))


@settings(max_examples=300, deadline=None)
@given(
    opening=openings,
    script=st.lists(actions, max_size=40),
    server_seed=st.binary(min_size=32, max_size=32).map(bytes.hex),
    stake=st.integers(1_000, 1_000_000),
    rake_percent=st.sampled_from([0, 5, 10]),
    edge_percent=st.sampled_from([0, 5, 50]),
)
def test_random_play_keeps_money_and_order(
    opening: list[tuple[object, ...]],
    script: list[tuple[object, ...]],
    server_seed: str,
    stake: int,
    rake_percent: int,
    edge_percent: int,
) -> None:
    config = RouletteConfig(rake_percent=rake_percent, side_bet_edge_percent=edge_percent)
    run = Run(new_room(ROOM_ID, stake, T0, config))
    for action in opening + script:
        command = run.command(action, server_seed)
        if command is not None:
            run.step(command)
    # Nobody acts any more: the timers alone must close the room (at most 6 auto pulls).
    for _ in range(7):
        if run.state.is_closed:
            break
        run.now += timedelta(seconds=1_000)
        run.step(TurnTimeout(run.now))
        run.step(WaitingTimeout(run.now))
    run.check_closed()
    # Shown by --hypothesis-show-statistics: how far the generated games got.
    event(f"ended {run.state.status} after {run.state.pull_number} pulls")
    event(f"bets settled: {sum(isinstance(e, BetsSettled) for e in run.events)}")
