"""What goes into and comes out of a Russian Roulette room: its configuration, the commands, the
events and the money postings. Plain frozen data; the rules live in `roulette.py`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from gamehub import taxes
from gamehub.rooms.odds import BetType

Status = Literal["waiting", "playing", "finished", "cancelled"]
Outcome = Literal["click", "bang"]
BetOutcome = Literal["won", "lost", "refunded"]

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(cls: type) -> tuple[str, ...]:
    """A dataclass's field names, looked up once per class (dataclasses.fields / asdict were
    half of planning a command's writes)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(item.name for item in fields(cls))
    return names


def flat_dict(obj: Any) -> dict[str, Any]:
    """A dataclass whose fields are plain values, as a dict (asdict without its copies)."""
    return {name: getattr(obj, name) for name in field_names(type(obj))}


@dataclass(frozen=True)
class RouletteConfig:
    """A room's terms, fixed when it opens (amounts in cents, percentages as whole numbers)."""

    min_stake: int = 1_000
    max_stake: int = 1_000_000
    min_side_bet: int = 1_000
    max_side_bet: int = 1_000_000
    rake_percent: int = 5
    side_bet_edge_percent: int = 5
    turn_timeout_s: int = 20
    waiting_timeout_s: int = 120
    # Withholding tax on winnings as GAMEHUB_TAX_WINNINGS_WITHHOLDING writes it ("" = none).
    winnings_tax: str = ""

    def __post_init__(self) -> None:
        if not 0 < self.min_stake <= self.max_stake:
            raise ValueError("stake limits must satisfy 0 < min_stake <= max_stake")
        if not 0 < self.min_side_bet <= self.max_side_bet:
            raise ValueError("side bet limits must satisfy 0 < min_side_bet <= max_side_bet")
        if not 0 <= self.rake_percent <= 100:
            raise ValueError("rake_percent must be 0..100")
        # An edge of 100 would make every winning side bet pay nothing.
        if not 0 <= self.side_bet_edge_percent < 100:
            raise ValueError("side_bet_edge_percent must be 0..99")
        if self.turn_timeout_s <= 0 or self.waiting_timeout_s <= 0:
            raise ValueError("timeouts must be positive")
        taxes.parse_rates_cached(self.winnings_tax)  # ValueError when malformed

    def winnings_tax_at(self, moment: datetime) -> int:
        """The withholding rate on winnings in force at `moment`, in basis points."""
        return taxes.rate_at(taxes.parse_rates_cached(self.winnings_tax), moment)


def as_utc(now: datetime) -> datetime:
    """The rules' clock comes from outside; a naive datetime would make deadlines ambiguous."""
    offset = now.utcoffset()
    if offset is None:
        raise ValueError("time must be timezone-aware (UTC)")
    return now.astimezone(UTC)


# --- Commands: everything that can happen to a room. `now` is tz-aware UTC, given by the caller.


@dataclass(frozen=True)
class Join:
    """Sit down with `stake`; `server_seed` (64 hex) is used if this join starts the match."""

    user_id: int
    username: str
    client_seed: str
    stake: int
    now: datetime
    server_seed: str | None = None


@dataclass(frozen=True)
class PlaceBet:
    """A side bet on the next pull, by a player or a spectator; `bet_id` is the caller's id."""

    bet_id: int
    user_id: int
    bet_type: BetType
    amount: int
    now: datetime


@dataclass(frozen=True)
class Pull:
    """The shooter pulls. With `sent_at` it is judged against the turn as it was when sent, so
    a pull queued behind the other's click does not become valid."""

    user_id: int
    now: datetime
    sent_at: datetime | None = None


@dataclass(frozen=True)
class TurnTimeout:
    """The turn timer fired: the server pulls for the shooter if the deadline really passed."""

    now: datetime


@dataclass(frozen=True)
class WaitingTimeout:
    """The waiting timer fired: cancel the room if it still waits past its deadline."""

    now: datetime


@dataclass(frozen=True)
class Leave:
    user_id: int
    now: datetime


Command = Join | PlaceBet | Pull | TurnTimeout | WaitingTimeout | Leave


# --- Events: what the room tells its players and spectators. The runtime adds room_id, seq, at
# (store.plan).


@dataclass(frozen=True)
class RoomEvent:
    """Base of every event: `payload()` is its body (cents as int, datetimes as datetime)."""

    type: ClassVar[str]

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type}
        for name in field_names(type(self)):
            value = getattr(self, name)
            if isinstance(value, tuple):
                value = [bet.payload() for bet in value]
            body[name] = value
        return body


@dataclass(frozen=True)
class PlayerJoined(RoomEvent):
    type: ClassVar[str] = "player_joined"
    user_id: int
    username: str
    seat: int
    stake: int


@dataclass(frozen=True)
class MatchStarted(RoomEvent):
    type: ClassVar[str] = "match_started"
    server_seed_hash: str
    first_shooter: int
    client_seed: str
    nonce: int
    pot: int


@dataclass(frozen=True)
class Turn(RoomEvent):
    """Whose turn it is, for which pull (1-based, the one about to be made), and until when."""

    type: ClassVar[str] = "turn"
    shooter: int
    pull_number: int
    deadline: datetime


@dataclass(frozen=True)
class BetPlaced(RoomEvent):
    type: ClassVar[str] = "bet_placed"
    bet_id: int
    user_id: int
    bet_type: BetType
    bet_amount: int
    pull_number: int
    odds: str
    potential_payout: int


@dataclass(frozen=True)
class TriggerPulled(RoomEvent):
    type: ClassVar[str] = "trigger_pulled"
    shooter: int
    outcome: Outcome
    pull_number: int
    auto: bool


@dataclass(frozen=True)
class SettledBet:
    bet_id: int
    user_id: int
    bet_type: BetType
    bet_amount: int
    payout: int
    outcome: BetOutcome
    tax_withheld: int = 0  # withholding tax taken from `payout` once paid

    def payload(self) -> dict[str, Any]:
        return flat_dict(self)


@dataclass(frozen=True)
class BetsSettled(RoomEvent):
    type: ClassVar[str] = "bets_settled"
    pull_number: int
    bets: tuple[SettledBet, ...] = field(default=())


@dataclass(frozen=True)
class MatchEnded(RoomEvent):
    """`payout` = pot - rake, to `winner`; `server_seed` revealed so anyone can verify the draw."""

    type: ClassVar[str] = "match_ended"
    winner: int
    loser: int
    payout: int
    rake: int
    server_seed: str
    reason: Literal["bang", "forfeit"]
    tax_withheld: int = 0  # withholding tax taken from `payout` once paid


@dataclass(frozen=True)
class PlayerLeft(RoomEvent):
    """`refunded` is the stake returned (left while waiting), `forfeited` the stake lost (left a
    match); the other is None."""

    type: ClassVar[str] = "player_left"
    user_id: int
    seat: int
    refunded: int | None
    forfeited: int | None


@dataclass(frozen=True)
class RoomCancelled(RoomEvent):
    type: ClassVar[str] = "room_cancelled"
    reason: Literal["waiting_timeout", "left"]


Event = (
    PlayerJoined
    | MatchStarted
    | Turn
    | BetPlaced
    | TriggerPulled
    | BetsSettled
    | MatchEnded
    | PlayerLeft
    | RoomCancelled
)


# --- Postings: the money movements a command implies, moved through the ledger by the runtime.

Party = Literal["wallet", "escrow", "house", "tax"]
PostingKind = Literal[
    "stake",  # wallet → escrow, at join
    "bet",  # wallet → escrow, when a side bet is placed
    "payout",  # escrow → winner's wallet: pot - rake
    "rake",  # escrow → house
    "refund",  # escrow → wallet: a stake returned (left while waiting, waiting timeout)
    "bet_payout",  # escrow → wallet: a winning side bet's payout, stake included
    "bet_refund",  # escrow → wallet: a side bet whose pull never happened
    "house_cover",  # house → escrow: what a winning side bet pays beyond its stake
    "house_win",  # escrow → house: a losing side bet, or a winning one's stake beyond its payout
    "withholding",  # wallet → tax: the tax on a payout's winnings, right after the payout
]
POSTING_ROUTES: dict[str, tuple[Party, Party]] = {
    "stake": ("wallet", "escrow"),
    "bet": ("wallet", "escrow"),
    "payout": ("escrow", "wallet"),
    "rake": ("escrow", "house"),
    "refund": ("escrow", "wallet"),
    "bet_payout": ("escrow", "wallet"),
    "bet_refund": ("escrow", "wallet"),
    "house_cover": ("house", "escrow"),
    "house_win": ("escrow", "house"),
    "withholding": ("wallet", "tax"),
}


@dataclass(frozen=True)
class Posting:
    """One transfer of `amount` (> 0) cents between a wallet (`user_id`'s; None: none), the
    room's escrow, the house and the tax account. `reference` is unique and deterministic, so a
    retried command never moves money twice."""

    kind: PostingKind
    user_id: int | None
    amount: int
    reference: str

    @property
    def source(self) -> Party:
        return POSTING_ROUTES[self.kind][0]

    @property
    def destination(self) -> Party:
        return POSTING_ROUTES[self.kind][1]

    def escrow_delta(self) -> int:
        """How this posting changes the room's escrow balance."""
        if self.destination == "escrow":
            return self.amount
        if self.source == "escrow":
            return -self.amount
        return 0
