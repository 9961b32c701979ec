"""Russian Roulette as the room runtime drives it: the rules of `roulette.py` behind the match
handler, and the game's own rows (bets, match, session) as parts of the room's one statement."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from gamehub.rooms import roulette
from gamehub.rooms.game import GameRows
from gamehub.rooms.render import render_room
from gamehub.rooms.roulette import RoomState, Transition
from gamehub.walletnews import wallets_changed

# Stakes open at a join and settle at the end; side bets open when placed and settle at the
# next pull. The seed and the bullet are written only once the match is finished (COALESCE).
_SAVE_PARTS: dict[str, str] = {
    "stakes_opened": """
    stakes_opened AS (
        INSERT INTO bet_history
            (user_id, game_id, room_id, bet_type, bet_amount, win_amount, status, request_ref,
             created_at)
        SELECT o.user_id, :game_id, :room, 'stake', o.amount, 0, 'pending', o.request_ref,
               :now::timestamptz
        FROM unnest(:open_users::bigint[], :open_amounts::bigint[], :open_refs::text[])
            AS o(user_id, amount, request_ref)
        WHERE EXISTS (SELECT FROM room)
    )""",
    "stakes_settled": """
    stakes_settled AS (
        UPDATE bet_history b
        SET status = s.status, win_amount = s.win, tax_withheld = s.tax,
            settled_at = :now::timestamptz
        FROM unnest(:settle_users::bigint[], :settle_statuses::text[], :settle_wins::bigint[],
                    :settle_taxes::bigint[])
            AS s(user_id, status, win, tax)
        WHERE b.room_id = :room AND b.user_id = s.user_id AND b.bet_type = 'stake'
          AND b.status = 'pending' AND EXISTS (SELECT FROM room)
    )""",
    "bets_opened": """
    bets_opened AS (
        INSERT INTO bet_history
            (id, user_id, game_id, room_id, bet_type, bet_amount, win_amount, status,
             pull_number, request_ref, created_at)
        SELECT :bet_id, :bet_user, :game_id, :room, :bet_type, :bet_amount, 0, 'pending',
               :bet_pull, :request_ref, :now::timestamptz
        WHERE EXISTS (SELECT FROM room)
    )""",
    "bets_settled": """
    bets_settled AS (
        UPDATE bet_history b
        SET status = s.status, win_amount = s.payout, tax_withheld = s.tax,
            settled_at = :now::timestamptz
        FROM unnest(:settled_bets::bigint[], :bet_statuses::text[], :payouts::bigint[],
                    :bet_taxes::bigint[])
            AS s(id, status, payout, tax)
        WHERE b.id = s.id AND EXISTS (SELECT FROM room)
    )""",
    "match": """
    match AS (
        UPDATE russian_roulette SET
            server_seed_hash = :server_seed_hash, client_seed = :client_seed,
            first_shooter_seat = :first_shooter_seat, pull_number = :pull_number,
            turn_user_id = :turn_user_id, turn_deadline = :turn_deadline,
            winner_user_id = :winner_user_id,
            server_seed = COALESCE(:server_seed, server_seed),
            bullet = COALESCE(:bullet, bullet)
        WHERE room_id = :room AND EXISTS (SELECT FROM room)
        RETURNING game_session_id
    )""",
    "session": """
    session AS (
        UPDATE game_sessions SET status = :session_status, ended_at = :session_ended_at
        WHERE id = (SELECT game_session_id FROM match)
    )""",
}
# A new room's session and match rows, inserted with the room (the `room` CTE).
_OPEN_PARTS = {
    "session": """
    session AS (
        INSERT INTO game_sessions (game_id, user_id, status, started_at)
        SELECT :game_id, NULL, 'waiting', :now FROM room
        RETURNING id
    )""",
    "match": """
    match AS (
        INSERT INTO russian_roulette (room_id, game_session_id, pull_number)
        SELECT room.id, session.id, 0 FROM room, session
    )""",
}


class RouletteGame:
    """Russian Roulette's match handler: joiners are `Join`, commands `PlaceBet` and `Pull`."""

    slug = "russian-roulette"
    kind_prefix = "roulette"
    save_parts = _SAVE_PARTS
    open_parts = _OPEN_PARTS

    def init(
        self, room_id: int, stake: int, now: datetime, config: roulette.RouletteConfig
    ) -> RoomState:
        return roulette.new_room(room_id, stake, now, config)

    def join(self, state: RoomState, joiner: roulette.Join, now: datetime) -> Transition:
        return roulette.apply(state, replace(joiner, now=now))

    def command(
        self, state: RoomState, command: roulette.PlaceBet | roulette.Pull, now: datetime
    ) -> Transition:
        return roulette.apply(state, replace(command, now=now))

    def timer(self, state: RoomState, now: datetime) -> Transition:
        if state.status == "playing":
            return roulette.apply(state, roulette.TurnTimeout(now=now))
        return roulette.apply(state, roulette.WaitingTimeout(now=now))

    def leave(self, state: RoomState, user_id: int, now: datetime) -> Transition:
        return roulette.apply(state, roulette.Leave(user_id=user_id, now=now))

    def deadline(self, state: RoomState) -> datetime | None:
        found = roulette.next_deadline(state)
        return None if found is None else found.at

    def status(self, state: RoomState) -> str:
        return state.status

    def is_closed(self, state: RoomState) -> bool:
        return state.is_closed

    def seated(self, state: RoomState) -> tuple[int, ...]:
        return tuple(player.user_id for player in state.players)

    def free_seat_at(self, state: RoomState) -> int | None:
        waiting = state.status == "waiting" and len(state.players) < roulette.SEATS
        return state.stake if waiting else None

    def load(self, data: dict[str, Any]) -> RoomState:
        return roulette.from_dict(data)

    def dump(self, state: RoomState) -> dict[str, Any]:
        return roulette.to_dict(state)

    def render(self, state: RoomState, seq: int) -> dict[str, Any]:
        return render_room(roulette.room_view(state), seq)

    def wallets(self, transition: Transition) -> set[int]:
        return wallets_changed(transition)

    def told(self, transition: Transition) -> frozenset[int] | None:
        """The players, and a player who left, hear when seats or status change (seated, match
        started, ended, left, cancelled): a client learns of its rooms without the lobby."""
        if not any(type(event) in _SEATS_OR_STATUS for event in transition.events):
            return None
        players = {player.user_id for player in transition.state.players}
        players.update(
            event.user_id for event in transition.events if isinstance(event, roulette.PlayerLeft)
        )
        return frozenset(players)

    def rows(
        self, before: RoomState, transition: Transition, now: datetime, request_ref: str | None
    ) -> GameRows:
        opened: list[tuple[int, int]] = []  # stakes: (user, amount)
        settled = [  # stakes: (user, status, win, tax withheld)
            (posting.user_id, "refunded", posting.amount, 0)
            for posting in transition.postings
            if posting.kind == "refund" and posting.user_id is not None
        ]
        bets: list[roulette.SettledBet] = []
        params: dict[str, Any] = {"request_ref": request_ref}
        for event in transition.events:
            if isinstance(event, roulette.PlayerJoined):
                opened.append((event.user_id, event.stake))
            elif isinstance(event, roulette.MatchEnded):
                settled += [
                    (event.winner, "won", event.payout, event.tax_withheld),
                    (event.loser, "lost", 0, 0),
                ]
            elif isinstance(event, roulette.BetPlaced):
                params.update(
                    bet_id=event.bet_id,
                    bet_user=event.user_id,
                    bet_type=event.bet_type,
                    bet_amount=event.bet_amount,
                    bet_pull=event.pull_number,
                )
            elif isinstance(event, roulette.BetsSettled):
                bets.extend(event.bets)
        match, session = _match_rows(before, transition.state, now)
        params.update(
            open_users=[user for user, _ in opened],
            open_amounts=[amount for _, amount in opened],
            open_refs=[request_ref] * len(opened),
            settle_users=[user for user, _, _, _ in settled],
            settle_statuses=[status for _, status, _, _ in settled],
            settle_wins=[win for _, _, win, _ in settled],
            settle_taxes=[tax for _, _, _, tax in settled],
            settled_bets=[bet.bet_id for bet in bets],
            bet_statuses=[bet.outcome for bet in bets],
            payouts=[bet.payout for bet in bets],
            bet_taxes=[bet.tax_withheld for bet in bets],
            **(match or {}),
            **(session or {}),
        )
        wanted = {
            "stakes_opened": bool(opened),
            "stakes_settled": bool(settled),
            "bets_opened": "bet_id" in params,
            "bets_settled": bool(bets),
            "match": match is not None,
            "session": session is not None,
        }
        return GameRows(frozenset(name for name, on in wanted.items() if on), params)


_SEATS_OR_STATUS = (
    roulette.PlayerJoined,
    roulette.MatchStarted,
    roulette.MatchEnded,
    roulette.PlayerLeft,
    roulette.RoomCancelled,
)


def _match_rows(
    before: RoomState, state: RoomState, now: datetime
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The match's russian_roulette and game_sessions rows, mirrored from its state."""
    if state.status == "waiting" and before.status == "waiting":
        return None, None  # nothing of the match exists yet
    winner = state.players[state.winner_seat].user_id if state.winner_seat is not None else None
    turn = (
        state.players[state.turn_seat].user_id
        if state.status == "playing" and state.turn_seat is not None
        else None
    )
    finished, closed = state.status == "finished", state.is_closed
    # The seed and the bullet are stored once the match is finished, and public from then on.
    match: dict[str, Any] = {
        "server_seed_hash": state.server_seed_hash,
        "client_seed": state.client_seed,
        "first_shooter_seat": state.first_shooter_seat,
        "pull_number": state.pull_number,
        "turn_user_id": turn,
        "turn_deadline": state.turn_deadline if turn is not None else None,
        "winner_user_id": winner,
        "server_seed": state.server_seed if finished else None,
        "bullet": state.bullet if finished else None,
    }
    session = None
    if state.status != before.status:
        session = {"session_status": state.status, "session_ended_at": now if closed else None}
    return match, session


GAME = RouletteGame()
