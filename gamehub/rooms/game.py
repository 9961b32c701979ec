"""What a game gives the room runtime, which knows no game: pure rules behind a match handler in
the shape of Nakama's (init, join, command, timer, leave), each returning a `Transition`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol, TypeVar

ErrorKind = Literal["conflict", "forbidden", "invalid"]
State = TypeVar("State")


class RuleError(Exception):
    """A message the rules refuse (nothing changes), with a stable `code` and a `kind` the HTTP
    layer maps to a status (conflict → 409, forbidden → 403, invalid → 422)."""

    code: ClassVar[str] = "rule_violation"
    kind: ClassVar[ErrorKind] = "conflict"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class GameEvent(Protocol):
    """What a room tells its players and spectators; the runtime adds room_id, seq and at."""

    @property
    def type(self) -> str: ...

    def payload(self) -> dict[str, Any]: ...


class Posting(Protocol):
    """Money one message moves between a wallet, the room's escrow and the house; the reference
    is unique across all rooms."""

    @property
    def kind(self) -> str: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def amount(self) -> int: ...
    @property
    def reference(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def destination(self) -> str: ...


class Transition(Protocol):
    """A handler's answer: the next state, what to publish, the money to move (in order)."""

    @property
    def state(self) -> Any: ...
    @property
    def events(self) -> Sequence[GameEvent]: ...
    @property
    def postings(self) -> Sequence[Posting]: ...


@dataclass(frozen=True)
class GameRows:
    """What a transition writes to the game's own tables: the `save_parts` it needs and their
    parameters (named apart from the runtime's)."""

    parts: frozenset[str]
    params: dict[str, Any]


class RoomGame(Protocol[State]):
    """A game's rules as the room runtime drives them. Every method is pure."""

    # The catalogue row of the game (`games.slug`); its ledger transfers are `<kind_prefix>_…`.
    slug: str
    kind_prefix: str
    # The game's parts of a room's one statement, in order (CTEs named by the key, each gated
    # on the runtime's `room` CTE), and its rows of a new room, inserted with it.
    save_parts: dict[str, str]
    open_parts: dict[str, str]

    def __hash__(self) -> int: ...  # statements are built once per game

    # --- the match handler
    def init(self, room_id: int, stake: int, now: datetime, config: Any) -> State:
        """A new room, before anyone sits down."""

    def join(self, state: State, joiner: Any, now: datetime) -> Transition:
        """A player takes a seat (the runtime has claimed their one active seat)."""

    def command(self, state: State, command: Any, now: datetime) -> Transition: ...

    def timer(self, state: State, now: datetime) -> Transition:
        """The room's deadline has come (or a stale timer fired: then nothing changes)."""

    def leave(self, state: State, user_id: int, now: datetime) -> Transition: ...

    # --- what the runtime reads off a state
    def deadline(self, state: State) -> datetime | None: ...
    def status(self, state: State) -> str: ...
    def is_closed(self, state: State) -> bool: ...
    def seated(self, state: State) -> tuple[int, ...]:
        """The user ids in the room's seats (they hold its active seats)."""

    def free_seat_at(self, state: State) -> int | None:
        """The stake of a seat matchmaking may offer, None when the room takes no one."""

    def load(self, data: dict[str, Any]) -> State: ...
    def dump(self, state: State) -> dict[str, Any]: ...

    # --- persistence and publishing
    def rows(
        self, before: State, transition: Any, now: datetime, request_ref: str | None
    ) -> GameRows:
        """The game's own rows a transition writes; `request_ref` lets a keyed retry find them."""

    def render(self, state: State, seq: int) -> dict[str, Any]:
        """The room as clients see it (GET /games/rooms/{id})."""

    def wallets(self, transition: Any) -> set[int]:
        """The players whose balance or held amount the transition changed."""

    def told(self, transition: Any) -> frozenset[int] | None:
        """Users whose own stream (and the lobby) hears of a change of seats or status; None:
        nobody."""
